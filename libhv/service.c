/* SPDX-License-Identifier: MIT */
/*
 * The monitor's service thread: one epoll loop per domain for everything a
 * domain serves to the outside (control socket, store ring, console
 * readers), so those handlers never race each other and never run on a
 * vCPU thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

struct watch {
    int fd;
    service_fn fn;
    void *opaque;
    struct watch *next;
};

struct post {
    service_fn fn;
    void *opaque;
    struct post *next;
};

struct service {
    int epfd;
    int wake_fd;              /* eventfd: posts queued or stop */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;     /* watches, posts, stopping */
    struct watch *watches;
    struct post *posts, **posts_tail;
    bool stopping;
    bool ended;               /* the loop is over: posts would never run */
};

static struct watch *find_watch(struct service *s, int fd)
{
    for (struct watch *w = s->watches; w; w = w->next)
        if (w->fd == fd)
            return w;
    return NULL;
}

static void run_posts(struct hv_domain *d)
{
    struct service *s = d->svc;
    pthread_mutex_lock(&s->lock);
    struct post *p = s->posts;
    s->posts = NULL;
    s->posts_tail = &s->posts;
    pthread_mutex_unlock(&s->lock);
    while (p) {
        struct post *next = p->next;
        p->fn(d, -1, 0, p->opaque);
        free(p);
        p = next;
    }
}

static void *service_main(void *arg)
{
    struct hv_domain *d = arg;
    struct service *s = d->svc;
    struct epoll_event evs[16];

    for (;;) {
        int n = epoll_wait(s->epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            hv_log(d->hv, HV_LOG_ERROR, "domain %u: service epoll_wait: %s", d->domid,
                   strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s->wake_fd) {
                uint64_t v;
                if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    hv_log(d->hv, HV_LOG_WARN, "domain %u: service eventfd: %s", d->domid,
                           strerror(errno));
                continue;
            }
            /* Looked up per event: an earlier callback may have removed it. */
            pthread_mutex_lock(&s->lock);
            struct watch *w = find_watch(s, fd);
            service_fn fn = w ? w->fn : NULL;
            void *opaque = w ? w->opaque : NULL;
            pthread_mutex_unlock(&s->lock);
            if (fn)
                fn(d, fd, evs[i].events, opaque);
        }
        run_posts(d);
        pthread_mutex_lock(&s->lock);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
    }
    /* What is queued still runs here; once the queue is seen empty
     * service_post refuses (its callers then do the work themselves), so
     * nobody waits on a post that only service_stop would run, and this
     * thread touches nothing of theirs after that. */
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool empty = !s->posts;
        s->ended = empty;
        pthread_mutex_unlock(&s->lock);
        if (empty)
            break;
        run_posts(d);
    }
    return NULL;
}

int service_start(struct hv_domain *d)
{
    struct service *s = calloc(1, sizeof(*s));
    if (!s)
        return hv_error(d->hv, -ENOMEM, "domain %u: out of memory", d->domid);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&s->lock, NULL);
    s->posts_tail = &s->posts;
    d->svc = s;
    int err = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->wake_fd};
    if (s->epfd < 0 || s->wake_fd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0)
        err = hv_error(d->hv, -errno, "domain %u: service loop: %s", d->domid, strerror(errno));
    if (!err) {
        /* The thread must not take the kick signal meant for vCPU threads. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int rc = pthread_create(&s->thread, NULL, service_main, d);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc)
            err = hv_error(d->hv, -rc, "domain %u: service thread: %s", d->domid, strerror(rc));
        else
            s->started = true;
    }
    if (err)
        service_stop(d);
    return err;
}

void service_stop(struct hv_domain *d)
{
    struct service *s = d->svc;
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_mutex_unlock(&s->lock);
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0)
            hv_log(d->hv, HV_LOG_WARN, "domain %u: service eventfd: %s", d->domid,
                   strerror(errno));
        pthread_join(s->thread, NULL);
    }
    /* Posts still queued run here, so their owners can free what they carry. */
    run_posts(d);
    while (s->watches) {
        struct watch *w = s->watches;
        s->watches = w->next;
        free(w);
    }
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
    d->svc = NULL;
}

int service_add(struct hv_domain *d, int fd, uint32_t events, service_fn fn, void *opaque)
{
    struct service *s = d->svc;
    if (!s)
        return -ENOTCONN;
    struct watch *w = malloc(sizeof(*w));
    if (!w)
        return hv_error(d->hv, -ENOMEM, "domain %u: out of memory", d->domid);
    *w = (struct watch){.fd = fd, .fn = fn, .opaque = opaque};
    pthread_mutex_lock(&s->lock);
    struct epoll_event ev = {.events = events, .data.fd = fd};
    int err = 0;
    if (find_watch(s, fd))
        err = -EEXIST;
    else if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        err = -errno;
    if (!err) {
        w->next = s->watches;
        s->watches = w;
    }
    pthread_mutex_unlock(&s->lock);
    if (err) {
        free(w);
        return hv_error(d->hv, err, "domain %u: service: watch fd %d: %s", d->domid, fd,
                        strerror(-err));
    }
    return 0;
}

int service_mod(struct hv_domain *d, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (!d->svc)
        return -ENOTCONN;
    return epoll_ctl(d->svc->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void service_del(struct hv_domain *d, int fd)
{
    struct service *s = d->svc;
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    for (struct watch **p = &s->watches; *p; p = &(*p)->next)
        if ((*p)->fd == fd) {
            struct watch *w = *p;
            *p = w->next;
            free(w);
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

int service_post(struct hv_domain *d, service_fn fn, void *opaque)
{
    struct service *s = d->svc;
    if (!s)
        return -ENOTCONN;
    struct post *p = malloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    *p = (struct post){.fn = fn, .opaque = opaque};
    pthread_mutex_lock(&s->lock);
    if (s->ended) {
        pthread_mutex_unlock(&s->lock);
        free(p);
        return -ESHUTDOWN;
    }
    *s->posts_tail = p;
    s->posts_tail = &p->next;
    pthread_mutex_unlock(&s->lock);
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof(one)) < 0)
        return -errno;
    return 0;
}
