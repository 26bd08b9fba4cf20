/* SPDX-License-Identifier: MIT */
/*
 * Latency against the number of domains present: the same operations on a
 * store holding a few domains' subtrees and on one holding many.
 */
#ifndef BENCH_STORE_SCALE_H
#define BENCH_STORE_SCALE_H

#include "hv/hvstore.h"
#include "ops.h"
#include "stats.h"

/* Leaves written under /local/domain/<id> for each domain. */
#define SCALE_LEAVES 8

/*
 * Introduces domains 1..ndomains and writes their subtrees (as a toolstack
 * does at domain creation), `batch` domains per transaction.
 */
int scale_populate(hvs_t *h, unsigned ndomains, unsigned batch);

/*
 * One client, OP_READ or OP_WRITE of /local/domain/<id>/memory/target for
 * ids drawn at random among the domains each store holds; rounds alternate
 * between the stores. out[0]: `small`, out[1]: `large`.
 */
int scale_compare(hvs_t *small, unsigned nsmall, hvs_t *large, unsigned nlarge, enum op op,
                  unsigned total_ops, unsigned rounds, struct summary out[2]);

#endif
