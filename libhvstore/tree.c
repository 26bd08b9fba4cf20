/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "tree.h"

static struct node *node_new(const char *path, size_t len)
{
    struct node *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->path = malloc(len + 1);
    if (!n->path) {
        free(n);
        return NULL;
    }
    memcpy(n->path, path, len);
    n->path[len] = '\0';
    n->pathlen = len;
    const char *slash = strrchr(n->path, '/');
    n->name = slash ? slash + 1 : n->path;
    return n;
}

static void node_free(struct node *n)
{
    free(n->path);
    free(n->kids);
    free(n->value);
    free(n->perms);
    free(n);
}

static int rehash(struct tree *t, size_t nb)
{
    struct node **b = calloc(nb, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct node *n = t->buckets[i];
        while (n) {
            struct node *next = n->hnext;
            size_t k = path_hash(n->path, n->pathlen) & (nb - 1);
            n->hnext = b[k];
            b[k] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

static void hash_insert(struct tree *t, struct node *n)
{
    size_t k = path_hash(n->path, n->pathlen) & (t->nbuckets - 1);

    n->hnext = t->buckets[k];
    t->buckets[k] = n;
    t->count++;
}

static void hash_unlink(struct tree *t, struct node *n)
{
    struct node **pp = &t->buckets[path_hash(n->path, n->pathlen) & (t->nbuckets - 1)];

    while (*pp && *pp != n)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = n->hnext;
    t->count--;
}

int tree_init(struct tree *t)
{
    memset(t, 0, sizeof(*t));
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    t->root = node_new("/", 1);
    if (!t->buckets || !t->root) {
        free(t->buckets);
        free(t->root);
        return -ENOMEM;
    }
    t->root->perms = calloc(1, sizeof(hvs_perm_t));
    t->root->value = calloc(1, 1); /* every node has a value, "" at least */
    if (!t->root->perms || !t->root->value) {
        tree_free(t);
        return -ENOMEM;
    }
    t->root->nperms = 1;
    hash_insert(t, t->root);
    return 0;
}

static void free_subtree(struct node *n)
{
    for (uint32_t i = 0; i < n->nkids; i++)
        free_subtree(n->kids[i]);
    node_free(n);
}

void tree_free(struct tree *t)
{
    if (t->root)
        free_subtree(t->root);
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

struct node *tree_get(const struct tree *t, const char *path, size_t len)
{
    for (struct node *n = t->buckets[path_hash(path, len) & (t->nbuckets - 1)]; n; n = n->hnext)
        if (n->pathlen == len && memcmp(n->path, path, len) == 0)
            return n;
    return NULL;
}

struct node *tree_add(struct tree *t, struct node *parent, const char *path, size_t len)
{
    if (t->count + 1 > t->nbuckets && rehash(t, t->nbuckets * 2) < 0)
        return NULL;
    if (parent->nkids == parent->capkids) {
        uint32_t cap = parent->capkids ? parent->capkids * 2 : 4;
        struct node **k = realloc(parent->kids, cap * sizeof(*k));
        if (!k)
            return NULL;
        parent->kids = k;
        parent->capkids = cap;
    }
    struct node *n = node_new(path, len);
    if (!n)
        return NULL;
    n->parent = parent;
    parent->kids[parent->nkids++] = n;
    hash_insert(t, n);
    return n;
}

static void remove_rec(struct tree *t, struct node *n, void (*fn)(void *, struct node *),
                       void *opaque)
{
    for (uint32_t i = 0; i < n->nkids; i++)
        remove_rec(t, n->kids[i], fn, opaque);
    if (fn)
        fn(opaque, n);
    hash_unlink(t, n);
    node_free(n);
}

void tree_remove(struct tree *t, struct node *n, void (*fn)(void *, struct node *), void *opaque)
{
    struct node *p = n->parent;

    if (p) {
        for (uint32_t i = 0; i < p->nkids; i++)
            if (p->kids[i] == n) {
                memmove(&p->kids[i], &p->kids[i + 1], (p->nkids - i - 1) * sizeof(*p->kids));
                p->nkids--;
                break;
            }
    }
    remove_rec(t, n, fn, opaque);
}

char *value_dup(const void *value, size_t len)
{
    char *v = malloc(len + 1);

    if (v) {
        if (len)
            memcpy(v, value, len);
        v[len] = '\0';
    }
    return v;
}

int node_set_value(struct node *n, const void *value, size_t len)
{
    char *v = value_dup(value, len);

    if (!v)
        return -ENOMEM;
    free(n->value);
    n->value = v;
    n->vlen = (uint32_t)len;
    return 0;
}

int node_set_perms(struct node *n, const hvs_perm_t *perms, unsigned count)
{
    hvs_perm_t *p = malloc(count * sizeof(*p));

    if (!p)
        return -ENOMEM;
    memcpy(p, perms, count * sizeof(*p));
    free(n->perms);
    n->perms = p;
    n->nperms = count;
    return 0;
}

int node_list(const struct node *n, char **buf, size_t *len)
{
    size_t total = 0;

    for (uint32_t i = 0; i < n->nkids; i++)
        total += strlen(n->kids[i]->name) + 1;
    char *b = malloc(total ? total : 1);
    if (!b)
        return -ENOMEM;
    size_t off = 0;
    for (uint32_t i = 0; i < n->nkids; i++) {
        size_t l = strlen(n->kids[i]->name) + 1;
        memcpy(b + off, n->kids[i]->name, l);
        off += l;
    }
    *buf = b;
    *len = total;
    return (int)n->nkids;
}
