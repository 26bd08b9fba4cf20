/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the control protocol's codec (libhv/control_msg.c),
 * fed as a monitor or client feeds it: a byte stream of frames. Each frame's
 * JSON is copied into a buffer of its exact size (reading past it is an ASan
 * report) and parsed as every message kind. Beyond "no crash, no sanitizer
 * report, no leak": a frame lies inside the input and within the limit; a
 * failed parse says why and leaves nothing to free; what parses satisfies
 * the limits, and rebuilding it gives a message that parses to the same.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "libhv/control_msg.h"

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            abort(); \
    } while (0)

static char err[256];

static void check_failed(int rc, const void *root)
{
    CHECK(rc == -EINVAL || rc == -EPROTO || rc == -ENOMEM);
    CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
    CHECK(root == NULL);
}

static void check_hello(const char *json, size_t len)
{
    struct cm_hello h;
    err[0] = '\0';
    int rc = cm_parse_hello(json, len, &h, err, sizeof(err));
    if (rc < 0) {
        check_failed(rc, h.root);
        return;
    }
    CHECK(rc == 0 && h.version == CM_VERSION && h.fds == 0);
    CHECK(h.nfeatures <= CM_FEATURES_MAX && (h.nfeatures == 0 || h.features));
    char *s = cm_build_hello(h.features, h.nfeatures);
    CHECK(s);
    struct cm_hello h2;
    CHECK(cm_parse_hello(s, strlen(s), &h2, err, sizeof(err)) == 0);
    CHECK(h2.nfeatures == h.nfeatures);
    for (size_t i = 0; i < h.nfeatures; i++) {
        size_t n = strlen(h.features[i]);
        CHECK(n >= 1 && n <= CM_NAME_MAX);
        CHECK(strcmp(h.features[i], h2.features[i]) == 0);
    }
    cm_hello_free(&h2);
    cm_hello_free(&h);
    free(s);
}

static void check_request(const char *json, size_t len)
{
    struct cm_request r;
    err[0] = '\0';
    int rc = cm_parse_request(json, len, &r, err, sizeof(err));
    if (rc < 0) {
        check_failed(rc, r.root);
        CHECK(r.args == NULL);
        return;
    }
    CHECK(r.fds <= CM_FDS_MAX && r.op_name && r.args);
    CHECK(json_object_is_type(r.args, json_type_object));
    CHECK(r.op == cm_op_from_name(r.op_name));
    if (r.op == CM_OP_UNKNOWN) {
        CHECK(cm_build_request(r.id, r.op, r.args, r.fds) == NULL);
    } else {
        CHECK(strcmp(cm_op_name(r.op), r.op_name) == 0);
        char *s = cm_build_request(r.id, r.op, r.args, r.fds);
        CHECK(s);
        struct cm_request r2;
        CHECK(cm_parse_request(s, strlen(s), &r2, err, sizeof(err)) == 0);
        CHECK(r2.id == r.id && r2.op == r.op && r2.fds == r.fds);
        CHECK(json_object_equal(r2.args, r.args));
        cm_request_free(&r2);
        free(s);
    }
    cm_request_free(&r);
}

static void check_reply(const struct cm_reply *r)
{
    CHECK(r->fds <= CM_FDS_MAX && r->message);
    char *s;
    if (r->ok) {
        CHECK(r->err == 0 && r->errno_name == NULL && r->result);
        s = cm_build_reply_ok(r->id, r->result, r->fds);
    } else {
        CHECK(r->err > 0 && r->errno_name && r->result == NULL);
        CHECK(cm_errno_from_name(r->errno_name) == r->err ||
              (r->err == EIO && cm_errno_from_name(r->errno_name) == 0));
        s = cm_build_reply_error(r->id, r->err, r->message);
    }
    CHECK(s);
    struct cm_reply r2;
    CHECK(cm_parse_reply(s, strlen(s), &r2, err, sizeof(err)) == 0);
    CHECK(r2.id == r->id && r2.ok == r->ok && r2.err == r->err);
    if (r->ok)
        CHECK(r2.fds == r->fds && json_object_equal(r2.result, r->result));
    else
        CHECK(strcmp(r2.message, r->message) == 0);
    cm_reply_free(&r2);
    free(s);
}

static void check_event(struct cm_event *e)
{
    CHECK(e->name && e->body && e->fds <= CM_FDS_MAX);
    char *s = cm_build_event(e->name, e->body, e->fds);
    CHECK(s);
    struct cm_event e2;
    CHECK(cm_parse_event(s, strlen(s), &e2, err, sizeof(err)) == 0);
    CHECK(strcmp(e2.name, e->name) == 0 && e2.fds == e->fds);
    /* The same members, but for an explicit "fds":0 the builder leaves out. */
    json_object_object_del(e2.body, "fds");
    json_object_object_del(e->body, "fds");
    CHECK(json_object_equal(e2.body, e->body));
    cm_event_free(&e2);
    free(s);
}

static void check_incoming(const char *json, size_t len)
{
    struct cm_incoming in;
    err[0] = '\0';
    int rc = cm_parse_incoming(json, len, &in, err, sizeof(err));
    if (rc < 0) {
        check_failed(rc, NULL);
        CHECK(in.kind == 0);
        return;
    }
    if (in.kind == CM_KIND_EVENT) {
        check_event(&in.u.event);
    } else {
        CHECK(in.kind == CM_KIND_REPLY);
        check_reply(&in.u.reply);
    }
    cm_incoming_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    for (;;) {
        const char *json;
        uint32_t len;
        size_t used;
        int rc = cm_frame_decode(data + off, size - off, &json, &len, &used);
        if (rc <= 0) {
            CHECK(rc == 0 || rc == -EINVAL);
            if (rc == -EINVAL)
                CHECK(size - off >= CM_FRAME_HEADER);
            break;
        }
        CHECK(rc == 1 && len >= 1 && len <= CM_FRAME_MAX);
        CHECK(used == CM_FRAME_HEADER + len && used <= size - off);
        CHECK((const uint8_t *)json == data + off + CM_FRAME_HEADER);

        char *copy = malloc(len);
        CHECK(copy);
        memcpy(copy, json, len);
        /* Re-encoding gives the same bytes. */
        uint8_t *frame = malloc(used);
        CHECK(frame);
        CHECK(cm_frame_encode(frame, used, copy, len) == (int)used);
        CHECK(memcmp(frame, data + off, used) == 0);
        free(frame);

        check_hello(copy, len);
        check_request(copy, len);
        check_incoming(copy, len);
        free(copy);
        off += used;
    }
    return 0;
}
