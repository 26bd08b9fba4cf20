/* SPDX-License-Identifier: MIT */
/*
 * The event loop and its group commit. A connection is never freed while
 * the epoll events of an iteration are being handled (a later event could
 * name it): it is marked, and end_batch() frees it.
 */
#include "hvstored.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 64

void daemon_watch_conn(struct daemon *d, struct conn *c)
{
    uint32_t want = 0;

    if (!c->closing && !c->eof && !conn_throttled(c))
        want |= EPOLLIN;
    if (c->out_head)
        want |= EPOLLOUT;
    if (want == c->armed)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        log_err("conn %u: epoll_ctl: %s: dropping the connection", c->id, strerror(errno));
        c->closing = true;
        conn_touch(c);
        return;
    }
    c->armed = want;
}

static void listen_arm(struct daemon *d, bool on)
{
    struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = TAG_LISTEN};

    if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->listen_fd, &ev) < 0)
        log_err("epoll_ctl (listening socket): %s", strerror(errno));
    d->listen_paused = !on;
}

static void accept_all(struct daemon *d)
{
    for (;;) {
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The pending connection would wake us for ever: wait for
                 * a connection to close before accepting again. */
                log_warn("accept: %s (%u connections): not accepting until one closes",
                         strerror(errno), d->nconns);
                listen_arm(d, false);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_err("accept: %s", strerror(errno));
            }
            return;
        }
        struct conn *c = conn_new(d, fd);
        if (!c) {
            log_err("out of memory for a new connection: refused");
            close(fd);
            continue;
        }
        log_debug("conn %u: connected (%u connections)", c->id, d->nconns);
    }
}

static void drop(struct daemon *d, struct conn *c)
{
    log_debug("conn %u: closed", c->id);
    conn_free(c);
    if (d->listen_paused)
        listen_arm(d, true);
}

/*
 * The batch's end: one store_sync() for every change its requests made,
 * then their replies and the watch events they raised, then the socket
 * writes. Touched connections can be touched again meanwhile (a notify
 * from the engine), hence the loop.
 */
static void end_batch(struct daemon *d)
{
    while (d->batch) {
        char err[256] = "";
        const char *sync_err = NULL;
        if (store_dirty(d->st)) {
            int rc = store_sync(d->st, err, sizeof(err));
            if (rc < 0) {
                if (!err[0])
                    snprintf(err, sizeof(err), "%s", strerror(-rc));
                log_err("store_sync failed (%s): the changes of this batch are answered EIO",
                        err);
                sync_err = err;
            }
        }
        struct conn *c = d->batch;
        d->batch = NULL;
        while (c) {
            struct conn *next = c->batch_next;
            c->in_batch = false;
            c->batch_next = NULL;
            conn_release(c, sync_err);
            /* A closing connection gets one chance to take its replies. */
            bool alive = conn_flush(c) && !c->closing;
            if (!alive || (c->eof && !c->out_head && !conn_has_request(c))) {
                drop(d, c);
            } else if (c->events && !conn_throttled(c)) {
                /* Its output drained below the mark with events still
                 * held in the engine: another round for them. */
                conn_touch(c);
            } else if (!c->in_ready && !conn_throttled(c) && conn_has_request(c)) {
                c->in_ready = true;
                c->ready_next = d->ready;
                d->ready = c;
            }
            c = next;
        }
    }
}

static void on_signal(struct daemon *d)
{
    struct signalfd_siginfo si;

    while (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal %u: shutting down", si.ssi_signo);
        d->stop = true;
    }
}

static void on_conn(struct conn *c, uint32_t events)
{
    if (events & EPOLLOUT) {
        if (!conn_flush(c))
            c->closing = true;
    }
    /* Also on EPOLLOUT alone: requests left in the buffer while the
     * connection was throttled run once its output drains. */
    conn_read(c);
    /* Hung up or failed: nobody will read the replies. Without this, the
     * level-triggered EPOLLHUP of a throttled connection would spin. */
    if (events & (EPOLLHUP | EPOLLERR))
        c->closing = true;
    conn_touch(c);
}

int daemon_run(struct daemon *d)
{
    struct epoll_event evs[MAX_EVENTS];

    while (!d->stop) {
        /* Buffered requests to run: look at the sockets without waiting. */
        int n = epoll_wait(d->epfd, evs, MAX_EVENTS, d->ready ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_err("epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == TAG_LISTEN)
                accept_all(d);
            else if (tag == TAG_SIGNAL)
                on_signal(d);
            else
                on_conn(tag, evs[i].events);
        }
        while (d->ready) {
            struct conn *c = d->ready;
            d->ready = c->ready_next;
            c->in_ready = false;
            conn_read(c);
            conn_touch(c);
        }
        end_batch(d);
    }
    /* Every batch was synced and answered; the rest is unread requests. */
    d->stop = true;
    while (d->conns)
        conn_free(d->conns);
    return 0;
}
