/* SPDX-License-Identifier: MIT */
#include "watch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "hv/hvstore.h"
#include "ops.h"
#include "resp.h"

/* Longest wait for one event: far beyond any sane latency, so only a lost
 * event or a dead server ends a run this way. */
#define EVENT_TIMEOUT_S 10

struct pair {
    enum watch_side side;
    unsigned id;
    hvs_t *writer, *watcher;   /* WATCH_HVS */
    struct resp *wr, *sub;     /* redis */
    char key[64], token[32], channel[128];
    char *value;
    unsigned value_size;
    uint64_t seq;
    sem_t fired;
    bool sem_ok;
    _Atomic uint64_t t0;       /* when the write being waited for was sent */
    atomic_bool armed;         /* false while the initial firing is awaited */
    atomic_bool initial_seen;
    atomic_bool stop;
    double *lat;
    unsigned want, got;        /* got: written by the watcher thread only */
    uint64_t t_start, t_end;
    pthread_mutex_t lock;      /* err, msg: the writer and the watcher */
    int err;                   /* first failure, writer or watcher */
    char msg[256];
};

struct watch_pairs {
    unsigned n;
    struct pair *p;
};

/* h: the handle that failed (its message is added), or NULL. */
static int pfail(struct pair *p, hvs_t *h, int err, const char *fmt, ...)
{
    pthread_mutex_lock(&p->lock);
    if (!p->err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(p->msg, sizeof p->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof p->msg)
            snprintf(p->msg + n, sizeof p->msg - (size_t)n, ": %s%s%s", strerror(-err),
                     h ? " - " : "", h ? hvs_last_error(h) : "");
        p->err = err;
    }
    pthread_mutex_unlock(&p->lock);
    return err;
}

static int pair_err(struct pair *p)
{
    pthread_mutex_lock(&p->lock);
    int err = p->err;
    pthread_mutex_unlock(&p->lock);
    return err;
}

static void on_event(void *opaque, const char *path, const char *token)
{
    (void)path;
    struct pair *p = opaque;
    uint64_t t1 = now_ns();
    if (strcmp(token, p->token) != 0)
        return;
    if (!atomic_load(&p->armed)) {
        atomic_store(&p->initial_seen, true);
        return;
    }
    if (p->got >= p->want)
        return;
    p->lat[p->got++] = (double)(t1 - atomic_load(&p->t0)) / 1e3;
    sem_post(&p->fired);
}

static void next_value(struct pair *p)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, p->seq++);
    size_t len = (size_t)n < p->value_size ? (size_t)n : p->value_size;
    memcpy(p->value + p->value_size - len, digits + (size_t)n - len, len);
}

static int writer_op(struct pair *p)
{
    next_value(p);
    if (p->side == WATCH_HVS) {
        int err = hvs_write(p->writer, HVS_TX_NONE, p->key, p->value, p->value_size);
        return err ? pfail(p, p->writer, err, "hvs_write %s", p->key) : 0;
    }
    struct resp_reply rep;
    const char *set[] = { "SET", p->key, p->value };
    const char *pub[] = { "PUBLISH", p->channel, p->value };
    bool is_set = p->side == WATCH_REDIS_KEYSPACE;
    int err = resp_call(p->wr, &rep, 3, is_set ? set : pub);
    if (err)
        return pfail(p, NULL, err, "redis %s", is_set ? "SET" : "PUBLISH");
    if (is_set ? rep.type != '+' : rep.type != ':' || rep.num != 1)
        return pfail(p, NULL, -EPROTO, "redis %s: reply '%c%s' (%lld)", is_set ? "SET" : "PUBLISH",
                     rep.type, rep.str, rep.num);
    return 0;
}

static int subscribe(struct pair *p)
{
    struct resp_reply rep;
    const char *argv[] = { "SUBSCRIBE", p->channel };
    int err = resp_call(p->sub, &rep, 2, argv);
    if (err)
        return pfail(p, NULL, err, "redis SUBSCRIBE %s", p->channel);
    if (rep.type != '*' || rep.nelem < 1 || strcmp(rep.elem[0], "subscribe") != 0)
        return pfail(p, NULL, -EPROTO, "redis SUBSCRIBE %s: unexpected reply", p->channel);
    return 0;
}

static int pair_open(struct pair *p, const char *target)
{
    int err;
    pthread_mutex_init(&p->lock, NULL);
    if (sem_init(&p->fired, 0, 0) < 0)
        return -errno;
    p->sem_ok = true;
    p->value = malloc(p->value_size + 1);
    if (!p->value)
        return -ENOMEM;
    memset(p->value, 'v', p->value_size);
    p->value[p->value_size] = '\0';
    snprintf(p->key, sizeof p->key, "/bench/w%u", p->id);
    snprintf(p->token, sizeof p->token, "t%u", p->id);
    if (p->side != WATCH_HVS) {
        if (p->side == WATCH_REDIS_KEYSPACE)
            snprintf(p->channel, sizeof p->channel, "__keyspace@0__:%s", p->key);
        else
            snprintf(p->channel, sizeof p->channel, "bench:w%u", p->id);
        if ((err = resp_connect(&p->wr, target)) || (err = resp_connect(&p->sub, target)))
            return pfail(p, NULL, err, "connect to redis %s", target);
        if (p->side == WATCH_REDIS_KEYSPACE) {
            struct resp_reply rep;
            const char *set[] = { "SET", p->key, p->value };
            if ((err = resp_call(p->wr, &rep, 3, set)))
                return pfail(p, NULL, err, "redis SET %s", p->key);
        }
        return subscribe(p);
    }
    const hvs_options_t *o = bench_hvs_options();
    if ((err = hvs_open(&p->writer, target, o)) || (err = hvs_open(&p->watcher, target, o)))
        return pfail(p, NULL, err, "hvs_open %s (%s)", target, hvs_open_error());
    if ((err = hvs_write(p->writer, HVS_TX_NONE, p->key, p->value, p->value_size)))
        return pfail(p, p->writer, err, "hvs_write %s", p->key);
    if ((err = hvs_watch(p->watcher, p->key, p->token, 0, on_event, p)))
        return pfail(p, p->watcher, err, "hvs_watch %s", p->key);
    /* A watch fires once when set: take that event before measuring. */
    uint64_t deadline = now_ns() + EVENT_TIMEOUT_S * 1000000000ull;
    while (!atomic_load(&p->initial_seen)) {
        int n = hvs_wait(p->watcher, 100);
        if (n < 0)
            return pfail(p, p->watcher, n, "hvs_wait");
        if (now_ns() > deadline)
            return pfail(p, NULL, -ETIMEDOUT, "the watch on %s did not fire when set", p->key);
    }
    atomic_store(&p->armed, true);
    return 0;
}

void watch_pairs_close(struct watch_pairs *wp)
{
    if (!wp)
        return;
    for (unsigned i = 0; i < wp->n; i++) {
        struct pair *p = &wp->p[i];
        hvs_close(p->watcher);
        hvs_close(p->writer);
        resp_close(p->sub);
        resp_close(p->wr);
        if (p->sem_ok)
            sem_destroy(&p->fired);
        free(p->value);
        free(p->lat);
    }
    free(wp->p);
    free(wp);
}

int watch_pairs_open(struct watch_pairs **out, unsigned n, enum watch_side side,
                     const char *target, unsigned value_size)
{
    struct watch_pairs *wp = calloc(1, sizeof *wp);
    if (!wp || !(wp->p = calloc(n, sizeof *wp->p))) {
        free(wp);
        return -ENOMEM;
    }
    wp->n = n;
    for (unsigned i = 0; i < n; i++) {
        struct pair *p = &wp->p[i];
        p->side = side;
        p->id = i;
        p->value_size = value_size;
        int err = pair_open(p, target);
        if (err) {
            fprintf(stderr, "store_bench: watch pair %u: %s\n", i, p->msg[0] ? p->msg :
                    strerror(-err));
            watch_pairs_close(wp);
            return err;
        }
    }
    *out = wp;
    return 0;
}

static void *watcher_thread(void *arg)
{
    struct pair *p = arg;
    while (p->got < p->want && !atomic_load(&p->stop)) {
        if (p->side == WATCH_HVS) {
            /* Short waits so that a stop request is seen; the writer's
             * timeout decides when an event is lost. */
            int n = hvs_wait(p->watcher, 100);
            if (n < 0) {
                pfail(p, p->watcher, n, "hvs_wait");
                break;
            }
            continue;
        }
        struct resp_reply rep;
        int err = resp_recv(p->sub, &rep);
        if (err) {
            if (!atomic_load(&p->stop))
                pfail(p, NULL, err, "redis subscriber");
            break;
        }
        uint64_t t1 = now_ns();
        if (rep.type != '*' || rep.nelem < 3 || strcmp(rep.elem[0], "message") != 0)
            continue;
        p->lat[p->got++] = (double)(t1 - atomic_load(&p->t0)) / 1e3;
        sem_post(&p->fired);
    }
    return NULL;
}

static void *writer_thread(void *arg)
{
    struct pair *p = arg;
    p->t_start = now_ns();
    unsigned i = 0;
    for (; i < p->want && !pair_err(p); i++) {
        atomic_store(&p->t0, now_ns());
        if (writer_op(p))
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += EVENT_TIMEOUT_S;
        int r;
        while ((r = sem_timedwait(&p->fired, &ts)) < 0 && errno == EINTR)
            ;
        if (r < 0) {
            pfail(p, NULL, -errno, "no event for the write to %s", p->key);
            break;
        }
    }
    p->t_end = now_ns();
    if (i < p->want) {
        /* Gave up: unblock the watcher (the pair is not used again). */
        atomic_store(&p->stop, true);
        if (p->sub)
            shutdown(resp_fd(p->sub), SHUT_RD);
    }
    return NULL;
}

/* Ends with each pair's connections still usable only if it succeeded. */
static int watch_run(struct watch_pairs *wp, unsigned events, struct samples *s)
{
    unsigned n = wp->n;
    pthread_t *wt = calloc(2 * (size_t)n, sizeof *wt);
    if (!wt)
        return -ENOMEM;
    int err = 0;
    for (unsigned i = 0; i < n; i++) {
        struct pair *p = &wp->p[i];
        free(p->lat);
        p->lat = calloc(events ? events : 1, sizeof *p->lat);
        if (!p->lat) {
            free(wt);
            return -ENOMEM;
        }
        p->want = events;
        p->got = 0;
        atomic_store(&p->stop, false);
    }
    unsigned started = 0;
    for (; started < n; started++) {
        struct pair *p = &wp->p[started];
        int e = pthread_create(&wt[2 * started], NULL, watcher_thread, p);
        if (!e) {
            e = pthread_create(&wt[2 * started + 1], NULL, writer_thread, p);
            if (e) {
                atomic_store(&p->stop, true);
                if (p->sub)
                    shutdown(resp_fd(p->sub), SHUT_RD);
                pthread_join(wt[2 * started], NULL);
            }
        }
        if (e) {
            fprintf(stderr, "store_bench: pthread_create: %s\n", strerror(e));
            err = -e;
            break;
        }
    }
    uint64_t first = UINT64_MAX, last = 0;
    for (unsigned i = 0; i < started; i++) {
        struct pair *p = &wp->p[i];
        pthread_join(wt[2 * i + 1], NULL);
        pthread_join(wt[2 * i], NULL);
        if (pair_err(p) && !err) {
            err = pair_err(p);
            fprintf(stderr, "store_bench: watch pair %u: %s\n", i, p->msg);
        }
        if (p->t_start < first)
            first = p->t_start;
        if (p->t_end > last)
            last = p->t_end;
    }
    free(wt);
    for (unsigned i = 0; i < n && !err && s; i++)
        err = samples_add(s, wp->p[i].lat, events);
    if (!err && s)
        s->wall_s += (double)(last - first) / 1e9;
    return err;
}

int watch_compare(struct watch_pairs **sides, unsigned nsides, unsigned total_events,
                  unsigned rounds, struct summary *out)
{
    if (nsides > 4)
        return -EINVAL;
    unsigned n = sides[0]->n;
    unsigned per = total_events / rounds / n;
    if (per == 0)
        per = 1;
    unsigned warm = per / 4 ? per / 4 : 1;
    struct samples s[4] = { 0 };
    int err = 0;
    for (unsigned k = 0; k < nsides && !err; k++)
        err = watch_run(sides[k], warm, NULL);
    for (unsigned r = 0; r < rounds && !err; r++)
        for (unsigned k = 0; k < nsides && !err; k++) {
            unsigned side = (r + k) % nsides;
            err = watch_run(sides[side], per, &s[side]);
        }
    for (unsigned k = 0; k < nsides; k++) {
        if (!err)
            samples_summary(&s[k], &out[k]);
        samples_free(&s[k]);
    }
    return err;
}
