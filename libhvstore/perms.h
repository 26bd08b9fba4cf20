/* SPDX-License-Identifier: MIT */
/* Node permissions: who may do what (xenstore's rules). */
#ifndef LIBHVSTORE_PERMS_H
#define LIBHVSTORE_PERMS_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hvstore.h"

/* Most entries one node may carry (a bound on hostile SET_PERMS). */
#define PERMS_MAX 64

/* True if `domid` may do `want` (HVS_PERM_READ/WRITE) on the node. */
bool perms_allow(const hvs_perm_t *perms, unsigned n, uint32_t domid, unsigned want);
/* -EINVAL unless 1..PERMS_MAX entries with valid bits. */
int perms_check(const hvs_perm_t *perms, unsigned n, const char **why);

#endif
