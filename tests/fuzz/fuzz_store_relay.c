/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the store relay (libhv/store_relay.c): the requests
 * a hostile guest puts in its store ring, executed on a real embedded store
 * (mem:) as domain 5, which owns only /local/domain/5/data. Beyond "no
 * crash, no sanitizer report": every request gets exactly one reply, of the
 * request's id, and with a payload inside the wire limit; and domain 5 never
 * changes what it may not (/local/domain/6 and dom0's /secret stay as set up).
 *
 * Input: a sequence of {u8 type, u8 tx, u16 len, payload[len]}; the type
 * byte indexes the message types a guest could send (and a few it must not).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libhv/store_relay.h"

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            abort(); \
    } while (0)

static hvs_t *dom0, *guest;
static struct relay *relay;
static unsigned replies;
static uint32_t want_id;

static void out(void *opaque, const struct relay_hdr *hdr, const void *payload)
{
    (void)opaque;
    (void)payload;
    CHECK(hdr->len <= RELAY_PAYLOAD_MAX);
    if (hdr->type != RELAY_XS_WATCH_EVENT) {
        CHECK(hdr->req_id == want_id);
        replies++;
    }
}

static void check_untouched(void)
{
    char *v;
    size_t n;
    CHECK(hvs_read(dom0, HVS_TX_NONE, "/secret", &v, &n) == 0);
    CHECK(n == 3 && !memcmp(v, "dom", 3));
    free(v);
    CHECK(hvs_read(dom0, HVS_TX_NONE, "/local/domain/6/data/x", &v, &n) == 0);
    CHECK(n == 1 && v[0] == '6');
    free(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hvs_perm_t own5 = {.domid = 5, .perm = HVS_PERM_NONE};
    hvs_perm_t own6 = {.domid = 6, .perm = HVS_PERM_NONE};
    if (hvs_open(&dom0, "mem:fuzz-relay", NULL) < 0 || hvs_domain_introduce(dom0, 5) < 0 ||
        hvs_domain_introduce(dom0, 6) < 0 ||
        hvs_write(dom0, HVS_TX_NONE, "/secret", "dom", 3) < 0 ||
        hvs_write(dom0, HVS_TX_NONE, "/local/domain/5/data", "", 0) < 0 ||
        hvs_perms_set(dom0, HVS_TX_NONE, "/local/domain/5/data", &own5, 1) < 0 ||
        hvs_write(dom0, HVS_TX_NONE, "/local/domain/6/data/x", "6", 1) < 0 ||
        hvs_perms_set(dom0, HVS_TX_NONE, "/local/domain/6/data", &own6, 1) < 0 ||
        hvs_open(&guest, "mem:fuzz-relay", NULL) < 0 || hvs_act_as(guest, 5) < 0 ||
        relay_new(guest, out, NULL, &relay) < 0) {
        fprintf(stderr, "fuzz_store_relay: setup failed\n");
        abort();
    }
    return 0;
}

static const uint32_t types[] = {
    RELAY_XS_DIRECTORY, RELAY_XS_READ, RELAY_XS_GET_PERMS, RELAY_XS_WATCH, RELAY_XS_UNWATCH,
    RELAY_XS_TRANSACTION_START, RELAY_XS_TRANSACTION_END, RELAY_XS_INTRODUCE, RELAY_XS_RELEASE,
    RELAY_XS_GET_DOMAIN_PATH, RELAY_XS_WRITE, RELAY_XS_MKDIR, RELAY_XS_RM, RELAY_XS_SET_PERMS,
    RELAY_XS_WATCH_EVENT, RELAY_XS_ERROR, RELAY_XS_IS_DOMAIN_INTRODUCED, RELAY_XS_RESUME,
    RELAY_XS_SET_TARGET, RELAY_XS_DIRECTORY_PART, RELAY_XS_HV_ACT_AS, 129, 130, 131, 0, 200,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char payload[RELAY_PAYLOAD_MAX + 1];
    size_t off = 0;

    while (off + 4 <= size) {
        struct relay_hdr h = {
            .type = types[data[off] % (sizeof(types) / sizeof(types[0]))],
            .tx_id = data[off + 1] % 4,
            .len = (uint32_t)(data[off + 2] | data[off + 3] << 8) % (RELAY_PAYLOAD_MAX + 1),
        };
        off += 4;
        if (h.len > size - off)
            h.len = (uint32_t)(size - off);
        memcpy(payload, data + off, h.len);
        off += h.len;
        h.req_id = ++want_id;
        replies = 0;
        relay_request(relay, &h, payload);
        CHECK(replies == 1);
        hvs_dispatch(guest);
    }
    check_untouched();
    return 0;
}
