/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's codec (libhv/control_msg.c, spec in
 * docs/control-protocol.md): round trips of every message kind, frames
 * split at every byte, and what a broken or hostile peer can send:
 * impossible lengths, bytes that are not one JSON object, members of the
 * wrong type or range. Pure functions: no sockets, no KVM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "control_msg.h"

static char err[256];

#define PARSE(fn, s, out) fn((s), strlen(s), (out), err, sizeof(err))

/* Parses s as a request and expects rc, with field in the message if failing. */
static void expect_request(const char *s, int rc, const char *field)
{
    struct cm_request r;

    err[0] = '\0';
    int got = PARSE(cm_parse_request, s, &r);
    if (got != rc)
        fail_msg("%s: rc %d, want %d (%s)", s, got, rc, err);
    if (rc < 0) {
        assert_null(r.root);
        assert_null(r.args);
        if (field && !strstr(err, field))
            fail_msg("%s: message '%s' does not name %s", s, err, field);
    }
    cm_request_free(&r);
}

static void expect_reply(const char *s, int rc, const char *field)
{
    struct cm_reply r;

    err[0] = '\0';
    int got = PARSE(cm_parse_reply, s, &r);
    if (got != rc)
        fail_msg("%s: rc %d, want %d (%s)", s, got, rc, err);
    if (rc < 0 && field && !strstr(err, field))
        fail_msg("%s: message '%s' does not name %s", s, err, field);
    cm_reply_free(&r);
}

static void expect_hello(const char *s, int rc, const char *field)
{
    struct cm_hello h;

    err[0] = '\0';
    int got = PARSE(cm_parse_hello, s, &h);
    if (got != rc)
        fail_msg("%s: rc %d, want %d (%s)", s, got, rc, err);
    if (rc < 0 && field && !strstr(err, field))
        fail_msg("%s: message '%s' does not name %s", s, err, field);
    cm_hello_free(&h);
}

static void expect_event(const char *s, int rc, const char *field)
{
    struct cm_event e;

    err[0] = '\0';
    int got = PARSE(cm_parse_event, s, &e);
    if (got != rc)
        fail_msg("%s: rc %d, want %d (%s)", s, got, rc, err);
    if (rc < 0 && field && !strstr(err, field))
        fail_msg("%s: message '%s' does not name %s", s, err, field);
    cm_event_free(&e);
}

/* ---- Frames ------------------------------------------------------------- */

static void test_frame_round_trip_split(void **state)
{
    (void)state;
    const char *msgs[] = {"{\"id\":1,\"op\":\"pause\"}", "{}", "{\"event\":\"exit\"}"};
    unsigned char stream[256];
    size_t total = 0;

    for (size_t i = 0; i < 3; i++) {
        int n = cm_frame_encode(stream + total, sizeof(stream) - total, msgs[i],
                                strlen(msgs[i]));
        assert_int_equal(n, 4 + strlen(msgs[i]));
        total += (size_t)n;
    }
    /* Big-endian length. */
    assert_memory_equal(stream, "\0\0\0\x15", 4);

    /* Every split point: a prefix decodes the frames it holds whole, no more. */
    for (size_t cut = 0; cut <= total; cut++) {
        size_t off = 0, frames = 0;
        for (;;) {
            const char *json;
            uint32_t len;
            size_t used;
            int rc = cm_frame_decode(stream + off, cut - off, &json, &len, &used);
            if (rc == 0) {
                assert_int_equal(used, 0);
                break;
            }
            assert_int_equal(rc, 1);
            assert_int_equal(len, strlen(msgs[frames]));
            assert_memory_equal(json, msgs[frames], len);
            assert_ptr_equal(json, (const char *)stream + off + 4);
            assert_int_equal(used, 4 + len);
            off += used;
            frames++;
        }
        size_t want = 0, end = 0;
        for (size_t i = 0; i < 3; i++) {
            end += 4 + strlen(msgs[i]);
            if (end <= cut)
                want++;
        }
        assert_int_equal(frames, want);
    }
}

static void test_frame_bad_lengths(void **state)
{
    (void)state;
    static unsigned char buf[4 + CM_FRAME_MAX + 1];
    const char *json;
    uint32_t len;
    size_t used;

    /* Impossible lengths fail as soon as the header is there. */
    const uint32_t bad[] = {0, CM_FRAME_MAX + 1, 0xffffffffu, 0x80000000u};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf[0] = (unsigned char)(bad[i] >> 24);
        buf[1] = (unsigned char)(bad[i] >> 16);
        buf[2] = (unsigned char)(bad[i] >> 8);
        buf[3] = (unsigned char)bad[i];
        assert_int_equal(cm_frame_decode(buf, 4, &json, &len, &used), -EINVAL);
        assert_int_equal(cm_frame_decode(buf, sizeof(buf), &json, &len, &used), -EINVAL);
        for (size_t n = 0; n < 4; n++)
            assert_int_equal(cm_frame_decode(buf, n, &json, &len, &used), 0);
    }

    /* The largest frame, and a truncated one. */
    memset(buf + 4, ' ', CM_FRAME_MAX);
    assert_int_equal(cm_frame_encode(buf, sizeof(buf), (const char *)buf + 4, CM_FRAME_MAX),
                     4 + CM_FRAME_MAX);
    assert_int_equal(cm_frame_decode(buf, 4 + CM_FRAME_MAX, &json, &len, &used), 1);
    assert_int_equal(len, CM_FRAME_MAX);
    assert_int_equal(cm_frame_decode(buf, 3 + CM_FRAME_MAX, &json, &len, &used), 0);
    assert_null(json);

    /* Encoding refuses what decoding would refuse, and short buffers. */
    char small[8];
    assert_int_equal(cm_frame_encode(small, sizeof(small), "{}", 0), -EINVAL);
    assert_int_equal(cm_frame_encode(buf, sizeof(buf), (const char *)buf + 4,
                                     CM_FRAME_MAX + 1), -E2BIG);
    assert_int_equal(cm_frame_encode(small, sizeof(small), "{\"a\":1}", 7), -ENOSPC);
    assert_int_equal(cm_frame_encode(small, sizeof(small), "{\"a\"}", 4), 8);
}

/* ---- Hello -------------------------------------------------------------- */

static void test_hello_round_trip(void **state)
{
    (void)state;
    const char *features[] = {"pause", "memory-map", "console-attach"};
    struct cm_hello h;

    char *s = cm_build_hello(features, 3);
    assert_non_null(s);
    assert_int_equal(PARSE(cm_parse_hello, s, &h), 0);
    assert_int_equal(h.version, CM_VERSION);
    assert_int_equal(h.nfeatures, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(h.features[i], features[i]);
    assert_int_equal(h.fds, 0);
    cm_hello_free(&h);
    assert_null(h.root);
    free(s);

    s = cm_build_hello(NULL, 0);
    assert_non_null(s);
    assert_int_equal(PARSE(cm_parse_hello, s, &h), 0);
    assert_int_equal(h.nfeatures, 0);
    cm_hello_free(&h);
    free(s);
    cm_hello_free(NULL);

    /* Builders refuse what parsers would refuse. */
    const char *bad[] = {"pause", ""};
    assert_null(cm_build_hello(bad, 2));
    assert_null(cm_build_hello(NULL, 1));
}

static void test_hello_bad(void **state)
{
    (void)state;
    /* Another major version: refused, the message says which. */
    expect_hello("{\"hv\":\"control\",\"version\":2,\"features\":[]}", -EPROTO, "version 2");
    expect_hello("{\"hv\":\"control\",\"version\":0}", -EPROTO, "version 0");
    /* Not this protocol. */
    expect_hello("{\"hv\":\"store\",\"version\":1}", -EPROTO, "\"hv\"");
    expect_hello("{\"version\":1}", -EPROTO, "\"hv\"");
    expect_hello("{\"hv\":1,\"version\":1}", -EPROTO, "\"hv\"");
    /* Wrong types. */
    expect_hello("{\"hv\":\"control\"}", -EINVAL, "\"version\"");
    expect_hello("{\"hv\":\"control\",\"version\":\"1\"}", -EINVAL, "\"version\"");
    expect_hello("{\"hv\":\"control\",\"version\":1.0}", -EINVAL, "\"version\"");
    expect_hello("{\"hv\":\"control\",\"version\":-1}", -EINVAL, "\"version\"");
    expect_hello("{\"hv\":\"control\",\"version\":1,\"features\":\"pause\"}", -EINVAL,
                 "\"features\"");
    expect_hello("{\"hv\":\"control\",\"version\":1,\"features\":[\"pause\",3]}", -EINVAL,
                 "\"features\"[1]");
    expect_hello("{\"hv\":\"control\",\"version\":1,\"features\":[\"\"]}", -EINVAL,
                 "\"features\"[0]");
    expect_hello("{\"hv\":\"control\",\"version\":1,\"fds\":1}", -EINVAL, "\"fds\"");
    /* Unknown members are ignored; features are optional. */
    expect_hello("{\"hv\":\"control\",\"version\":1,\"minor\":7,\"x\":{\"y\":[]}}", 0, NULL);

    /* Too many features. */
    char buf[2048] = "{\"hv\":\"control\",\"version\":1,\"features\":[";
    for (unsigned i = 0; i <= CM_FEATURES_MAX; i++)
        strcat(buf, i ? ",\"f\"" : "\"f\"");
    strcat(buf, "]}");
    expect_hello(buf, -EINVAL, "\"features\"");
}

/* ---- Requests ------------------------------------------------------------- */

static void test_request_round_trip(void **state)
{
    (void)state;
    for (int op = CM_OP_UNKNOWN + 1; op < CM_OP_COUNT; op++) {
        const char *name = cm_op_name((enum cm_op)op);
        assert_non_null(name);
        assert_int_equal(cm_op_from_name(name), op);

        struct json_object *args = json_object_new_object();
        json_object_object_add(args, "vcpu", json_object_new_int(op));
        json_object_object_add(args, "cpus", json_object_new_array());
        uint32_t id = op == 1 ? UINT32_MAX : (uint32_t)op * 1000;
        unsigned fds = (unsigned)op % (CM_FDS_MAX + 1);
        char *s = cm_build_request(id, (enum cm_op)op, args, fds);
        json_object_put(args);
        assert_non_null(s);
        assert_null(strchr(s, '\n'));

        struct cm_request r;
        assert_int_equal(PARSE(cm_parse_request, s, &r), 0);
        assert_int_equal(r.id, id);
        assert_int_equal(r.op, op);
        assert_string_equal(r.op_name, name);
        assert_int_equal(r.fds, fds);
        struct json_object *v;
        assert_true(json_object_object_get_ex(r.args, "vcpu", &v));
        assert_int_equal(json_object_get_int(v), op);
        cm_request_free(&r);
        assert_null(r.root);
        free(s);
    }
    assert_null(cm_op_name(CM_OP_UNKNOWN));
    assert_null(cm_op_name(CM_OP_COUNT));

    /* No args: {} both ways. */
    char *s = cm_build_request(0, CM_OP_INFO, NULL, 0);
    assert_string_equal(s, "{\"id\":0,\"op\":\"info\",\"args\":{}}");
    free(s);
    struct cm_request r;
    assert_int_equal(PARSE(cm_parse_request, "{\"id\":5,\"op\":\"destroy\"}", &r), 0);
    assert_non_null(r.args);
    assert_int_equal(json_object_object_length(r.args), 0);
    cm_request_free(&r);
    cm_request_free(NULL);

    /* What cannot be sent. */
    assert_null(cm_build_request(1, CM_OP_UNKNOWN, NULL, 0));
    assert_null(cm_build_request(1, CM_OP_COUNT, NULL, 0));
    assert_null(cm_build_request(1, CM_OP_PAUSE, NULL, CM_FDS_MAX + 1));
    struct json_object *arr = json_object_new_array();
    assert_null(cm_build_request(1, CM_OP_PAUSE, arr, 0));
    json_object_put(arr);
}

static void test_request_unknown(void **state)
{
    (void)state;
    struct cm_request r;

    /* An unknown op is the server's ENOSYS to give, not a parse error. */
    assert_int_equal(PARSE(cm_parse_request, "{\"id\":9,\"op\":\"teleport\",\"args\":{}}", &r),
                     0);
    assert_int_equal(r.op, CM_OP_UNKNOWN);
    assert_string_equal(r.op_name, "teleport");
    assert_int_equal(r.id, 9);
    cm_request_free(&r);

    /* Unknown members are ignored, at the top and in args. */
    assert_int_equal(PARSE(cm_parse_request,
                           "{\"trace\":\"x\",\"id\":3,\"op\":\"memory-target\",\"future\":[1,{}],"
                           "\"args\":{\"mb\":64,\"later\":null}}", &r), 0);
    assert_int_equal(r.op, CM_OP_MEMORY_TARGET);
    assert_int_equal(r.id, 3);
    assert_int_equal(r.fds, 0);
    cm_request_free(&r);
}

static void test_request_bad_fields(void **state)
{
    (void)state;
    /* id */
    expect_request("{\"op\":\"pause\"}", -EINVAL, "\"id\" is missing");
    expect_request("{\"id\":-1,\"op\":\"pause\"}", -EINVAL, "request: \"id\" is not a uint32");
    expect_request("{\"id\":4294967296,\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":18446744073709551615,\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":1.5,\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":1e3,\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":\"1\",\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":true,\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":null,\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":[1],\"op\":\"pause\"}", -EINVAL, "\"id\"");
    expect_request("{\"id\":4294967295,\"op\":\"pause\"}", 0, NULL);
    expect_request("{\"id\":0,\"op\":\"pause\"}", 0, NULL);
    /* op */
    expect_request("{\"id\":1}", -EINVAL, "\"op\" is missing");
    expect_request("{\"id\":1,\"op\":7}", -EINVAL, "\"op\"");
    expect_request("{\"id\":1,\"op\":\"\"}", -EINVAL, "\"op\"");
    expect_request("{\"id\":1,\"op\":null}", -EINVAL, "\"op\"");
    expect_request("{\"id\":1,\"op\":[\"pause\"]}", -EINVAL, "\"op\"");
    expect_request("{\"id\":1,\"op\":\"pa\\u0000use\"}", -EINVAL, "\"op\"");
    char buf[256];
    snprintf(buf, sizeof(buf), "{\"id\":1,\"op\":\"%0*d\"}", (int)CM_NAME_MAX + 1, 0);
    expect_request(buf, -EINVAL, "\"op\"");
    snprintf(buf, sizeof(buf), "{\"id\":1,\"op\":\"%0*d\"}", (int)CM_NAME_MAX, 0);
    expect_request(buf, 0, NULL);
    /* args */
    expect_request("{\"id\":1,\"op\":\"pause\",\"args\":[]}", -EINVAL, "\"args\"");
    expect_request("{\"id\":1,\"op\":\"pause\",\"args\":\"x\"}", -EINVAL, "\"args\"");
    expect_request("{\"id\":1,\"op\":\"pause\",\"args\":null}", -EINVAL, "\"args\"");
    /* fds */
    expect_request("{\"id\":1,\"op\":\"pause\",\"fds\":4}", 0, NULL);
    expect_request("{\"id\":1,\"op\":\"pause\",\"fds\":5}", -EINVAL, "\"fds\"");
    expect_request("{\"id\":1,\"op\":\"pause\",\"fds\":-1}", -EINVAL, "\"fds\"");
    expect_request("{\"id\":1,\"op\":\"pause\",\"fds\":\"1\"}", -EINVAL, "\"fds\"");
    expect_request("{\"id\":1,\"op\":\"pause\",\"fds\":4294967297}", -EINVAL, "\"fds\"");
}

/* ---- Replies ---------------------------------------------------------------- */

static void test_reply_round_trip(void **state)
{
    (void)state;
    struct cm_reply r;

    struct json_object *res = json_object_new_object();
    json_object_object_add(res, "size", json_object_new_int64(1ll << 32));
    char *s = cm_build_reply_ok(77, res, 1);
    json_object_put(res);
    assert_non_null(s);
    assert_int_equal(PARSE(cm_parse_reply, s, &r), 0);
    assert_int_equal(r.id, 77);
    assert_true(r.ok);
    assert_int_equal(r.err, 0);
    assert_null(r.errno_name);
    assert_int_equal(r.fds, 1);
    struct json_object *v;
    assert_true(json_object_object_get_ex(r.result, "size", &v));
    assert_int_equal(json_object_get_int64(v), 1ll << 32);
    cm_reply_free(&r);
    free(s);

    s = cm_build_reply_ok(1, NULL, 0);
    assert_string_equal(s, "{\"id\":1,\"ok\":true,\"result\":{}}");
    free(s);
    assert_null(cm_build_reply_ok(1, NULL, CM_FDS_MAX + 1));

    /* Errors, negative or positive, with their name and message. */
    s = cm_build_reply_error(4, -EREMOTE, "domain 3: \"memory-map\" is local-only");
    assert_non_null(s);
    assert_int_equal(PARSE(cm_parse_reply, s, &r), 0);
    assert_int_equal(r.id, 4);
    assert_false(r.ok);
    assert_int_equal(r.err, EREMOTE);
    assert_string_equal(r.errno_name, "EREMOTE");
    assert_string_equal(r.message, "domain 3: \"memory-map\" is local-only");
    assert_null(r.result);
    cm_reply_free(&r);
    free(s);

    s = cm_build_reply_error(5, ENOSYS, NULL);
    assert_string_equal(s, "{\"id\":5,\"ok\":false,\"errno\":\"ENOSYS\",\"message\":\"\"}");
    free(s);
    cm_reply_free(NULL);
}

static void test_errno_names(void **state)
{
    (void)state;
    const int errs[] = {EINVAL, EPERM, ENOENT, EACCES, EBUSY, EEXIST, ENOSYS, EREMOTE,
                        EAGAIN, ENOMEM, EIO, E2BIG, ETIMEDOUT, ESRCH, ENOTCONN, EPROTO,
                        ENOSPC, EFAULT, EDEADLK};
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        const char *name = cm_errno_name(errs[i]);
        assert_int_equal(cm_errno_from_name(name), errs[i]);
        assert_string_equal(cm_errno_name(-errs[i]), name);
        char *s = cm_build_reply_error(1, -errs[i], "m");
        struct cm_reply r;
        assert_int_equal(PARSE(cm_parse_reply, s, &r), 0);
        assert_int_equal(r.err, errs[i]);
        cm_reply_free(&r);
        free(s);
    }
    assert_string_equal(cm_errno_name(EINVAL), "EINVAL");
    assert_string_equal(cm_errno_name(ETIMEDOUT), "ETIMEDOUT");
    /* Not in the table: sent as EIO; an unknown name received is 0 -> EIO. */
    assert_string_equal(cm_errno_name(EXDEV), "EIO");
    assert_string_equal(cm_errno_name(0), "EIO");
    assert_int_equal(cm_errno_from_name("EWHATEVER"), 0);
    assert_int_equal(cm_errno_from_name("einval"), 0);

    struct cm_reply r;
    assert_int_equal(PARSE(cm_parse_reply,
                           "{\"id\":2,\"ok\":false,\"errno\":\"ENEWTHING\",\"message\":\"m\"}",
                           &r), 0);
    assert_int_equal(r.err, EIO);
    assert_string_equal(r.errno_name, "ENEWTHING");
    cm_reply_free(&r);
}

static void test_reply_bad_fields(void **state)
{
    (void)state;
    expect_reply("{\"ok\":true}", -EINVAL, "\"id\"");
    expect_reply("{\"id\":-1,\"ok\":true}", -EINVAL, "reply: \"id\" is not a uint32");
    expect_reply("{\"id\":4294967296,\"ok\":true}", -EINVAL, "\"id\"");
    expect_reply("{\"id\":1}", -EINVAL, "\"ok\"");
    expect_reply("{\"id\":1,\"ok\":1}", -EINVAL, "\"ok\"");
    expect_reply("{\"id\":1,\"ok\":\"true\"}", -EINVAL, "\"ok\"");
    expect_reply("{\"id\":1,\"ok\":true,\"result\":[]}", -EINVAL, "\"result\"");
    expect_reply("{\"id\":1,\"ok\":true,\"result\":7}", -EINVAL, "\"result\"");
    expect_reply("{\"id\":1,\"ok\":true,\"fds\":5}", -EINVAL, "\"fds\"");
    expect_reply("{\"id\":1,\"ok\":false}", -EINVAL, "\"errno\"");
    expect_reply("{\"id\":1,\"ok\":false,\"errno\":22}", -EINVAL, "\"errno\"");
    expect_reply("{\"id\":1,\"ok\":false,\"errno\":\"\"}", -EINVAL, "\"errno\"");
    expect_reply("{\"id\":1,\"ok\":false,\"errno\":\"EIO\",\"message\":1}", -EINVAL,
                 "\"message\"");
    /* A failure's result and a success's errno are ignored, as unknown members. */
    expect_reply("{\"id\":1,\"ok\":false,\"errno\":\"EIO\",\"result\":3}", 0, NULL);
    expect_reply("{\"id\":1,\"ok\":true,\"errno\":3,\"extra\":{}}", 0, NULL);
}

/* ---- Events ---------------------------------------------------------------- */

static void test_event_round_trip(void **state)
{
    (void)state;
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "reason", json_object_new_string("poweroff"));
    json_object_object_add(body, "code", json_object_new_int(3));
    json_object_object_add(body, "nothing", NULL);
    json_object_object_add(body, "event", json_object_new_string("overridden"));
    char *s = cm_build_event("exit", body, 0);
    json_object_put(body);
    assert_non_null(s);

    struct cm_event e;
    assert_int_equal(PARSE(cm_parse_event, s, &e), 0);
    assert_string_equal(e.name, "exit");
    struct json_object *v;
    assert_true(json_object_object_get_ex(e.body, "reason", &v));
    assert_string_equal(json_object_get_string(v), "poweroff");
    assert_true(json_object_object_get_ex(e.body, "nothing", &v));
    assert_null(v);
    assert_int_equal(e.fds, 0);
    cm_event_free(&e);
    free(s);

    s = cm_build_event("console", NULL, 1);
    assert_string_equal(s, "{\"event\":\"console\",\"fds\":1}");
    free(s);
    cm_event_free(NULL);

    assert_null(cm_build_event("", NULL, 0));
    assert_null(cm_build_event(NULL, NULL, 0));
    assert_null(cm_build_event("exit", NULL, 5));
    char longname[CM_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_null(cm_build_event(longname, NULL, 0));

    expect_event("{\"reason\":\"poweroff\"}", -EINVAL, "\"event\"");
    expect_event("{\"event\":1}", -EINVAL, "\"event\"");
    expect_event("{\"event\":\"\"}", -EINVAL, "\"event\"");
    expect_event("{\"event\":\"exit\",\"fds\":9}", -EINVAL, "\"fds\"");
    expect_event("{\"event\":\"new-kind\",\"x\":[]}", 0, NULL);
}

static void test_incoming(void **state)
{
    (void)state;
    struct cm_incoming in;

    assert_int_equal(PARSE(cm_parse_incoming, "{\"event\":\"exit\",\"reason\":\"crash\"}", &in),
                     0);
    assert_int_equal(in.kind, CM_KIND_EVENT);
    assert_string_equal(in.u.event.name, "exit");
    cm_incoming_free(&in);

    assert_int_equal(PARSE(cm_parse_incoming, "{\"event\":\"paused\"}", &in), 0);
    assert_int_equal(in.kind, CM_KIND_EVENT);
    assert_string_equal(in.u.event.name, "paused");
    cm_incoming_free(&in);

    assert_int_equal(PARSE(cm_parse_incoming, "{\"id\":8,\"ok\":true,\"reason\":1}", &in), 0);
    assert_int_equal(in.kind, CM_KIND_REPLY);
    assert_int_equal(in.u.reply.id, 8);
    cm_incoming_free(&in);

    assert_int_equal(PARSE(cm_parse_incoming, "{\"id\":8}", &in), -EINVAL);
    assert_int_equal(in.kind, 0);
    assert_int_equal(PARSE(cm_parse_incoming, "{\"event\":3}", &in), -EINVAL);
    assert_int_equal(PARSE(cm_parse_incoming, "[]", &in), -EPROTO);
    cm_incoming_free(NULL);
}

/* ---- Bytes that are not one JSON object -------------------------------------- */

static void test_bad_json(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]", "1", "\"s\"", "null", "true", "[{\"id\":1,\"op\":\"pause\"}]",
        "{\"id\":1,\"op\":\"pause\"}x",
        "{\"id\":1,\"op\":\"pause\"}{}",
        "{\"id\":1,\"op\":\"pause\"",
        "{\"id\":1,\"op\":\"pause\",}",
        "{'id':1,'op':'pause'}",
        "{\"id\":1,\"op\":\"pause\"} /* c */",
        "{\"id\":1,\"op\":\"\xff\xfe\"}",
        "{\"id\":1,\"op\":\"\xc3\"}",
        "{\"id\":1,\"op\":\"pause\",\"x\":\"\xed\xa0\x80\"}",
        "{\"id\":1,\"op\":\"\xc0\xaf\"}",
        "{\"id\":1,\"op\":\"\xe0\x80\xaf\"}",
        "{\"id\":1,\"op\":\"\xf4\x90\x80\x80\"}",
        "{\"id\":1,\"op\":\"\xf8\x88\x80\x80\x80\"}",
        "{\"id\":1,\"op\":\"\xe2\x82\"}",
        "{\"id\":01,\"op\":\"pause\"}",
        "",
        " ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_request(bad[i], -EPROTO, "request: ");

    /* A NUL byte inside the frame. */
    struct cm_request r;
    const char nul[] = "{\"id\":1,\"op\":\"pause\"}\0";
    assert_int_equal(cm_parse_request(nul, sizeof(nul) - 1, &r, err, sizeof(err)), -EPROTO);
    const char nul2[] = "{\"id\":1,\0\"op\":\"pause\"}";
    assert_int_equal(cm_parse_request(nul2, sizeof(nul2) - 1, &r, err, sizeof(err)), -EPROTO);
    /* Oversized. */
    assert_int_equal(cm_parse_request("{}", CM_FRAME_MAX + 1, &r, err, sizeof(err)), -EPROTO);

    /* Whitespace around the object, and valid UTF-8, are fine. */
    expect_request(" \r\n\t{\"id\":1,\"op\":\"pause\"}\n ", 0, NULL);
    expect_request("{\"id\":1,\"op\":\"pause\",\"x\":\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf"
                   "\xf0\x90\x80\x80\xed\x9f\xbf\"}", 0, NULL);

    /* The parser reads only len bytes: a frame needs no NUL after it. */
    const char two[] = "{\"id\":1,\"op\":\"pause\"}garbage";
    assert_int_equal(cm_parse_request(two, 21, &r, err, sizeof(err)), 0);
    cm_request_free(&r);

    /* No error buffer is fine. */
    assert_int_equal(cm_parse_request("[]", 2, &r, NULL, 0), -EPROTO);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    char buf[1024];

    /* Depth up to CM_JSON_DEPTH parses, one more does not. */
    for (int depth = 2; depth <= CM_JSON_DEPTH + 4; depth++) {
        /* The request object is depth 1, args 2, then nested arrays. */
        int n = snprintf(buf, sizeof(buf), "{\"id\":1,\"op\":\"pause\",\"args\":{\"a\":");
        for (int i = 2; i < depth; i++)
            buf[n++] = '[';
        buf[n++] = '1';
        for (int i = 2; i < depth; i++)
            buf[n++] = ']';
        buf[n++] = '}';
        buf[n++] = '}';
        buf[n] = '\0';
        expect_request(buf, depth <= CM_JSON_DEPTH ? 0 : -EPROTO,
                       depth <= CM_JSON_DEPTH ? NULL : "request: ");
    }

    /* Far deeper than any stack would like: refused, quickly. */
    static char deep[CM_FRAME_MAX];
    memset(deep, '[', sizeof(deep));
    struct cm_request r;
    assert_int_equal(cm_parse_request(deep, sizeof(deep), &r, err, sizeof(err)), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_round_trip_split),
        cmocka_unit_test(test_frame_bad_lengths),
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_hello_bad),
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_unknown),
        cmocka_unit_test(test_request_bad_fields),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_errno_names),
        cmocka_unit_test(test_reply_bad_fields),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_incoming),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
