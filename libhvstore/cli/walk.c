/* SPDX-License-Identifier: MIT */
/* Sorted listings and path joining for the commands that walk subtrees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walk.h"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int walk_children(hvs_t *h, hvs_tx_t tx, const char *path, char ***names)
{
    int n = hvs_directory(h, tx, path, names);

    if (n > 1)
        qsort(*names, (size_t)n, sizeof(**names), cmp_names);
    return n;
}

char *walk_join(const char *parent, const char *name)
{
    char *out;
    size_t plen = strlen(parent);
    /* "/" is the only path ending in '/'. */
    const char *sep = plen && parent[plen - 1] == '/' ? "" : "/";

    if (asprintf(&out, "%s%s%s", parent, sep, name) < 0)
        return NULL;
    return out;
}
