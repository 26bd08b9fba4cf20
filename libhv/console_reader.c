/* SPDX-License-Identifier: MIT */
/*
 * Console readers (hv_domain_console_open, the control protocol's
 * console-attach): one end of a socketpair that gets the kept history, then
 * the guest's output as it comes. The service thread pumps it from the
 * history ring, so a slow reader never holds up a vCPU: it only loses the
 * bytes the ring dropped meanwhile, and is told how many.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"


struct console_reader {
    struct console_reader *next;      /* in d->console_reader */
    struct hv_domain *d;
    int fd;                   /* our end */
    uint64_t pos;             /* next history byte to send */
    char buf[4096];           /* read from the ring, not yet sent */
    size_t off, len;
    uint32_t events;
    atomic_bool kick_posted;
};


static struct console_reader *reader_get(struct hv_domain *d)
{
    pthread_mutex_lock(&d->ext_lock);
    struct console_reader *r = d->console_reader;
    while (r && r->d != d)
        r = r->next;
    pthread_mutex_unlock(&d->ext_lock);
    return r;
}

/* On the service thread (or once it ended). */
static void detach(struct console_reader *r)
{
    pthread_mutex_lock(&r->d->ext_lock);
    for (struct console_reader **p = &r->d->console_reader; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    pthread_mutex_unlock(&r->d->ext_lock);
    service_del(r->d, r->fd);
    close(r->fd);
    free(r);
}

void console_reader_stop(struct hv_domain *d)
{
    struct console_reader *r = reader_get(d);
    if (r)
        detach(r);
}

static void set_events(struct console_reader *r, uint32_t ev)
{
    if (ev != r->events && service_mod(r->d, r->fd, ev) == 0)
        r->events = ev;
}

/* Sends until the socket is full or the history is all sent; false: detached. */
static bool pump(struct console_reader *r)
{
    struct hv_domain *d = r->d;
    for (;;) {
        if (r->off == r->len) {
            uint64_t p = r->pos;
            long n = hv_domain_console_read(d, &p, r->buf, sizeof(r->buf));
            if (n <= 0)
                break;
            uint64_t first = p - (uint64_t)n;
            r->off = 0;
            r->len = (size_t)n;
            if (first > r->pos) {
                /* The ring wrapped past us: say so instead of a silent gap. The
                 * notice takes the buffer; the bytes just read come next time. */
                r->len = (size_t)snprintf(r->buf, sizeof(r->buf),
                                          "\r\n[... %llu bytes of console output lost ...]\r\n",
                                          (unsigned long long)(first - r->pos));
                r->pos = first;
            } else {
                r->pos = p;
            }
        }
        ssize_t w = send(r->fd, r->buf + r->off, r->len - r->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                set_events(r, EPOLLIN | EPOLLOUT);
                return true;
            }
            detach(r);
            return false;
        }
        r->off += (size_t)w;
    }
    set_events(r, EPOLLIN);
    return true;
}

static void on_reader(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    struct console_reader *r = opaque;
    (void)d;
    (void)fd;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        /* Guests have no console input yet: what the reader types is dropped. */
        char junk[512];
        ssize_t n;
        while ((n = recv(r->fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
            ;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            detach(r);
            return;
        }
    }
    if (events & EPOLLOUT)
        pump(r);
}

static void post_pump(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    (void)fd;
    (void)events;
    (void)opaque;
    struct console_reader *r = reader_get(d);
    if (!r)
        return;
    atomic_store(&r->kick_posted, false);
    pump(r);
}

void console_reader_kick(struct hv_domain *d)
{
    /* The table lock also orders this with detach: r is alive while held. */
    pthread_mutex_lock(&d->ext_lock);
    struct console_reader *r = d->console_reader;
    while (r && r->d != d)
        r = r->next;
    /* Posted under the lock too: while a reader is linked, control_stop has
     * not detached it, so service_stop has not freed d->svc. */
    if (r && !atomic_exchange(&r->kick_posted, true) &&
        service_post(d, post_pump, NULL) < 0)
        atomic_store(&r->kick_posted, false);
    pthread_mutex_unlock(&d->ext_lock);
}

int console_reader_open(struct hv_domain *d, int *fd)
{
    if (!d->svc)
        return hv_error(d->hv, -EOPNOTSUPP, "domain %u: console streams need the host "
                        "registry (this process has HV_STORE=none)", d->domid);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hv_error(d->hv, -errno, "domain %u: console socketpair: %s", d->domid,
                        strerror(errno));
    struct console_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        close(sv[0]);
        close(sv[1]);
        return hv_error(d->hv, -ENOMEM, "domain %u: out of memory", d->domid);
    }
    r->d = d;
    r->fd = sv[0];
    r->events = EPOLLIN;
    /* From the oldest byte kept: what went before is no loss to this reader. */
    r->pos = 0;
    hv_domain_console_read(d, &r->pos, NULL, 0);
    /* Claimed under the lock: two attachers at once, one wins. */
    pthread_mutex_lock(&d->ext_lock);
    struct console_reader *o = d->console_reader;
    while (o && o->d != d)
        o = o->next;
    if (!o) {
        r->next = d->console_reader;
        d->console_reader = r;
    }
    pthread_mutex_unlock(&d->ext_lock);
    if (o) {
        close(sv[0]);
        close(sv[1]);
        free(r);
        return hv_error(d->hv, -EBUSY, "domain %u: its console already has a reader",
                        d->domid);
    }
    int err = service_add(d, r->fd, EPOLLIN, on_reader, r);
    if (err < 0) {
        pthread_mutex_lock(&d->ext_lock);
        for (struct console_reader **p = &d->console_reader; *p; p = &(*p)->next)
            if (*p == r) {
                *p = r->next;
                break;
            }
        pthread_mutex_unlock(&d->ext_lock);
        close(sv[0]);
        close(sv[1]);
        free(r);
        return err;
    }
    console_reader_kick(d); /* the history */
    *fd = sv[1];
    return 0;
}

HV_EXPORT int hv_domain_console_open(hv_domain_t *dom, int *fd)
{
    if (!dom || !fd)
        return -EINVAL;
    if (dom->remote)
        return remote_console_open(dom, fd);
    return console_reader_open(dom, fd);
}
