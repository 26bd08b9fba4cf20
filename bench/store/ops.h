/* SPDX-License-Identifier: MIT */
/*
 * The measured operations, on either side (libhvstore or redis), run by N
 * client threads at once, each on its own connection, each on keys of its
 * own (so transactions never conflict and redis never serialises on one
 * key more than we do).
 */
#ifndef BENCH_STORE_OPS_H
#define BENCH_STORE_OPS_H

#include <stdint.h>

#include "hv/hvstore.h"
#include "resp.h"
#include "stats.h"

#define OPS_KEYS 16   /* keys per client, used in turn */
#define OPS_KEY_MAX 64

enum side { SIDE_HVS, SIDE_REDIS };

enum op {
    OP_READ,  /* hvs_read                        | GET */
    OP_WRITE, /* hvs_write                       | SET */
    OP_TX,    /* hvs_tx_begin + write + commit   | MULTI, SET, EXEC */
};

struct conn {
    enum side side;
    unsigned id;
    hvs_t *h;           /* SIDE_HVS; may be shared by all (embedded engines) */
    int shared;         /* h is not ours to close */
    struct resp *r;     /* SIDE_REDIS */
    unsigned value_size;
    uint64_t seq;       /* varies the written values */
    uint64_t retries;   /* OP_TX: commits that gave -EAGAIN */
    char key[OPS_KEYS][OPS_KEY_MAX];
    char *value;        /* value_size bytes + NUL */
    double *lat;        /* this run's latencies, us */
    uint64_t t_start, t_end;
    char err[256];
};

/*
 * n connections to `target`: "unix:PATH"/"file:PATH"/"mem:" for SIDE_HVS
 * (with `shared` non-NULL, every conn uses that handle instead), the redis
 * socket path for SIDE_REDIS. Message on stderr on failure.
 */
int conns_open(struct conn **out, unsigned n, enum side side, const char *target, hvs_t *shared,
               unsigned value_size);
void conns_close(struct conn *c, unsigned n);

/* Writes every client's keys once (the reads need them). */
int conns_prepare(struct conn *c, unsigned n);

/*
 * Every conn does ops_per_client operations `op` on its own thread, all
 * starting together. With s non-NULL the latencies are appended to s and the
 * run's wall time (first start to last end) added to s->wall_s.
 */
int conns_run(struct conn *c, unsigned n, enum op op, unsigned ops_per_client,
              struct samples *s);

/*
 * Runs `op` on each of the nsides sets of n conns: a warm-up, then `rounds`
 * rounds of total_ops / rounds operations per side, rotating which side goes
 * first so that drift hits all. out[i]: side i's summary.
 */
int conns_compare(struct conn **sides, unsigned nsides, unsigned n, enum op op,
                  unsigned total_ops, unsigned rounds, struct summary *out);

/* The handle options of the bench: errors and warnings to stderr. */
const hvs_options_t *bench_hvs_options(void);

#endif
