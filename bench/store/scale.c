/* SPDX-License-Identifier: MIT */
#include "scale.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *value;
    int with_domid; /* the domid follows the value */
} leaves[SCALE_LEAVES] = {
    { "name", "guest-", 1 },
    { "domid", "", 1 },
    { "vm", "/vm/00000000-0000-0000-0000-", 1 },
    { "memory/target", "524288", 0 },
    { "memory/static-max", "524288", 0 },
    { "cpu/0/availability", "online", 0 },
    { "device/vif/0/state", "4", 0 },
    { "control/shutdown", "", 0 },
};

static int fail(hvs_t *h, int err, const char *what, unsigned domid)
{
    fprintf(stderr, "store_bench: %s (domain %u): %s - %s\n", what, domid, strerror(-err),
            hvs_last_error(h));
    return err;
}

static int write_domain(hvs_t *h, hvs_tx_t tx, unsigned domid)
{
    for (unsigned i = 0; i < SCALE_LEAVES; i++) {
        char path[96], value[64];
        snprintf(path, sizeof path, "/local/domain/%u/%s", domid, leaves[i].name);
        int n = leaves[i].with_domid
                    ? snprintf(value, sizeof value, "%s%u", leaves[i].value, domid)
                    : snprintf(value, sizeof value, "%s", leaves[i].value);
        int err = hvs_write(h, tx, path, value, (size_t)n);
        if (err)
            return fail(h, err, "hvs_write", domid);
    }
    return 0;
}

int scale_populate(hvs_t *h, unsigned ndomains, unsigned batch)
{
    if (batch == 0)
        batch = 1;
    for (unsigned first = 1; first <= ndomains; first += batch) {
        unsigned last = first + batch - 1 < ndomains ? first + batch - 1 : ndomains;
        for (unsigned d = first; d <= last; d++) {
            int err = hvs_domain_introduce(h, d);
            if (err)
                return fail(h, err, "hvs_domain_introduce", d);
        }
        for (;;) {
            hvs_tx_t tx;
            int err = hvs_tx_begin(h, &tx);
            if (err)
                return fail(h, err, "hvs_tx_begin", first);
            for (unsigned d = first; d <= last && !err; d++)
                err = write_domain(h, tx, d);
            if (err) {
                hvs_tx_abort(h, tx);
                return err;
            }
            err = hvs_tx_commit(h, tx);
            if (err == -EAGAIN)
                continue;
            if (err)
                return fail(h, err, "hvs_tx_commit", first);
            break;
        }
    }
    return 0;
}

/* xorshift64: the same sequence of draws for both stores. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int run(hvs_t *h, unsigned ndomains, enum op op, unsigned ops, uint64_t *rng,
               uint64_t *seq, struct samples *s)
{
    double *lat = calloc(ops ? ops : 1, sizeof *lat);
    if (!lat)
        return -ENOMEM;
    int err = 0;
    uint64_t start = now_ns();
    for (unsigned i = 0; i < ops && !err; i++) {
        unsigned domid = 1 + (unsigned)(next_rand(rng) % ndomains);
        char path[64], value[16];
        snprintf(path, sizeof path, "/local/domain/%u/memory/target", domid);
        int n = snprintf(value, sizeof value, "%06u", (unsigned)(++*seq % 1000000));
        uint64_t t0 = now_ns();
        if (op == OP_READ) {
            char *v;
            err = hvs_read(h, HVS_TX_NONE, path, &v, NULL);
            if (!err)
                free(v);
        } else {
            err = hvs_write(h, HVS_TX_NONE, path, value, (size_t)n);
        }
        uint64_t t1 = now_ns();
        if (err)
            fail(h, err, op == OP_READ ? "hvs_read" : "hvs_write", domid);
        lat[i] = (double)(t1 - t0) / 1e3;
    }
    if (!err && s) {
        s->wall_s += (double)(now_ns() - start) / 1e9;
        err = samples_add(s, lat, ops);
    }
    free(lat);
    return err;
}

int scale_compare(hvs_t *small, unsigned nsmall, hvs_t *large, unsigned nlarge, enum op op,
                  unsigned total_ops, unsigned rounds, struct summary out[2])
{
    if (op != OP_READ && op != OP_WRITE)
        return -EINVAL;
    hvs_t *h[2] = { small, large };
    unsigned nd[2] = { nsmall, nlarge };
    uint64_t rng[2] = { 0x9e3779b97f4a7c15ull, 0x9e3779b97f4a7c15ull }, seq = 0;
    unsigned per = total_ops / rounds ? total_ops / rounds : 1;
    struct samples s[2] = { 0 };
    int err = 0;
    for (int k = 0; k < 2 && !err; k++)
        err = run(h[k], nd[k], op, per / 4 + 1, &rng[k], &seq, NULL);
    for (unsigned r = 0; r < rounds && !err; r++)
        for (unsigned k = 0; k < 2 && !err; k++) {
            unsigned side = (r + k) % 2;
            err = run(h[side], nd[side], op, per, &rng[side], &seq, &s[side]);
        }
    for (int k = 0; k < 2; k++) {
        if (!err)
            samples_summary(&s[k], &out[k]);
        samples_free(&s[k]);
    }
    return err;
}
