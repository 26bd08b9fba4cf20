/* SPDX-License-Identifier: MIT */
/*
 * What one domain may learn or do through another's changes: found by a
 * review of the engine, each with the behaviour it now has.
 *   - a transaction that creates under a node whose permissions change
 *     before commit conflicts (it was allowed under the old ones);
 *   - a domain's transaction touches at most twice its node quota, and
 *     a removal then re-creation fits in one at the quota, as outside;
 *   - a missing node under a node the domain cannot read is -EACCES, not
 *     -ENOENT (existence is not leaked);
 *   - removing a node that is gone while its parent exists succeeds, as in
 *     xenstored;
 *   - a watch set below a removed node is told, checked against its own
 *     node's permissions;
 *   - two watches with one token each get their own events, and two
 *     threads removing one watch do not both free it;
 *   - events for one node coalesce while queued.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"

struct fx {
    char uri[64];
    hvs_t *h0;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    st_mem_uri(f->uri, sizeof(f->uri));
    f->h0 = st_open(f->uri, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    hvs_close(f->h0);
    free(f);
    return 0;
}

/* A fresh engine with a node quota: dom0's handle and domain 6's, introduced. */
static void quota_engine(uint32_t nodes, hvs_t **d0, hvs_t **u)
{
    hvs_quota_t q = {.size = sizeof(q), .nodes = nodes};
    char uri[64];

    st_mem_uri(uri, sizeof(uri));
    *d0 = st_open(uri, &q);
    *u = st_open_as(uri, &q, 6);
    st_ok(*d0, hvs_domain_introduce(*d0, 6));
}

static void test_create_after_revocation_conflicts(void **state)
{
    struct fx *f = *state;
    hvs_t *u = st_open_as(f->uri, NULL, 5);
    hvs_tx_t tx;

    st_write(f->h0, HVS_TX_NONE, "/shared", "");
    st_perms(f->h0, "/shared", "n0", "b5", NULL);
    st_ok(u, hvs_tx_begin(u, &tx));
    st_rc(u, hvs_write(u, tx, "/shared/evil", "x", 1), 0);
    st_perms(f->h0, "/shared", "n0", NULL);
    st_rc(u, hvs_tx_commit(u, tx), -EAGAIN);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/shared/evil"), 0);
    /* Redone under the new permissions, it is refused. */
    st_ok(u, hvs_tx_begin(u, &tx));
    st_rc(u, hvs_write(u, tx, "/shared/evil", "x", 1), -EACCES);
    st_ok(u, hvs_tx_abort(u, tx));
    hvs_close(u);
}

static void test_creates_under_one_parent_do_not_conflict(void **state)
{
    struct fx *f = *state;
    hvs_tx_t a, b;

    st_write(f->h0, HVS_TX_NONE, "/dir", "");
    st_ok(f->h0, hvs_tx_begin(f->h0, &a));
    st_ok(f->h0, hvs_tx_begin(f->h0, &b));
    st_write(f->h0, a, "/dir/a", "1");
    st_write(f->h0, b, "/dir/b", "2");
    st_rc(f->h0, hvs_tx_commit(f->h0, a), 0);
    st_rc(f->h0, hvs_tx_commit(f->h0, b), 0);
    st_expect_dir(f->h0, HVS_TX_NONE, "/dir", "a,b");
}

static void test_transaction_touches_bounded(void **state)
{
    (void)state;
    char path[64];
    hvs_tx_t tx;
    int i, r = 0;
    hvs_t *d0, *u;

    quota_engine(50, &d0, &u);
    st_ok(u, hvs_tx_begin(u, &tx));
    /* Reads of absent nodes cost memory too. */
    for (i = 0; i < 1000 && r != -EDQUOT; i++) {
        char *v = NULL;
        snprintf(path, sizeof(path), "absent-%d", i);
        r = hvs_read(u, tx, path, &v, NULL);
        free(v);
    }
    assert_int_equal(r, -EDQUOT);
    assert_true(i <= 101);
    assert_non_null(strstr(hvs_last_error(u), "'nodes' (50)"));
    st_ok(u, hvs_tx_abort(u, tx));
    /* Creates count against the quota as they are made, not at commit. */
    st_ok(u, hvs_tx_begin(u, &tx));
    for (i = 0, r = 0; i < 100 && r == 0; i++) {
        snprintf(path, sizeof(path), "n-%d", i);
        r = hvs_write(u, tx, path, "x", 1);
    }
    assert_int_equal(r, -EDQUOT);
    assert_true(i <= 50);
    st_ok(u, hvs_tx_abort(u, tx));
    hvs_close(u);
    hvs_close(d0);
}

static void test_rm_and_recreate_at_quota(void **state)
{
    (void)state;
    char path[32];
    hvs_tx_t tx;
    hvs_t *d0, *u;

    quota_engine(5, &d0, &u);
    /* The domain owns /local/domain/6 and four more: at its quota. */
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "n%d", i);
        st_write(u, HVS_TX_NONE, path, "x");
    }
    st_rc(u, hvs_write(u, HVS_TX_NONE, "n4", "x", 1), -EDQUOT);
    st_ok(u, hvs_tx_begin(u, &tx));
    st_rc(u, hvs_rm(u, tx, "n0"), 0);
    st_rc(u, hvs_write(u, tx, "n0", "again", 5), 0);
    st_rc(u, hvs_write(u, tx, "n4", "x", 1), -EDQUOT);
    st_rc(u, hvs_tx_commit(u, tx), 0);
    st_expect(d0, HVS_TX_NONE, "/local/domain/6/n0", "again");
    hvs_close(u);
    hvs_close(d0);
}

/* Removing a child, then its parent, frees the subtree once, not twice. */
static void test_nested_removals_credit_once(void **state)
{
    (void)state;
    char path[32];
    hvs_tx_t tx;
    int i, r = 0;
    hvs_t *d0, *u;

    quota_engine(10, &d0, &u);
    /* The domain's own node, a, a/b, a/b/c..: 10 nodes, its quota. */
    st_write(u, HVS_TX_NONE, "a/b/c0", "x");
    for (i = 1; i < 7; i++) {
        snprintf(path, sizeof(path), "a/b/c%d", i);
        st_write(u, HVS_TX_NONE, path, "x");
    }
    st_rc(u, hvs_write(u, HVS_TX_NONE, "more", "x", 1), -EDQUOT);
    st_ok(u, hvs_tx_begin(u, &tx));
    st_rc(u, hvs_rm(u, tx, "a/b"), 0);
    st_rc(u, hvs_rm(u, tx, "a"), 0);
    /* a, a/b and 7 leaves freed: 9 new nodes fit, a 10th does not. */
    for (i = 0; i < 20 && r == 0; i++) {
        snprintf(path, sizeof(path), "n%d", i);
        r = hvs_write(u, tx, path, "x", 1);
    }
    assert_int_equal(r, -EDQUOT);
    assert_int_equal(i, 10);
    st_rc(u, hvs_tx_commit(u, tx), 0);
    hvs_close(u);
    hvs_close(d0);
}

/* A write refused part way leaves nothing behind: no parent it would have
 * created appears at commit. */
static void test_refused_write_leaves_no_parents(void **state)
{
    (void)state;
    char path[32];
    hvs_tx_t tx;
    hvs_t *d0, *u;

    quota_engine(10, &d0, &u);
    st_ok(u, hvs_tx_begin(u, &tx));
    /* 17 of the 20 nodes a transaction may touch here (twice the quota). */
    for (int i = 0; i < 17; i++) {
        char *v = NULL;
        snprintf(path, sizeof(path), "absent%d", i);
        st_rc(u, hvs_read(u, tx, path, &v, NULL), -ENOENT);
    }
    st_rc(u, hvs_write(u, tx, "p/q/r", "x", 1), -EDQUOT);
    st_rc(u, hvs_tx_commit(u, tx), 0);
    assert_int_equal(st_exists(d0, HVS_TX_NONE, "/local/domain/6/p"), 0);
    hvs_close(u);
    hvs_close(d0);
}

struct unwatcher {
    hvs_t *h;
    pthread_barrier_t *go;
    int rc;
};

static void *unwatch_main(void *arg)
{
    struct unwatcher *w = arg;

    pthread_barrier_wait(w->go);
    w->rc = hvs_unwatch(w->h, "/race", "t");
    return NULL;
}

/* Two threads removing one watch: one succeeds, one finds nothing; under
 * the sanitizers, no use after free. */
static void test_concurrent_unwatch(void **state)
{
    struct fx *f = *state;
    struct st_events ev = {0};
    pthread_barrier_t go;

    pthread_barrier_init(&go, NULL, 3);
    for (int i = 0; i < 300; i++) {
        struct unwatcher a = {.h = f->h0, .go = &go}, b = a;
        pthread_t ta, tb;
        st_ok(f->h0, hvs_watch(f->h0, "/race", "t", HVS_DEPTH_ANY, st_ev_cb, &ev));
        pthread_create(&ta, NULL, unwatch_main, &a);
        pthread_create(&tb, NULL, unwatch_main, &b);
        pthread_barrier_wait(&go);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        if (!((a.rc == 0 && b.rc == -ENOENT) || (a.rc == -ENOENT && b.rc == 0)))
            fail_msg("round %d: unwatch results %d and %d", i, a.rc, b.rc);
    }
    pthread_barrier_destroy(&go);
    st_ev_drain(f->h0);
    st_ev_clear(&ev);
}

static void test_existence_not_leaked(void **state)
{
    struct fx *f = *state;
    hvs_t *u = st_open_as(f->uri, NULL, 6);
    char *v = NULL;
    char **names = NULL;
    hvs_tx_t tx;

    st_ok(f->h0, hvs_domain_introduce(f->h0, 5));
    st_write(f->h0, HVS_TX_NONE, "/local/domain/5/secret", "s");
    st_rc(u, hvs_read(u, HVS_TX_NONE, "/local/domain/5/secret", &v, NULL), -EACCES);
    st_rc(u, hvs_read(u, HVS_TX_NONE, "/local/domain/5/nothing", &v, NULL), -EACCES);
    st_rc(u, hvs_directory(u, HVS_TX_NONE, "/local/domain/5/nothing", &names), -EACCES);
    st_rc(u, hvs_rm(u, HVS_TX_NONE, "/local/domain/5/nothing/x"), -EACCES);
    st_ok(u, hvs_tx_begin(u, &tx));
    st_rc(u, hvs_read(u, tx, "/local/domain/5/nothing", &v, NULL), -EACCES);
    st_ok(u, hvs_tx_abort(u, tx));
    /* Where it may read, missing is missing. */
    st_ok(f->h0, hvs_domain_introduce(f->h0, 6));
    st_rc(u, hvs_read(u, HVS_TX_NONE, "nothing", &v, NULL), -ENOENT);
    assert_null(v);
    hvs_close(u);
}

static void test_rm_of_missing(void **state)
{
    struct fx *f = *state;
    hvs_tx_t tx;

    st_write(f->h0, HVS_TX_NONE, "/p", "");
    st_rc(f->h0, hvs_rm(f->h0, HVS_TX_NONE, "/p/gone"), 0);
    st_rc(f->h0, hvs_rm(f->h0, HVS_TX_NONE, "/p/gone/deeper"), -ENOENT);
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_rc(f->h0, hvs_rm(f->h0, tx, "/p/gone"), 0);
    st_rc(f->h0, hvs_rm(f->h0, tx, "/p/gone/deeper"), -ENOENT);
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
}

static void test_rm_tells_watch_below_by_its_node(void **state)
{
    struct fx *f = *state;
    hvs_t *u = st_open_as(f->uri, NULL, 5);
    struct st_events ev = {0};

    st_write(f->h0, HVS_TX_NONE, "/priv/mine", "");
    st_perms(f->h0, "/priv", "n0", NULL);
    st_perms(f->h0, "/priv/mine", "n5", NULL);
    st_ok(u, hvs_watch(u, "/priv/mine", "t", HVS_DEPTH_ANY, st_ev_cb, &ev));
    st_ev_drain(u);
    st_ev_clear(&ev);
    st_ok(f->h0, hvs_rm(f->h0, HVS_TX_NONE, "/priv"));
    st_ev_drain(u);
    if (st_ev_count(&ev, "/priv/mine", "t") != 1)
        fail_msg("events: %s", st_ev_text(&ev));
    st_ev_clear(&ev);
    hvs_close(u);
}

static void test_same_token_two_watches(void **state)
{
    struct fx *f = *state;
    struct st_events ea = {0}, eb = {0};

    st_ok(f->h0, hvs_watch(f->h0, "/a/b", "same", HVS_DEPTH_ANY, st_ev_cb, &eb));
    st_ok(f->h0, hvs_watch(f->h0, "/a", "same", HVS_DEPTH_ANY, st_ev_cb, &ea));
    st_rc(f->h0, hvs_watch(f->h0, "/a", "same", 0, st_ev_cb, &ea), -EEXIST);
    st_ev_drain(f->h0);
    st_write(f->h0, HVS_TX_NONE, "/a/b/c", "x");
    st_ev_drain(f->h0);
    /* Each watch: its initial event and the write, with the caller's token. */
    if (st_ev_count(&eb, NULL, "same") != 2 || st_ev_count(&eb, "/a/b", "same") != 1 ||
        st_ev_count(&ea, NULL, "same") != 2 || st_ev_count(&ea, "/a", "same") != 1)
        fail_msg("/a/b got %s; /a got ...", st_ev_text(&eb));
    st_ok(f->h0, hvs_unwatch(f->h0, "/a/b", "same"));
    st_ev_clear(&ea);
    st_ev_clear(&eb);
    st_write(f->h0, HVS_TX_NONE, "/a/b/c", "y");
    st_ev_drain(f->h0);
    assert_int_equal(st_ev_count(&eb, NULL, NULL), 0);
    assert_int_equal(st_ev_count(&ea, "/a/b/c", "same"), 1);
    st_ev_clear(&ea);
}

/* A relative watch is the same watch as its absolute spelling. */
static void test_watch_spellings(void **state)
{
    struct fx *f = *state;
    hvs_t *u = st_open_as(f->uri, NULL, 5);
    struct st_events ev = {0};

    st_ok(f->h0, hvs_domain_introduce(f->h0, 5));
    st_ok(u, hvs_watch(u, "x", "t", HVS_DEPTH_ANY, st_ev_cb, &ev));
    st_rc(u, hvs_watch(u, "/local/domain/5/x", "t", HVS_DEPTH_ANY, st_ev_cb, &ev), -EEXIST);
    st_rc(u, hvs_unwatch(u, "/local/domain/5/x", "t"), 0);
    st_rc(u, hvs_unwatch(u, "x", "t"), -ENOENT);
    st_ev_drain(u);
    st_ev_clear(&ev);
    hvs_close(u);
}

static void test_events_coalesce_while_queued(void **state)
{
    struct fx *f = *state;
    struct st_events ev = {0};

    st_ok(f->h0, hvs_watch(f->h0, "/hot", "t", HVS_DEPTH_ANY, st_ev_cb, &ev));
    st_ev_drain(f->h0);
    st_ev_clear(&ev);
    for (int i = 0; i < 1000; i++)
        st_write(f->h0, HVS_TX_NONE, "/hot/x", "v");
    st_write(f->h0, HVS_TX_NONE, "/hot/y", "v");
    st_ev_drain(f->h0);
    assert_int_equal(st_ev_count(&ev, "/hot/x", "t"), 1);
    assert_int_equal(st_ev_count(&ev, "/hot/y", "t"), 1);
    /* Once taken, the next change is a new event. */
    st_ev_clear(&ev);
    st_write(f->h0, HVS_TX_NONE, "/hot/x", "w");
    st_ev_drain(f->h0);
    assert_int_equal(st_ev_count(&ev, "/hot/x", "t"), 1);
    st_ev_clear(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_after_revocation_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creates_under_one_parent_do_not_conflict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transaction_touches_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_and_recreate_at_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_removals_credit_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_write_leaves_no_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_unwatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existence_not_leaked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_of_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_tells_watch_below_by_its_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_token_two_watches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_coalesce_while_queued, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
