/* SPDX-License-Identifier: MIT */
/* The engine's internals, shared by engine.c, txn.c and watch.c. */
#ifndef LIBHVSTORE_STORE_INT_H
#define LIBHVSTORE_STORE_INT_H

#include <pthread.h>

#include "engine.h"
#include "errslot.h"
#include "path.h"
#include "perms.h"
#include "persist.h"
#include "tree.h"

/* Per-domain accounting for quotas and the introduced flag. */
struct dom_acct {
    uint32_t domid;
    uint32_t nodes, watches, txs;
    bool introduced;
    struct dom_acct *next;
};
#define ACCT_BUCKETS 256

struct watch {
    struct session *s;
    char *path; /* absolute, or "@..." */
    char *token;
    int depth;
    int relprefix; /* bytes stripped from event paths (relative watches) */
    unsigned pdepth;
    struct watch *hnext; /* in the store's hash, by path */
    struct watch *snext; /* in the session's list */
};

struct txn;

/* A thread waiting in autosync for the flush of its change (on its stack). */
struct sync_waiter {
    uint64_t seq;
    int result; /* 0, or -EIO: its round's flush failed */
    bool done;
    struct sync_waiter *next;
};

/* A domain whose entries go when its owning session ends (store_domain_own). */
struct owned {
    uint32_t domid;
    char **paths;   /* absolute, resolved */
    size_t npaths;
    struct owned *next;
};

struct session {
    struct store *st;
    uint32_t domid;
    struct owned *owned;
    session_notify_fn notify;
    void *opaque;
    struct errslots errs;
    struct watch *watches;
    struct txn *txs;
    struct store_event *evhead, *evtail;
    struct store_event **evhash; /* the queued events, by (path, token) */
    size_t nevhash, nev;
    struct session *next, *prev;
};

struct store {
    pthread_mutex_t lock;
    struct tree tree;
    uint64_t gen;
    uint32_t next_tx;
    hvs_quota_t quota;
    struct persist *persist;
    bool autosync;
    char **dirty; /* paths changed since the last sync */
    size_t ndirty, capdirty;
    /* Group commit of an embedded engine's threads (autosync): changes are
     * numbered; one thread at a time flushes all those made so far, without
     * the lock, while the others wait for their number. */
    uint64_t seq_applied, seq_synced;
    struct sync_waiter *waiters; /* told their round's outcome by its leader */
    char fail_msg[256];
    bool syncing;
    pthread_cond_t synced;
    struct dom_acct *acct[ACCT_BUCKETS];
    struct watch **wbuckets;
    size_t nwbuckets, nwatches;
    struct session *sessions;
    hvs_log_fn log;
    void *log_opaque;
    hvs_log_level_t log_level;
};

/* Records the message for the calling thread; returns e. */
int serr(struct session *s, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void slog(struct store *st, hvs_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct dom_acct *acct_get(struct store *st, uint32_t domid, bool create);
/* -EDQUOT (with the message) if domain s->domid may not own `more` nodes. */
int quota_nodes(struct session *s, uint32_t owner, uint32_t more);
int quota_value(struct session *s, size_t len);

void acct_nodes(struct store *st, uint32_t owner, int delta);

/* Main-tree changes (the lock held). */
/* Adds a node under an existing parent (firing no watch); NULL: ENOMEM. */
struct node *main_add(struct store *st, struct node *parent, const char *path, size_t len,
                      const hvs_perm_t *perms, unsigned nperms, const void *value, size_t vlen);
void mark_dirty(struct store *st, struct node *n, const char *path);
/* Creates path and missing parents as the session's domain would, firing no
 * watch; *created_depth (may be NULL): depth of the topmost node created,
 * NOT_CREATED if none. */
int main_create(struct session *s, const char *path, size_t len, struct node **out,
                unsigned *created_depth);
/* Counts nodes main_create would add for path. */
uint32_t main_missing(struct store *st, const char *path, size_t len);
void main_remove(struct store *st, struct node *n);
int main_set_perms(struct store *st, struct node *n, const hvs_perm_t *perms, unsigned count);
/* The nearest existing node at or above path. */
struct node *main_nearest(struct store *st, const char *path, size_t len);

/* Watches (watch.c). */
int watches_init(struct store *st);
void watches_free(struct store *st);
/* A node changed (written, created, perms): fire watches at or above it,
 * once each. created_depth: the depth of the topmost node the change
 * created (NOT_CREATED if none), for watches whose depth stops above path. */
#define NOT_CREATED (~0u)
void watch_fire(struct store *st, const char *path, const hvs_perm_t *perms, unsigned nperms,
                unsigned created_depth);
/* A node was removed: also fire watches below it. */
void watch_fire_rm(struct store *st, const char *path, const hvs_perm_t *perms, unsigned nperms);
void watch_fire_special(struct store *st, const char *special);
/* Queues an event unless the same one is queued already (events.c). */
void session_queue_event(struct session *s, const char *path, const char *token);
void session_events_free(struct session *s);
void session_watches_free(struct session *s);

/* Transactions (txn.c). */
struct txn *txn_find(struct session *s, uint32_t id);
int txn_begin(struct session *s, uint32_t *id);
int txn_end(struct session *s, struct txn *t, bool commit);
void session_txns_free(struct session *s);
int txn_read(struct session *s, struct txn *t, const char *path, char **value, size_t *len);
int txn_write(struct session *s, struct txn *t, const char *path, const void *value, size_t len,
              bool mkdir_only);
int txn_rm(struct session *s, struct txn *t, const char *path);
int txn_directory(struct session *s, struct txn *t, const char *path, char **buf, size_t *len,
                  uint64_t *gen);
int txn_perms_get(struct session *s, struct txn *t, const char *path, hvs_perm_t **perms);
int txn_perms_set(struct session *s, struct txn *t, const char *path, const hvs_perm_t *perms,
                  unsigned count);

/* Makes the session's changes durable before returning if the store syncs
 * after each change (the lock held; it is released while waiting). */
int autosync(struct session *s);

#endif
