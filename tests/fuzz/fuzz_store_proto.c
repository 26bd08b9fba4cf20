/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the xenstore wire decoder (libhvstore/proto.c), fed
 * as the daemon feeds it: a byte stream holding any number of messages.
 * Beyond "no crash, no sanitizer report": a decoded message lies inside
 * the input and within the payload limit, the splitter's arguments lie
 * inside the payload and are what it says, and the stream is consumed
 * exactly up to an incomplete or impossible frame.
 *
 * Each payload is copied into a buffer of its exact size, so that reading
 * one byte past it (a missing length check) is an ASan report.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libhvstore/proto.h"

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            abort(); \
    } while (0)

#define MAX_ARGS 8

static void check_split(const char *p, uint32_t len, unsigned n, bool raw)
{
    const char *args[MAX_ARGS];
    size_t lens[MAX_ARGS];

    if (xs_split(p, len, n, raw, args, lens) < 0)
        return;
    size_t end = 0;
    for (unsigned i = 0; i < n; i++) {
        CHECK(args[i] >= p || (len == 0 && args[i] == p));
        size_t off = (size_t)(args[i] - p);
        CHECK(off == end);
        CHECK(off + lens[i] <= len);
        if (raw && i == n - 1) {
            end = off + lens[i];
            break;
        }
        CHECK(off + lens[i] < len);
        CHECK(p[off + lens[i]] == '\0');
        CHECK(memchr(args[i], '\0', lens[i]) == NULL);
        end = off + lens[i] + 1;
    }
    /* Exactly n arguments: they cover the whole payload. */
    CHECK(end == len);
}

static void check_payload(const char *p, uint32_t len)
{
    int count = xs_count_strings(p, len);
    if (len == 0)
        CHECK(count == 0);
    else if (p[len - 1] != '\0')
        CHECK(count == -EINVAL);
    else
        CHECK(count >= 1 && (uint32_t)count <= len);

    /* A payload of `count` strings splits into exactly that many. */
    for (unsigned n = 0; n < MAX_ARGS; n++) {
        check_split(p, len, n, false);
        if (n > 0)
            check_split(p, len, n, true);
    }
    if (count > 0 && count <= MAX_ARGS) {
        const char *args[MAX_ARGS];
        CHECK(xs_split(p, len, (unsigned)count, false, args, NULL) == 0);
    }

    /* Each string as a number and as an errno name. */
    uint32_t off = 0;
    while (off < len) {
        const char *nul = memchr(p + off, '\0', len - off);
        size_t slen = nul ? (size_t)(nul - (p + off)) : len - off;
        int err = xs_errno_from_name(p + off, slen);
        CHECK(err > 0);
        const char *name = xs_errno_name(err);
        CHECK(name && name[0] == 'E');
        if (nul) {
            uint32_t v;
            if (xs_parse_u32(p + off, &v) == 0) {
                CHECK(slen >= 1);
                for (size_t i = 0; i < slen; i++)
                    CHECK(p[off + i] >= '0' && p[off + i] <= '9');
            }
        }
        off += (uint32_t)slen + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    for (;;) {
        struct xs_msg m;
        size_t used = 0;
        int rc = xs_decode(data + off, size - off, &m, &used);
        if (rc <= 0) {
            CHECK(rc == 0 || rc == -EINVAL);
            if (rc == 0 && size - off >= XS_HEADER_SIZE) {
                uint32_t len;
                memcpy(&len, data + off + 12, sizeof(len));
                CHECK(len <= HVS_PAYLOAD_MAX && len > size - off - XS_HEADER_SIZE);
            }
            break;
        }
        CHECK(rc == 1);
        CHECK(m.hdr.len <= HVS_PAYLOAD_MAX);
        CHECK(used == XS_HEADER_SIZE + m.hdr.len && used <= size - off);
        CHECK((const uint8_t *)m.payload == data + off + XS_HEADER_SIZE);
        CHECK(xs_type_name(m.hdr.type) != NULL);

        char *copy = malloc(m.hdr.len ? m.hdr.len : 1);
        CHECK(copy != NULL);
        memcpy(copy, m.payload, m.hdr.len);
        check_payload(copy, m.hdr.len);
        free(copy);
        off += used;
    }
    return 0;
}
