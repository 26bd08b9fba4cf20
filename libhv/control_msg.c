/* SPDX-License-Identifier: MIT */
#include "control_msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* ---- Frames ------------------------------------------------------------- */

int cm_frame_decode(const void *buf, size_t avail, const char **json, uint32_t *len,
                    size_t *consumed)
{
    const unsigned char *b = buf;

    *json = NULL;
    *len = 0;
    *consumed = 0;
    if (avail < CM_FRAME_HEADER)
        return 0;
    uint32_t n = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if (n == 0 || n > CM_FRAME_MAX)
        return -EINVAL;
    if (avail - CM_FRAME_HEADER < n)
        return 0;
    *json = (const char *)b + CM_FRAME_HEADER;
    *len = n;
    *consumed = CM_FRAME_HEADER + (size_t)n;
    return 1;
}

int cm_frame_encode(void *out, size_t outlen, const char *json, size_t len)
{
    unsigned char *b = out;

    if (len == 0)
        return -EINVAL;
    if (len > CM_FRAME_MAX)
        return -E2BIG;
    if (outlen < CM_FRAME_HEADER + len)
        return -ENOSPC;
    b[0] = (unsigned char)(len >> 24);
    b[1] = (unsigned char)(len >> 16);
    b[2] = (unsigned char)(len >> 8);
    b[3] = (unsigned char)len;
    memcpy(b + CM_FRAME_HEADER, json, len);
    return (int)(CM_FRAME_HEADER + len);
}

/* ---- Names ---------------------------------------------------------------- */

static const char *const op_names[CM_OP_COUNT] = {
    [CM_OP_INFO] = "info",
    [CM_OP_PAUSE] = "pause",
    [CM_OP_UNPAUSE] = "unpause",
    [CM_OP_SHUTDOWN] = "shutdown",
    [CM_OP_DESTROY] = "destroy",
    [CM_OP_VCPU_INFO] = "vcpu-info",
    [CM_OP_VCPU_AFFINITY] = "vcpu-affinity",
    [CM_OP_MEMORY_TARGET] = "memory-target",
    [CM_OP_DIRTY_LOG_START] = "dirty-log-start",
    [CM_OP_DIRTY_LOG_FETCH] = "dirty-log-fetch",
    [CM_OP_DIRTY_LOG_STOP] = "dirty-log-stop",
    [CM_OP_MEMORY_MAP] = "memory-map",
    [CM_OP_CONSOLE_ATTACH] = "console-attach",
    [CM_OP_VCPU_AFFINITY_GET] = "vcpu-affinity-get",
    [CM_OP_VCPUS_SET] = "vcpus-set",
    [CM_OP_MEMORY_MAX] = "memory-max",
};

const char *cm_op_name(enum cm_op op)
{
    if ((int)op <= CM_OP_UNKNOWN || op >= CM_OP_COUNT)
        return NULL;
    return op_names[op];
}

enum cm_op cm_op_from_name(const char *name)
{
    for (int i = CM_OP_UNKNOWN + 1; i < CM_OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0)
            return (enum cm_op)i;
    return CM_OP_UNKNOWN;
}

/* The protocol's errno names: this table is the protocol's, no one else's. */
static const struct {
    int err;
    const char *name;
} errno_names[] = {
    {EINVAL, "EINVAL"},     {EPERM, "EPERM"},       {ENOENT, "ENOENT"},
    {EACCES, "EACCES"},     {EBUSY, "EBUSY"},       {EEXIST, "EEXIST"},
    {ENOSYS, "ENOSYS"},     {EREMOTE, "EREMOTE"},   {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},     {EIO, "EIO"},           {E2BIG, "E2BIG"},
    {ETIMEDOUT, "ETIMEDOUT"}, {ESRCH, "ESRCH"},     {ENOTCONN, "ENOTCONN"},
    {EPROTO, "EPROTO"},     {ENOSPC, "ENOSPC"},     {EFAULT, "EFAULT"},
    {EDEADLK, "EDEADLK"},   {ERANGE, "ERANGE"},     {ENODEV, "ENODEV"},
    {EOPNOTSUPP, "EOPNOTSUPP"}, {ECANCELED, "ECANCELED"}, {ESHUTDOWN, "ESHUTDOWN"},
};

const char *cm_errno_name(int err)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (errno_names[i].err == err)
            return errno_names[i].name;
    return "EIO";
}

int cm_errno_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (strcmp(errno_names[i].name, name) == 0)
            return errno_names[i].err;
    return 0;
}

/* ---- Parsing ------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF
 * (json-c's own check lets surrogates through).
 */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return false;
        if (len - i <= n)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += n + 1;
    }
    return true;
}

/* The frame's bytes as one JSON object, or -EPROTO. */
static int parse_root(const char *json, size_t len, const char *kind,
                      struct json_object **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len == 0 || len > CM_FRAME_MAX)
        return fail(err, errlen, -EPROTO, "%s: %zu bytes of JSON, not 1 to %u", kind, len,
                    CM_FRAME_MAX);
    if (memchr(json, '\0', len))
        return fail(err, errlen, -EPROTO, "%s: NUL byte in the JSON text", kind);

    if (!utf8_valid((const unsigned char *)json, len))
        return fail(err, errlen, -EPROTO, "%s: the JSON text is not valid UTF-8", kind);

    /* + 1: json-c counts the innermost scalar as a level. */
    struct json_tokener *tok = json_tokener_new_ex(CM_JSON_DEPTH + 1);
    if (!tok)
        return fail(err, errlen, -ENOMEM, "%s: out of memory", kind);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);

    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        if (jerr == json_tokener_continue)
            return fail(err, errlen, -EPROTO, "%s: incomplete JSON", kind);
        if (jerr == json_tokener_success) /* a JSON null */
            return fail(err, errlen, -EPROTO, "%s: not a JSON object", kind);
        return fail(err, errlen, -EPROTO, "%s: invalid JSON at byte %zu: %s", kind, end,
                    json_tokener_error_desc(jerr));
    }
    for (size_t i = end; i < len; i++) {
        if (!is_ws(json[i])) {
            json_object_put(obj);
            return fail(err, errlen, -EPROTO, "%s: trailing bytes after the JSON object "
                        "at byte %zu", kind, i);
        }
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return fail(err, errlen, -EPROTO, "%s: not a JSON object", kind);
    }
    *out = obj;
    return 0;
}

/* 0 with *v, or -1: not an integer in 0..max. */
static int as_uint(struct json_object *o, uint64_t max, uint64_t *v)
{
    if (!json_object_is_type(o, json_type_int))
        return -1;
    int64_t x = json_object_get_int64(o);
    if (x < 0 || (uint64_t)x > max)
        return -1;
    *v = (uint64_t)x;
    return 0;
}

/* A name: a string of 1..CM_NAME_MAX bytes with no NUL. */
static const char *as_name(struct json_object *o)
{
    if (!json_object_is_type(o, json_type_string))
        return NULL;
    const char *s = json_object_get_string(o);
    size_t n = (size_t)json_object_get_string_len(o);
    if (n == 0 || n > CM_NAME_MAX || strlen(s) != n)
        return NULL;
    return s;
}

static int get_fds(struct json_object *root, const char *kind, unsigned *fds, char *err,
                   size_t errlen)
{
    struct json_object *o;
    uint64_t v = 0;

    *fds = 0;
    if (!json_object_object_get_ex(root, "fds", &o))
        return 0;
    if (as_uint(o, CM_FDS_MAX, &v) < 0)
        return fail(err, errlen, -EINVAL, "%s: \"fds\" is not an integer 0 to %u", kind,
                    CM_FDS_MAX);
    *fds = (unsigned)v;
    return 0;
}

static int get_id(struct json_object *root, const char *kind, uint32_t *id, char *err,
                  size_t errlen)
{
    struct json_object *o;
    uint64_t v;

    if (!json_object_object_get_ex(root, "id", &o))
        return fail(err, errlen, -EINVAL, "%s: \"id\" is missing", kind);
    if (as_uint(o, UINT32_MAX, &v) < 0)
        return fail(err, errlen, -EINVAL, "%s: \"id\" is not a uint32", kind);
    *id = (uint32_t)v;
    return 0;
}

/* An optional object member: a new reference to it, or to a new {}. */
static int get_object(struct json_object *root, const char *kind, const char *key,
                      struct json_object **out, char *err, size_t errlen)
{
    struct json_object *o;

    *out = NULL;
    if (!json_object_object_get_ex(root, key, &o)) {
        *out = json_object_new_object();
        return *out ? 0 : fail(err, errlen, -ENOMEM, "%s: out of memory", kind);
    }
    if (!json_object_is_type(o, json_type_object))
        return fail(err, errlen, -EINVAL, "%s: \"%s\" is not an object", kind, key);
    *out = json_object_get(o);
    return 0;
}

static int hello_from(struct json_object *root, struct cm_hello *h, char *err, size_t errlen)
{
    struct json_object *o;
    uint64_t v;
    int rc;

    if (!json_object_object_get_ex(root, "hv", &o) ||
        !json_object_is_type(o, json_type_string) ||
        strcmp(json_object_get_string(o), "control") != 0)
        return fail(err, errlen, -EPROTO, "hello: \"hv\" is not \"control\"");
    if (!json_object_object_get_ex(root, "version", &o))
        return fail(err, errlen, -EINVAL, "hello: \"version\" is missing");
    if (as_uint(o, UINT32_MAX, &v) < 0)
        return fail(err, errlen, -EINVAL, "hello: \"version\" is not a uint32");
    h->version = (uint32_t)v;
    if (h->version != CM_VERSION)
        return fail(err, errlen, -EPROTO, "hello: version %u is not supported (this side "
                    "speaks %u)", h->version, CM_VERSION);
    if ((rc = get_fds(root, "hello", &h->fds, err, errlen)) < 0)
        return rc;
    if (h->fds)
        return fail(err, errlen, -EINVAL, "hello: \"fds\" must be 0");
    if (!json_object_object_get_ex(root, "features", &o))
        return 0;
    if (!json_object_is_type(o, json_type_array))
        return fail(err, errlen, -EINVAL, "hello: \"features\" is not an array");
    size_t n = json_object_array_length(o);
    if (n > CM_FEATURES_MAX)
        return fail(err, errlen, -EINVAL, "hello: \"features\" has %zu entries, more than %u",
                    n, CM_FEATURES_MAX);
    if (n == 0)
        return 0;
    h->features = calloc(n, sizeof(*h->features));
    if (!h->features)
        return fail(err, errlen, -ENOMEM, "hello: out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = as_name(json_object_array_get_idx(o, i));
        if (!s)
            return fail(err, errlen, -EINVAL, "hello: \"features\"[%zu] is not a name "
                        "(a string of 1 to %u bytes)", i, CM_NAME_MAX);
        h->features[h->nfeatures++] = s;
    }
    return 0;
}

int cm_parse_hello(const char *json, size_t len, struct cm_hello *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_root(json, len, "hello", &out->root, err, errlen);
    if (rc == 0 && (rc = hello_from(out->root, out, err, errlen)) < 0)
        cm_hello_free(out);
    return rc;
}

static int request_from(struct json_object *root, struct cm_request *r, char *err,
                        size_t errlen)
{
    struct json_object *o;
    int rc;

    if ((rc = get_id(root, "request", &r->id, err, errlen)) < 0)
        return rc;
    if (!json_object_object_get_ex(root, "op", &o))
        return fail(err, errlen, -EINVAL, "request: \"op\" is missing");
    if (!(r->op_name = as_name(o)))
        return fail(err, errlen, -EINVAL, "request: \"op\" is not a name (a string of 1 "
                    "to %u bytes)", CM_NAME_MAX);
    r->op = cm_op_from_name(r->op_name);
    if ((rc = get_fds(root, "request", &r->fds, err, errlen)) < 0)
        return rc;
    return get_object(root, "request", "args", &r->args, err, errlen);
}

int cm_parse_request(const char *json, size_t len, struct cm_request *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_root(json, len, "request", &out->root, err, errlen);
    if (rc == 0 && (rc = request_from(out->root, out, err, errlen)) < 0)
        cm_request_free(out);
    return rc;
}

static int reply_from(struct json_object *root, struct cm_reply *r, char *err, size_t errlen)
{
    struct json_object *o;
    int rc;

    if ((rc = get_id(root, "reply", &r->id, err, errlen)) < 0)
        return rc;
    if (!json_object_object_get_ex(root, "ok", &o))
        return fail(err, errlen, -EINVAL, "reply: \"ok\" is missing");
    if (!json_object_is_type(o, json_type_boolean))
        return fail(err, errlen, -EINVAL, "reply: \"ok\" is not a boolean");
    r->ok = json_object_get_boolean(o);
    r->message = "";
    if ((rc = get_fds(root, "reply", &r->fds, err, errlen)) < 0)
        return rc;
    if (r->ok)
        return get_object(root, "reply", "result", &r->result, err, errlen);

    if (!json_object_object_get_ex(root, "errno", &o))
        return fail(err, errlen, -EINVAL, "reply: \"errno\" is missing");
    if (!(r->errno_name = as_name(o)))
        return fail(err, errlen, -EINVAL, "reply: \"errno\" is not a name (a string of 1 "
                    "to %u bytes)", CM_NAME_MAX);
    r->err = cm_errno_from_name(r->errno_name);
    if (r->err == 0)
        r->err = EIO;
    if (json_object_object_get_ex(root, "message", &o)) {
        if (!json_object_is_type(o, json_type_string))
            return fail(err, errlen, -EINVAL, "reply: \"message\" is not a string");
        r->message = json_object_get_string(o);
    }
    return 0;
}

int cm_parse_reply(const char *json, size_t len, struct cm_reply *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_root(json, len, "reply", &out->root, err, errlen);
    if (rc == 0 && (rc = reply_from(out->root, out, err, errlen)) < 0)
        cm_reply_free(out);
    return rc;
}

static int event_from(struct json_object *root, struct cm_event *e, char *err, size_t errlen)
{
    struct json_object *o;

    if (!json_object_object_get_ex(root, "event", &o))
        return fail(err, errlen, -EINVAL, "event: \"event\" is missing");
    if (!(e->name = as_name(o)))
        return fail(err, errlen, -EINVAL, "event: \"event\" is not a name (a string of 1 "
                    "to %u bytes)", CM_NAME_MAX);
    e->body = root;
    return get_fds(root, "event", &e->fds, err, errlen);
}

int cm_parse_event(const char *json, size_t len, struct cm_event *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_root(json, len, "event", &out->root, err, errlen);
    if (rc == 0 && (rc = event_from(out->root, out, err, errlen)) < 0)
        cm_event_free(out);
    return rc;
}

int cm_parse_incoming(const char *json, size_t len, struct cm_incoming *out, char *err,
                      size_t errlen)
{
    struct json_object *root;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = parse_root(json, len, "message", &root, err, errlen)) < 0)
        return rc;
    if (json_object_object_get_ex(root, "event", NULL)) {
        out->kind = CM_KIND_EVENT;
        out->u.event.root = root;
        rc = event_from(root, &out->u.event, err, errlen);
    } else {
        out->kind = CM_KIND_REPLY;
        out->u.reply.root = root;
        rc = reply_from(root, &out->u.reply, err, errlen);
    }
    if (rc < 0)
        cm_incoming_free(out);
    return rc;
}

void cm_hello_free(struct cm_hello *h)
{
    if (!h)
        return;
    free(h->features);
    json_object_put(h->root);
    memset(h, 0, sizeof(*h));
}

void cm_request_free(struct cm_request *r)
{
    if (!r)
        return;
    json_object_put(r->args);
    json_object_put(r->root);
    memset(r, 0, sizeof(*r));
}

void cm_reply_free(struct cm_reply *r)
{
    if (!r)
        return;
    json_object_put(r->result);
    json_object_put(r->root);
    memset(r, 0, sizeof(*r));
}

void cm_event_free(struct cm_event *e)
{
    if (!e)
        return;
    json_object_put(e->root);
    memset(e, 0, sizeof(*e));
}

void cm_incoming_free(struct cm_incoming *in)
{
    if (!in)
        return;
    if (in->kind == CM_KIND_EVENT)
        cm_event_free(&in->u.event);
    else if (in->kind == CM_KIND_REPLY)
        cm_reply_free(&in->u.reply);
    memset(in, 0, sizeof(*in));
}

/* ---- Builders --------------------------------------------------------------- */

static bool name_ok(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n >= 1 && n <= CM_NAME_MAX;
}

/* Adds a member; false (and nothing added) when val is NULL or on no memory. */
static bool add(struct json_object *obj, const char *key, struct json_object *val)
{
    if (!val)
        return false;
    if (json_object_object_add(obj, key, val) < 0) {
        json_object_put(val);
        return false;
    }
    return true;
}

/* A new reference to an object argument, or a new {}; NULL if not an object. */
static struct json_object *object_arg(struct json_object *o)
{
    if (!o)
        return json_object_new_object();
    if (!json_object_is_type(o, json_type_object))
        return NULL;
    return json_object_get(o);
}

/* Serialises and releases obj. */
static char *finish(struct json_object *obj, bool ok)
{
    char *s = NULL;

    if (obj && ok) {
        const char *t = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
        if (t)
            s = strdup(t);
    }
    json_object_put(obj);
    return s;
}

char *cm_build_hello(const char *const *features, size_t nfeatures)
{
    struct json_object *obj = json_object_new_object(), *arr;
    bool ok = obj && nfeatures <= CM_FEATURES_MAX && (nfeatures == 0 || features);

    ok = ok && add(obj, "hv", json_object_new_string("control"));
    ok = ok && add(obj, "version", json_object_new_int64(CM_VERSION));
    ok = ok && add(obj, "features", arr = json_object_new_array());
    for (size_t i = 0; ok && i < nfeatures; i++) {
        struct json_object *s;
        ok = name_ok(features[i]) && (s = json_object_new_string(features[i])) != NULL;
        if (ok && json_object_array_add(arr, s) < 0) {
            json_object_put(s);
            ok = false;
        }
    }
    return finish(obj, ok);
}

static bool add_fds(struct json_object *obj, unsigned fds)
{
    if (fds > CM_FDS_MAX)
        return false;
    return fds == 0 || add(obj, "fds", json_object_new_int64(fds));
}

char *cm_build_request(uint32_t id, enum cm_op op, struct json_object *args, unsigned fds)
{
    struct json_object *obj = json_object_new_object();
    const char *name = cm_op_name(op);
    bool ok = obj && name;

    ok = ok && add(obj, "id", json_object_new_int64(id));
    ok = ok && add(obj, "op", json_object_new_string(name));
    ok = ok && add(obj, "args", object_arg(args));
    ok = ok && add_fds(obj, fds);
    return finish(obj, ok);
}

char *cm_build_reply_ok(uint32_t id, struct json_object *result, unsigned fds)
{
    struct json_object *obj = json_object_new_object();
    bool ok = obj != NULL;

    ok = ok && add(obj, "id", json_object_new_int64(id));
    ok = ok && add(obj, "ok", json_object_new_boolean(1));
    ok = ok && add(obj, "result", object_arg(result));
    ok = ok && add_fds(obj, fds);
    return finish(obj, ok);
}

char *cm_build_reply_error(uint32_t id, int err, const char *message)
{
    struct json_object *obj = json_object_new_object();
    bool ok = obj != NULL;

    ok = ok && add(obj, "id", json_object_new_int64(id));
    ok = ok && add(obj, "ok", json_object_new_boolean(0));
    ok = ok && add(obj, "errno", json_object_new_string(cm_errno_name(err)));
    ok = ok && add(obj, "message", json_object_new_string(message ? message : ""));
    return finish(obj, ok);
}

char *cm_build_event(const char *name, struct json_object *body, unsigned fds)
{
    struct json_object *obj = json_object_new_object();
    bool ok = obj && name_ok(name) && (!body || json_object_is_type(body, json_type_object));

    ok = ok && add(obj, "event", json_object_new_string(name));
    if (ok && body) {
        json_object_object_foreach(body, key, val) {
            if (strcmp(key, "event") == 0 || strcmp(key, "fds") == 0)
                continue;
            /* val may be NULL: a JSON null member. */
            struct json_object *ref = json_object_get(val);
            if (json_object_object_add(obj, key, ref) < 0) {
                json_object_put(ref);
                ok = false;
                break;
            }
        }
    }
    ok = ok && add_fds(obj, fds);
    return finish(obj, ok);
}
