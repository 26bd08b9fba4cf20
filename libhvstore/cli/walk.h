/* SPDX-License-Identifier: MIT */
/* Walking the store's tree: what ls, chmod -R and dump share. */
#ifndef HVSTORE_CLI_WALK_H
#define HVSTORE_CLI_WALK_H

#include <hv/hvstore.h>

/*
 * The children of `path`, sorted by name (byte order), so that listings and
 * dumps do not depend on the order the store keeps them in. As
 * hvs_directory: a NULL-terminated list freed with hvs_list_free(), the
 * count returned.
 */
int walk_children(hvs_t *h, hvs_tx_t tx, const char *path, char ***names);

/* "parent/name" ("/name" under "/"), malloc'd; NULL on ENOMEM. */
char *walk_join(const char *parent, const char *name);

#endif
