/* SPDX-License-Identifier: MIT */
#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_stderr(void *opaque, hvs_log_level_t level, const char *msg)
{
    (void)opaque;
    static const char *const names[] = { "error", "warn", "info", "debug" };
    fprintf(stderr, "libhvstore %s: %s\n", (unsigned)level < 4 ? names[level] : "?", msg);
}

const hvs_options_t *bench_hvs_options(void)
{
    static const hvs_options_t opts = {
        .size = sizeof opts, .log = log_stderr, .log_level = HVS_LOG_WARN,
    };
    return &opts;
}

static int fail(struct conn *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof c->err)
        snprintf(c->err + n, sizeof c->err - (size_t)n, ": %s%s%s", strerror(-err),
                 c->h ? " - " : "", c->h ? hvs_last_error(c->h) : "");
    return err;
}

void conns_close(struct conn *c, unsigned n)
{
    if (!c)
        return;
    for (unsigned i = 0; i < n; i++) {
        if (!c[i].shared)
            hvs_close(c[i].h);
        resp_close(c[i].r);
        free(c[i].value);
        free(c[i].lat);
    }
    free(c);
}

int conns_open(struct conn **out, unsigned n, enum side side, const char *target, hvs_t *shared,
               unsigned value_size)
{
    struct conn *c = calloc(n, sizeof *c);
    if (!c)
        return -ENOMEM;
    int err = 0;
    for (unsigned i = 0; i < n && !err; i++) {
        c[i].side = side;
        c[i].id = i;
        c[i].value_size = value_size;
        c[i].value = malloc(value_size + 1);
        if (!c[i].value) {
            err = -ENOMEM;
            break;
        }
        memset(c[i].value, 'v', value_size);
        c[i].value[value_size] = '\0';
        for (unsigned k = 0; k < OPS_KEYS; k++)
            snprintf(c[i].key[k], OPS_KEY_MAX, "/bench/c%u/k%u", i, k);
        if (side == SIDE_REDIS) {
            err = resp_connect(&c[i].r, target);
            if (err)
                fprintf(stderr, "store_bench: connect to redis %s: %s\n", target,
                        strerror(-err));
        } else if (shared) {
            c[i].h = shared;
            c[i].shared = 1;
        } else {
            err = hvs_open(&c[i].h, target, bench_hvs_options());
            if (err)
                fprintf(stderr, "store_bench: hvs_open %s: %s (%s)\n", target, strerror(-err),
                        hvs_open_error());
        }
    }
    if (err) {
        conns_close(c, n);
        return err;
    }
    *out = c;
    return 0;
}

/* A new value for every write, the same length on both sides. */
static void next_value(struct conn *c)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, c->seq++);
    size_t len = (size_t)n < c->value_size ? (size_t)n : c->value_size;
    memcpy(c->value + c->value_size - len, digits + (size_t)n - len, len);
}

static int redis_expect(struct conn *c, int argc, const char *const *argv, char type,
                        const char *text)
{
    struct resp_reply rep;
    int err = resp_call(c->r, &rep, argc, argv);
    if (err)
        return fail(c, err, "redis %s: %s", argv[0], err == -EREMOTEIO ? rep.str : "");
    if (rep.type != type || (text && strcmp(rep.str, text) != 0))
        return fail(c, -EPROTO, "redis %s: unexpected reply '%c%s'", argv[0], rep.type, rep.str);
    return 0;
}

static int do_op(struct conn *c, enum op op, const char *key)
{
    int err;
    if (c->side == SIDE_REDIS) {
        switch (op) {
        case OP_READ: {
            struct resp_reply rep;
            const char *argv[] = { "GET", key };
            err = resp_call(c->r, &rep, 2, argv);
            if (err)
                return fail(c, err, "redis GET %s", key);
            if (rep.type != '$' || rep.num != (long long)c->value_size)
                return fail(c, -EPROTO, "redis GET %s: reply '%c' of %lld bytes", key,
                            rep.type, rep.num);
            return 0;
        }
        case OP_WRITE: {
            next_value(c);
            const char *argv[] = { "SET", key, c->value };
            return redis_expect(c, 3, argv, '+', "OK");
        }
        case OP_TX: {
            next_value(c);
            const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
            const char *set[] = { "SET", key, c->value };
            if ((err = redis_expect(c, 1, multi, '+', "OK")) ||
                (err = redis_expect(c, 3, set, '+', "QUEUED")) ||
                (err = redis_expect(c, 1, exec, '*', NULL)))
                return err;
            return 0;
        }
        }
        return -EINVAL;
    }
    switch (op) {
    case OP_READ: {
        char *v;
        size_t len;
        err = hvs_read(c->h, HVS_TX_NONE, key, &v, &len);
        if (err)
            return fail(c, err, "hvs_read %s", key);
        free(v);
        if (len != c->value_size)
            return fail(c, -EPROTO, "hvs_read %s: %zu bytes", key, len);
        return 0;
    }
    case OP_WRITE:
        next_value(c);
        err = hvs_write(c->h, HVS_TX_NONE, key, c->value, c->value_size);
        return err ? fail(c, err, "hvs_write %s", key) : 0;
    case OP_TX:
        next_value(c);
        for (;;) {
            hvs_tx_t tx;
            err = hvs_tx_begin(c->h, &tx);
            if (err)
                return fail(c, err, "hvs_tx_begin");
            err = hvs_write(c->h, tx, key, c->value, c->value_size);
            if (err) {
                fail(c, err, "hvs_write %s in a transaction", key);
                hvs_tx_abort(c->h, tx);
                return err;
            }
            err = hvs_tx_commit(c->h, tx);
            if (err != -EAGAIN)
                return err ? fail(c, err, "hvs_tx_commit") : 0;
            c->retries++;
        }
    }
    return -EINVAL;
}

int conns_prepare(struct conn *c, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = 0; k < OPS_KEYS; k++) {
            int err = do_op(&c[i], OP_WRITE, c[i].key[k]);
            if (err) {
                fprintf(stderr, "store_bench: %s\n", c[i].err);
                return err;
            }
        }
    return 0;
}

/* Releases the clients together once all exist, or tells them to quit if
 * one could not be created. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int state; /* 0 wait, 1 go, -1 quit */
};

static int gate_pass(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (g->state == 0)
        pthread_cond_wait(&g->cond, &g->lock);
    int state = g->state;
    pthread_mutex_unlock(&g->lock);
    return state;
}

static void gate_open(struct gate *g, int state)
{
    pthread_mutex_lock(&g->lock);
    g->state = state;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

struct run {
    struct conn *c;
    enum op op;
    unsigned ops;
    struct gate *gate;
    int err;
};

static void *run_thread(void *arg)
{
    struct run *r = arg;
    struct conn *c = r->c;
    c->t_start = c->t_end = 0;
    if (gate_pass(r->gate) < 0)
        return NULL;
    c->t_start = now_ns();
    for (unsigned i = 0; i < r->ops; i++) {
        uint64_t t0 = now_ns();
        r->err = do_op(c, r->op, c->key[i % OPS_KEYS]);
        uint64_t t1 = now_ns();
        if (r->err)
            break;
        c->lat[i] = (double)(t1 - t0) / 1e3;
    }
    c->t_end = now_ns();
    return NULL;
}

int conns_run(struct conn *c, unsigned n, enum op op, unsigned ops_per_client,
              struct samples *s)
{
    struct run *runs = calloc(n, sizeof *runs);
    pthread_t *threads = calloc(n, sizeof *threads);
    struct gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    int err = runs && threads ? 0 : -ENOMEM;
    for (unsigned i = 0; i < n && !err; i++) {
        free(c[i].lat);
        c[i].lat = calloc(ops_per_client ? ops_per_client : 1, sizeof *c[i].lat);
        if (!c[i].lat)
            err = -ENOMEM;
    }
    if (err) {
        free(runs);
        free(threads);
        return err;
    }
    unsigned started = 0;
    for (; started < n; started++) {
        runs[started] = (struct run){ .c = &c[started], .op = op, .ops = ops_per_client,
                                      .gate = &gate };
        int e = pthread_create(&threads[started], NULL, run_thread, &runs[started]);
        if (e) {
            fprintf(stderr, "store_bench: pthread_create: %s\n", strerror(e));
            err = -e;
            break;
        }
    }
    gate_open(&gate, err ? -1 : 1);
    uint64_t first = UINT64_MAX, last = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (runs[i].err && !err) {
            err = runs[i].err;
            fprintf(stderr, "store_bench: client %u: %s\n", i, c[i].err);
        }
        if (c[i].t_start < first)
            first = c[i].t_start;
        if (c[i].t_end > last)
            last = c[i].t_end;
    }
    for (unsigned i = 0; i < n && !err && s; i++)
        err = samples_add(s, c[i].lat, ops_per_client);
    if (!err && s)
        s->wall_s += (double)(last - first) / 1e9;
    free(runs);
    free(threads);
    return err;
}

int conns_compare(struct conn **sides, unsigned nsides, unsigned n, enum op op,
                  unsigned total_ops, unsigned rounds, struct summary *out)
{
    unsigned per = total_ops / rounds / n;
    if (per == 0)
        per = 1;
    unsigned warm = per / 4 ? per / 4 : 1;
    struct samples s[4] = { 0 };
    int err = 0;
    if (nsides > 4)
        return -EINVAL;
    for (unsigned k = 0; k < nsides && !err; k++)
        err = conns_run(sides[k], n, op, warm, NULL);
    for (unsigned r = 0; r < rounds && !err; r++)
        for (unsigned k = 0; k < nsides && !err; k++) {
            unsigned side = (r + k) % nsides;
            err = conns_run(sides[side], n, op, per, &s[side]);
        }
    for (unsigned k = 0; k < nsides; k++) {
        if (!err)
            samples_summary(&s[k], &out[k]);
        samples_free(&s[k]);
    }
    return err;
}
