/* SPDX-License-Identifier: MIT */
/*
 * The store relay: executes a guest's xenstore requests on a store handle
 * acting as the guest's domid (store_ring.c feeds it from the ring). Only the
 * unprivileged subset of the protocol is served; everything else is refused.
 */
#ifndef LIBHV_STORE_RELAY_H
#define LIBHV_STORE_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "hv/hvstore.h"

/*
 * The xenstore wire protocol (docs/store.md "Wire protocol", Xen's
 * docs/misc/xenstore.txt). libhvstore's own proto.h is internal to it, so
 * the few numbers the relay needs are repeated here.
 */
#define RELAY_HDR_SIZE 16u
#define RELAY_PAYLOAD_MAX HVS_PAYLOAD_MAX

struct relay_hdr {
    uint32_t type;
    uint32_t req_id;
    uint32_t tx_id;
    uint32_t len;
};
_Static_assert(sizeof(struct relay_hdr) == RELAY_HDR_SIZE, "xenstore header layout");

enum {
    RELAY_XS_DIRECTORY = 1,
    RELAY_XS_READ = 2,
    RELAY_XS_GET_PERMS = 3,
    RELAY_XS_WATCH = 4,
    RELAY_XS_UNWATCH = 5,
    RELAY_XS_TRANSACTION_START = 6,
    RELAY_XS_TRANSACTION_END = 7,
    RELAY_XS_INTRODUCE = 8,
    RELAY_XS_RELEASE = 9,
    RELAY_XS_GET_DOMAIN_PATH = 10,
    RELAY_XS_WRITE = 11,
    RELAY_XS_MKDIR = 12,
    RELAY_XS_RM = 13,
    RELAY_XS_SET_PERMS = 14,
    RELAY_XS_WATCH_EVENT = 15,
    RELAY_XS_ERROR = 16,
    RELAY_XS_IS_DOMAIN_INTRODUCED = 17,
    RELAY_XS_RESUME = 18,
    RELAY_XS_SET_TARGET = 19,
    RELAY_XS_DIRECTORY_PART = 22,
    RELAY_XS_HV_ACT_AS = 128, /* ours (docs/store.md): never for a guest */
};

/* Called for every message for the guest: replies and watch events. */
typedef void (*relay_out_fn)(void *opaque, const struct relay_hdr *hdr, const void *payload);

struct relay;

/* h must act as the guest's domid already; the relay does not own it. */
int relay_new(hvs_t *h, relay_out_fn out, void *opaque, struct relay **r);
/* Aborts the guest's open transactions; its watches stay until hvs_close. */
void relay_free(struct relay *r);
/* One complete request: exactly one reply goes out through `out`. */
void relay_request(struct relay *r, const struct relay_hdr *hdr, const char *payload);

#endif
