/* SPDX-License-Identifier: MIT */
/*
 * The client end to end: the public API on "unix:" handles against a real
 * hvstored (a fresh one per test, in a temp dir). What only the wire path
 * has to get right: errors arrive with the daemon's message, oversized
 * writes are refused whole, a directory whose names exceed one payload
 * comes back complete (DIRECTORY_PART), watch events reach callbacks
 * through hvs_watch_fd/hvs_dispatch, one handle serves several threads,
 * and a dead daemon is -ENOTCONN.
 *
 * Waits block on the daemon's pipe or the watch fd, with a timeout that
 * only guards against hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/hvstore.h"

#define HANG_GUARD_MS 30000

struct env {
    char dir[64];
    char sock[128];
    char uri[160];
    pid_t pid;
    int out; /* the daemon's stdout, kept open so it never gets SIGPIPE */
    hvs_t *h; /* dom0 */
};

static const char *daemon_path(void)
{
    static char path[4096];
    const char *root = getenv("HV_BUILD_ROOT");

    snprintf(path, sizeof(path), "%s/libhvstore/hvstored/hvstored", root ? root : ".");
    return path;
}

/* Starts hvstored and returns once it says it is ready. */
static void daemon_start(struct env *e, const char *const *extra)
{
    char data[96];
    int out[2];
    const char *argv[16] = {daemon_path(), "--socket", e->sock, "--data-dir", data,
                            "--foreground"};
    int argc = 6;

    snprintf(data, sizeof(data), "%s/data", e->dir);
    for (; extra && *extra; extra++)
        argv[argc++] = *extra;
    argv[argc] = NULL;
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    e->pid = fork();
    assert_true(e->pid >= 0);
    if (e->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);

    char buf[1024];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, HANG_GUARD_MS) != 1)
            fail_msg("hvstored (%s) did not say 'ready'", argv[0]);
        ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            fail_msg("hvstored (%s) exited before it was ready", argv[0]);
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "ready"))
            break;
        if (len == sizeof(buf) - 1)
            len = 0;
    }
    e->out = out[0];
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    strcpy(e->dir, "/tmp/hvs-client-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->sock, sizeof(e->sock), "%s/sock", e->dir);
    snprintf(e->uri, sizeof(e->uri), "unix:%s", e->sock);
    static const char *const quota[] = {"--quota-value-size", "64", "--quota-nodes", "20",
                                        NULL};
    daemon_start(e, quota);
    if (hvs_open(&e->h, e->uri, NULL) < 0)
        fail_msg("hvs_open(%s): %s", e->uri, hvs_open_error());
    *state = e;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct env *e = *state;

    hvs_close(e->h);
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        waitpid(e->pid, NULL, 0);
    }
    close(e->out);
    nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(e);
    return 0;
}

static hvs_t *open_as(struct env *e, uint32_t domid)
{
    hvs_t *h;

    if (hvs_open(&h, e->uri, NULL) < 0)
        fail_msg("hvs_open(%s): %s", e->uri, hvs_open_error());
    if (domid != HVS_DOM0)
        assert_int_equal(hvs_act_as(h, domid), 0);
    return h;
}

/* ---- Errors ----------------------------------------------------------------- */

static void test_error_messages(void **state)
{
    struct env *e = *state;
    char *v = NULL;

    assert_int_equal(hvs_read(e->h, HVS_TX_NONE, "/no/such/node", &v, NULL), -ENOENT);
    assert_null(v);
    assert_non_null(strstr(hvs_last_error(e->h), "/no/such/node"));

    /* A guest's refusal and its quota: the daemon's words, not just a code. */
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, "/private", "x", 1), 0);
    const hvs_perm_t owner_only = {0, HVS_PERM_NONE};
    assert_int_equal(hvs_perms_set(e->h, HVS_TX_NONE, "/private", &owner_only, 1), 0);
    assert_int_equal(hvs_domain_introduce(e->h, 5), 0);
    hvs_t *g = open_as(e, 5);
    assert_int_equal(hvs_read(g, HVS_TX_NONE, "/private", &v, NULL), -EACCES);
    assert_true(strlen(hvs_last_error(g)) > 0);
    char big[65];
    memset(big, 'x', sizeof(big));
    assert_int_equal(hvs_write(g, HVS_TX_NONE, "mine", big, sizeof(big)), -EDQUOT);
    const char *msg = hvs_last_error(g);
    print_message("quota message: %s\n", msg);
    assert_non_null(strstr(msg, "64"));
    assert_int_equal(hvs_write(g, HVS_TX_NONE, "mine", big, 64), 0);
    hvs_close(g);
}

static void test_oversized_write(void **state)
{
    struct env *e = *state;
    static char value[HVS_PAYLOAD_MAX + 100];
    char *v;
    size_t len;
    const char *path = "/big";
    size_t fits = HVS_PAYLOAD_MAX - (strlen(path) + 1);

    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (char)('a' + i % 26);
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, path, value, fits + 1), -E2BIG);
    assert_non_null(strstr(hvs_last_error(e->h), path));
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, path, value, sizeof(value)), -E2BIG);
    /* Nothing of it was written, not even a truncated value. */
    assert_int_equal(hvs_read(e->h, HVS_TX_NONE, path, &v, NULL), -ENOENT);
    /* dom0 has no value quota: the largest value that fits goes through. */
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, path, value, fits), 0);
    assert_int_equal(hvs_read(e->h, HVS_TX_NONE, path, &v, &len), 0);
    assert_int_equal(len, fits);
    assert_memory_equal(v, value, fits);
    assert_int_equal(v[len], '\0');
    free(v);
    /* The connection is still in step after the refusals. */
    assert_int_equal(hvs_mkdir(e->h, HVS_TX_NONE, "/after"), 0);
}

/* ---- Directories ---------------------------------------------------------------- */

#define NCHILDREN 300

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_large_directory(void **state)
{
    struct env *e = *state;
    char path[128];
    size_t bytes = 0;
    char **names;
    hvs_tx_t tx;

    /* 300 names of 24 bytes: 7500 bytes of listing, almost two payloads. */
    assert_int_equal(hvs_tx_begin(e->h, &tx), 0);
    for (int i = 0; i < NCHILDREN; i++) {
        snprintf(path, sizeof(path), "/dir/child-%06d-abcdefghijk", i);
        assert_int_equal(hvs_mkdir(e->h, tx, path), 0);
        bytes += strlen(path) - strlen("/dir/") + 1;
    }
    assert_int_equal(hvs_tx_commit(e->h, tx), 0);
    assert_true(bytes > HVS_PAYLOAD_MAX);

    int n = hvs_directory(e->h, HVS_TX_NONE, "/dir", &names);
    assert_int_equal(n, NCHILDREN);
    qsort(names, (size_t)n, sizeof(*names), cmp_str);
    for (int i = 0; i < NCHILDREN; i++) {
        snprintf(path, sizeof(path), "child-%06d-abcdefghijk", i);
        assert_string_equal(names[i], path);
    }
    assert_null(names[n]);
    hvs_list_free(names);

    /* The pieces by hand: consecutive, one generation, the last one done. */
    uint32_t offset = 0;
    uint64_t gen0 = 0;
    int total = 0, pieces = 0, done = 0;
    while (!done) {
        uint64_t gen;
        n = hvs_directory_part(e->h, HVS_TX_NONE, "/dir", offset, &names, &gen, &done);
        assert_true(n >= 0);
        if (pieces++ == 0)
            gen0 = gen;
        assert_true(gen == gen0);
        assert_true(n > 0 || done);
        for (int i = 0; i < n; i++)
            offset += (uint32_t)strlen(names[i]) + 1;
        total += n;
        hvs_list_free(names);
        assert_true(pieces < 10);
    }
    assert_int_equal(total, NCHILDREN);
    assert_int_equal(offset, bytes);
    assert_true(pieces >= 2);

    /* Inside a transaction too. */
    assert_int_equal(hvs_tx_begin(e->h, &tx), 0);
    assert_int_equal(hvs_mkdir(e->h, tx, "/dir/zzz-in-tx"), 0);
    n = hvs_directory(e->h, tx, "/dir", &names);
    assert_int_equal(n, NCHILDREN + 1);
    hvs_list_free(names);
    assert_int_equal(hvs_tx_abort(e->h, tx), 0);
    n = hvs_directory(e->h, HVS_TX_NONE, "/dir", &names);
    assert_int_equal(n, NCHILDREN);
    hvs_list_free(names);
}

/* ---- Watches ------------------------------------------------------------------------- */

struct rec {
    int count;
    char path[32][128];
    char token[32][32];
};

static void record(void *opaque, const char *path, const char *token)
{
    struct rec *r = opaque;

    if (r->count < 32) {
        snprintf(r->path[r->count], sizeof(r->path[0]), "%s", path);
        snprintf(r->token[r->count], sizeof(r->token[0]), "%s", token);
    }
    r->count++;
}

/* Waits on the watch fd, as an event loop would, until `n` events ran. */
static void wait_events(hvs_t *h, struct rec *r, int n)
{
    while (r->count < n) {
        struct pollfd p = {.fd = hvs_watch_fd(h), .events = POLLIN};
        if (poll(&p, 1, HANG_GUARD_MS) != 1)
            fail_msg("%d of %d watch events after %d ms", r->count, n, HANG_GUARD_MS);
        assert_true(hvs_dispatch(h) >= 0);
    }
}

static int find(const struct rec *r, int from, const char *path)
{
    for (int i = from; i < r->count && i < 32; i++)
        if (strcmp(r->path[i], path) == 0)
            return i;
    return -1;
}

/* Waits until an event for `path` arrives at index `from` or later. The
 * store may fire spuriously (xenstore allows it), so tests look for the
 * events they expect rather than count them. */
static void wait_path(hvs_t *h, struct rec *r, int from, const char *path)
{
    while (find(r, from, path) < 0) {
        assert_true(r->count < 32);
        wait_events(h, r, r->count + 1);
    }
}

static void test_watch_events(void **state)
{
    struct env *e = *state;
    struct rec all = {0}, top = {0};

    assert_true(hvs_watch_fd(e->h) >= 0);
    assert_int_equal(hvs_mkdir(e->h, HVS_TX_NONE, "/w"), 0);
    assert_int_equal(hvs_watch(e->h, "/w", "all", HVS_DEPTH_ANY, record, &all), 0);
    assert_int_equal(hvs_watch(e->h, "/w", "top", 0, record, &top), 0);
    /* Each fires once when set. */
    wait_path(e->h, &all, 0, "/w");
    wait_path(e->h, &top, 0, "/w");
    assert_string_equal(all.token[0], "all");
    assert_string_equal(top.token[0], "top");

    /* Below the node: only the unlimited watch. Then the node itself:
     * both. A connection's events come in order, so once "top" has seen
     * the second change it has missed the first for good. */
    int a = all.count, t = top.count;
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, "/w/x", "1", 1), 0);
    wait_path(e->h, &all, a, "/w/x");
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, "/w", "2", 1), 0);
    wait_path(e->h, &top, t, "/w");
    wait_path(e->h, &all, a, "/w");
    assert_int_equal(find(&top, t, "/w/x"), -1);

    /* From a transaction: at commit, not before. */
    hvs_tx_t tx;
    a = all.count;
    assert_int_equal(hvs_tx_begin(e->h, &tx), 0);
    assert_int_equal(hvs_write(e->h, tx, "/w/t", "3", 1), 0);
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, "/w/marker", "4", 1), 0);
    wait_path(e->h, &all, a, "/w/marker");
    assert_int_equal(find(&all, a, "/w/t"), -1);
    assert_int_equal(hvs_tx_commit(e->h, tx), 0);
    wait_path(e->h, &all, a, "/w/t");

    /* Unwatched: no more callbacks for it. */
    assert_int_equal(hvs_unwatch(e->h, "/w", "all"), 0);
    a = all.count;
    t = top.count;
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, "/w", "5", 1), 0);
    wait_path(e->h, &top, t, "/w");
    assert_int_equal(all.count, a);
}

/* Events from another connection's changes, and the domain watches. */
static void test_watch_other_connection(void **state)
{
    struct env *e = *state;
    struct rec r = {0};
    hvs_t *other = open_as(e, HVS_DOM0);

    assert_int_equal(hvs_watch(e->h, "@introduceDomain", "intro", HVS_DEPTH_ANY, record, &r), 0);
    assert_int_equal(hvs_watch(e->h, "@releaseDomain", "rel", HVS_DEPTH_ANY, record, &r), 0);
    assert_int_equal(hvs_watch(e->h, "/local/domain", "dom", HVS_DEPTH_ANY, record, &r), 0);
    wait_events(e->h, &r, 3);
    assert_int_equal(hvs_domain_introduce(other, 9), 0);
    assert_int_equal(hvs_domain_introduced(other, 9), 1);
    assert_int_equal(hvs_domain_introduced(other, 10), 0);
    char *p;
    assert_int_equal(hvs_domain_path(other, 9, &p), 0);
    assert_string_equal(p, "/local/domain/9");
    free(p);
    assert_int_equal(hvs_domain_release(other, 9), 0);
    /* @introduceDomain, /local/domain/9 created and removed, @releaseDomain:
     * the domain watches among them, whatever the order. */
    bool intro = false, rel = false;
    int seen = 3;
    while (!(intro && rel)) {
        assert_true(seen < 32);
        wait_events(e->h, &r, seen + 1);
        for (; seen < r.count; seen++) {
            intro |= strcmp(r.token[seen], "intro") == 0;
            rel |= strcmp(r.token[seen], "rel") == 0;
        }
    }
    hvs_close(other);
}

/* ---- One handle, several threads -------------------------------------------------------- */

#define NTHREADS 4
#define NOPS 100

struct worker {
    hvs_t *h;
    int id;
    int failures;
    char msg[256];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char path[64], val[32], *v;
    size_t len;

    for (int i = 0; i < NOPS; i++) {
        snprintf(path, sizeof(path), "/mt/%d/%d", w->id, i % 10);
        int n = snprintf(val, sizeof(val), "%d-%d", w->id, i);
        if (hvs_write(w->h, HVS_TX_NONE, path, val, (size_t)n) < 0 ||
            hvs_read(w->h, HVS_TX_NONE, path, &v, &len) < 0) {
            w->failures++;
            continue;
        }
        if (len != (size_t)n || memcmp(v, val, len) != 0)
            w->failures++;
        free(v);
        /* A failure on this thread keeps this thread's message. */
        if (hvs_read(w->h, HVS_TX_NONE, "/mt/none", &v, NULL) != -ENOENT ||
            !strstr(hvs_last_error(w->h), "/mt/none"))
            w->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct env *e = *state;
    struct worker w[NTHREADS];
    pthread_t t[NTHREADS];

    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){.h = e->h, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
}

/* ---- The daemon goes away ---------------------------------------------------------------- */

static void test_daemon_gone(void **state)
{
    struct env *e = *state;
    char *v;

    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, "/x", "1", 1), 0);
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
    e->pid = 0;
    assert_int_equal(hvs_read(e->h, HVS_TX_NONE, "/x", &v, NULL), -ENOTCONN);
    assert_non_null(strstr(hvs_last_error(e->h), "hvstored"));
    assert_int_equal(hvs_write(e->h, HVS_TX_NONE, "/x", "2", 1), -ENOTCONN);
    assert_int_equal(hvs_dispatch(e->h), 0);
    /* A new handle cannot connect: hvs_open says so. */
    hvs_t *h2;
    assert_true(hvs_open(&h2, e->uri, NULL) < 0);
    assert_non_null(strstr(hvs_open_error(), e->sock));
}

int main(void)
{
    if (access(daemon_path(), X_OK) != 0) {
        fprintf(stderr, "no hvstored at %s\n", daemon_path());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_error_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_other_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemon_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
