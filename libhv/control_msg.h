/* SPDX-License-Identifier: MIT */
/*
 * The monitor control protocol's codec (spec: docs/control-protocol.md):
 * frames (4-byte big-endian length, then one JSON object) and the four
 * message kinds (hello, request, reply, event) to and from C structs.
 * Pure: no I/O, no file descriptors, no global state, so it is thread-safe
 * and the fuzzer drives it directly. Internal to libhv (nothing exported).
 *
 * Parse functions take a frame's JSON (not NUL-terminated) and return 0, or
 * -EPROTO when the bytes are not one JSON object or not this protocol
 * (hello of another protocol or version), -EINVAL when a member has the
 * wrong type or range, -ENOMEM; on failure err holds a message naming the
 * field ("request: \"id\" is not a uint32") and there is nothing to free.
 * Unknown members are ignored. Parsed structs keep the parsed JSON alive:
 * their const char * and json_object * members are valid until *_free.
 */
#ifndef LIBHV_CONTROL_MSG_H
#define LIBHV_CONTROL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define CM_FRAME_HEADER 4u
#define CM_FRAME_MAX 65536u     /* JSON bytes in one frame: 1..CM_FRAME_MAX */
#define CM_VERSION 1u           /* major protocol version of this side */
#define CM_FDS_MAX 4u           /* "fds" of one frame */
#define CM_JSON_DEPTH 16        /* objects and arrays nested at most this deep */
#define CM_FEATURES_MAX 64u     /* entries of a hello's "features" */
#define CM_NAME_MAX 64u         /* bytes of an op, event or feature name */

/* ---- Frames ------------------------------------------------------------- */

/*
 * Looks for one frame at the start of buf[0..avail). Returns 1 with *json,
 * *len (the JSON bytes, inside buf) and *consumed (header + len) set, 0 when
 * more bytes are needed, -EINVAL when the length is 0 or > CM_FRAME_MAX
 * (known as soon as the 4 header bytes are there; the stream is then lost).
 */
int cm_frame_decode(const void *buf, size_t avail, const char **json, uint32_t *len,
                    size_t *consumed);

/*
 * Writes the header and json[0..len) to out. Returns the frame's size,
 * -EINVAL for len 0, -E2BIG for len > CM_FRAME_MAX, -ENOSPC when outlen is
 * smaller than CM_FRAME_HEADER + len.
 */
int cm_frame_encode(void *out, size_t outlen, const char *json, size_t len);

/* ---- Names ---------------------------------------------------------------- */

enum cm_op {
    CM_OP_UNKNOWN = 0,
    CM_OP_INFO,
    CM_OP_PAUSE,
    CM_OP_UNPAUSE,
    CM_OP_SHUTDOWN,
    CM_OP_DESTROY,
    CM_OP_VCPU_INFO,
    CM_OP_VCPU_AFFINITY,
    CM_OP_MEMORY_TARGET,
    CM_OP_DIRTY_LOG_START,
    CM_OP_DIRTY_LOG_FETCH,
    CM_OP_DIRTY_LOG_STOP,
    CM_OP_MEMORY_MAP,
    CM_OP_CONSOLE_ATTACH,
    CM_OP_VCPU_AFFINITY_GET,
    CM_OP_VCPUS_SET,
    CM_OP_MEMORY_MAX,
    CM_OP_COUNT
};

/* "pause" etc.; NULL for CM_OP_UNKNOWN or out of range. */
const char *cm_op_name(enum cm_op op);
/* CM_OP_UNKNOWN for a name this side does not know. */
enum cm_op cm_op_from_name(const char *name);

/* Positive (or negative) errno -> "EINVAL"; "EIO" for one not in the table. */
const char *cm_errno_name(int err);
/* "EINVAL" -> EINVAL (positive); 0 for a name not in the table. */
int cm_errno_from_name(const char *name);

/* ---- Parsed messages -------------------------------------------------------- */

struct cm_hello {
    uint32_t version;         /* == CM_VERSION, else the parse failed */
    const char **features;    /* nfeatures names, malloc'd array */
    size_t nfeatures;
    unsigned fds;
    struct json_object *root;
};

struct cm_request {
    uint32_t id;
    enum cm_op op;            /* CM_OP_UNKNOWN is not a parse error */
    const char *op_name;      /* as sent */
    struct json_object *args; /* an object; {} when absent */
    unsigned fds;
    struct json_object *root;
};

struct cm_reply {
    uint32_t id;
    bool ok;
    int err;                  /* positive errno when !ok (EIO for an unknown name) */
    const char *errno_name;   /* as sent, NULL when ok */
    const char *message;      /* "" when absent or ok */
    struct json_object *result; /* an object when ok ({} when absent), else NULL */
    unsigned fds;
    struct json_object *root;
};

struct cm_event {
    const char *name;         /* "exit", ... */
    struct json_object *body; /* the whole event object (name, fds included) */
    unsigned fds;
    struct json_object *root;
};

int cm_parse_hello(const char *json, size_t len, struct cm_hello *out, char *err,
                   size_t errlen);
int cm_parse_request(const char *json, size_t len, struct cm_request *out, char *err,
                     size_t errlen);
int cm_parse_reply(const char *json, size_t len, struct cm_reply *out, char *err,
                   size_t errlen);
int cm_parse_event(const char *json, size_t len, struct cm_event *out, char *err,
                   size_t errlen);

/* What a client reads after the hello: a reply or an event ("event" member). */
enum cm_kind { CM_KIND_REPLY = 1, CM_KIND_EVENT };
struct cm_incoming {
    enum cm_kind kind;
    union {
        struct cm_reply reply;
        struct cm_event event;
    } u;
};
int cm_parse_incoming(const char *json, size_t len, struct cm_incoming *out, char *err,
                      size_t errlen);

/* Each accepts NULL and a zeroed struct; the struct is zeroed after. */
void cm_hello_free(struct cm_hello *h);
void cm_request_free(struct cm_request *r);
void cm_reply_free(struct cm_reply *r);
void cm_event_free(struct cm_event *e);
void cm_incoming_free(struct cm_incoming *in);

/* ---- Builders --------------------------------------------------------------- */

/*
 * Each returns a malloc'd, NUL-terminated JSON string (free with free()), or
 * NULL for an invalid argument (fds > CM_FDS_MAX, an op or name that cannot
 * be sent) or no memory. json_object arguments are borrowed and may be NULL
 * ({}); they must not be modified by another thread meanwhile.
 */
char *cm_build_hello(const char *const *features, size_t nfeatures);
char *cm_build_request(uint32_t id, enum cm_op op, struct json_object *args, unsigned fds);
char *cm_build_reply_ok(uint32_t id, struct json_object *result, unsigned fds);
/* err: a positive or negative errno; message may be NULL. */
char *cm_build_reply_error(uint32_t id, int err, const char *message);
/* The members of body (except "event" and "fds") are copied into the event. */
char *cm_build_event(const char *name, struct json_object *body, unsigned fds);

#endif
