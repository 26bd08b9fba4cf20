/* SPDX-License-Identifier: MIT */
/*
 * libhvstore: the host's key-value store, with xenstore's semantics.
 *
 * One engine, three ways to reach it (hvs_open):
 *   "unix:PATH"  the daemon hvstored on a unix socket (xenstore wire protocol)
 *   "file:PATH"  the engine embedded in this process, durable (an LMDB file;
 *                one process at a time)
 *   "mem:"       the engine embedded in this process, volatile
 *
 * Conventions (docs/api-conventions.md): functions return 0 (or a
 * non-negative count) on success and a negative errno on failure; the
 * calling thread's last failure message on a handle is hvs_last_error().
 * Every function is thread-safe. Strings and lists returned to the caller
 * are malloc'd and freed with free() (lists: hvs_list_free()).
 *
 * Paths: absolute ("/local/domain/3/name") or relative to the handle's
 * domain path ("name" is "/local/domain/<domid>/name"). Components use
 * [A-Za-z0-9_@-], separated by single '/', no trailing '/', at most
 * HVS_PATH_MAX bytes absolute. "@introduceDomain" and "@releaseDomain" are
 * only valid as watch paths. Errors: -EINVAL bad path or argument, -ENOENT
 * (-EACCES instead to a domain that may not read the nearest node above),
 * -EACCES (permissions), -EEXIST, -EDQUOT (a domain's quota; the message
 * names the quota and its value), -EAGAIN (transaction conflict), -E2BIG
 * (value or reply over the wire limit), -ENOTCONN (daemon gone), -EIO.
 */
#ifndef HV_HVSTORE_H
#define HV_HVSTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HVS_BUILDING_LIBRARY)
#define HVS_EXPORT __attribute__((visibility("default")))
#else
#define HVS_EXPORT
#endif

#define HVS_VERSION_MAJOR 0
#define HVS_VERSION_MINOR 1

/* Longest absolute path, as xenstore (XENSTORE_ABS_PATH_MAX). */
#define HVS_PATH_MAX 3072
/* Largest request or reply payload on the wire (XENSTORE_PAYLOAD_MAX). */
#define HVS_PAYLOAD_MAX 4096

/* The privileged domain: exempt from permissions and quotas. */
#define HVS_DOM0 0u

typedef struct hvs hvs_t;

/* A transaction id; HVS_TX_NONE runs an operation on its own. */
typedef uint32_t hvs_tx_t;
#define HVS_TX_NONE 0u

typedef enum hvs_log_level {
    HVS_LOG_ERROR = 0,
    HVS_LOG_WARN = 1,
    HVS_LOG_INFO = 2,
    HVS_LOG_DEBUG = 3,
} hvs_log_level_t;

/* May be called with libhvstore's locks held: must not call libhvstore. */
typedef void (*hvs_log_fn)(void *opaque, hvs_log_level_t level, const char *msg);

/*
 * Per-domain limits. They bind every domain but dom0. A field of 0 means
 * "the default" (in brackets).
 */
typedef struct hvs_quota {
    size_t size;           /* sizeof(hvs_quota_t) */
    uint32_t nodes;        /* nodes a domain owns [1000] */
    uint32_t value_size;   /* bytes in one value [2048] */
    uint32_t watches;      /* watches a domain holds [128] */
    uint32_t transactions; /* transactions open at once [10] */
    uint32_t requests;     /* requests outstanding on one connection [20] */
} hvs_quota_t;

typedef struct hvs_options {
    size_t size;          /* sizeof(hvs_options_t) */
    hvs_log_fn log;       /* NULL: no logging */
    void *log_opaque;
    hvs_log_level_t log_level;
    /* Embedded engines (file:, mem:) only; NULL: defaults. The daemon has
     * its own (hvstored --quota-*). */
    const hvs_quota_t *quota;
} hvs_options_t;

/* opts may be NULL. On failure *out is NULL; the message is in the return
 * value only (there is no handle): use hvs_open_error() on the same thread. */
HVS_EXPORT int hvs_open(hvs_t **out, const char *uri, const hvs_options_t *opts);
/* The calling thread's message for its last failed hvs_open(), or "". */
HVS_EXPORT const char *hvs_open_error(void);
/* Aborts the handle's open transactions, removes its watches. NULL is fine. */
HVS_EXPORT void hvs_close(hvs_t *h);
HVS_EXPORT const char *hvs_last_error(hvs_t *h);

/*
 * From now on the handle acts for domain `domid`: permissions, quotas and
 * relative paths are those of that domain (xenstore's SET_TARGET; a monitor
 * relaying its guest's store ring does this). Needs a dom0 handle; cannot
 * be undone. -EPERM otherwise.
 */
HVS_EXPORT int hvs_act_as(hvs_t *h, uint32_t domid);
/* The domain this handle acts for (HVS_DOM0 unless hvs_act_as was called). */
HVS_EXPORT uint32_t hvs_domid(hvs_t *h);

/* ---- Nodes --------------------------------------------------------------- */

/*
 * *value: malloc'd, with a NUL after the *len bytes (so text values can be
 * used as strings); len may be NULL.
 */
HVS_EXPORT int hvs_read(hvs_t *h, hvs_tx_t tx, const char *path, char **value, size_t *len);
/* Creates missing parents (empty, with the new node's permissions). */
HVS_EXPORT int hvs_write(hvs_t *h, hvs_tx_t tx, const char *path, const void *value, size_t len);
/* Creates an empty node; 0 if it exists already. */
HVS_EXPORT int hvs_mkdir(hvs_t *h, hvs_tx_t tx, const char *path);
/* Removes the node and everything below it. A node already gone is fine (0)
 * while its parent exists, as in xenstored; -ENOENT if the parent is
 * missing too. */
HVS_EXPORT int hvs_rm(hvs_t *h, hvs_tx_t tx, const char *path);

/*
 * The names of the node's children, complete however many there are (over
 * the wire, in pieces: DIRECTORY_PART, restarted if the directory changes
 * meanwhile). *names is a NULL-terminated array; returns the count.
 */
HVS_EXPORT int hvs_directory(hvs_t *h, hvs_tx_t tx, const char *path, char ***names);
/*
 * One piece of a large directory, as xenstore's DIRECTORY_PART: the children
 * that fit in one reply, from byte `offset` of the listing (the sum of
 * strlen(name) + 1 over the names already received). Returns the count in
 * *names; *gen is the directory's generation (pieces with different ones
 * came from different versions: start again); *done is set to 1 when the
 * piece ends the listing.
 */
HVS_EXPORT int hvs_directory_part(hvs_t *h, hvs_tx_t tx, const char *path, uint32_t offset,
                                  char ***names, uint64_t *gen, int *done);
/* Frees a NULL-terminated list from libhvstore. NULL is fine. */
HVS_EXPORT void hvs_list_free(char **names);

/* ---- Permissions --------------------------------------------------------- */

typedef enum hvs_perm_bits {
    HVS_PERM_NONE = 0,  /* 'n' */
    HVS_PERM_READ = 1,  /* 'r' */
    HVS_PERM_WRITE = 2, /* 'w' */
    HVS_PERM_BOTH = 3,  /* 'b' */
} hvs_perm_bits_t;

/*
 * A node's permissions: entry 0 names the owner (who may do anything) and
 * gives everybody not listed its access; entries 1.. give listed domains
 * theirs. dom0 may do anything.
 */
typedef struct hvs_perm {
    uint32_t domid;
    uint32_t perm; /* hvs_perm_bits_t */
} hvs_perm_t;

/* *perms malloc'd; returns the count (>= 1). */
HVS_EXPORT int hvs_perms_get(hvs_t *h, hvs_tx_t tx, const char *path, hvs_perm_t **perms);
/* Only the owner (or dom0) may; a domain may not give a node away. */
HVS_EXPORT int hvs_perms_set(hvs_t *h, hvs_tx_t tx, const char *path, const hvs_perm_t *perms,
                             unsigned count);
/* "r5" <-> {5, HVS_PERM_READ}, as the wire and the CLIs spell them. */
HVS_EXPORT int hvs_perm_parse(const char *text, hvs_perm_t *out);
HVS_EXPORT int hvs_perm_format(const hvs_perm_t *perm, char *buf, size_t buflen);

/* ---- Watches ------------------------------------------------------------- */

/*
 * Called from hvs_dispatch() (or hvs_wait()) on the thread calling it, never
 * from a libhvstore thread: `path` is the node that changed (or the special
 * path), `token` the watch's.
 */
typedef void (*hvs_watch_fn)(void *opaque, const char *path, const char *token);

/* Unlimited depth: changes anywhere below the watched path fire. */
#define HVS_DEPTH_ANY (-1)

/*
 * Fires once as soon as it is set, then on every change at the path or
 * below it down to `depth` levels (0: the node itself; HVS_DEPTH_ANY;
 * anything below -1 is -EINVAL). One write fires once per watch, with the
 * written path, even when it creates missing parents (a watch whose depth
 * stops above the written node sees the deepest created node within its
 * reach). Removing a node also fires the watches set below it. Changes made
 * in a transaction fire when it commits. A domain only gets events for
 * nodes it may read. (path, token) pairs are unique per handle (-EEXIST).
 */
HVS_EXPORT int hvs_watch(hvs_t *h, const char *path, const char *token, int depth,
                         hvs_watch_fn fn, void *opaque);
/*
 * After it returns, no new event of the watch is dispatched; a callback that
 * another thread's hvs_dispatch had already started may still be running:
 * free the watch's opaque only once no other thread dispatches (or from the
 * dispatching thread itself, e.g. inside the callback).
 */
HVS_EXPORT int hvs_unwatch(hvs_t *h, const char *path, const char *token);
/* Readable while events are pending; for poll/epoll loops. Owned by h. */
HVS_EXPORT int hvs_watch_fd(hvs_t *h);
/* Runs the callbacks of pending events without blocking; returns how many. */
HVS_EXPORT int hvs_dispatch(hvs_t *h);
/* Waits up to timeout_ms (-1: for ever) for events, then dispatches them;
 * returns how many ran (0 on timeout). */
HVS_EXPORT int hvs_wait(hvs_t *h, int timeout_ms);

/* ---- Transactions -------------------------------------------------------- */

/* Transaction ids belong to the handle that began them: any other id, or
 * one already ended, is -ENOENT. */
HVS_EXPORT int hvs_tx_begin(hvs_t *h, hvs_tx_t *tx);
/*
 * -EAGAIN if a node the transaction read, listed or wrote changed since it
 * first looked at it: redo the transaction. Unrelated writes never cause it.
 * The transaction is over whatever the result.
 */
HVS_EXPORT int hvs_tx_commit(hvs_t *h, hvs_tx_t tx);
HVS_EXPORT int hvs_tx_abort(hvs_t *h, hvs_tx_t tx);

/* ---- Domains ------------------------------------------------------------- */

/*
 * dom0 only (-EACCES otherwise); domids 1..32751. Creates /local/domain/<domid>
 * owned by the domain ("n<domid>") if missing; fires @introduceDomain;
 * -EEXIST if already introduced. Introductions last as long as the engine
 * (they are not stored): a restarted daemon needs them again.
 */
HVS_EXPORT int hvs_domain_introduce(hvs_t *h, uint32_t domid);
/* dom0 only. Removes /local/domain/<domid>, fires @releaseDomain; -ENOENT
 * if the domain is not introduced. */
HVS_EXPORT int hvs_domain_release(hvs_t *h, uint32_t domid);
/* 1 if introduced, 0 if not. */
HVS_EXPORT int hvs_domain_introduced(hvs_t *h, uint32_t domid);
/*
 * Ties domain domid to this handle (dom0 only): when the handle is closed,
 * or its process dies and hvstored sees the connection go, the store removes
 * paths (absolute, or relative to the handle's domain) and
 * /local/domain/<domid>, releases the domain and fires @releaseDomain; the
 * daemon also unlinks domains/<domid>.sock beside its own socket. A second
 * call for the same domid replaces the paths; hvs_domain_disown unties it
 * (-ENOENT if it was not tied). This is how libhv's registry cleans up after
 * a monitor killed with SIGKILL.
 */
HVS_EXPORT int hvs_domain_own(hvs_t *h, uint32_t domid, const char *const *paths,
                              size_t npaths);
HVS_EXPORT int hvs_domain_disown(hvs_t *h, uint32_t domid);
/* "/local/domain/<domid>", malloc'd. */
HVS_EXPORT int hvs_domain_path(hvs_t *h, uint32_t domid, char **path);

#ifdef __cplusplus
}
#endif

#endif
