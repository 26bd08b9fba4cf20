/* SPDX-License-Identifier: MIT */
/*
 * The xenstore wire protocol (Xen's docs/misc/xenstore.txt), shared by the
 * daemon and the client. Pure functions: no I/O, no allocation beyond what
 * the comments say; the decoder is fuzzed (tests/fuzz/fuzz_store_proto.c).
 *
 * A message is a 16-byte header {type, req_id, tx_id, len} in host byte
 * order followed by len <= HVS_PAYLOAD_MAX bytes of payload. Arguments are
 * NUL-terminated strings, except the last argument of WRITE (the value: the
 * rest of the payload, no NUL).
 */
#ifndef LIBHVSTORE_PROTO_H
#define LIBHVSTORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hvstore.h"

enum xs_type {
    XS_CONTROL = 0,
    XS_DIRECTORY = 1,
    XS_READ = 2,
    XS_GET_PERMS = 3,
    XS_WATCH = 4,
    XS_UNWATCH = 5,
    XS_TRANSACTION_START = 6,
    XS_TRANSACTION_END = 7,
    XS_INTRODUCE = 8,
    XS_RELEASE = 9,
    XS_GET_DOMAIN_PATH = 10,
    XS_WRITE = 11,
    XS_MKDIR = 12,
    XS_RM = 13,
    XS_SET_PERMS = 14,
    XS_WATCH_EVENT = 15,
    XS_ERROR = 16,
    XS_IS_DOMAIN_INTRODUCED = 17,
    XS_RESUME = 18,
    XS_SET_TARGET = 19,
    XS_RESET_WATCHES = 21,
    XS_DIRECTORY_PART = 22,
    /* Our extensions (docs/store.md), from 128 on so they never collide
     * with Xen's. */
    XS_HV_ACT_AS = 128,      /* <domid>|            -> OK */
    XS_HV_WATCH_DEPTH = 129, /* <path>|<token>|<depth>| -> OK */
    XS_HV_OWN = 130,         /* <domid>|<path>|*    -> OK (hvs_domain_own) */
    XS_HV_DISOWN = 131,      /* <domid>|            -> OK */
};

struct xs_header {
    uint32_t type;
    uint32_t req_id;
    uint32_t tx_id;
    uint32_t len;
};
#define XS_HEADER_SIZE 16u

/* A complete message; payload points into the caller's buffer. */
struct xs_msg {
    struct xs_header hdr;
    const char *payload;
};

/*
 * Looks for one message at the start of buf. Returns 1 and fills *msg and
 * *consumed (header + payload) when a whole message is there; 0 when more
 * bytes are needed; -EINVAL when the header is impossible (len over
 * HVS_PAYLOAD_MAX): the stream cannot be resynchronised.
 */
int xs_decode(const void *buf, size_t avail, struct xs_msg *msg, size_t *consumed);

/*
 * Splits a payload into NUL-terminated strings. With `last_raw`, the final
 * argument is the rest of the payload, unterminated (WRITE's value).
 * Exactly `n` arguments must be present: returns -EINVAL otherwise
 * (missing, unterminated, or extra bytes). args[i] point into the payload;
 * lens[i] (may be NULL) receive their lengths.
 */
int xs_split(const char *payload, uint32_t len, unsigned n, bool last_raw, const char **args,
             size_t *lens);
/* Counts NUL-terminated strings filling the payload exactly; -EINVAL if the
 * payload does not end with a NUL (empty payload: 0). */
int xs_count_strings(const char *payload, uint32_t len);

/* Parses a decimal unsigned integer spanning the whole string. */
int xs_parse_u32(const char *s, uint32_t *out);

/* "EINVAL" for EINVAL (positive errno); "EIO" for unknown ones. */
const char *xs_errno_name(int err);
/* EINVAL for "EINVAL"; EINVAL for unknown names too. */
int xs_errno_from_name(const char *name, size_t len);

/* Writes a header into out (16 bytes). */
void xs_header_put(void *out, uint32_t type, uint32_t req_id, uint32_t tx_id, uint32_t len);

/* The type's name ("READ"), for logs; "UNKNOWN" otherwise. */
const char *xs_type_name(uint32_t type);

#endif
