/* SPDX-License-Identifier: MIT */
/* Store paths: validation and resolution, as xenstore does them. */
#ifndef LIBHVSTORE_PATH_H
#define LIBHVSTORE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hvstore.h"

/* Longest special (@...) path. */
#define PATH_REL_MAX 2048

/*
 * Resolves `in` for a session of domain `domid` into an absolute path in
 * out (HVS_PATH_MAX + 1 bytes). Relative paths are under
 * /local/domain/<domid>/. With `special_ok`, "@name" paths are accepted as
 * they are (watch paths). Returns the length of a relative prefix that was
 * added (0 for absolute ones: a watch strips it from its events), or
 * -EINVAL with a reason in why (static text).
 */
int path_resolve(uint32_t domid, const char *in, bool special_ok, char *out,
                 const char **why);

/* Components below the root: "/" 0, "/a" 1, "/a/b" 2. */
unsigned path_depth(const char *path);
/* True if `path` is `base` or below it. */
bool path_is_at_or_below(const char *path, const char *base);
/* Length of the parent's path ("/a/b" -> 2, "/a" -> 1); 0 for "/". */
size_t path_parent_len(const char *path, size_t len);

/* The hash of the tree's, the watches' and the transactions' tables. */
uint64_t path_hash(const char *path, size_t len);

#endif
