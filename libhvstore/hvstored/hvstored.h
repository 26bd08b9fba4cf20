/* SPDX-License-Identifier: MIT */
/*
 * hvstored: the store daemon. One thread, one epoll loop, the xenstore wire
 * protocol on a unix stream socket (docs/store.md).
 *
 * Group commit: each loop iteration reads what every readable connection
 * sent, executes every complete request, calls store_sync() once if
 * anything changed, and only then queues the batch's replies and the watch
 * events it raised. A reply therefore never acknowledges a change that is
 * not on disk yet. If the sync fails, the batch's changes are answered
 * ERROR EIO (they stay in memory and go to disk with the next good sync).
 *
 * Bad clients lose their own connection, nothing more: an impossible header
 * (the stream cannot be resynchronised), output over CONN_OUT_MAX (a client
 * that reads neither replies nor events). Bad arguments get ERROR EINVAL.
 *
 * Flow control: a connection with a lot of unsent output is not read
 * (back-pressure: a pipelining client waits for itself, every request is
 * answered). Separately, a connection acting for a domain other than dom0
 * may have at most quota.requests replies outstanding (held for the sync
 * or not yet written); requests beyond that are answered ERROR EDQUOT,
 * "domain N: quota 'requests' (Q) reached", without running.
 */
#ifndef HVSTORED_H
#define HVSTORED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "proto.h"

/* ---- Logging (log.c) --------------------------------------------------------- */

void log_init(hvs_log_level_t level);
/* From now on to syslog (the daemon has no terminal any more). */
void log_to_syslog(void);
hvs_log_level_t log_level(void);
void logmsg(hvs_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The engine's logger (hvs_log_fn). */
void log_engine(void *opaque, hvs_log_level_t level, const char *msg);

#define log_err(...) logmsg(HVS_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) logmsg(HVS_LOG_WARN, __VA_ARGS__)
#define log_info(...) logmsg(HVS_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_level() >= HVS_LOG_DEBUG)                                                          \
            logmsg(HVS_LOG_DEBUG, __VA_ARGS__);                                                    \
    } while (0)

/* ---- Connections (conn.c) ------------------------------------------------------ */

/* Bytes of unsent output a connection may hold: a client that does not read
 * its replies or events is dropped beyond this rather than grow us. */
#define CONN_OUT_MAX (1u << 20)
/* Bytes read from one connection per loop iteration, so one busy client
 * cannot starve the others (level-triggered epoll brings us back). */
#define CONN_READ_BUDGET (64u * 1024)

/* One message queued for the socket. */
struct outmsg {
    struct outmsg *next;
    size_t len;  /* header + payload */
    size_t sent; /* bytes already written */
    bool reply;  /* answers a request (counts as outstanding until sent) */
    bool mutating; /* a change that store_sync() must make durable */
    uint32_t req_id, tx_id;
    char data[];
};

struct daemon;

struct conn {
    struct daemon *d;
    struct conn *prev, *next;           /* all connections */
    struct conn *batch_next;            /* connections touched in this batch */
    bool in_batch;
    struct conn *ready_next; /* on daemon.ready */
    bool in_ready;
    int fd;
    unsigned id; /* for logs */
    struct session *sess;
    bool events;  /* the engine queued watch events (session_notify_fn) */
    bool closing; /* stop reading; close once the batch is sent */
    bool eof;     /* the client sent all it will: close once replies are out */
    uint32_t armed; /* the epoll events registered */
    /* Replies of the current batch, held until store_sync(). */
    struct outmsg *pend_head, *pend_tail;
    size_t pend_bytes;
    /* Queued for the socket. */
    struct outmsg *out_head, *out_tail;
    size_t out_bytes;
    unsigned outstanding; /* replies not yet written (held or queued) */
    size_t in_len;
    char *in; /* XS_HEADER_SIZE + HVS_PAYLOAD_MAX bytes, allocated on first read */
    /* Domains this connection owns (HV_OWN): their control sockets go with it. */
    uint32_t *owned;
    size_t nowned;
};

struct conn *conn_new(struct daemon *d, int fd);
/* Removes it from epoll and the lists, frees its session, closes the fd. */
void conn_free(struct conn *c);
/* Reads and executes complete requests, within CONN_READ_BUDGET. */
void conn_read(struct conn *c);
/* Holds a reply until the batch's store_sync(); mutating: a change. */
int conn_hold(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
              size_t len, bool mutating);
/* After store_sync(): turns held replies into queued ones (mutating ones
 * into ERROR EIO if the sync failed: sync_err says why; NULL if it did
 * not), then queues pending watch events. */
void conn_release(struct conn *c, const char *sync_err);
/* Writes what the socket takes; arms EPOLLOUT for the rest. Returns false
 * when the connection must be dropped (peer gone, output over the cap). */
bool conn_flush(struct conn *c);
/* Puts the connection on the daemon's batch list (idempotent). */
void conn_touch(struct conn *c);
/* Back-pressure: too much output waits for the client; leave its further
 * requests in the socket until it reads. */
bool conn_throttled(const struct conn *c);
/* A complete request (or an impossible header) waits in the input buffer. */
bool conn_has_request(const struct conn *c);

/* ---- Requests (request.c) ------------------------------------------------------- */

/* Executes one request of c and holds its reply for the batch. */
void request_run(struct conn *c, const struct xs_msg *m);

/* ---- The daemon (server.c) ------------------------------------------------------ */

struct daemon_opts {
    const char *socket_path;
    const char *data_dir;
    hvs_quota_t quota;
    bool foreground;
};

struct daemon {
    struct store *st;
    hvs_quota_t quota; /* effective (store_quota) */
    int epfd;
    int listen_fd;
    int signal_fd;
    bool listen_paused; /* out of fds: accept again once one closes */
    char *run_dir;      /* the socket's directory: domains/<domid>.sock live there */
    bool stop;
    unsigned next_id;
    unsigned nconns;
    struct conn *conns;
    struct conn *batch; /* connections with held replies or events */
    /* Connections whose buffered requests wait for the next iteration:
     * left there while throttled, with no new input to wake us. */
    struct conn *ready;
};

/* epoll data for the daemon's own fds; connections use their struct conn *. */
#define TAG_LISTEN ((void *)1)
#define TAG_SIGNAL ((void *)2)

/* Serves until SIGTERM/SIGINT; 0 on a clean stop. */
int daemon_run(struct daemon *d);
/* Registers the epoll events the connection's state asks for. */
void daemon_watch_conn(struct daemon *d, struct conn *c);

/* ---- Sockets (sock.c) ---------------------------------------------------------- */

/* Binds and listens on path (0600: local clients are dom0), replacing a
 * stale socket and refusing a live one. Returns the fd or -1 (logged). */
int sock_listen(const char *path);

#endif
