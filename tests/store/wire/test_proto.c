/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol helpers (libhvstore/proto.c) against what a hostile or
 * broken peer can send: truncated and oversized frames, unterminated or
 * surplus arguments, numbers that overflow. No daemon: pure functions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

/* Builds header + payload into buf; returns the frame's length. */
static size_t frame(unsigned char *buf, uint32_t type, uint32_t req, uint32_t tx,
                    const void *payload, uint32_t len)
{
    xs_header_put(buf, type, req, tx, len);
    if (len)
        memcpy(buf + XS_HEADER_SIZE, payload, len);
    return XS_HEADER_SIZE + len;
}

static void test_header_layout(void **state)
{
    (void)state;
    unsigned char buf[XS_HEADER_SIZE];
    uint32_t words[4];

    /* The xenstore header: four host-order uint32 in this order. */
    xs_header_put(buf, XS_WRITE, 7, 9, 123);
    memcpy(words, buf, sizeof(words));
    assert_int_equal(words[0], XS_WRITE);
    assert_int_equal(words[1], 7);
    assert_int_equal(words[2], 9);
    assert_int_equal(words[3], 123);
    assert_int_equal(sizeof(struct xs_header), XS_HEADER_SIZE);
}

static void test_type_numbers(void **state)
{
    (void)state;
    /* Xen's xs_wire.h numbering; a stock client sends these numbers. */
    assert_int_equal(XS_DIRECTORY, 1);
    assert_int_equal(XS_WATCH_EVENT, 15);
    assert_int_equal(XS_ERROR, 16);
    assert_int_equal(XS_SET_TARGET, 19);
    assert_int_equal(XS_RESET_WATCHES, 21);
    assert_int_equal(XS_DIRECTORY_PART, 22);
    assert_string_equal(xs_type_name(XS_READ), "READ");
    assert_string_equal(xs_type_name(XS_DIRECTORY_PART), "DIRECTORY_PART");
    assert_string_equal(xs_type_name(XS_HV_WATCH_DEPTH), "HV_WATCH_DEPTH");
    /* 20 was XS_RESTRICT, removed from Xen. */
    assert_string_equal(xs_type_name(20), "UNKNOWN");
    assert_string_equal(xs_type_name(0xffffffffu), "UNKNOWN");
}

static void test_decode_truncated_header(void **state)
{
    (void)state;
    unsigned char buf[XS_HEADER_SIZE + 8];
    struct xs_msg m;
    size_t used = 12345;

    frame(buf, XS_READ, 1, 0, "abcdefgh", 8);
    for (size_t n = 0; n < XS_HEADER_SIZE; n++) {
        assert_int_equal(xs_decode(buf, n, &m, &used), 0);
        assert_int_equal(used, 12345);
    }
    assert_int_equal(xs_decode(NULL, 0, &m, &used), 0);
}

static void test_decode_truncated_payload(void **state)
{
    (void)state;
    unsigned char buf[XS_HEADER_SIZE + 8];
    struct xs_msg m;
    size_t used = 0;

    size_t n = frame(buf, XS_READ, 5, 3, "abcdefgh", 8);
    for (size_t i = XS_HEADER_SIZE; i < n; i++)
        assert_int_equal(xs_decode(buf, i, &m, &used), 0);
    assert_int_equal(xs_decode(buf, n, &m, &used), 1);
    assert_int_equal(used, n);
    assert_int_equal(m.hdr.type, XS_READ);
    assert_int_equal(m.hdr.req_id, 5);
    assert_int_equal(m.hdr.tx_id, 3);
    assert_int_equal(m.hdr.len, 8);
    assert_ptr_equal(m.payload, (const char *)buf + XS_HEADER_SIZE);
    assert_memory_equal(m.payload, "abcdefgh", 8);
}

static void test_decode_oversized(void **state)
{
    (void)state;
    unsigned char buf[XS_HEADER_SIZE];
    struct xs_msg m;
    size_t used = 0;
    const uint32_t bad[] = {HVS_PAYLOAD_MAX + 1, 65536, 0x7fffffffu, 0x80000000u, 0xffffffffu};

    /* Refused from the header alone: waiting for the payload would let a
     * peer make us buffer 4 GiB. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xs_header_put(buf, XS_WRITE, 1, 0, bad[i]);
        assert_int_equal(xs_decode(buf, sizeof(buf), &m, &used), -EINVAL);
    }
}

static void test_decode_boundary(void **state)
{
    (void)state;
    size_t size = XS_HEADER_SIZE + HVS_PAYLOAD_MAX;
    unsigned char *buf = malloc(size);
    char *payload = malloc(HVS_PAYLOAD_MAX);
    struct xs_msg m;
    size_t used = 0;

    assert_non_null(buf);
    assert_non_null(payload);
    memset(payload, 'x', HVS_PAYLOAD_MAX);
    frame(buf, XS_WRITE, 1, 0, payload, HVS_PAYLOAD_MAX);
    assert_int_equal(xs_decode(buf, size - 1, &m, &used), 0);
    assert_int_equal(xs_decode(buf, size, &m, &used), 1);
    assert_int_equal(used, size);
    assert_int_equal(m.hdr.len, HVS_PAYLOAD_MAX);

    /* An empty payload is a whole message too. */
    frame(buf, XS_RESET_WATCHES, 2, 0, NULL, 0);
    assert_int_equal(xs_decode(buf, XS_HEADER_SIZE, &m, &used), 1);
    assert_int_equal(used, XS_HEADER_SIZE);
    assert_int_equal(m.hdr.len, 0);
    free(buf);
    free(payload);
}

static void test_decode_back_to_back(void **state)
{
    (void)state;
    unsigned char buf[256];
    struct xs_msg m;
    size_t used, off = 0, n = 0;

    n += frame(buf + n, XS_WATCH_EVENT, 0, 0, "/a\0tok\0", 7);
    n += frame(buf + n, XS_READ, 42, 0, "value", 5);
    n += frame(buf + n, XS_ERROR, 43, 0, "ENOENT\0", 7);
    /* A partial fourth message: only its header. */
    size_t whole = n;
    n += frame(buf + n, XS_READ, 44, 0, "more", 4) - 4;

    assert_int_equal(xs_decode(buf + off, n - off, &m, &used), 1);
    assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
    assert_memory_equal(m.payload, "/a\0tok\0", 7);
    off += used;
    assert_int_equal(xs_decode(buf + off, n - off, &m, &used), 1);
    assert_int_equal(m.hdr.req_id, 42);
    assert_memory_equal(m.payload, "value", 5);
    off += used;
    assert_int_equal(xs_decode(buf + off, n - off, &m, &used), 1);
    assert_int_equal(m.hdr.type, XS_ERROR);
    assert_int_equal(m.hdr.req_id, 43);
    off += used;
    assert_int_equal(off, whole);
    assert_int_equal(xs_decode(buf + off, n - off, &m, &used), 0);
}

/*
 * A stream cut into arbitrary pieces, reassembled the way the daemon and
 * the client do (append, decode all, keep the rest), gives the same
 * messages whatever the cuts.
 */
static void test_decode_reassembly(void **state)
{
    (void)state;
    unsigned char stream[512], acc[512];
    size_t n = 0;
    static const char *const values[] = {"", "x", "/local/domain/3\0tok\0", "0123456789"};
    static const uint32_t lens[] = {0, 1, 20, 10};

    for (int i = 0; i < 4; i++)
        n += frame(stream + n, XS_READ, (uint32_t)i + 1, 0, values[i], lens[i]);
    for (size_t chunk = 1; chunk <= n; chunk++) {
        size_t fed = 0, acc_len = 0;
        uint32_t next = 1;
        while (fed < n) {
            size_t k = n - fed < chunk ? n - fed : chunk;
            memcpy(acc + acc_len, stream + fed, k);
            acc_len += k;
            fed += k;
            size_t off = 0, used;
            struct xs_msg m;
            while (xs_decode(acc + off, acc_len - off, &m, &used) == 1) {
                assert_int_equal(m.hdr.req_id, next);
                assert_int_equal(m.hdr.len, lens[next - 1]);
                if (lens[next - 1])
                    assert_memory_equal(m.payload, values[next - 1], lens[next - 1]);
                next++;
                off += used;
            }
            memmove(acc, acc + off, acc_len - off);
            acc_len -= off;
        }
        assert_int_equal(next, 5);
        assert_int_equal(acc_len, 0);
    }
}

static void test_decode_unaligned(void **state)
{
    (void)state;
    unsigned char buf[1 + XS_HEADER_SIZE + 3];
    struct xs_msg m;
    size_t used;

    frame(buf + 1, XS_MKDIR, 9, 8, "/a\0", 3);
    assert_int_equal(xs_decode(buf + 1, sizeof(buf) - 1, &m, &used), 1);
    assert_int_equal(m.hdr.type, XS_MKDIR);
    assert_int_equal(m.hdr.req_id, 9);
    assert_int_equal(m.hdr.tx_id, 8);
}

static void test_split_exact(void **state)
{
    (void)state;
    const char *args[3];
    size_t lens[3];

    assert_int_equal(xs_split("/a\0tok\0", 7, 2, false, args, lens), 0);
    assert_string_equal(args[0], "/a");
    assert_string_equal(args[1], "tok");
    assert_int_equal(lens[0], 2);
    assert_int_equal(lens[1], 3);

    /* Empty strings are arguments (TRANSACTION_START sends one). */
    assert_int_equal(xs_split("\0", 1, 1, false, args, lens), 0);
    assert_int_equal(lens[0], 0);
    assert_int_equal(xs_split("\0\0", 2, 2, false, args, NULL), 0);
    assert_int_equal(xs_split("", 0, 0, false, NULL, NULL), 0);
}

static void test_split_missing_extra(void **state)
{
    (void)state;
    const char *args[4];

    /* Missing. */
    assert_int_equal(xs_split("/a\0", 3, 2, false, args, NULL), -EINVAL);
    assert_int_equal(xs_split("", 0, 1, false, args, NULL), -EINVAL);
    assert_int_equal(xs_split(NULL, 0, 1, false, args, NULL), -EINVAL);
    /* Extra: a whole string, a trailing unterminated byte, a stray NUL. */
    assert_int_equal(xs_split("/a\0tok\0", 7, 1, false, args, NULL), -EINVAL);
    assert_int_equal(xs_split("/a\0x", 4, 1, false, args, NULL), -EINVAL);
    assert_int_equal(xs_split("/a\0\0", 4, 1, false, args, NULL), -EINVAL);
    assert_int_equal(xs_split("x", 1, 0, false, args, NULL), -EINVAL);
    assert_int_equal(xs_split("\0", 1, 0, false, args, NULL), -EINVAL);
}

static void test_split_unterminated(void **state)
{
    (void)state;
    const char *args[2];
    char buf[8];

    /* The byte after the payload is a NUL: the splitter must not read it. */
    memcpy(buf, "/a\0tok\0", 8);
    assert_int_equal(xs_split(buf, 6, 2, false, args, NULL), -EINVAL);
    assert_int_equal(xs_split(buf, 2, 1, false, args, NULL), -EINVAL);
    /* An embedded NUL makes two strings of what should be one. */
    assert_int_equal(xs_split("/a\0b\0", 5, 1, false, args, NULL), -EINVAL);
}

static void test_split_raw(void **state)
{
    (void)state;
    const char *args[3];
    size_t lens[3];

    /* WRITE: the value is the rest, NULs and all, no terminator. */
    assert_int_equal(xs_split("/a\0va\0ue", 8, 2, true, args, lens), 0);
    assert_string_equal(args[0], "/a");
    assert_int_equal(lens[1], 5);
    assert_memory_equal(args[1], "va\0ue", 5);
    /* An empty value. */
    assert_int_equal(xs_split("/a\0", 3, 2, true, args, lens), 0);
    assert_int_equal(lens[1], 0);
    /* A value that ends in NUL keeps it. */
    assert_int_equal(xs_split("/a\0v\0", 5, 2, true, args, lens), 0);
    assert_int_equal(lens[1], 2);
    /* The path itself must be terminated. */
    assert_int_equal(xs_split("/a", 2, 2, true, args, lens), -EINVAL);
    assert_int_equal(xs_split("", 0, 2, true, args, lens), -EINVAL);
    /* Only a raw argument: the whole payload, even none. */
    assert_int_equal(xs_split("abc", 3, 1, true, args, lens), 0);
    assert_int_equal(lens[0], 3);
    assert_int_equal(xs_split(NULL, 0, 1, true, args, lens), 0);
    assert_int_equal(lens[0], 0);
    /* Three arguments, the last raw. */
    assert_int_equal(xs_split("a\0b\0c", 5, 3, true, args, lens), 0);
    assert_string_equal(args[1], "b");
    assert_int_equal(lens[2], 1);
}

static void test_split_boundary(void **state)
{
    (void)state;
    char *p = malloc(HVS_PAYLOAD_MAX);
    const char *args[2];
    size_t lens[2];

    assert_non_null(p);
    memset(p, 'a', HVS_PAYLOAD_MAX);
    p[HVS_PAYLOAD_MAX - 1] = '\0';
    assert_int_equal(xs_split(p, HVS_PAYLOAD_MAX, 1, false, args, lens), 0);
    assert_int_equal(lens[0], HVS_PAYLOAD_MAX - 1);
    assert_int_equal(xs_count_strings(p, HVS_PAYLOAD_MAX), 1);
    p[HVS_PAYLOAD_MAX - 1] = 'a';
    assert_int_equal(xs_split(p, HVS_PAYLOAD_MAX, 1, false, args, lens), -EINVAL);
    assert_int_equal(xs_count_strings(p, HVS_PAYLOAD_MAX), -EINVAL);
    p[0] = '\0';
    assert_int_equal(xs_split(p, HVS_PAYLOAD_MAX, 2, true, args, lens), 0);
    assert_int_equal(lens[0], 0);
    assert_int_equal(lens[1], HVS_PAYLOAD_MAX - 1);
    free(p);
}

static void test_count_strings(void **state)
{
    (void)state;
    assert_int_equal(xs_count_strings("", 0), 0);
    assert_int_equal(xs_count_strings(NULL, 0), 0);
    assert_int_equal(xs_count_strings("a", 1), -EINVAL);
    assert_int_equal(xs_count_strings("a\0", 2), 1);
    assert_int_equal(xs_count_strings("\0", 1), 1);
    assert_int_equal(xs_count_strings("\0\0", 2), 2);
    assert_int_equal(xs_count_strings("a\0bc\0", 5), 2);
    assert_int_equal(xs_count_strings("a\0bc", 4), -EINVAL);
    assert_int_equal(xs_count_strings("n0\0r5\0", 6), 2);
}

static void test_parse_u32(void **state)
{
    (void)state;
    uint32_t v = 77;

    assert_int_equal(xs_parse_u32("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(xs_parse_u32("007", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(xs_parse_u32("4294967295", &v), 0);
    assert_int_equal(v, UINT32_MAX);

    static const char *const bad[] = {
        "", "-1", "+1", " 1", "1 ", "0x10", "12a", "1.0", "4294967296", "99999999999",
        "18446744073709551617", "99999999999999999999999999999", "-0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 77;
        assert_int_equal(xs_parse_u32(bad[i], &v), -EINVAL);
        assert_int_equal(v, 77);
    }
}

static void test_errno_names(void **state)
{
    (void)state;
    static const struct {
        int err;
        const char *name;
    } all[] = {
        {EINVAL, "EINVAL"}, {EACCES, "EACCES"}, {EEXIST, "EEXIST"}, {EISDIR, "EISDIR"},
        {ENOENT, "ENOENT"}, {ENOMEM, "ENOMEM"}, {ENOSPC, "ENOSPC"}, {EIO, "EIO"},
        {ENOTEMPTY, "ENOTEMPTY"}, {ENOSYS, "ENOSYS"}, {EROFS, "EROFS"}, {EBUSY, "EBUSY"},
        {EAGAIN, "EAGAIN"}, {EISCONN, "EISCONN"}, {E2BIG, "E2BIG"}, {EPERM, "EPERM"},
        {EDQUOT, "EDQUOT"}, {ENOTCONN, "ENOTCONN"},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_string_equal(xs_errno_name(all[i].err), all[i].name);
        assert_int_equal(xs_errno_from_name(all[i].name, strlen(all[i].name)), all[i].err);
    }
    assert_string_equal(xs_errno_name(EXDEV), "EIO");
    assert_string_equal(xs_errno_name(0), "EIO");
    assert_string_equal(xs_errno_name(-ENOENT), "EIO");
    assert_int_equal(xs_errno_from_name("EFOO", 4), EINVAL);
    assert_int_equal(xs_errno_from_name("", 0), EINVAL);
    assert_int_equal(xs_errno_from_name(NULL, 0), EINVAL);
    /* The length decides, not a NUL: no prefix or extension matches. */
    assert_int_equal(xs_errno_from_name("ENOENTX", 7), EINVAL);
    assert_int_equal(xs_errno_from_name("ENOENTX", 6), ENOENT);
    assert_int_equal(xs_errno_from_name("ENOEN", 5), EINVAL);
    assert_int_equal(xs_errno_from_name("EIOE", 3), EIO);
    assert_int_equal(xs_errno_from_name("enoent", 6), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_type_numbers),
        cmocka_unit_test(test_decode_truncated_header),
        cmocka_unit_test(test_decode_truncated_payload),
        cmocka_unit_test(test_decode_oversized),
        cmocka_unit_test(test_decode_boundary),
        cmocka_unit_test(test_decode_back_to_back),
        cmocka_unit_test(test_decode_reassembly),
        cmocka_unit_test(test_decode_unaligned),
        cmocka_unit_test(test_split_exact),
        cmocka_unit_test(test_split_missing_extra),
        cmocka_unit_test(test_split_unterminated),
        cmocka_unit_test(test_split_raw),
        cmocka_unit_test(test_split_boundary),
        cmocka_unit_test(test_count_strings),
        cmocka_unit_test(test_parse_u32),
        cmocka_unit_test(test_errno_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
