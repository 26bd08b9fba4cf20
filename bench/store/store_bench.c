/* SPDX-License-Identifier: MIT */
/*
 * bench/store: libhvstore beside redis-server, both started by the bench in
 * one temp dir (same filesystem), measured in the same run.
 *
 *   read, write, tx, watch  through hvstored (unix socket) and redis (unix
 *                           socket, AOF with appendfsync always), with 1 and
 *                           N clients (threads, a connection each)
 *   read, write, tx         in-process engines mem: and file:, for context
 *   read_scale, write_scale one client's latency with 10000 domains'
 *                           subtrees in the store against 10
 *
 * stdout carries only JSON lines; diagnostics go to stderr. Never passes or
 * fails on time: the exit status says whether everything ran (77: hvstored
 * or redis-server missing). See README.md for what each field means.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/hvstore.h"
#include "jsonl.h"
#include "ops.h"
#include "procs.h"
#include "resp.h"
#include "scale.h"
#include "stats.h"
#include "watch.h"

#ifndef HVS_BENCH_HVSTORED
#define HVS_BENCH_HVSTORED "hvstored"
#endif

#define START_TIMEOUT_MS 10000

struct cfg {
    unsigned reads, writes, txs, events;
    unsigned clients, rounds, value_size;
    unsigned domains, base_domains, batch, scale_reads, scale_writes;
    bool inproc, scale;
    const char *base_dir, *hvstored, *redis, *pin;
};

/* Where the servers and the clients run, for every line (see pin_cpus). */
static char pin_desc[96] = "none";

static const char *op_name(enum op op)
{
    return op == OP_READ ? "read" : op == OP_WRITE ? "write" : "tx";
}

static unsigned op_total(const struct cfg *c, enum op op)
{
    return op == OP_READ ? c->reads : op == OP_WRITE ? c->writes : c->txs;
}

/* The goals of issue 3; NAN: none for this line. */
static double goal_for(enum op op, unsigned clients)
{
    if (op == OP_READ && clients == 1)
        return 1.0;
    if (op == OP_WRITE && clients > 1)
        return 1.0;
    return NAN;
}

static void put_goal(struct jsonl *j, double goal)
{
    if (isnan(goal))
        jl_null(j, "goal");
    else
        jl_num(j, "goal", goal, 1);
}

static void put_summary(struct jsonl *j, const char *prefix, const struct summary *s)
{
    char k[64];
    snprintf(k, sizeof k, "%smedian", prefix);
    jl_num(j, k, s->median, 2);
    snprintf(k, sizeof k, "%sp90", prefix);
    jl_num(j, k, s->p90, 2);
    snprintf(k, sizeof k, "%sops_per_s", prefix);
    jl_num(j, k, s->ops_per_s, 0);
}

static void line_head(struct jsonl *j, const char *op, const char *engine, unsigned clients,
                      size_t ops)
{
    jl_begin(j);
    jl_str(j, "bench", "store");
    jl_str(j, "op", op);
    jl_str(j, "engine", engine);
    jl_int(j, "clients", clients);
    jl_str(j, "unit", "us");
    jl_int(j, "ops", (int64_t)ops);
    jl_str(j, "cpus", pin_desc);
}

/*
 * With one client, the mean (hence ops/s) follows the few operations that
 * other load on the machine preempted: the median compares the stores. With
 * many, the question is how much work gets through.
 */
static void put_ratios(struct jsonl *j, unsigned clients, const struct summary *ours,
                       const struct summary *base, const char *suffix)
{
    double tr = ours->ops_per_s / base->ops_per_s, mr = base->median / ours->median;
    char k[64];
    snprintf(k, sizeof k, "ratio%s", suffix);
    jl_num(j, k, clients == 1 ? mr : tr, 3);
    snprintf(k, sizeof k, "median_ratio%s", suffix);
    jl_num(j, k, mr, 3);
    snprintf(k, sizeof k, "throughput_ratio%s", suffix);
    jl_num(j, k, tr, 3);
}

static const char *const ratio_note =
    "ratio > 1: we are faster. ratio = median_ratio (redis median / our median) with 1 "
    "client, throughput_ratio (our ops/s / redis ops/s, all clients together) with more. ";

static void print_vs_redis(enum op op, unsigned clients, const struct cfg *c,
                           const struct summary *ours, const struct summary *redis,
                           uint64_t retries)
{
    static const char *const baseline[] = { "redis GET", "redis SET (appendfsync always)",
                                            "redis MULTI + SET + EXEC (appendfsync always)" };
    static const char *const what[] = {
        "hvs_read vs GET of a value_size-byte value. ",
        "hvs_write, acknowledged once on disk (the daemon's group commit), vs SET with "
        "appendonly yes, appendfsync always (fsync before the reply); same filesystem. ",
        "hvs_tx_begin + hvs_write + hvs_tx_commit, 3 round trips, vs MULTI, SET, EXEC sent "
        "one at a time, 3 round trips; keys disjoint per client, so no conflicts. ",
    };
    char note[1024];
    snprintf(note, sizeof note,
             "%s%sEach client: its own thread and connection, its own %d keys in turn.",
             what[op], ratio_note, OPS_KEYS);
    struct jsonl j;
    line_head(&j, op_name(op), "unix", clients, ours->ops);
    put_summary(&j, "", ours);
    jl_int(&j, "value_size", c->value_size);
    jl_str(&j, "baseline", baseline[op]);
    put_summary(&j, "redis_", redis);
    jl_int(&j, "redis_ops", (int64_t)redis->ops);
    put_ratios(&j, clients, ours, redis, "");
    put_goal(&j, goal_for(op, clients));
    if (op == OP_TX)
        jl_int(&j, "retries", (int64_t)retries);
    jl_str(&j, "note", note);
    jl_end(&j);
}

static int bench_op_vs_redis(const struct cfg *c, const char *uri, const char *redis_sock,
                             enum op op, unsigned clients)
{
    struct conn *ours = NULL, *theirs = NULL;
    int err = conns_open(&ours, clients, SIDE_HVS, uri, NULL, c->value_size);
    if (!err)
        err = conns_open(&theirs, clients, SIDE_REDIS, redis_sock, NULL, c->value_size);
    if (!err)
        err = conns_prepare(ours, clients);
    if (!err)
        err = conns_prepare(theirs, clients);
    struct summary s[2];
    struct conn *sides[2] = { ours, theirs };
    if (!err)
        err = conns_compare(sides, 2, clients, op, op_total(c, op), c->rounds, s);
    if (!err) {
        uint64_t retries = 0;
        for (unsigned i = 0; i < clients; i++)
            retries += ours[i].retries;
        print_vs_redis(op, clients, c, &s[0], &s[1], retries);
    }
    conns_close(ours, clients);
    conns_close(theirs, clients);
    return err;
}

static int bench_watch(const struct cfg *c, const char *uri, const char *redis_sock,
                       unsigned clients)
{
    struct watch_pairs *p[3] = { NULL };
    int err = watch_pairs_open(&p[0], clients, WATCH_HVS, uri, c->value_size);
    if (!err)
        err = watch_pairs_open(&p[1], clients, WATCH_REDIS_KEYSPACE, redis_sock, c->value_size);
    if (!err)
        err = watch_pairs_open(&p[2], clients, WATCH_REDIS_PUBLISH, redis_sock, c->value_size);
    struct summary s[3];
    if (!err)
        err = watch_compare(p, 3, c->events, c->rounds, s);
    if (!err) {
        struct jsonl j;
        line_head(&j, "watch", "unix", clients, s[0].ops);
        put_summary(&j, "", &s[0]);
        jl_str(&j, "baseline", "redis SET (appendfsync always) -> keyspace notification");
        put_summary(&j, "redis_", &s[1]);
        jl_int(&j, "redis_ops", (int64_t)s[1].ops);
        put_ratios(&j, clients, &s[0], &s[1], "");
        put_summary(&j, "publish_", &s[2]);
        put_ratios(&j, clients, &s[0], &s[2], "_publish");
        jl_null(&j, "goal");
        jl_str(&j, "note",
               "Latency from just before the write is sent to the watcher thread having the "
               "event; clients = writer/watcher pairs, each with two connections, two threads "
               "and its own key, one event in flight per pair. Ours: hvs_write, the watch "
               "callback run by hvs_wait. Baseline: SET with appendfsync always, delivered as "
               "a keyspace notification (notify-keyspace-events K$), which redis sends only "
               "after the AOF fsync, so both sides include a durable write. publish_*: PUBLISH "
               "to a subscriber, no write at all: redis's cheapest notification, a lower bound. "
               "ratio > 1: we are faster; with 1 pair the median ratio, with more events/s "
               "ours / redis.");
        jl_end(&j);
    }
    for (int i = 0; i < 3; i++)
        watch_pairs_close(p[i]);
    return err;
}

static int bench_inproc(const struct cfg *c, const char *engine, const char *uri)
{
    hvs_t *h;
    int err = hvs_open(&h, uri, bench_hvs_options());
    if (err) {
        fprintf(stderr, "store_bench: hvs_open %s: %s (%s)\n", uri, strerror(-err),
                hvs_open_error());
        return err;
    }
    unsigned counts[2] = { 1, c->clients };
    for (int k = 0; k < 2 && !err; k++) {
        unsigned clients = counts[k];
        for (enum op op = OP_READ; op <= OP_TX && !err; op++) {
            struct conn *cs;
            err = conns_open(&cs, clients, SIDE_HVS, uri, h, c->value_size);
            if (err)
                break;
            struct summary s;
            err = conns_prepare(cs, clients);
            if (!err)
                err = conns_compare(&cs, 1, clients, op, op_total(c, op), c->rounds, &s);
            if (!err) {
                struct jsonl j;
                line_head(&j, op_name(op), engine, clients, s.ops);
                put_summary(&j, "", &s);
                jl_int(&j, "value_size", c->value_size);
                jl_null(&j, "ratio");
                jl_null(&j, "goal");
                jl_str(&j, "note",
                       strcmp(engine, "mem") == 0
                           ? "Context: the engine in this process, volatile (mem:), no "
                             "baseline. Clients are threads sharing one handle."
                           : "Context: the engine in this process, durable (file:, every "
                             "change fsync'd before the call returns), no baseline. Clients "
                             "are threads sharing one handle.");
                jl_end(&j);
            }
            conns_close(cs, clients);
        }
    }
    hvs_close(h);
    return err;
}

static int bench_scale(const struct cfg *c, const char *engine, hvs_t *small, hvs_t *large)
{
    uint64_t t0 = now_ns();
    int err = scale_populate(small, c->base_domains, c->batch);
    uint64_t t1 = now_ns();
    if (!err)
        err = scale_populate(large, c->domains, c->batch);
    uint64_t t2 = now_ns();
    for (enum op op = OP_READ; op <= OP_WRITE && !err; op++) {
        struct summary s[2];
        err = scale_compare(small, c->base_domains, large, c->domains, op,
                            op == OP_READ ? c->scale_reads : c->scale_writes, c->rounds, s);
        if (err)
            break;
        struct jsonl j;
        line_head(&j, op == OP_READ ? "read_scale" : "write_scale", engine, 1, s[1].ops);
        put_summary(&j, "", &s[1]);
        jl_int(&j, "domains", c->domains);
        put_summary(&j, "base_", &s[0]);
        jl_int(&j, "base_domains", c->base_domains);
        jl_int(&j, "leaves_per_domain", SCALE_LEAVES);
        jl_num(&j, "populate_s", (double)(t2 - t1) / 1e9, 2);
        jl_num(&j, "base_populate_s", (double)(t1 - t0) / 1e9, 2);
        jl_num(&j, "ratio", s[1].median / s[0].median, 3);
        jl_num(&j, "p90_ratio", s[1].p90 / s[0].p90, 3);
        jl_num(&j, "goal", 1.2, 1);
        jl_str(&j, "note",
               op == OP_READ
                   ? "hvs_read of /local/domain/<id>/memory/target, id drawn at random among "
                     "the domains present, one client. ratio = median latency with `domains` "
                     "domains / with `base_domains` (<= goal: no slowdown with many domains; "
                     "lower is better). Each domain: introduced, then its leaves written in "
                     "transactions of `batch` domains. Rounds alternate between the stores."
                   : "hvs_write (durable) of /local/domain/<id>/memory/target, id drawn at "
                     "random among the domains present, one client. ratio = median latency "
                     "with `domains` domains / with `base_domains` (<= goal; lower is "
                     "better). Rounds alternate between the stores.");
        jl_end(&j);
    }
    return err;
}

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
    if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len) {
        fprintf(stderr, "store_bench: %s/%s: path too long\n", dir, name);
        return -ENAMETOOLONG;
    }
    return 0;
}

/* Two fresh daemons (unix), files (file) or volatile stores (mem). */
static int bench_scale_engine(const struct cfg *c, const char *dir, const char *engine)
{
    hvs_t *h[2] = { NULL, NULL };
    pid_t pid[2] = { 0, 0 };
    int err = 0;
    for (int k = 0; k < 2 && !err; k++) {
        char uri[PATH_MAX + 8], a[PATH_MAX], b[PATH_MAX];
        const char *tag = k ? "large" : "small";
        char name[64];
        if (strcmp(engine, "unix") == 0) {
            snprintf(name, sizeof name, "scale-%s.sock", tag);
            if ((err = path_in(a, sizeof a, dir, name)))
                break;
            snprintf(name, sizeof name, "scale-%s-data", tag);
            if ((err = path_in(b, sizeof b, dir, name)))
                break;
            err = procs_start_hvstored(c->hvstored, a, b, START_TIMEOUT_MS, &pid[k]);
            if (err) {
                fprintf(stderr, "store_bench: starting hvstored: %s\n", strerror(-err));
                break;
            }
            snprintf(uri, sizeof uri, "unix:%s", a);
        } else if (strcmp(engine, "file") == 0) {
            snprintf(name, sizeof name, "scale-%s.db", tag);
            if ((err = path_in(a, sizeof a, dir, name)))
                break;
            snprintf(uri, sizeof uri, "file:%s", a);
        } else {
            snprintf(uri, sizeof uri, "mem:");
        }
        err = hvs_open(&h[k], uri, bench_hvs_options());
        if (err)
            fprintf(stderr, "store_bench: hvs_open %s: %s (%s)\n", uri, strerror(-err),
                    hvs_open_error());
    }
    if (!err)
        err = bench_scale(c, engine, h[0], h[1]);
    for (int k = 0; k < 2; k++) {
        hvs_close(h[k]);
        if (pid[k])
            procs_stop(pid[k]);
    }
    return err;
}

/*
 * Where a single-threaded server runs relative to its client decides much
 * of a round trip's cost (same CPU: a context switch; another CPU: a
 * cross-CPU wake-up, tens of us in a VM). Left to the scheduler, that
 * differs from one server process to the next and one run to the next, so
 * one side of a comparison could get the other's luck. Pinning gives both
 * sides the same placement. Call before any thread exists: threads inherit
 * the mask.
 */
static int pin_cpus(const char *mode)
{
    if (strcmp(mode, "none") == 0)
        return 0;
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) < 0) {
        perror("store_bench: sched_getaffinity");
        return -1;
    }
    int first = -1, last = -1;
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &all)) {
            if (first < 0)
                first = i;
            last = i;
        }
    }
    if (first < 0)
        return 0;
    cpu_set_t clients = all;
    if (strcmp(mode, "same") == 0 || first == last) {
        CPU_ZERO(&clients);
        CPU_SET(last, &clients);
        snprintf(pin_desc, sizeof pin_desc, "servers and clients on CPU %d", last);
    } else {
        CPU_CLR(last, &clients);
        snprintf(pin_desc, sizeof pin_desc, "servers on CPU %d, clients on the %d others", last,
                 CPU_COUNT(&clients));
    }
    if (sched_setaffinity(0, sizeof clients, &clients) < 0) {
        perror("store_bench: sched_setaffinity");
        return -1;
    }
    procs_pin_servers(last);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: store_bench [options]\n"
            "  --reads N         reads per side per measurement (default 8000)\n"
            "  --writes N        durable writes per side (2000)\n"
            "  --txs N           transactions per side (1000)\n"
            "  --events N        watch events per side (1000)\n"
            "  --clients N       the many-clients count (16); 1 is always measured\n"
            "  --rounds N        alternating rounds per measurement (4)\n"
            "  --value-size N    bytes per value (32)\n"
            "  --domains N       domains in the large store (10000)\n"
            "  --base-domains N  domains in the small store (10)\n"
            "  --batch N         domains per transaction when populating (50)\n"
            "  --scale-reads N   reads per store in the scale test (4000)\n"
            "  --scale-writes N  writes per store in the scale test (1000)\n"
            "  --no-inproc       skip the in-process (mem:, file:) lines\n"
            "  --no-scale        skip the domains scale lines\n"
            "  --dir DIR         where the temp dir goes ($TMPDIR, else /tmp)\n"
            "  --hvstored PATH   the daemon (%s)\n"
            "  --redis-server PATH  (redis-server from $PATH)\n"
            "  --pin MODE        split: the servers on the last CPU, the clients on the\n"
            "                    others (default, with 2 CPUs or more); same: all on one\n"
            "                    CPU; none: the scheduler decides\n",
            HVS_BENCH_HVSTORED);
}

static int parse_args(int argc, char **argv, struct cfg *c)
{
    enum { O_NO_INPROC = 256, O_NO_SCALE, O_DIR, O_HVSTORED, O_REDIS, O_PIN };
    static const struct option longopts[] = {
        { "reads", required_argument, NULL, 'r' },
        { "writes", required_argument, NULL, 'w' },
        { "txs", required_argument, NULL, 't' },
        { "events", required_argument, NULL, 'e' },
        { "clients", required_argument, NULL, 'c' },
        { "rounds", required_argument, NULL, 'R' },
        { "value-size", required_argument, NULL, 'v' },
        { "domains", required_argument, NULL, 'd' },
        { "base-domains", required_argument, NULL, 'b' },
        { "batch", required_argument, NULL, 'B' },
        { "scale-reads", required_argument, NULL, 'S' },
        { "scale-writes", required_argument, NULL, 'W' },
        { "no-inproc", no_argument, NULL, O_NO_INPROC },
        { "no-scale", no_argument, NULL, O_NO_SCALE },
        { "dir", required_argument, NULL, O_DIR },
        { "hvstored", required_argument, NULL, O_HVSTORED },
        { "redis-server", required_argument, NULL, O_REDIS },
        { "pin", required_argument, NULL, O_PIN },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt, idx;
    while ((opt = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        unsigned *num = NULL;
        switch (opt) {
        case 'r': num = &c->reads; break;
        case 'w': num = &c->writes; break;
        case 't': num = &c->txs; break;
        case 'e': num = &c->events; break;
        case 'c': num = &c->clients; break;
        case 'R': num = &c->rounds; break;
        case 'v': num = &c->value_size; break;
        case 'd': num = &c->domains; break;
        case 'b': num = &c->base_domains; break;
        case 'B': num = &c->batch; break;
        case 'S': num = &c->scale_reads; break;
        case 'W': num = &c->scale_writes; break;
        case O_NO_INPROC: c->inproc = false; break;
        case O_NO_SCALE: c->scale = false; break;
        case O_DIR: c->base_dir = optarg; break;
        case O_HVSTORED: c->hvstored = optarg; break;
        case O_REDIS: c->redis = optarg; break;
        case O_PIN: c->pin = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -EINVAL;
        }
        if (num) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v == 0 || v > 10000000) {
                fprintf(stderr, "store_bench: --%s %s: want a number from 1 to 10000000\n",
                        longopts[idx].name, optarg);
                return -EINVAL;
            }
            *num = (unsigned)v;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -EINVAL;
    }
    if (strcmp(c->pin, "split") && strcmp(c->pin, "same") && strcmp(c->pin, "none")) {
        fprintf(stderr, "store_bench: --pin %s: want split, same or none\n", c->pin);
        return -EINVAL;
    }
    /* A value must fit one wire payload with its path; domids stop below
     * Xen's first reserved one (0x7FF0). */
    if (c->value_size > 2048 || c->domains >= 0x7FF0 || c->base_domains >= 0x7FF0) {
        fprintf(stderr, "store_bench: --value-size is at most 2048, --domains and "
                "--base-domains below 32752\n");
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cfg c = {
        .reads = 8000, .writes = 2000, .txs = 1000, .events = 1000,
        .clients = 16, .rounds = 4, .value_size = 32,
        .domains = 10000, .base_domains = 10, .batch = 50,
        .scale_reads = 4000, .scale_writes = 1000,
        .inproc = true, .scale = true,
        .base_dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
        .hvstored = HVS_BENCH_HVSTORED, .redis = "redis-server", .pin = "split",
    };
    if (parse_args(argc, argv, &c))
        return 2;
    if (strchr(c.hvstored, '/') && access(c.hvstored, X_OK) != 0) {
        fprintf(stderr, "store_bench: %s: %s: skipped (build hvstored first)\n", c.hvstored,
                strerror(errno));
        return 77;
    }

    if (pin_cpus(c.pin))
        return 1;
    const char *dir = procs_init(c.base_dir);
    if (!dir)
        return 1;
    char hsock[PATH_MAX], hdata[PATH_MAX], rsock[PATH_MAX], rdir[PATH_MAX], file[PATH_MAX];
    if (path_in(hsock, sizeof hsock, dir, "hvstored.sock") ||
        path_in(hdata, sizeof hdata, dir, "hvstored-data") ||
        path_in(rsock, sizeof rsock, dir, "redis.sock") ||
        path_in(rdir, sizeof rdir, dir, "redis") ||
        path_in(file, sizeof file, dir, "inproc.db"))
        return 1;
    if (mkdir(rdir, 0700) < 0) {
        fprintf(stderr, "store_bench: mkdir %s: %s\n", rdir, strerror(errno));
        return 1;
    }

    pid_t hpid, rpid;
    int err = procs_start_hvstored(c.hvstored, hsock, hdata, START_TIMEOUT_MS, &hpid);
    if (err) {
        fprintf(stderr, "store_bench: starting %s: %s%s\n", c.hvstored, strerror(-err),
                err == -ENOENT ? ": skipped" : "");
        return err == -ENOENT ? 77 : 1;
    }
    err = procs_start_redis(c.redis, rsock, rdir, START_TIMEOUT_MS, &rpid);
    if (err) {
        fprintf(stderr, "store_bench: starting %s: %s%s\n", c.redis, strerror(-err),
                err == -ENOENT ? ": skipped" : "");
        return err == -ENOENT ? 77 : 1;
    }
    /* Keyspace notifications for string commands: the watch baseline. */
    struct resp *r;
    struct resp_reply rep;
    const char *cfgset[] = { "CONFIG", "SET", "notify-keyspace-events", "K$" };
    err = resp_connect(&r, rsock);
    if (!err) {
        err = resp_call(r, &rep, 4, cfgset);
        resp_close(r);
    }
    if (err) {
        fprintf(stderr, "store_bench: redis CONFIG SET notify-keyspace-events: %s\n",
                strerror(-err));
        return 1;
    }

    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "unix:%s", hsock);
    unsigned counts[2] = { 1, c.clients };
    for (int k = 0; k < 2 && !err; k++) {
        for (enum op op = OP_READ; op <= OP_TX && !err; op++)
            err = bench_op_vs_redis(&c, uri, rsock, op, counts[k]);
        if (!err)
            err = bench_watch(&c, uri, rsock, counts[k]);
    }
    if (!err)
        procs_stop(rpid);
    if (!err && c.inproc) {
        err = bench_inproc(&c, "mem", "mem:");
        if (!err) {
            snprintf(uri, sizeof uri, "file:%s", file);
            err = bench_inproc(&c, "file", uri);
        }
    }
    if (!err)
        procs_stop(hpid);
    if (!err && c.scale) {
        static const char *const engines[] = { "unix", "file", "mem" };
        for (int k = 0; k < 3 && !err && (k == 0 || c.inproc); k++)
            err = bench_scale_engine(&c, dir, engines[k]);
    }
    procs_cleanup();
    return err ? 1 : 0;
}
