/* SPDX-License-Identifier: MIT */
/*
 * Watch-fire latency: a writer changes a key, a watcher on another
 * connection is told; the time from just before the write is sent to the
 * moment the watcher's thread has the event. N independent writer/watcher
 * pairs (each pair: two connections, two threads, a key of its own); the
 * writer sends the next write only after the watcher got the last event,
 * so one event per pair is in flight.
 */
#ifndef BENCH_STORE_WATCH_H
#define BENCH_STORE_WATCH_H

#include "stats.h"

enum watch_side {
    WATCH_HVS,            /* hvs_write -> hvs_wait runs the watch callback */
    WATCH_REDIS_KEYSPACE, /* SET (appendfsync always) -> keyspace notification */
    WATCH_REDIS_PUBLISH,  /* PUBLISH -> the subscriber's message */
};

struct watch_pairs;

/* target: "unix:PATH" (or another hvs uri) or the redis socket path. */
int watch_pairs_open(struct watch_pairs **out, unsigned n, enum watch_side side,
                     const char *target, unsigned value_size);
void watch_pairs_close(struct watch_pairs *p);

/* As conns_compare (ops.h), for watch events. */
int watch_compare(struct watch_pairs **sides, unsigned nsides, unsigned total_events,
                  unsigned rounds, struct summary *out);

#endif
