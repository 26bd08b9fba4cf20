/* SPDX-License-Identifier: MIT */
/*
 * The store engine: the tree, permissions, transactions, watches, quotas and
 * persistence. One engine serves the embedded handles (file:, mem:) and the
 * daemon hvstored; the wire protocol and the public handle sit on top.
 *
 * A session is one client of the engine (an embedded handle, a daemon
 * connection): it has a domid, its watches, its transactions and its queue
 * of watch events. All functions are thread-safe (one lock per engine).
 * Every failing call leaves a message in the session (session_error()).
 *
 * Durability: with autosync (embedded file:), every change is on disk
 * before the call returns. Without it (the daemon), changes are applied in
 * memory and store_sync() writes all of them in one fsync'd LMDB
 * transaction: the daemon calls it once per batch of requests, before
 * replying (group commit).
 */
#ifndef LIBHVSTORE_ENGINE_H
#define LIBHVSTORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hvstore.h"

struct store;
struct session;

struct store_opts {
    const char *path;  /* LMDB file (MDB_NOSUBDIR); NULL: volatile */
    bool autosync;     /* sync after every change (embedded use) */
    hvs_quota_t quota; /* zero fields: defaults */
    hvs_log_fn log;
    void *log_opaque;
    hvs_log_level_t log_level;
};

/* Loads the file if there is one. err gets a message on failure. */
int store_open(struct store **out, const struct store_opts *opts, char *err, size_t errlen);
void store_close(struct store *st);
/* Writes every change since the last sync in one durable transaction. */
int store_sync(struct store *st, char *err, size_t errlen);
/* True if changes wait for store_sync(). */
bool store_dirty(struct store *st);
/* The effective quotas (defaults filled in). */
hvs_quota_t store_quota(struct store *st);

/*
 * Called, with the engine lock held, when an event is queued on a session
 * that had none: wake whoever delivers them (must not call the engine).
 */
typedef void (*session_notify_fn)(void *opaque);

struct session *session_new(struct store *st, uint32_t domid, session_notify_fn notify,
                            void *opaque);
/* Aborts its transactions, removes its watches, drops queued events. */
void session_free(struct session *s);
int session_act_as(struct session *s, uint32_t domid);
uint32_t session_domid(struct session *s);
const char *session_error(struct session *s);

/* A queued watch event; a list, oldest first. */
struct store_event {
    struct store_event *next;
    char *path;
    char *token;
    struct store_event *hnext; /* the engine's own use */
};
/*
 * Takes the queued events, oldest first, at most `max` (0: all; NULL if
 * none). Until taken, events coalesce: a change to a node whose event for
 * the same watch is still queued adds nothing (the watcher reads the node's
 * current state anyway), so a watcher that does not keep up costs memory
 * bounded by the nodes it watches, not by the changes made.
 */
struct store_event *session_events_take_max(struct session *s, size_t max);
struct store_event *session_events_take(struct session *s);
/* True if events are queued. */
bool session_events_pending(struct session *s);
void store_events_free(struct store_event *ev);

/* Operations: as the public API (hv/hvstore.h), on behalf of the session. */
int store_read(struct session *s, uint32_t tx, const char *path, char **value, size_t *len);
int store_write(struct session *s, uint32_t tx, const char *path, const void *value, size_t len);
int store_mkdir(struct session *s, uint32_t tx, const char *path);
int store_rm(struct session *s, uint32_t tx, const char *path);
/* Children names, each NUL-terminated, concatenated in *buf (malloc'd,
 * *len bytes); *gen: the directory's generation. Returns the count. */
int store_directory(struct session *s, uint32_t tx, const char *path, char **buf, size_t *len,
                    uint64_t *gen);
int store_perms_get(struct session *s, uint32_t tx, const char *path, hvs_perm_t **perms);
int store_perms_set(struct session *s, uint32_t tx, const char *path, const hvs_perm_t *perms,
                    unsigned count);
int store_watch(struct session *s, const char *path, const char *token, int depth);
int store_unwatch(struct session *s, const char *path, const char *token);
/* Removes all the session's watches (XS_RESET_WATCHES). */
void store_watches_reset(struct session *s);
int store_tx_begin(struct session *s, uint32_t *tx);
int store_tx_end(struct session *s, uint32_t tx, bool commit);
int store_domain_introduce(struct session *s, uint32_t domid);
int store_domain_release(struct session *s, uint32_t domid);
int store_domain_introduced(struct session *s, uint32_t domid);
int store_domain_path(struct session *s, uint32_t domid, char **path);
/*
 * Ties domain domid to the session (dom0 only): when the session ends, its
 * paths are removed and the domain released (@releaseDomain), as if the
 * owner had done it; a second call for the same domid replaces the paths.
 * This is how a monitor killed with SIGKILL still cleans up after itself.
 */
int store_domain_own(struct session *s, uint32_t domid, const char *const *paths, size_t n);
int store_domain_disown(struct session *s, uint32_t domid);
/* True while s owns domid (store_domain_release ends every owner's tie). */
bool store_domain_owned(struct session *s, uint32_t domid);
/* Drops s's ties without cleaning up: for a daemon that stops while the
 * owners live on. */
void session_forget_owned(struct session *s);

#endif
