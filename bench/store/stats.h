/* SPDX-License-Identifier: MIT */
/* Timing and the summary of a set of per-operation latencies. */
#ifndef BENCH_STORE_STATS_H
#define BENCH_STORE_STATS_H

#include <stddef.h>
#include <stdint.h>

uint64_t now_ns(void);

/* Latencies in microseconds, gathered over the rounds of one side. */
struct samples {
    double *v;
    size_t n, cap;
    double wall_s; /* sum of the rounds' wall-clock times */
};

int samples_add(struct samples *s, const double *v, size_t n);
void samples_free(struct samples *s);

struct summary {
    double median, p90; /* us */
    double ops_per_s;   /* samples / wall_s: all clients together */
    size_t ops;
};

/* Sorts s->v. */
void samples_summary(struct samples *s, struct summary *out);

#endif
