/* SPDX-License-Identifier: MIT */
/* The engine: sessions, the operations outside transactions, domains. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "store_int.h"

static const hvs_quota_t quota_defaults = {
    .size = sizeof(hvs_quota_t),
    .nodes = 1000,
    .value_size = 2048,
    .watches = 128,
    .transactions = 10,
    .requests = 20,
};

/* ---- Messages ------------------------------------------------------------ */

void slog(struct store *st, hvs_log_level_t level, const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    if (!st->log || level > st->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->log(st->log_opaque, level, msg);
}

int serr(struct session *s, int e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    errslots_vset(&s->errs, fmt, ap);
    va_end(ap);
    if (s->st->log && s->st->log_level >= HVS_LOG_DEBUG)
        slog(s->st, HVS_LOG_DEBUG, "domain %u: %s", s->domid, errslots_get(&s->errs));
    return e;
}

const char *session_error(struct session *s)
{
    return errslots_get(&s->errs);
}

/* ---- Accounting and quotas ----------------------------------------------- */

struct dom_acct *acct_get(struct store *st, uint32_t domid, bool create)
{
    struct dom_acct **pp = &st->acct[domid % ACCT_BUCKETS];

    for (struct dom_acct *a = *pp; a; a = a->next)
        if (a->domid == domid)
            return a;
    if (!create)
        return NULL;
    struct dom_acct *a = calloc(1, sizeof(*a));
    if (a) {
        a->domid = domid;
        a->next = *pp;
        *pp = a;
    }
    return a;
}

int quota_nodes(struct session *s, uint32_t owner, uint32_t more)
{
    if (owner == HVS_DOM0 || more == 0)
        return 0;
    struct dom_acct *a = acct_get(s->st, owner, false);
    uint32_t have = a ? a->nodes : 0;
    if ((uint64_t)have + more > s->st->quota.nodes)
        return serr(s, -EDQUOT, "domain %u: quota 'nodes' (%u) reached: it owns %u nodes", owner,
                    s->st->quota.nodes, have);
    return 0;
}

int quota_value(struct session *s, size_t len)
{
    if (s->domid != HVS_DOM0 && len > s->st->quota.value_size)
        return serr(s, -EDQUOT, "domain %u: quota 'value_size' (%u bytes) exceeded by a %zu-byte value",
                    s->domid, s->st->quota.value_size, len);
    if (len > UINT32_MAX)
        return serr(s, -E2BIG, "value of %zu bytes is too large", len);
    return 0;
}

void acct_nodes(struct store *st, uint32_t owner, int delta)
{
    struct dom_acct *a = acct_get(st, owner, delta > 0);

    if (a)
        a->nodes = (uint32_t)((int64_t)a->nodes + delta);
}

/* ---- The main tree ------------------------------------------------------- */

void mark_dirty(struct store *st, struct node *n, const char *path)
{
    if (!st->persist)
        return;
    if (n) {
        if (n->dirty)
            return;
        n->dirty = true;
        path = n->path;
    }
    if (st->ndirty == st->capdirty) {
        size_t cap = st->capdirty ? st->capdirty * 2 : 64;
        char **d = realloc(st->dirty, cap * sizeof(*d));
        if (!d) {
            slog(st, HVS_LOG_ERROR, "out of memory recording a change to %s", path);
            return;
        }
        st->dirty = d;
        st->capdirty = cap;
    }
    char *copy = strdup(path);
    if (!copy) {
        slog(st, HVS_LOG_ERROR, "out of memory recording a change to %s", path);
        return;
    }
    st->dirty[st->ndirty++] = copy;
}

struct node *main_nearest(struct store *st, const char *path, size_t len)
{
    for (;;) {
        struct node *n = tree_get(&st->tree, path, len);
        if (n)
            return n;
        len = path_parent_len(path, len);
    }
}

uint32_t main_missing(struct store *st, const char *path, size_t len)
{
    uint32_t k = 0;

    while (!tree_get(&st->tree, path, len)) {
        k++;
        len = path_parent_len(path, len);
    }
    return k;
}

struct node *main_add(struct store *st, struct node *parent, const char *path, size_t len,
                      const hvs_perm_t *perms, unsigned nperms, const void *value, size_t vlen)
{
    struct node *n = tree_add(&st->tree, parent, path, len);

    if (!n)
        return NULL;
    if (node_set_perms(n, perms, nperms) < 0 || node_set_value(n, value, vlen) < 0) {
        tree_remove(&st->tree, n, NULL, NULL);
        return NULL;
    }
    acct_nodes(st, n->perms[0].domid, 1);
    n->gen = n->cgen = ++st->gen;
    parent->cgen = ++st->gen;
    mark_dirty(st, n, NULL);
    return n;
}

int main_create(struct session *s, const char *path, size_t len, struct node **out,
                unsigned *created_depth)
{
    struct store *st = s->st;
    struct node *n = tree_get(&st->tree, path, len);
    unsigned top = NOT_CREATED;

    if (created_depth)
        *created_depth = NOT_CREATED;
    if (n) {
        *out = n;
        return 0;
    }
    struct node *parent;
    int r = main_create(s, path, path_parent_len(path, len), &parent, &top);
    if (r < 0)
        return r;
    hvs_perm_t stack[PERMS_MAX];
    memcpy(stack, parent->perms, parent->nperms * sizeof(*stack));
    /* A domain owns what it creates (xenstore's rule), so quotas and
     * permissions follow the creator. */
    if (s->domid != HVS_DOM0)
        stack[0].domid = s->domid;
    n = main_add(st, parent, path, len, stack, parent->nperms, "", 0);
    if (!n)
        return serr(s, -ENOMEM, "out of memory creating %.*s", (int)len, path);
    if (created_depth)
        *created_depth = top != NOT_CREATED ? top : path_depth(n->path);
    *out = n;
    return 0;
}

static void removed(void *opaque, struct node *n)
{
    struct store *st = opaque;

    acct_nodes(st, n->perms[0].domid, -1);
    n->dirty = false;
    mark_dirty(st, NULL, n->path);
}

void main_remove(struct store *st, struct node *n)
{
    if (n->parent)
        n->parent->cgen = ++st->gen;
    ++st->gen;
    /* Watchers must be told with the node's permissions as they were. */
    watch_fire_rm(st, n->path, n->perms, n->nperms);
    tree_remove(&st->tree, n, removed, st);
}

int main_set_perms(struct store *st, struct node *n, const hvs_perm_t *perms, unsigned count)
{
    uint32_t old = n->perms[0].domid;

    if (node_set_perms(n, perms, count) < 0)
        return -ENOMEM;
    if (old != perms[0].domid) {
        acct_nodes(st, old, -1);
        acct_nodes(st, perms[0].domid, 1);
    }
    n->gen = ++st->gen;
    mark_dirty(st, n, NULL);
    watch_fire(st, n->path, n->perms, n->nperms, NOT_CREATED);
    return 0;
}

static void count_owners(struct store *st, struct node *n)
{
    acct_nodes(st, n->perms[0].domid, 1);
    for (uint32_t i = 0; i < n->nkids; i++)
        count_owners(st, n->kids[i]);
}

/* ---- Store --------------------------------------------------------------- */

int store_open(struct store **out, const struct store_opts *o, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof(*st));
    int r;

    *out = NULL;
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->synced, NULL);
    st->log = o->log;
    st->log_opaque = o->log_opaque;
    st->log_level = o->log_level;
    st->autosync = o->autosync;
    st->next_tx = 1;
    st->quota = quota_defaults;
#define Q(f)                                                                   \
    if (o->quota.f)                                                            \
        st->quota.f = o->quota.f;
    Q(nodes) Q(value_size) Q(watches) Q(transactions) Q(requests)
#undef Q
    r = tree_init(&st->tree);
    if (r == 0)
        r = watches_init(st);
    if (r < 0) {
        snprintf(err, errlen, "out of memory");
        store_close(st);
        return r;
    }
    if (o->path) {
        r = persist_open(&st->persist, o->path, err, errlen);
        if (r == 0)
            r = persist_load(st->persist, &st->tree, &st->gen, err, errlen);
        if (r < 0) {
            store_close(st);
            return r;
        }
    }
    count_owners(st, st->tree.root);
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    while (st->sessions)
        session_free(st->sessions);
    if (st->persist) {
        char err[256];
        if (st->ndirty && persist_commit(st->persist, &st->tree, st->dirty, st->ndirty, err,
                                         sizeof(err)) < 0)
            slog(st, HVS_LOG_ERROR, "closing: %s", err);
        persist_close(st->persist, &st->tree);
    }
    for (size_t i = 0; i < st->ndirty; i++)
        free(st->dirty[i]);
    free(st->dirty);
    for (size_t i = 0; i < ACCT_BUCKETS; i++)
        while (st->acct[i]) {
            struct dom_acct *a = st->acct[i];
            st->acct[i] = a->next;
            free(a);
        }
    watches_free(st);
    tree_free(&st->tree);
    pthread_cond_destroy(&st->synced);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* The lock held. */
static int sync_locked(struct store *st, char *err, size_t errlen)
{
    int r = 0;

    if (!st->persist || st->ndirty == 0)
        return 0;
    r = persist_commit(st->persist, &st->tree, st->dirty, st->ndirty, err, errlen);
    if (r < 0) {
        /* The file keeps its last good state; the list is kept, so the
         * next sync writes these changes too. */
        slog(st, HVS_LOG_ERROR, "%s", err);
        return r;
    }
    for (size_t i = 0; i < st->ndirty; i++) {
        struct node *n = tree_get(&st->tree, st->dirty[i], strlen(st->dirty[i]));
        if (n)
            n->dirty = false;
        free(st->dirty[i]);
    }
    st->ndirty = 0;
    return 0;
}

int store_sync(struct store *st, char *err, size_t errlen)
{
    pthread_mutex_lock(&st->lock);
    int r = sync_locked(st, err, errlen);
    pthread_mutex_unlock(&st->lock);
    return r;
}

bool store_dirty(struct store *st)
{
    pthread_mutex_lock(&st->lock);
    bool d = st->ndirty > 0;
    pthread_mutex_unlock(&st->lock);
    return d;
}

hvs_quota_t store_quota(struct store *st)
{
    return st->quota;
}

/*
 * For calls that change nothing but report a state (mkdir of an existing
 * node, rm of a gone one): that state may come from another thread's
 * change still being flushed; wait for it, so the answer is as durable as
 * a change would be. The lock held.
 */
static int await_durable(struct session *s)
{
    struct store *st = s->st;
    uint64_t target = st->seq_applied;

    if (!st->autosync || !st->persist)
        return 0;
    while (st->seq_synced < target)
        pthread_cond_wait(&st->synced, &st->lock);
    return 0;
}

/* Puts paths whose flush failed back in the dirty list (and takes them). */
static void redirty(struct store *st, char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct node *node = tree_get(&st->tree, paths[i], strlen(paths[i]));
        if (node)
            node->dirty = false;
        mark_dirty(st, node, paths[i]);
        free(paths[i]);
    }
    free(paths);
}

/*
 * Leader/follower group commit: the first thread to need a flush takes every
 * change made so far, writes it without the lock, and wakes the others;
 * threads whose changes arrived meanwhile flush them all in the next round.
 */
int autosync(struct session *s)
{
    struct store *st = s->st;

    if (!st->autosync || !st->persist)
        return 0;
    struct sync_waiter me = {.seq = ++st->seq_applied, .next = st->waiters};
    st->waiters = &me;
    while (!me.done) {
        if (st->syncing) {
            pthread_cond_wait(&st->synced, &st->lock);
            continue;
        }
        st->syncing = true;
        uint64_t from = st->seq_synced + 1, upto = st->seq_applied;
        char **paths = st->dirty;
        size_t n = st->ndirty;
        st->dirty = NULL;
        st->ndirty = st->capdirty = 0;
        struct jbuf b = {0};
        char err[256];
        int r = persist_encode(st->persist, &st->tree, paths, n, &b, err, sizeof(err));
        for (size_t i = 0; r == 0 && i < n; i++) {
            struct node *node = tree_get(&st->tree, paths[i], strlen(paths[i]));
            if (node)
                node->dirty = false; /* a change from now on lists it again */
        }
        if (r == 0) {
            pthread_mutex_unlock(&st->lock);
            r = persist_write(st->persist, &b, err, sizeof(err));
            pthread_mutex_lock(&st->lock);
        }
        jbuf_free(&b);
        if (r == 0) {
            persist_written(st->persist, &st->tree, paths, n, st->dirty, st->ndirty);
            for (size_t i = 0; i < n; i++)
                free(paths[i]);
            free(paths);
        } else {
            /* Kept for the next flush; this round's callers hear EIO. */
            slog(st, HVS_LOG_ERROR, "%s", err);
            redirty(st, paths, n);
            snprintf(st->fail_msg, sizeof(st->fail_msg), "%s", err);
        }
        st->seq_synced = upto;
        /* Every change of the round gets its outcome, however late its
         * thread wakes. */
        for (struct sync_waiter **pp = &st->waiters; *pp;) {
            struct sync_waiter *w = *pp;
            if (w->seq >= from && w->seq <= upto) {
                w->done = true;
                w->result = r < 0 ? -EIO : 0;
                *pp = w->next;
            } else {
                pp = &w->next;
            }
        }
        st->syncing = false;
        pthread_cond_broadcast(&st->synced);
    }
    if (me.result < 0)
        return serr(s, -EIO, "the change was not written to disk: %s", st->fail_msg);
    return 0;
}

/* ---- Sessions ------------------------------------------------------------ */

struct session *session_new(struct store *st, uint32_t domid, session_notify_fn notify,
                            void *opaque)
{
    struct session *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->st = st;
    s->domid = domid;
    s->notify = notify;
    s->opaque = opaque;
    errslots_init(&s->errs);
    pthread_mutex_lock(&st->lock);
    s->next = st->sessions;
    if (st->sessions)
        st->sessions->prev = s;
    st->sessions = s;
    pthread_mutex_unlock(&st->lock);
    return s;
}

static void owned_free(struct owned *o)
{
    for (size_t i = 0; i < o->npaths; i++)
        free(o->paths[i]);
    free(o->paths);
    free(o);
}

/* The lock held. Removal as the owner would have done it, then release. */
static void owned_cleanup(struct session *s)
{
    struct store *st = s->st;
    bool changed = false;

    while (s->owned) {
        struct owned *o = s->owned;
        s->owned = o->next;
        for (size_t i = 0; i < o->npaths; i++) {
            struct node *n = tree_get(&st->tree, o->paths[i], strlen(o->paths[i]));
            if (n) {
                main_remove(st, n);
                changed = true;
            }
        }
        char path[64];
        int len = snprintf(path, sizeof(path), "/local/domain/%u", o->domid);
        struct node *n = tree_get(&st->tree, path, (size_t)len);
        if (n) {
            main_remove(st, n);
            changed = true;
        }
        struct dom_acct *a = acct_get(st, o->domid, false);
        if (a && a->introduced)
            a->introduced = false;
        slog(st, HVS_LOG_INFO, "domain %u: its owner went away: entries removed, released",
             o->domid);
        watch_fire_special(st, "@releaseDomain");
        owned_free(o);
    }
    if (changed && autosync(s) < 0)
        slog(st, HVS_LOG_ERROR, "cleanup of a gone owner's domains: %s", session_error(s));
}

void session_free(struct session *s)
{
    if (!s)
        return;
    struct store *st = s->st;
    pthread_mutex_lock(&st->lock);
    owned_cleanup(s);
    session_txns_free(s);
    session_watches_free(s);
    if (s->prev)
        s->prev->next = s->next;
    else
        st->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&st->lock);
    session_events_free(s);
    errslots_free(&s->errs);
    free(s);
}

int session_act_as(struct session *s, uint32_t domid)
{
    int r = 0;

    pthread_mutex_lock(&s->st->lock);
    if (s->domid != HVS_DOM0)
        r = serr(s, -EPERM, "domain %u may not act for domain %u: only dom0 may", s->domid, domid);
    else if (s->txs || s->watches)
        r = serr(s, -EBUSY, "act-as must come before any watch or transaction");
    else
        s->domid = domid;
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

uint32_t session_domid(struct session *s)
{
    return s->domid;
}

/* ---- Operations ---------------------------------------------------------- */

/* Resolves the path and finds the transaction; the lock held. */
static int prologue(struct session *s, uint32_t tx, const char *in, char *path, size_t *len,
                    struct txn **t)
{
    const char *why;
    int r = path_resolve(s->domid, in, false, path, &why);

    if (r < 0)
        return serr(s, r, "invalid path \"%.80s%s\": %s", in ? in : "(null)",
                    in && strlen(in) > 80 ? "..." : "", why);
    *len = strlen(path);
    *t = NULL;
    if (tx != HVS_TX_NONE) {
        *t = txn_find(s, tx);
        if (!*t)
            return serr(s, -ENOENT, "no transaction %u on this connection", tx);
    }
    return 0;
}

#define OP_BEGIN(tx, in)                                                        \
    char path[HVS_PATH_MAX + 1];                                               \
    size_t len;                                                                \
    struct txn *t;                                                             \
    int r;                                                                     \
    pthread_mutex_lock(&s->st->lock);                                          \
    r = prologue(s, tx, in, path, &len, &t);                                   \
    if (r < 0)                                                                 \
        goto out;

#define OP_END                                                                 \
    out:                                                                       \
    pthread_mutex_unlock(&s->st->lock);                                        \
    return r;


static int denied(struct session *s, const char *what, const char *path)
{
    return serr(s, -EACCES, "domain %u may not %s %s", s->domid, what, path);
}

/* A missing node is -ENOENT only to a domain that may read the nearest
 * node above it: others must not learn what exists where they cannot read
 * (-EACCES, as xenstored). */
static int missing(struct session *s, const char *path, size_t len)
{
    struct node *a = main_nearest(s->st, path, len);

    if (!perms_allow(a->perms, a->nperms, s->domid, HVS_PERM_READ))
        return denied(s, "read", path);
    return serr(s, -ENOENT, "%s does not exist", path);
}

/* The node at path if it exists and the session may `want` it. */
static int lookup(struct session *s, const char *path, size_t len, unsigned want,
                  const char *what, struct node **out)
{
    struct node *n = tree_get(&s->st->tree, path, len);

    if (!n)
        return missing(s, path, len);
    if (want && !perms_allow(n->perms, n->nperms, s->domid, want))
        return denied(s, what, path);
    *out = n;
    return 0;
}

int store_read(struct session *s, uint32_t tx, const char *in, char **value, size_t *vlen)
{
    OP_BEGIN(tx, in)
    if (t) {
        r = txn_read(s, t, path, value, vlen);
        goto out;
    }
    struct node *n = NULL;
    r = lookup(s, path, len, HVS_PERM_READ, "read", &n);
    if (r < 0)
        goto out;
    *value = malloc(n->vlen + 1);
    if (!*value) {
        r = serr(s, -ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    memcpy(*value, n->value, n->vlen + 1);
    if (vlen)
        *vlen = n->vlen;
    OP_END
}

/* Checks a write or mkdir of path outside a transaction; *n the node if it
 * exists. */
static int may_write(struct session *s, const char *path, size_t len, struct node **n)
{
    *n = tree_get(&s->st->tree, path, len);
    if (*n) {
        if (!perms_allow((*n)->perms, (*n)->nperms, s->domid, HVS_PERM_WRITE))
            return denied(s, "write", path);
        return 0;
    }
    struct node *p = main_nearest(s->st, path, len);
    if (!perms_allow(p->perms, p->nperms, s->domid, HVS_PERM_WRITE))
        return serr(s, -EACCES, "domain %u may not create %s: no write permission on %s", s->domid,
                    path, p->path);
    uint32_t owner = s->domid != HVS_DOM0 ? s->domid : p->perms[0].domid;
    return s->domid == HVS_DOM0 ? 0 : quota_nodes(s, owner, main_missing(s->st, path, len));
}

int store_write(struct session *s, uint32_t tx, const char *in, const void *value, size_t vlen)
{
    OP_BEGIN(tx, in)
    r = quota_value(s, vlen);
    if (r < 0)
        goto out;
    if (t) {
        r = txn_write(s, t, path, value, vlen, false);
        goto out;
    }
    struct node *n;
    unsigned created = NOT_CREATED;
    r = may_write(s, path, len, &n);
    if (r < 0)
        goto out;
    if (!n) {
        r = main_create(s, path, len, &n, &created);
        if (r < 0)
            goto out;
    }
    if (node_set_value(n, value, vlen) < 0) {
        r = serr(s, -ENOMEM, "out of memory writing %s", path);
        goto out;
    }
    n->gen = ++s->st->gen;
    mark_dirty(s->st, n, NULL);
    watch_fire(s->st, n->path, n->perms, n->nperms, created);
    r = autosync(s);
    OP_END
}

int store_mkdir(struct session *s, uint32_t tx, const char *in)
{
    OP_BEGIN(tx, in)
    if (t) {
        r = txn_write(s, t, path, NULL, 0, true);
        goto out;
    }
    struct node *n;
    r = may_write(s, path, len, &n);
    if (r == 0 && n)
        r = await_durable(s); /* it exists: as durably as whoever made it */
    if (r < 0 || n)
        goto out;
    unsigned created;
    r = main_create(s, path, len, &n, &created);
    if (r < 0)
        goto out;
    watch_fire(s->st, n->path, n->perms, n->nperms, created);
    r = autosync(s);
    OP_END
}

int store_rm(struct session *s, uint32_t tx, const char *in)
{
    OP_BEGIN(tx, in)
    if (t) {
        r = txn_rm(s, t, path);
        goto out;
    }
    struct node *n = tree_get(&s->st->tree, path, len);
    if (!n) {
        /* As xenstored: removing what is already gone succeeds, if its
         * parent exists and the domain may write it. */
        struct node *p = tree_get(&s->st->tree, path, path_parent_len(path, len));
        if (p && perms_allow(p->perms, p->nperms, s->domid, HVS_PERM_WRITE))
            r = await_durable(s);
        else
            r = missing(s, path, len);
        goto out;
    }
    r = lookup(s, path, len, HVS_PERM_WRITE, "remove", &n);
    if (r < 0)
        goto out;
    if (!n->parent) {
        r = serr(s, -EINVAL, "the root node cannot be removed");
        goto out;
    }
    main_remove(s->st, n);
    r = autosync(s);
    OP_END
}

int store_directory(struct session *s, uint32_t tx, const char *in, char **buf, size_t *blen,
                    uint64_t *gen)
{
    OP_BEGIN(tx, in)
    if (t) {
        r = txn_directory(s, t, path, buf, blen, gen);
        goto out;
    }
    struct node *n = NULL;
    r = lookup(s, path, len, HVS_PERM_READ, "list", &n);
    if (r < 0)
        goto out;
    r = node_list(n, buf, blen);
    if (r < 0)
        r = serr(s, r, "out of memory listing %s", path);
    else if (gen)
        *gen = n->cgen;
    OP_END
}

int store_perms_get(struct session *s, uint32_t tx, const char *in, hvs_perm_t **perms)
{
    OP_BEGIN(tx, in)
    if (t) {
        r = txn_perms_get(s, t, path, perms);
        goto out;
    }
    struct node *n = NULL;
    r = lookup(s, path, len, HVS_PERM_READ, "read the permissions of", &n);
    if (r < 0)
        goto out;
    *perms = malloc(n->nperms * sizeof(**perms));
    if (!*perms) {
        r = serr(s, -ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*perms, n->perms, n->nperms * sizeof(**perms));
    r = (int)n->nperms;
    OP_END
}

int store_perms_set(struct session *s, uint32_t tx, const char *in, const hvs_perm_t *perms,
                    unsigned count)
{
    const char *why;

    OP_BEGIN(tx, in)
    r = perms_check(perms, count, &why);
    if (r < 0) {
        r = serr(s, r, "permissions for %s: %s", path, why);
        goto out;
    }
    if (t) {
        r = txn_perms_set(s, t, path, perms, count);
        goto out;
    }
    struct node *n = NULL;
    r = lookup(s, path, len, 0, NULL, &n);
    if (r < 0)
        goto out;
    if (s->domid != HVS_DOM0 && n->perms[0].domid != s->domid) {
        r = serr(s, -EACCES, "domain %u may not change the permissions of %s: owner is domain %u",
                 s->domid, path, n->perms[0].domid);
        goto out;
    }
    if (s->domid != HVS_DOM0 && perms[0].domid != s->domid) {
        r = serr(s, -EPERM, "domain %u may not give %s to domain %u", s->domid, path,
                 perms[0].domid);
        goto out;
    }
    if (main_set_perms(s->st, n, perms, count) < 0) {
        r = serr(s, -ENOMEM, "out of memory");
        goto out;
    }
    r = autosync(s);
    OP_END
}

int store_tx_begin(struct session *s, uint32_t *tx)
{
    pthread_mutex_lock(&s->st->lock);
    int r = txn_begin(s, tx);
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

int store_tx_end(struct session *s, uint32_t tx, bool commit)
{
    pthread_mutex_lock(&s->st->lock);
    struct txn *t = txn_find(s, tx);
    int r = t ? txn_end(s, t, commit) : serr(s, -ENOENT, "no transaction %u on this connection", tx);
    if (r == 0 && commit)
        r = autosync(s);
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

/* ---- Domains ------------------------------------------------------------- */

static int need_dom0(struct session *s, const char *what);
static int check_domid(struct session *s, uint32_t domid);

int store_domain_own(struct session *s, uint32_t domid, const char *const *paths, size_t n)
{
    struct owned *o = calloc(1, sizeof(*o));
    int r = 0;

    if (!o || (n && !(o->paths = calloc(n, sizeof(char *))))) {
        free(o);
        return serr(s, -ENOMEM, "out of memory");
    }
    o->domid = domid;
    pthread_mutex_lock(&s->st->lock);
    r = need_dom0(s, "own a domain");
    if (r == 0)
        r = check_domid(s, domid);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char path[HVS_PATH_MAX + 1];
        const char *why;
        if (!paths[i] || path_resolve(s->domid, paths[i], false, path, &why) < 0)
            r = serr(s, -EINVAL, "own domain %u: path %zu: %s", domid, i,
                     paths[i] ? why : "NULL");
        else if (!(o->paths[o->npaths++] = strdup(path)))
            r = serr(s, -ENOMEM, "out of memory");
    }
    if (r == 0) {
        for (struct owned **pp = &s->owned; *pp; pp = &(*pp)->next)
            if ((*pp)->domid == domid) {
                struct owned *old = *pp;
                *pp = old->next;
                owned_free(old);
                break;
            }
        o->next = s->owned;
        s->owned = o;
        o = NULL;
    }
    pthread_mutex_unlock(&s->st->lock);
    if (o)
        owned_free(o);
    return r;
}

bool store_domain_owned(struct session *s, uint32_t domid)
{
    bool owned = false;

    pthread_mutex_lock(&s->st->lock);
    for (struct owned *o = s->owned; o && !owned; o = o->next)
        owned = o->domid == domid;
    pthread_mutex_unlock(&s->st->lock);
    return owned;
}

void session_forget_owned(struct session *s)
{
    pthread_mutex_lock(&s->st->lock);
    while (s->owned) {
        struct owned *o = s->owned;
        s->owned = o->next;
        owned_free(o);
    }
    pthread_mutex_unlock(&s->st->lock);
}

/* The lock held: a released domain has no owner left to clean up after, so
 * a late owner's death cannot remove a successor that reused the domid. */
static void untie_all(struct store *st, uint32_t domid)
{
    for (struct session *x = st->sessions; x; x = x->next)
        for (struct owned **pp = &x->owned; *pp; pp = &(*pp)->next)
            if ((*pp)->domid == domid) {
                struct owned *old = *pp;
                *pp = old->next;
                owned_free(old);
                break;
            }
}

int store_domain_disown(struct session *s, uint32_t domid)
{
    int r = -ENOENT;

    pthread_mutex_lock(&s->st->lock);
    for (struct owned **pp = &s->owned; *pp; pp = &(*pp)->next)
        if ((*pp)->domid == domid) {
            struct owned *old = *pp;
            *pp = old->next;
            owned_free(old);
            r = 0;
            break;
        }
    if (r < 0)
        serr(s, r, "domain %u is not owned by this session", domid);
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

static int need_dom0(struct session *s, const char *what)
{
    if (s->domid != HVS_DOM0)
        return serr(s, -EACCES, "domain %u may not %s: only dom0 may", s->domid, what);
    return 0;
}

static int check_domid(struct session *s, uint32_t domid)
{
    if (domid == HVS_DOM0 || domid > 32751)
        return serr(s, -EINVAL, "domain id %u is not a guest domain id (1..32751)", domid);
    return 0;
}

int store_domain_introduce(struct session *s, uint32_t domid)
{
    char path[64];
    struct node *n;
    int r;

    pthread_mutex_lock(&s->st->lock);
    r = need_dom0(s, "introduce a domain");
    if (r == 0)
        r = check_domid(s, domid);
    if (r < 0)
        goto out;
    struct dom_acct *a = acct_get(s->st, domid, true);
    if (!a) {
        r = serr(s, -ENOMEM, "out of memory");
        goto out;
    }
    if (a->introduced) {
        r = serr(s, -EEXIST, "domain %u is already introduced", domid);
        goto out;
    }
    int len = snprintf(path, sizeof(path), "/local/domain/%u", domid);
    if (!tree_get(&s->st->tree, path, (size_t)len)) {
        r = main_create(s, path, (size_t)len, &n, NULL);
        if (r < 0)
            goto out;
        hvs_perm_t own = {.domid = domid, .perm = HVS_PERM_NONE};
        if (main_set_perms(s->st, n, &own, 1) < 0) {
            r = serr(s, -ENOMEM, "out of memory");
            goto out;
        }
    }
    a->introduced = true;
    watch_fire_special(s->st, "@introduceDomain");
    r = autosync(s);
out:
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

int store_domain_release(struct session *s, uint32_t domid)
{
    char path[64];
    int r;

    pthread_mutex_lock(&s->st->lock);
    r = need_dom0(s, "release a domain");
    if (r == 0)
        r = check_domid(s, domid);
    if (r < 0)
        goto out;
    struct dom_acct *a = acct_get(s->st, domid, false);
    if (!a || !a->introduced) {
        r = serr(s, -ENOENT, "domain %u is not introduced", domid);
        goto out;
    }
    a->introduced = false;
    untie_all(s->st, domid);
    int len = snprintf(path, sizeof(path), "/local/domain/%u", domid);
    struct node *n = tree_get(&s->st->tree, path, (size_t)len);
    if (n)
        main_remove(s->st, n);
    watch_fire_special(s->st, "@releaseDomain");
    r = autosync(s);
out:
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

int store_domain_introduced(struct session *s, uint32_t domid)
{
    pthread_mutex_lock(&s->st->lock);
    struct dom_acct *a = acct_get(s->st, domid, false);
    int r = a && a->introduced;
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

int store_domain_path(struct session *s, uint32_t domid, char **path)
{
    if (asprintf(path, "/local/domain/%u", domid) < 0) {
        *path = NULL;
        pthread_mutex_lock(&s->st->lock);
        int r = serr(s, -ENOMEM, "out of memory");
        pthread_mutex_unlock(&s->st->lock);
        return r;
    }
    return 0;
}
