/* SPDX-License-Identifier: MIT */
/*
 * One client connection: its input buffer, its replies held for the batch's
 * store_sync(), and its output queue. Every byte here came from or goes to
 * a peer we do not trust, so buffers are bounded: IN_CAP bytes in (one
 * largest message), CONN_OUT_MAX bytes out.
 */
#include "hvstored.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define IN_CAP (XS_HEADER_SIZE + HVS_PAYLOAD_MAX)
/* Above this much unsent output we stop reading the connection's requests:
 * a client that pipelines faster than it reads waits for itself. Watch
 * events are not requests and can still push it up to CONN_OUT_MAX. */
#define OUT_HIGH (256u * 1024)
#define IOV_BATCH 64

/* session_notify_fn: runs inside an engine call made by this thread, with
 * the engine lock held, so it only takes a note for after the sync. */
static void on_event(void *opaque)
{
    struct conn *c = opaque;

    c->events = true;
    conn_touch(c);
}

struct conn *conn_new(struct daemon *d, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->d = d;
    c->fd = fd;
    c->id = ++d->next_id;
    /* Local socket clients are dom0; XS_HV_ACT_AS narrows them. */
    c->sess = session_new(d->st, HVS_DOM0, on_event, c);
    if (!c->sess) {
        free(c);
        return NULL;
    }
    c->armed = EPOLLIN;
    struct epoll_event ev = {.events = c->armed, .data.ptr = c};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_err("conn %u: epoll_ctl: %s", c->id, strerror(errno));
        session_free(c->sess);
        free(c);
        return NULL;
    }
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    d->nconns++;
    return c;
}

static void msgs_free(struct outmsg *m)
{
    while (m) {
        struct outmsg *next = m->next;
        free(m);
        m = next;
    }
}

void conn_free(struct conn *c)
{
    struct daemon *d = c->d;

    epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    /* A dead monitor's control socket goes before its domid is free again
     * (session_free below), so it can never remove a successor's socket. */
    if (d->stop)
        /* The daemon stops, the monitors live on: their entries and sockets
         * stay for the next daemon. */
        session_forget_owned(c->sess);
    for (size_t i = 0; i < c->nowned && d->run_dir && !d->stop; i++) {
        char path[PATH_MAX];
        /* Released meanwhile (maybe by another connection): a successor
         * may hold that domid and its socket now. */
        if (!store_domain_owned(c->sess, c->owned[i]))
            continue;
        int n = snprintf(path, sizeof(path), "%s/domains/%" PRIu32 ".sock", d->run_dir,
                         c->owned[i]);
        if (n > 0 && (size_t)n < sizeof(path) && unlink(path) < 0 && errno != ENOENT)
            log_err("conn %u: unlink %s: %s", c->id, path, strerror(errno));
    }
    free(c->owned);
    /* Frees the queued events too; no notify can come after this. Owned
     * domains are removed and released there (@releaseDomain). */
    session_free(c->sess);
    if (c->in_batch) {
        struct conn **pp = &d->batch;
        while (*pp != c)
            pp = &(*pp)->batch_next;
        *pp = c->batch_next;
    }
    if (c->in_ready) {
        struct conn **pp = &d->ready;
        while (*pp != c)
            pp = &(*pp)->ready_next;
        *pp = c->ready_next;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    d->nconns--;
    msgs_free(c->pend_head);
    msgs_free(c->out_head);
    free(c->in);
    free(c);
}

void conn_touch(struct conn *c)
{
    if (c->in_batch)
        return;
    c->in_batch = true;
    c->batch_next = c->d->batch;
    c->d->batch = c;
}

static struct outmsg *msg_new(uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
                              size_t len)
{
    struct outmsg *m = malloc(sizeof(*m) + XS_HEADER_SIZE + len);

    if (!m)
        return NULL;
    m->next = NULL;
    m->len = XS_HEADER_SIZE + len;
    m->sent = 0;
    m->reply = false;
    m->mutating = false;
    m->req_id = req_id;
    m->tx_id = tx_id;
    xs_header_put(m->data, type, req_id, tx_id, (uint32_t)len);
    if (len)
        memcpy(m->data + XS_HEADER_SIZE, payload, len);
    return m;
}

int conn_hold(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
              size_t len, bool mutating)
{
    struct outmsg *m = msg_new(type, req_id, tx_id, payload, len);

    if (!m) {
        log_err("conn %u: out of memory for a reply: dropping the connection", c->id);
        c->closing = true;
        return -ENOMEM;
    }
    m->reply = true;
    m->mutating = mutating;
    if (c->pend_tail)
        c->pend_tail->next = m;
    else
        c->pend_head = m;
    c->pend_tail = m;
    c->pend_bytes += m->len;
    c->outstanding++;
    conn_touch(c);
    return 0;
}

static void queue_msg(struct conn *c, struct outmsg *m)
{
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += m->len;
}

static int conn_queue(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                      const void *payload, size_t len)
{
    struct outmsg *m = msg_new(type, req_id, tx_id, payload, len);

    if (!m) {
        log_err("conn %u: out of memory for a message: dropping the connection", c->id);
        c->closing = true;
        return -ENOMEM;
    }
    queue_msg(c, m);
    return 0;
}

/* The reply a change gets when store_sync() failed: it may be lost. */
static struct outmsg *eio_reply(const struct outmsg *orig, const char *why)
{
    char payload[512];
    int n = snprintf(payload, sizeof(payload), "EIO%cthe store could not be written to disk (%s): "
                     "this change may be lost", '\0', why);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(payload) ? sizeof(payload) - 1 : (size_t)n;

    payload[len] = '\0';
    struct outmsg *m = msg_new(XS_ERROR, orig->req_id, orig->tx_id, payload, len + 1);
    if (m)
        m->reply = true;
    return m;
}

/* Events taken at a time, so that what is taken always fits: at most
 * 16 x 4 KiB past the high mark, far below CONN_OUT_MAX. The rest wait in
 * the engine, where they coalesce (engine.h). */
#define EVENTS_BATCH 16

static void queue_events(struct conn *c)
{
    struct store_event *head = session_events_take_max(c->sess, EVENTS_BATCH);

    for (struct store_event *ev = head; ev; ev = ev->next) {
        size_t plen = strlen(ev->path) + 1, tlen = strlen(ev->token) + 1;
        char buf[HVS_PAYLOAD_MAX];
        if (plen + tlen > sizeof(buf)) {
            /* A long token on a deep path: the frame limit wins, as in Xen. */
            log_warn("conn %u: watch event for %s (token %.40s...) is over %d bytes: dropped",
                     c->id, ev->path, ev->token, HVS_PAYLOAD_MAX);
            continue;
        }
        memcpy(buf, ev->path, plen);
        memcpy(buf + plen, ev->token, tlen);
        if (conn_queue(c, XS_WATCH_EVENT, 0, 0, buf, plen + tlen) < 0)
            break;
    }
    store_events_free(head);
}

void conn_release(struct conn *c, const char *sync_err)
{
    struct outmsg *m = c->pend_head;

    c->pend_head = c->pend_tail = NULL;
    c->pend_bytes = 0;
    while (m) {
        struct outmsg *next = m->next;
        m->next = NULL;
        if (m->mutating && sync_err) {
            struct outmsg *e = eio_reply(m, sync_err);
            free(m);
            if (!e) {
                /* No memory to say so: an OK here would be a lie. */
                log_err("conn %u: out of memory for an EIO reply: dropping the connection",
                        c->id);
                c->closing = true;
                m = next;
                continue;
            }
            m = e;
        }
        queue_msg(c, m);
        m = next;
    }
    /* A watcher that does not read its events must not grow us, nor be
     * dropped because others write a lot: past the high mark its events
     * stay queued in the engine (coalescing) until it catches up, which
     * its socket's EPOLLOUT brings back here. */
    while (c->events && !c->closing && !conn_throttled(c)) {
        c->events = false;
        queue_events(c);
        if (session_events_pending(c->sess))
            c->events = true;
    }
}

bool conn_flush(struct conn *c)
{
    while (c->out_head) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        for (struct outmsg *m = c->out_head; m && n < IOV_BATCH; m = m->next, n++) {
            iov[n].iov_base = m->data + m->sent;
            iov[n].iov_len = m->len - m->sent;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        /* MSG_NOSIGNAL: a client gone mid-reply is an error here, not SIGPIPE. */
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            log_debug("conn %u: send: %s", c->id, strerror(errno));
            return false;
        }
        size_t left = (size_t)w;
        while (left && c->out_head) {
            struct outmsg *m = c->out_head;
            size_t part = m->len - m->sent;
            if (left < part) {
                m->sent += left;
                left = 0;
                break;
            }
            left -= part;
            c->out_bytes -= m->len;
            if (m->reply)
                c->outstanding--;
            c->out_head = m->next;
            if (!c->out_head)
                c->out_tail = NULL;
            free(m);
        }
    }
    if (c->out_bytes > CONN_OUT_MAX) {
        log_warn("conn %u: %zu bytes of replies and events unread (limit %u): dropping the "
                 "connection",
                 c->id, c->out_bytes, CONN_OUT_MAX);
        return false;
    }
    daemon_watch_conn(c->d, c);
    return true;
}

bool conn_throttled(const struct conn *c)
{
    return c->out_bytes + c->pend_bytes >= OUT_HIGH;
}

bool conn_has_request(const struct conn *c)
{
    struct xs_msg m;
    size_t used;

    return c->in_len && xs_decode(c->in, c->in_len, &m, &used) != 0;
}

/*
 * Executes the complete requests in c->in while the connection is not
 * throttled; the rest waits there for its output to drain (conn_read runs
 * again on EPOLLOUT, when no new input may ever come to wake us).
 */
static void run_buffered(struct conn *c)
{
    size_t off = 0;

    while (!c->closing && !conn_throttled(c)) {
        struct xs_msg m;
        size_t used;
        int rc = xs_decode(c->in + off, c->in_len - off, &m, &used);
        if (rc < 0) {
            struct xs_header h;
            memcpy(&h, c->in + off, sizeof(h));
            log_warn("conn %u: message header with length %u (limit %d): the stream cannot "
                     "be resynchronised, dropping the connection",
                     c->id, h.len, HVS_PAYLOAD_MAX);
            c->closing = true;
            break;
        }
        if (rc == 0)
            break;
        request_run(c, &m);
        off += used;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

void conn_read(struct conn *c)
{
    size_t budget = CONN_READ_BUDGET;

    if (!c->in && !(c->in = malloc(IN_CAP))) {
        log_err("conn %u: out of memory for its input: dropping the connection", c->id);
        c->closing = true;
        return;
    }
    run_buffered(c);
    /* A full buffer that is not throttled holds a partial message only. */
    while (budget && !c->closing && !c->eof && !conn_throttled(c) && c->in_len < IN_CAP) {
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_debug("conn %u: recv: %s", c->id, strerror(errno));
                c->closing = true;
            }
            break;
        }
        if (n == 0) {
            /* Requests sent before the end still run and are answered: the
             * client may only have shut down its sending side. */
            log_debug("conn %u: end of input from the client", c->id);
            c->eof = true;
            break;
        }
        c->in_len += (size_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
        run_buffered(c);
    }
    /* No input polling while throttled or closing; conn_flush re-arms it. */
    daemon_watch_conn(c->d, c);
}
