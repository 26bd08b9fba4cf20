/* SPDX-License-Identifier: MIT */
/*
 * Watches, found by path in a hash table: a change to a node looks up each
 * of its ancestors (O(depth)), never scans every watch, so the cost does
 * not grow with the number of domains. Only the removal of a subtree scans,
 * for watches set below it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int watches_init(struct store *st)
{
    st->nwbuckets = 256;
    st->wbuckets = calloc(st->nwbuckets, sizeof(*st->wbuckets));
    return st->wbuckets ? 0 : -ENOMEM;
}

void watches_free(struct store *st)
{
    free(st->wbuckets);
    st->wbuckets = NULL;
}

static void watch_free(struct watch *w)
{
    free(w->path);
    free(w->token);
    free(w);
}

static void rehash(struct store *st)
{
    size_t nb = st->nwbuckets * 2;
    struct watch **b = calloc(nb, sizeof(*b));

    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < st->nwbuckets; i++)
        for (struct watch *w = st->wbuckets[i], *next; w; w = next) {
            next = w->hnext;
            size_t k = path_hash(w->path, strlen(w->path)) & (nb - 1);
            w->hnext = b[k];
            b[k] = w;
        }
    free(st->wbuckets);
    st->wbuckets = b;
    st->nwbuckets = nb;
}

static void deliver(struct watch *w, const char *path, const hvs_perm_t *perms, unsigned nperms)
{
    if (perms && !perms_allow(perms, nperms, w->s->domid, HVS_PERM_READ))
        return;
    session_queue_event(w->s, path + w->relprefix, w->token);
}

/* Length of the first `depth` components of path ("/a/b/c", 2: "/a/b"). */
static size_t prefix_len(const char *path, unsigned depth)
{
    size_t i = 0;

    if (depth == 0)
        return 1;
    for (unsigned d = 0; path[i]; i++)
        if (path[i] == '/' && d++ == depth)
            break;
    return i;
}

void watch_fire(struct store *st, const char *path, const hvs_perm_t *perms, unsigned nperms,
                unsigned created_depth)
{
    size_t len = strlen(path);
    unsigned depth = path_depth(path);
    size_t l = len;

    if (st->nwatches == 0)
        return;
    for (;;) {
        size_t k = path_hash(path, l) & (st->nwbuckets - 1);
        for (struct watch *w = st->wbuckets[k]; w; w = w->hnext) {
            if (strncmp(w->path, path, l) != 0 || w->path[l] != '\0')
                continue;
            if (w->depth < 0 || depth - w->pdepth <= (unsigned)w->depth) {
                deliver(w, path, perms, nperms);
                continue;
            }
            /* Too deep for this watch, but the write created nodes within
             * its reach: it sees the deepest of those appear. */
            unsigned reach = w->pdepth + (unsigned)w->depth;
            if (reach >= created_depth) {
                char trunc[HVS_PATH_MAX + 1];
                size_t tl = prefix_len(path, reach);
                memcpy(trunc, path, tl);
                trunc[tl] = '\0';
                deliver(w, trunc, perms, nperms);
            }
        }
        if (l <= 1)
            break;
        l = path_parent_len(path, l);
    }
}

void watch_fire_rm(struct store *st, const char *path, const hvs_perm_t *perms, unsigned nperms)
{
    watch_fire(st, path, perms, nperms, NOT_CREATED);
    if (st->nwatches == 0)
        return;
    /* Watches set inside the removed subtree see their own node go, if
     * they may read it (or, if it never existed, the nearest node above
     * it): the subtree is still in the tree while this runs. */
    for (size_t i = 0; i < st->nwbuckets; i++)
        for (struct watch *w = st->wbuckets[i]; w; w = w->hnext)
            if (w->path[0] == '/' && strcmp(w->path, path) != 0 &&
                path_is_at_or_below(w->path, path)) {
                struct node *n = main_nearest(st, w->path, strlen(w->path));
                deliver(w, w->path, n->perms, n->nperms);
            }
}

void watch_fire_special(struct store *st, const char *special)
{
    size_t k = path_hash(special, strlen(special)) & (st->nwbuckets - 1);

    for (struct watch *w = st->wbuckets[k]; w; w = w->hnext)
        if (strcmp(w->path, special) == 0)
            session_queue_event(w->s, special, w->token);
}

static void unlink_path_hash(struct store *st, struct watch *w)
{
    struct watch **pp = &st->wbuckets[path_hash(w->path, strlen(w->path)) & (st->nwbuckets - 1)];

    while (*pp && *pp != w)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = w->hnext;
    st->nwatches--;
    struct dom_acct *a = acct_get(st, w->s->domid, false);
    if (a && a->watches)
        a->watches--;
}

int store_watch(struct session *s, const char *in, const char *token, int depth)
{
    char path[HVS_PATH_MAX + 1];
    const char *why;
    struct store *st = s->st;
    int r;

    pthread_mutex_lock(&st->lock);
    r = path_resolve(s->domid, in, true, path, &why);
    if (r < 0) {
        r = serr(s, r, "invalid watch path \"%.80s\": %s", in ? in : "(null)", why);
        goto out;
    }
    int relprefix = r;
    if (!token || strlen(token) > HVS_PAYLOAD_MAX) {
        r = serr(s, -EINVAL, "watch token missing or over %u bytes", HVS_PAYLOAD_MAX);
        goto out;
    }
    if (depth < HVS_DEPTH_ANY) {
        r = serr(s, -EINVAL, "watch depth %d: must be >= 0 or HVS_DEPTH_ANY", depth);
        goto out;
    }
    for (struct watch *w = s->watches; w; w = w->snext)
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
            r = serr(s, -EEXIST, "a watch on %s with token \"%s\" exists", path, token);
            goto out;
        }
    struct dom_acct *a = acct_get(st, s->domid, true);
    if (!a) {
        r = serr(s, -ENOMEM, "out of memory");
        goto out;
    }
    if (s->domid != HVS_DOM0 && a->watches >= st->quota.watches) {
        r = serr(s, -EDQUOT, "domain %u: quota 'watches' (%u) reached", s->domid,
                 st->quota.watches);
        goto out;
    }
    struct watch *w = calloc(1, sizeof(*w));
    if (!w || !(w->path = strdup(path)) || !(w->token = strdup(token))) {
        if (w)
            watch_free(w);
        r = serr(s, -ENOMEM, "out of memory");
        goto out;
    }
    w->s = s;
    w->depth = depth;
    w->relprefix = relprefix;
    w->pdepth = path[0] == '/' ? path_depth(path) : 0;
    if (st->nwatches + 1 > st->nwbuckets * 2)
        rehash(st);
    size_t k = path_hash(path, strlen(path)) & (st->nwbuckets - 1);
    w->hnext = st->wbuckets[k];
    st->wbuckets[k] = w;
    w->snext = s->watches;
    s->watches = w;
    st->nwatches++;
    a->watches++;
    /* xenstore fires every new watch once, so the watcher reads the
     * current state without a race against the first change. */
    session_queue_event(s, path + relprefix, token);
    r = 0;
out:
    pthread_mutex_unlock(&st->lock);
    return r;
}

int store_unwatch(struct session *s, const char *in, const char *token)
{
    char path[HVS_PATH_MAX + 1];
    const char *why;
    int r;

    pthread_mutex_lock(&s->st->lock);
    r = path_resolve(s->domid, in, true, path, &why);
    if (r < 0) {
        r = serr(s, r, "invalid watch path \"%.80s\": %s", in ? in : "(null)", why);
        goto out;
    }
    r = -ENOENT;
    for (struct watch **pp = &s->watches; token && *pp; pp = &(*pp)->snext) {
        struct watch *w = *pp;
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
            *pp = w->snext;
            unlink_path_hash(s->st, w);
            watch_free(w);
            r = 0;
            break;
        }
    }
    if (r == -ENOENT)
        serr(s, r, "no watch on %s with token \"%s\"", path, token ? token : "(null)");
out:
    pthread_mutex_unlock(&s->st->lock);
    return r;
}

void session_watches_free(struct session *s)
{
    while (s->watches) {
        struct watch *w = s->watches;
        s->watches = w->snext;
        unlink_path_hash(s->st, w);
        watch_free(w);
    }
}

void store_watches_reset(struct session *s)
{
    pthread_mutex_lock(&s->st->lock);
    session_watches_free(s);
    pthread_mutex_unlock(&s->st->lock);
}
