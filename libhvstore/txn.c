/* SPDX-License-Identifier: MIT */
/*
 * Transactions: optimistic, with per-node generations.
 *
 * A transaction keeps an overlay of the nodes it touched: the state it saw
 * in the main tree when it first looked (present with generations, or
 * absent) and its own changes. Reads go through the overlay, so they see the
 * transaction's own writes and nothing of other sessions' uncommitted ones.
 * Commit checks only the touched nodes: a node read or written must still
 * have the generation seen, a listed directory the same children
 * generation. So two transactions on disjoint subtrees both commit, and a
 * write elsewhere never makes a commit fail. Then the changes are applied to
 * the main tree, parents first, and the watches fire.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

enum seen { SEEN_NONE, SEEN_ABSENT, SEEN_PRESENT };

struct txent {
    char *path;
    size_t len;
    struct txent *hnext;
    bool exists;     /* in the transaction's view */
    bool replaced;   /* the main tree's subtree here is hidden (removed) */
    bool modified;   /* to apply at commit */
    bool read_value; /* check the generation at commit */
    bool listed;     /* check the children generation at commit */
    bool explicit_op; /* written, removed or chmod'ed, not just created as a parent */
    uint32_t credited; /* nodes of the domain's that removing this one freed */
    enum seen seen;
    uint64_t seen_gen, seen_cgen;
    char *value;
    uint32_t vlen;
    hvs_perm_t *perms;
    uint32_t nperms;
};

struct txn {
    uint32_t id;
    uint32_t creates; /* nodes a domU's writes created so far (quota) */
    uint32_t removed; /* nodes it owned that its removals take away */
    int touch_err;    /* why ov_touch last failed: -ENOMEM or -EDQUOT */
    struct txn *next;
    struct txent **buckets;
    size_t nbuckets;
    struct txent **all;
    size_t n, cap;
};

static void ent_free(struct txent *e)
{
    free(e->path);
    free(e->value);
    free(e->perms);
    free(e);
}

static void txn_free(struct txn *t)
{
    for (size_t i = 0; i < t->n; i++)
        ent_free(t->all[i]);
    free(t->all);
    free(t->buckets);
    free(t);
}

static struct txent *ov_get(const struct txn *t, const char *path, size_t len)
{
    for (struct txent *e = t->buckets[path_hash(path, len) & (t->nbuckets - 1)]; e; e = e->hnext)
        if (e->len == len && memcmp(e->path, path, len) == 0)
            return e;
    return NULL;
}

static int ov_grow(struct txn *t)
{
    size_t nb = t->nbuckets * 2;
    struct txent **b = calloc(nb, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        struct txent *e = t->all[i];
        size_t k = path_hash(e->path, e->len) & (nb - 1);
        e->hnext = b[k];
        b[k] = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

static size_t touch_budget(const struct session *s)
{
    return 2 * (size_t)s->st->quota.nodes;
}

static int touch_quota(struct session *s, const struct txn *t)
{
    return serr(s, -EDQUOT,
                "domain %u: quota 'nodes' (%u) reached: transaction %u touches %zu nodes, at most "
                "twice the quota",
                s->domid, s->st->quota.nodes, t->id, t->n);
}

/* What the transaction sees at a path. */
struct view {
    bool exists;
    bool hidden; /* under a node the transaction removed */
    struct txent *e;
    struct node *n;
};

static void view(struct store *st, struct txn *t, const char *path, size_t len, struct view *v)
{
    memset(v, 0, sizeof(*v));
    v->e = ov_get(t, path, len);
    if (v->e) {
        v->exists = v->e->exists;
        return;
    }
    for (size_t l = path_parent_len(path, len); l > 0; l = path_parent_len(path, l)) {
        struct txent *a = ov_get(t, path, l);
        if (a) {
            if (!a->exists || a->replaced) {
                v->hidden = true;
                return;
            }
            break;
        }
    }
    v->n = tree_get(&st->tree, path, len);
    v->exists = v->n != NULL;
}

/* The overlay entry for path, made from the current view if new. */
static struct txent *ov_touch(struct session *s, struct txn *t, const char *path, size_t len)
{
    struct view v;

    view(s->st, t, path, len, &v);
    if (v.e)
        return v.e;
    /* Every touched node costs memory until the end: a domain's
     * transaction may touch twice as many as it may own (read them all,
     * write as many). */
    if (s->domid != HVS_DOM0 && t->n >= touch_budget(s)) {
        t->touch_err = touch_quota(s, t);
        return NULL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct txent **a = realloc(t->all, cap * sizeof(*a));
        if (!a)
            return NULL;
        t->all = a;
        t->cap = cap;
    }
    if (t->n + 1 > t->nbuckets && ov_grow(t) < 0)
        return NULL;
    struct txent *e = calloc(1, sizeof(*e));
    if (!e || !(e->path = strndup(path, len)))
        goto oom;
    e->len = len;
    if (v.hidden) {
        e->seen = SEEN_NONE;
        e->replaced = true;
    } else if (v.n) {
        e->seen = SEEN_PRESENT;
        e->seen_gen = v.n->gen;
        e->seen_cgen = v.n->cgen;
        e->exists = true;
        e->value = malloc(v.n->vlen + 1);
        e->perms = malloc(v.n->nperms * sizeof(*e->perms));
        if (!e->value || !e->perms)
            goto oom;
        memcpy(e->value, v.n->value, v.n->vlen + 1);
        e->vlen = v.n->vlen;
        memcpy(e->perms, v.n->perms, v.n->nperms * sizeof(*e->perms));
        e->nperms = v.n->nperms;
    } else {
        e->seen = SEEN_ABSENT;
    }
    size_t k = path_hash(path, len) & (t->nbuckets - 1);
    e->hnext = t->buckets[k];
    t->buckets[k] = e;
    t->all[t->n++] = e;
    return e;
oom:
    if (e)
        ent_free(e);
    t->touch_err = -ENOMEM;
    return NULL;
}

struct txn *txn_find(struct session *s, uint32_t id)
{
    for (struct txn *t = s->txs; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

int txn_begin(struct session *s, uint32_t *id)
{
    struct store *st = s->st;
    struct dom_acct *a = acct_get(st, s->domid, true);

    if (!a)
        return serr(s, -ENOMEM, "out of memory");
    if (s->domid != HVS_DOM0 && a->txs >= st->quota.transactions)
        return serr(s, -EDQUOT, "domain %u: quota 'transactions' (%u open) reached", s->domid,
                    st->quota.transactions);
    struct txn *t = calloc(1, sizeof(*t));
    if (!t || !(t->buckets = calloc(16, sizeof(*t->buckets)))) {
        free(t);
        return serr(s, -ENOMEM, "out of memory");
    }
    t->nbuckets = 16;
    do
        t->id = st->next_tx++;
    while (t->id == HVS_TX_NONE);
    t->next = s->txs;
    s->txs = t;
    a->txs++;
    *id = t->id;
    return 0;
}

static void txn_unlink(struct session *s, struct txn *t)
{
    for (struct txn **pp = &s->txs; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    struct dom_acct *a = acct_get(s->st, s->domid, false);
    if (a && a->txs)
        a->txs--;
}

void session_txns_free(struct session *s)
{
    while (s->txs) {
        struct txn *t = s->txs;
        txn_unlink(s, t);
        txn_free(t);
    }
}

static int oom(struct session *s)
{
    return serr(s, -ENOMEM, "out of memory in a transaction");
}

/* After ov_touch returned NULL: its message is recorded unless ENOMEM. */
static int touch_failed(struct session *s, struct txn *t)
{
    return t->touch_err == -EDQUOT ? -EDQUOT : oom(s);
}

/* The entry for a node the transaction reads (its generation is checked at
 * commit): it must exist and the session may `want` it. */
/* As the engine's: -ENOENT only to a domain that may read the nearest node
 * above (in the transaction's view), -EACCES to others. */
static int missing(struct session *s, struct txn *t, const char *path)
{
    struct view v;
    size_t l = strlen(path);

    do {
        l = path_parent_len(path, l);
        view(s->st, t, path, l, &v);
    } while (!v.exists && l > 1);
    const hvs_perm_t *pp = v.e ? v.e->perms : v.n ? v.n->perms : NULL;
    unsigned np = v.e ? v.e->nperms : v.n ? v.n->nperms : 0;
    if (pp && !perms_allow(pp, np, s->domid, HVS_PERM_READ))
        return serr(s, -EACCES, "domain %u may not read %s", s->domid, path);
    return serr(s, -ENOENT, "%s does not exist", path);
}

static int touch_read(struct session *s, struct txn *t, const char *path, unsigned want,
                      const char *what, struct txent **out)
{
    struct txent *e = ov_touch(s, t, path, strlen(path));

    if (!e)
        return touch_failed(s, t);
    e->read_value = true;
    if (!e->exists)
        return missing(s, t, path);
    if (want && !perms_allow(e->perms, e->nperms, s->domid, want))
        return serr(s, -EACCES, "domain %u may not %s %s", s->domid, what, path);
    *out = e;
    return 0;
}

int txn_read(struct session *s, struct txn *t, const char *path, char **value, size_t *len)
{
    struct txent *e = NULL;
    int r = touch_read(s, t, path, HVS_PERM_READ, "read", &e);

    if (r < 0)
        return r;
    *value = malloc(e->vlen + 1);
    if (!*value)
        return oom(s);
    memcpy(*value, e->value ? e->value : "", e->vlen + 1);
    if (len)
        *len = e->vlen;
    return 0;
}

static int set_value(struct txent *e, const void *value, size_t len)
{
    char *v = value_dup(value, len);

    if (!v)
        return -ENOMEM;
    free(e->value);
    e->value = v;
    e->vlen = (uint32_t)len;
    return 0;
}

static int set_perms(struct txent *e, const hvs_perm_t *perms, unsigned n)
{
    hvs_perm_t *p = malloc(n * sizeof(*p));

    if (!p)
        return -ENOMEM;
    memcpy(p, perms, n * sizeof(*p));
    free(e->perms);
    e->perms = p;
    e->nperms = n;
    return 0;
}

int txn_write(struct session *s, struct txn *t, const char *path, const void *value, size_t vlen,
              bool mkdir_only)
{
    size_t len = strlen(path);
    struct txent *e = ov_touch(s, t, path, len);

    if (!e)
        return touch_failed(s, t);
    if (e->exists) {
        if (!perms_allow(e->perms, e->nperms, s->domid, HVS_PERM_WRITE))
            return serr(s, -EACCES, "domain %u may not write %s", s->domid, path);
        if (mkdir_only)
            return 0;
        if (set_value(e, value, vlen) < 0)
            return oom(s);
        e->modified = true;
        e->explicit_op = true;
        return 0;
    }
    /* Find the nearest existing node above, counting what to create. */
    size_t lens[HVS_PATH_MAX / 2 + 1];
    unsigned missing = 0;
    struct view v;
    size_t l = len;
    lens[missing++] = l;
    for (;;) {
        l = path_parent_len(path, l);
        view(s->st, t, path, l, &v);
        if (v.exists)
            break;
        lens[missing++] = l;
    }
    /* All or nothing: every entry this write may add must fit the
     * transaction's budget before any is made. */
    if (s->domid != HVS_DOM0 && t->n + missing + 1 > touch_budget(s))
        return touch_quota(s, t);
    /* The creation depends on the ancestor's permissions (checked now,
     * inherited at commit): tracked, so a change to them is a conflict. */
    struct txent *anc = ov_touch(s, t, path, l);
    if (!anc)
        return touch_failed(s, t);
    anc->read_value = true;
    const hvs_perm_t *pp = anc->perms;
    unsigned np = anc->nperms;
    if (!perms_allow(pp, np, s->domid, HVS_PERM_WRITE))
        return serr(s, -EACCES, "domain %u may not create %s: no write permission on an ancestor",
                    s->domid, path);
    if (s->domid != HVS_DOM0) {
        uint32_t net = missing + t->creates;
        int r = quota_nodes(s, s->domid, net > t->removed ? net - t->removed : 0);
        if (r < 0)
            return r;
        t->creates += missing;
    }
    hvs_perm_t inherit[PERMS_MAX];
    memcpy(inherit, pp, np * sizeof(*inherit));
    if (s->domid != HVS_DOM0)
        inherit[0].domid = s->domid;
    while (missing > 0) {
        size_t ml = lens[--missing];
        struct txent *m = ml == len ? e : ov_touch(s, t, path, ml);
        if (!m)
            return touch_failed(s, t);
        if (set_perms(m, inherit, np) < 0 ||
            set_value(m, missing == 0 && !mkdir_only ? value : "", missing == 0 ? vlen : 0) < 0)
            return oom(s);
        if (mkdir_only && missing == 0)
            m->vlen = 0;
        m->exists = true;
        m->modified = true;
    }
    e->explicit_op = true;
    return 0;
}

static uint32_t owned_below(const struct node *n, uint32_t domid)
{
    uint32_t k = 0;

    if (!n)
        return 0;
    k += n->perms[0].domid == domid;
    for (uint32_t i = 0; i < n->nkids; i++)
        k += owned_below(n->kids[i], domid);
    return k;
}

int txn_rm(struct session *s, struct txn *t, const char *path)
{
    size_t len = strlen(path);
    struct txent *e = NULL;
    int r = touch_read(s, t, path, HVS_PERM_WRITE, "remove", &e);

    if (r == -ENOENT) {
        /* Already gone: fine if the parent is there and writable. */
        struct view v;
        view(s->st, t, path, path_parent_len(path, len), &v);
        const hvs_perm_t *pp = v.e ? v.e->perms : v.n ? v.n->perms : NULL;
        unsigned np = v.e ? v.e->nperms : v.n ? v.n->nperms : 0;
        if (v.exists && perms_allow(pp, np, s->domid, HVS_PERM_WRITE))
            return 0;
    }
    if (r < 0)
        return r;
    if (len == 1)
        return serr(s, -EINVAL, "the root node cannot be removed");
    /* What the domain owns below stops counting against its quota, so a
     * removal and a re-creation fit in one transaction as they do outside. */
    if (s->domid != HVS_DOM0 && e->seen == SEEN_PRESENT && !e->replaced) {
        /* Descendants removed earlier in the transaction were credited
         * already: this removal's credit replaces theirs. */
        uint32_t below = 0;
        for (size_t i = 0; i < t->n; i++) {
            struct txent *d = t->all[i];
            if (d->credited && d->len > len && path_is_at_or_below(d->path, path)) {
                below += d->credited;
                d->credited = 0;
            }
        }
        e->credited = owned_below(tree_get(&s->st->tree, path, len), s->domid);
        /* Other sessions may have changed the subtree meanwhile: never
         * let the credit wrap around into a huge one. */
        int64_t removed = (int64_t)t->removed + e->credited - below;
        t->removed = removed < 0 ? 0 : (uint32_t)removed;
    }
    e->exists = false;
    e->replaced = true;
    e->modified = true;
    e->listed = true;
    e->explicit_op = true;
    for (size_t i = 0; i < t->n; i++) {
        struct txent *d = t->all[i];
        if (d->len > len && path_is_at_or_below(d->path, path)) {
            d->exists = false;
            d->replaced = true;
            d->modified = false;
        }
    }
    return 0;
}

static int append(char **buf, size_t *len, size_t *cap, const char *name)
{
    size_t l = strlen(name) + 1;

    if (*len + l > *cap) {
        size_t c = (*cap ? *cap * 2 : 256) + l;
        char *b = realloc(*buf, c);
        if (!b)
            return -ENOMEM;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, name, l);
    *len += l;
    return 0;
}

int txn_directory(struct session *s, struct txn *t, const char *path, char **buf, size_t *blen,
                  uint64_t *gen)
{
    size_t len = strlen(path), cap = 0;
    struct txent *e = ov_touch(s, t, path, len);
    int count = 0;

    if (!e)
        return touch_failed(s, t);
    e->listed = true;
    if (!e->exists)
        return missing(s, t, path);
    if (!perms_allow(e->perms, e->nperms, s->domid, HVS_PERM_READ))
        return serr(s, -EACCES, "domain %u may not list %s", s->domid, path);
    *buf = NULL;
    *blen = 0;
    struct node *n = e->replaced ? NULL : tree_get(&s->st->tree, path, len);
    for (uint32_t i = 0; n && i < n->nkids; i++) {
        struct node *k = n->kids[i];
        struct txent *c = ov_get(t, k->path, k->pathlen);
        if (c && !c->exists)
            continue;
        if (append(buf, blen, &cap, k->name) < 0)
            goto nomem;
        count++;
    }
    for (size_t i = 0; i < t->n; i++) {
        struct txent *c = t->all[i];
        if (!c->exists || c->len <= len || path_parent_len(c->path, c->len) != len ||
            strncmp(c->path, path, len) != 0)
            continue;
        if (c->seen == SEEN_PRESENT && !e->replaced)
            continue; /* listed from the main tree above */
        if (append(buf, blen, &cap, c->path + path_parent_len(c->path, c->len) + (len > 1)) < 0)
            goto nomem;
        count++;
    }
    if (!*buf && !(*buf = malloc(1)))
        goto nomem;
    if (gen)
        *gen = e->seen_cgen;
    return count;
nomem:
    free(*buf);
    *buf = NULL;
    return oom(s);
}

int txn_perms_get(struct session *s, struct txn *t, const char *path, hvs_perm_t **perms)
{
    struct txent *e = NULL;
    int r = touch_read(s, t, path, HVS_PERM_READ, "read the permissions of", &e);

    if (r < 0)
        return r;
    *perms = malloc(e->nperms * sizeof(**perms));
    if (!*perms)
        return oom(s);
    memcpy(*perms, e->perms, e->nperms * sizeof(**perms));
    return (int)e->nperms;
}

int txn_perms_set(struct session *s, struct txn *t, const char *path, const hvs_perm_t *perms,
                  unsigned count)
{
    struct txent *e = NULL;
    int r = touch_read(s, t, path, 0, NULL, &e);

    if (r < 0)
        return r;
    if (s->domid != HVS_DOM0 && e->perms[0].domid != s->domid)
        return serr(s, -EACCES, "domain %u may not change the permissions of %s: owner is domain %u",
                    s->domid, path, e->perms[0].domid);
    if (s->domid != HVS_DOM0 && perms[0].domid != s->domid)
        return serr(s, -EPERM, "domain %u may not give %s to domain %u", s->domid, path,
                    perms[0].domid);
    if (set_perms(e, perms, count) < 0)
        return oom(s);
    e->modified = true;
    e->explicit_op = true;
    return 0;
}

/* Returns the path of a conflicting node, or NULL. */
static const char *validate(struct store *st, struct txn *t)
{
    for (size_t i = 0; i < t->n; i++) {
        struct txent *e = t->all[i];
        struct node *n = tree_get(&st->tree, e->path, e->len);
        switch (e->seen) {
        case SEEN_ABSENT:
            if (n)
                return e->path;
            break;
        case SEEN_PRESENT:
            if (!n || ((e->read_value || e->modified) && n->gen != e->seen_gen) ||
                (e->listed && n->cgen != e->seen_cgen))
                return e->path;
            break;
        case SEEN_NONE:
            break;
        }
        /* A node to create needs its parent, which the transaction saw
         * without touching it: it must still be there. */
        if (e->exists && e->modified && e->seen != SEEN_PRESENT) {
            size_t pl = path_parent_len(e->path, e->len);
            struct txent *p = ov_get(t, e->path, pl);
            if (!(p ? p->exists : tree_get(&st->tree, e->path, pl) != NULL))
                return e->path;
        }
    }
    return NULL;
}

static int by_len(const void *a, const void *b)
{
    const struct txent *x = *(struct txent *const *)a, *y = *(struct txent *const *)b;

    return x->len < y->len ? -1 : x->len > y->len;
}

static bool created_here(const struct txent *e)
{
    return e->exists && e->modified && (e->seen != SEEN_PRESENT || e->replaced);
}

/* Depth of the topmost node this commit creates for e (NOT_CREATED if e
 * is not created), for watches whose depth stops above e. */
static unsigned created_depth(const struct txn *t, const struct txent *e)
{
    if (!created_here(e))
        return NOT_CREATED;
    unsigned d = path_depth(e->path);
    for (size_t l = path_parent_len(e->path, e->len); l > 1; l = path_parent_len(e->path, l)) {
        const struct txent *a = ov_get(t, e->path, l);
        if (!a || !created_here(a) || a->explicit_op)
            break;
        d--;
    }
    return d;
}

static int apply(struct session *s, struct txn *t)
{
    struct store *st = s->st;
    uint32_t creates = 0;

    for (size_t i = 0; i < t->n; i++)
        creates += created_here(t->all[i]);
    if (s->domid != HVS_DOM0) {
        int r = quota_nodes(s, s->domid, creates > t->removed ? creates - t->removed : 0);
        if (r < 0)
            return r;
    }
    if (t->n)
        qsort(t->all, t->n, sizeof(*t->all), by_len);
    for (size_t i = 0; i < t->n; i++) {
        struct txent *e = t->all[i];
        struct node *n = tree_get(&st->tree, e->path, e->len);
        if (e->replaced && n && e->modified) {
            main_remove(st, n);
            n = NULL;
        }
        if (!e->exists || !e->modified)
            continue;
        if (!n) {
            struct node *parent = tree_get(&st->tree, e->path, path_parent_len(e->path, e->len));
            n = parent ? main_add(st, parent, e->path, e->len, e->perms, e->nperms, e->value,
                                  e->vlen)
                       : NULL;
            if (!n)
                return serr(s, -ENOMEM, "out of memory committing %s", e->path);
        } else {
            uint32_t old_owner = n->perms[0].domid;
            if (node_set_value(n, e->value, e->vlen) < 0 ||
                node_set_perms(n, e->perms, e->nperms) < 0)
                return serr(s, -ENOMEM, "out of memory committing %s", e->path);
            if (old_owner != n->perms[0].domid) {
                acct_nodes(st, old_owner, -1);
                acct_nodes(st, n->perms[0].domid, 1);
            }
            n->gen = ++st->gen;
            mark_dirty(st, n, NULL);
        }
        /* Parents created on the way fire through the written node, as
         * outside a transaction. */
        if (e->explicit_op)
            watch_fire(st, n->path, n->perms, n->nperms, created_depth(t, e));
    }
    return 0;
}

int txn_end(struct session *s, struct txn *t, bool commit)
{
    int r = 0;

    txn_unlink(s, t);
    if (commit) {
        const char *conflict = validate(s->st, t);
        if (conflict)
            r = serr(s, -EAGAIN, "transaction %u: %s changed since the transaction looked at it",
                     t->id, conflict);
        else
            r = apply(s, t);
    }
    txn_free(t);
    return r;
}
