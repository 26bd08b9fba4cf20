/* SPDX-License-Identifier: MIT */
/*
 * The in-memory tree: nodes found by full path through a hash table (O(1)
 * whatever the number of domains), children kept in creation order.
 */
#ifndef LIBHVSTORE_TREE_H
#define LIBHVSTORE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hvstore.h"

struct node {
    char *path;
    size_t pathlen;
    const char *name; /* last component, inside path */
    struct node *parent;
    struct node **kids;
    uint32_t nkids, capkids;
    char *value;
    uint32_t vlen;
    uint32_t nperms;
    hvs_perm_t *perms;
    uint64_t gen;  /* value, permissions or existence changed */
    uint64_t cgen; /* the set of children changed */
    bool dirty;    /* waiting to be written to disk */
    struct node *hnext;
};

struct tree {
    struct node *root;
    struct node **buckets;
    size_t nbuckets;
    size_t count;
};

int tree_init(struct tree *t);
void tree_free(struct tree *t);
struct node *tree_get(const struct tree *t, const char *path, size_t len);
/* Creates a node under an existing parent (no checks on the name). */
struct node *tree_add(struct tree *t, struct node *parent, const char *path, size_t len);
/* Unlinks and frees the node and its subtree; calls fn on each node first
 * (children before parents). */
void tree_remove(struct tree *t, struct node *n, void (*fn)(void *opaque, struct node *n),
                 void *opaque);
/* A copy with a NUL after the len bytes (values double as strings). */
char *value_dup(const void *value, size_t len);
int node_set_value(struct node *n, const void *value, size_t len);
int node_set_perms(struct node *n, const hvs_perm_t *perms, unsigned count);
/* Names of the children, each NUL-terminated, concatenated (malloc'd). */
int node_list(const struct node *n, char **buf, size_t *len);

#endif
