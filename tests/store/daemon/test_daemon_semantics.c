/* SPDX-License-Identifier: MIT */
/*
 * The daemon through the public API ("unix:" handles): domains acting
 * through a relay are confined to what they may read, quota errors carry a
 * message naming the quota, watches and large directories work over the
 * wire, and concurrent writers (group commit) are all acknowledged and all
 * on disk: present after a SIGKILL and a restart.
 */
#include "daemon_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hvstore.h"

#define QUOTA_NODES 8

static int setup(void **state)
{
    return du_fixture_setup(state, "--quota-nodes", "8"); /* QUOTA_NODES */
}

/* A clean stop: under the sanitizers, also the daemon's leak check. */
static int teardown(void **state)
{
    return du_fixture_teardown(state);
}

static void check_value(hvs_t *h, const char *path, const char *want)
{
    char *got = NULL;
    size_t len = 0;
    int rc = hvs_read(h, HVS_TX_NONE, path, &got, &len);

    if (rc != 0)
        fail_msg("read %s: %d (%s)", path, rc, hvs_last_error(h));
    if (len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("read %s: '%s', expected '%s'", path, got, want);
    free(got);
}

/* A domU (a relay acting for it) cannot read another domain's node; the
 * refusal is -EACCES with a message; its own nodes it can. */
static void test_domu_confined(void **state)
{
    struct du_daemon *d = *state;
    hvs_t *dom0 = du_open(d, 0);
    char *v = NULL;

    assert_int_equal(hvs_domain_introduce(dom0, 5), 0);
    assert_int_equal(hvs_domain_introduce(dom0, 6), 0);
    assert_int_equal(hvs_write(dom0, HVS_TX_NONE, "/local/domain/6/secret", "s6", 2), 0);

    hvs_t *d5 = du_open(d, 5);
    assert_int_equal(hvs_domid(d5), 5);
    int rc = hvs_read(d5, HVS_TX_NONE, "/local/domain/6/secret", &v, NULL);
    if (rc != -EACCES)
        fail_msg("domain 5 reading domain 6's node: %d (%s), expected -EACCES", rc,
                 hvs_last_error(d5));
    assert_null(v);
    assert_true(strlen(hvs_last_error(d5)) > 0);
    print_message("refusal: %s\n", hvs_last_error(d5));
    assert_int_equal(hvs_write(d5, HVS_TX_NONE, "/local/domain/6/evil", "x", 1), -EACCES);
    char **names = NULL;
    assert_int_equal(hvs_directory(d5, HVS_TX_NONE, "/local/domain/6", &names), -EACCES);

    /* Its own subtree, by relative path. */
    assert_int_equal(hvs_write(d5, HVS_TX_NONE, "data/x", "mine", 4), 0);
    check_value(d5, "data/x", "mine");
    check_value(dom0, "/local/domain/5/data/x", "mine");
    char *path = NULL;
    assert_int_equal(hvs_domain_path(d5, 5, &path), 0);
    assert_string_equal(path, "/local/domain/5");
    free(path);

    /* A domU acts for nobody else, and introduces nobody. */
    assert_int_equal(hvs_act_as(d5, 6), -EPERM);
    assert_true(hvs_domain_introduce(d5, 9) < 0);
    hvs_close(d5);
    hvs_close(dom0);
}

/* The nodes quota through the daemon: -EDQUOT, a message naming it. */
static void test_quota_message(void **state)
{
    struct du_daemon *d = *state;
    hvs_t *dom0 = du_open(d, 0);
    char path[64];
    int rc = 0, i;

    assert_int_equal(hvs_domain_introduce(dom0, 7), 0);
    hvs_t *d7 = du_open(d, 7);
    for (i = 0; i < QUOTA_NODES + 2; i++) {
        snprintf(path, sizeof(path), "n%d", i);
        rc = hvs_write(d7, HVS_TX_NONE, path, "v", 1);
        if (rc < 0)
            break;
    }
    assert_int_equal(rc, -EDQUOT);
    const char *msg = hvs_last_error(d7);
    print_message("after %d nodes: %s\n", i, msg);
    if (!strstr(msg, "nodes") || !strstr(msg, "8"))
        fail_msg("EDQUOT message '%s' does not name the quota 'nodes' and its value 8", msg);
    assert_true(i < QUOTA_NODES + 1);
    /* dom0 is not bound by it. */
    for (i = 0; i < QUOTA_NODES + 2; i++) {
        snprintf(path, sizeof(path), "/local/domain/7/dom0-%d", i);
        assert_int_equal(hvs_write(dom0, HVS_TX_NONE, path, "v", 1), 0);
    }
    hvs_close(d7);
    hvs_close(dom0);
}

struct watch_seen {
    int count;
    char last[128];
};

static void on_watch(void *opaque, const char *path, const char *token)
{
    struct watch_seen *w = opaque;

    assert_string_equal(token, "tok");
    snprintf(w->last, sizeof(w->last), "%s", path);
    w->count++;
}

/* Events reach another connection: once when set, then per change. */
static void test_watch_over_the_wire(void **state)
{
    struct du_daemon *d = *state;
    hvs_t *watcher = du_open(d, 0);
    hvs_t *writer = du_open(d, 0);
    struct watch_seen w = {0};

    assert_int_equal(hvs_watch(watcher, "/w", "tok", HVS_DEPTH_ANY, on_watch, &w), 0);
    while (w.count < 1)
        assert_true(hvs_wait(watcher, DU_TIMEOUT_MS) > 0);
    assert_string_equal(w.last, "/w");
    assert_int_equal(hvs_write(writer, HVS_TX_NONE, "/w/a/b", "1", 1), 0);
    while (w.count < 2)
        assert_true(hvs_wait(watcher, DU_TIMEOUT_MS) > 0);
    assert_string_equal(w.last, "/w/a/b");

    /* A depth-limited watch (our extension): /d/a fires, /d/a/b does not. */
    struct watch_seen w2 = {0};
    assert_int_equal(hvs_write(writer, HVS_TX_NONE, "/d/a", "", 0), 0);
    assert_int_equal(hvs_watch(watcher, "/d", "tok", 1, on_watch, &w2), 0);
    while (w2.count < 1)
        assert_true(hvs_wait(watcher, DU_TIMEOUT_MS) > 0);
    assert_int_equal(hvs_write(writer, HVS_TX_NONE, "/d/a/b", "deep", 4), 0);
    assert_int_equal(hvs_write(writer, HVS_TX_NONE, "/d/a", "shallow", 7), 0);
    while (w2.count < 2)
        assert_true(hvs_wait(watcher, DU_TIMEOUT_MS) > 0);
    /* Events arrive in order: the deep write made none. */
    assert_string_equal(w2.last, "/d/a");
    hvs_close(writer);
    hvs_close(watcher);
}

/* Children of many lengths, so that pieces end at every kind of boundary. */
static void child_name(int i, char *buf, size_t len)
{
    snprintf(buf, len, "c%d-%.*s", i, (i * 37) % 251,
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
}

/* More children than one reply holds: DIRECTORY gets E2BIG, the client
 * assembles DIRECTORY_PART pieces. */
static void test_large_directory(void **state)
{
    struct du_daemon *d = *state;
    hvs_t *h = du_open(d, 0);
    enum { N = 700 };
    char path[320], name[300];
    hvs_tx_t tx;

    assert_int_equal(hvs_tx_begin(h, &tx), 0);
    for (int i = 0; i < N; i++) {
        child_name(i, name, sizeof(name));
        snprintf(path, sizeof(path), "/big/%s", name);
        assert_int_equal(hvs_write(h, tx, path, "", 0), 0);
    }
    assert_int_equal(hvs_tx_commit(h, tx), 0);

    char **names = NULL;
    int n = hvs_directory(h, HVS_TX_NONE, "/big", &names);
    if (n != N)
        fail_msg("hvs_directory /big: %d (%s), expected %d", n, hvs_last_error(h), N);
    char *seen = calloc(N, 1);
    for (int i = 0; i < n; i++) {
        int idx;
        assert_int_equal(sscanf(names[i], "c%d-", &idx), 1);
        assert_true(idx >= 0 && idx < N && !seen[idx]);
        child_name(idx, name, sizeof(name));
        assert_string_equal(names[i], name);
        seen[idx] = 1;
    }
    free(seen);
    hvs_list_free(names);

    /* The pieces themselves: offsets in bytes, the same generation, each
     * as full as the 4096-byte reply ("<gen>\0" + names + the end's "\0")
     * allows: the next name would not have fitted. */
    char *listing = NULL;
    size_t listing_len = 0;
    assert_int_equal(hvs_directory(h, HVS_TX_NONE, "/big", &names), N);
    for (int i = 0; i < N; i++)
        listing_len += strlen(names[i]) + 1;
    listing = malloc(listing_len);
    listing_len = 0;
    for (int i = 0; i < N; i++) {
        memcpy(listing + listing_len, names[i], strlen(names[i]) + 1);
        listing_len += strlen(names[i]) + 1;
    }
    hvs_list_free(names);
    uint32_t off = 0;
    uint64_t gen0 = 0;
    int total = 0, pieces = 0, done = 0;
    while (!done) {
        uint64_t gen;
        char genbuf[24];
        int c = hvs_directory_part(h, HVS_TX_NONE, "/big", off, &names, &gen, &done);
        if (c < 0)
            fail_msg("DIRECTORY_PART /big at %u: %d (%s)", off, c, hvs_last_error(h));
        if (pieces++ == 0)
            gen0 = gen;
        assert_true(gen == gen0);
        assert_true(c > 0 || done);
        size_t bytes = (size_t)snprintf(genbuf, sizeof(genbuf), "%llu", (unsigned long long)gen) + 1;
        for (int i = 0; i < c; i++) {
            size_t n = strlen(names[i]) + 1;
            assert_true(off + n <= listing_len);
            assert_memory_equal(listing + off, names[i], n); /* the listing's order */
            off += (uint32_t)n;
            bytes += n;
        }
        if (done) {
            assert_int_equal(off, listing_len);
            assert_true(bytes + 1 <= HVS_PAYLOAD_MAX);
        } else {
            size_t next = strlen(listing + off) + 1;
            if (bytes > HVS_PAYLOAD_MAX - 1 || bytes + next + 1 <= HVS_PAYLOAD_MAX)
                fail_msg("piece %d: %zu bytes, next name %zu: not packed to %d bytes", pieces,
                         bytes, next, HVS_PAYLOAD_MAX);
        }
        total += c;
        hvs_list_free(names);
        assert_true(pieces < 1000);
    }
    free(listing);
    assert_int_equal(total, N);
    assert_true(pieces > 1);
    hvs_close(h);
}

/* ---- Group commit ---------------------------------------------------------- */

#define WRITERS 16
#define PER_WRITER 40

struct writer {
    struct du_daemon *d;
    int id;
    int failures;
    int first_rc;
    char first_err[256];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    hvs_t *h = NULL;
    char path[64], val[64];

    if (hvs_open(&h, w->d->uri, NULL) < 0) {
        w->failures = PER_WRITER;
        snprintf(w->first_err, sizeof(w->first_err), "%s", hvs_open_error());
        return NULL;
    }
    for (int i = 0; i < PER_WRITER; i++) {
        snprintf(path, sizeof(path), "/gc/w%d/k%d", w->id, i);
        snprintf(val, sizeof(val), "value-%d-%d", w->id, i);
        int rc = hvs_write(h, HVS_TX_NONE, path, val, strlen(val));
        if (rc < 0 && w->failures++ == 0) {
            w->first_rc = rc;
            snprintf(w->first_err, sizeof(w->first_err), "%s", hvs_last_error(h));
        }
    }
    hvs_close(h);
    return NULL;
}

/* 16 writers at once: every write acknowledged, and every acknowledged
 * write survives SIGKILL (it was on disk before its reply). */
static void test_group_commit(void **state)
{
    struct du_daemon *d = *state;
    pthread_t t[WRITERS];
    struct writer w[WRITERS];

    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.d = d, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures)
            fail_msg("writer %d: %d writes failed, first %d (%s)", i, w[i].failures,
                     w[i].first_rc, w[i].first_err);
    }

    du_kill(d, SIGKILL);
    du_start_ok(d);
    hvs_t *h = du_open(d, 0);
    char path[64], val[64];
    for (int i = 0; i < WRITERS; i++) {
        for (int k = 0; k < PER_WRITER; k++) {
            snprintf(path, sizeof(path), "/gc/w%d/k%d", i, k);
            snprintf(val, sizeof(val), "value-%d-%d", i, k);
            check_value(h, path, val);
        }
    }
    char **names = NULL;
    assert_int_equal(hvs_directory(h, HVS_TX_NONE, "/gc", &names), WRITERS);
    hvs_list_free(names);
    hvs_close(h);
    du_stop_ok(d);
}

/* A transaction through the daemon: conflicts only on real conflicts. */
static void test_transactions(void **state)
{
    struct du_daemon *d = *state;
    hvs_t *a = du_open(d, 0), *b = du_open(d, 0);
    hvs_tx_t ta, tb;
    char *v = NULL;

    assert_int_equal(hvs_write(a, HVS_TX_NONE, "/tx/x", "0", 1), 0);
    assert_int_equal(hvs_tx_begin(a, &ta), 0);
    assert_int_equal(hvs_tx_begin(b, &tb), 0);
    assert_int_equal(hvs_read(a, ta, "/tx/x", &v, NULL), 0);
    free(v);
    assert_int_equal(hvs_write(a, ta, "/tx/x", "a", 1), 0);
    assert_int_equal(hvs_write(b, tb, "/tx/y", "b", 1), 0); /* disjoint */
    assert_int_equal(hvs_tx_commit(b, tb), 0);
    assert_int_equal(hvs_tx_commit(a, ta), 0);
    check_value(a, "/tx/x", "a");
    check_value(a, "/tx/y", "b");

    assert_int_equal(hvs_tx_begin(a, &ta), 0);
    assert_int_equal(hvs_read(a, ta, "/tx/x", &v, NULL), 0);
    free(v);
    assert_int_equal(hvs_write(a, ta, "/tx/x", "a2", 2), 0);
    assert_int_equal(hvs_write(b, HVS_TX_NONE, "/tx/x", "b2", 2), 0); /* conflict */
    assert_int_equal(hvs_tx_commit(a, ta), -EAGAIN);
    check_value(a, "/tx/x", "b2");
    hvs_close(a);
    hvs_close(b);
}

/*
 * A sync that fails (the store file cannot grow: RLIMIT_FSIZE) answers the
 * batch's changes EIO with a message, and the daemon goes on: reads work,
 * and every write it did acknowledge is there after a restart.
 */
static void test_sync_failure_eio(void **state)
{
    struct du_daemon *d = *state;
    enum { MAX_WRITES = 4096 };
    char path[64], val[3000];
    int acked = 0, rc = 0;

    du_kill(d, SIGKILL);
    d->fsize_limit = 256 * 1024;
    du_start_ok(d);
    hvs_t *h = du_open(d, 0);
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < MAX_WRITES; i++) {
        snprintf(path, sizeof(path), "/fill/k%d", i);
        rc = hvs_write(h, HVS_TX_NONE, path, val, sizeof(val));
        if (rc < 0)
            break;
        acked++;
    }
    print_message("after %d writes: %d (%s)\n", acked, rc, hvs_last_error(h));
    if (rc != -EIO)
        fail_msg("write past the file size limit: %d (%s), expected -EIO", rc, hvs_last_error(h));
    assert_true(strlen(hvs_last_error(h)) > 0);
    /* Still serving, and still refusing changes it cannot keep. */
    assert_true(du_alive(d));
    char *v = NULL;
    snprintf(path, sizeof(path), "/fill/k%d", acked > 0 ? acked - 1 : 0);
    if (acked > 0) {
        assert_int_equal(hvs_read(h, HVS_TX_NONE, path, &v, NULL), 0);
        free(v);
    }
    assert_int_equal(hvs_write(h, HVS_TX_NONE, "/fill/more", val, sizeof(val)), -EIO);
    hvs_close(h);

    /* What was acknowledged is on disk. */
    du_kill(d, SIGKILL);
    d->fsize_limit = 0;
    du_start_ok(d);
    h = du_open(d, 0);
    for (int i = 0; i < acked; i++) {
        size_t len = 0;
        snprintf(path, sizeof(path), "/fill/k%d", i);
        rc = hvs_read(h, HVS_TX_NONE, path, &v, &len);
        if (rc != 0 || len != sizeof(val))
            fail_msg("acknowledged %s: %d (%s), length %zu", path, rc, hvs_last_error(h), len);
        free(v);
    }
    hvs_close(h);
}

int main(int argc, char **argv)
{
    du_set_exe(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_domu_confined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_over_the_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_failure_eio, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
