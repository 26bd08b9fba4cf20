/* SPDX-License-Identifier: MIT */
/*
 * Transactions: isolation (a transaction sees its own writes and nobody
 * else's uncommitted ones), atomic commit and abort, and conflicts exactly
 * when a node the transaction read, listed or wrote changed meanwhile —
 * never because of unrelated writes, and never between transactions on
 * disjoint subtrees.
 */
#include "store_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct fx {
    char uri[64];
    hvs_t *h0, *h1; /* two dom0 handles on one engine */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    st_mem_uri(f->uri, sizeof(f->uri));
    f->h0 = st_open(f->uri, NULL);
    f->h1 = st_open(f->uri, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hvs_close(f->h1);
    hvs_close(f->h0);
    free(f);
    return 0;
}

static void test_read_modify_write_conflict(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/c/x", "1");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    assert_int_not_equal(tx, HVS_TX_NONE);
    st_expect(f->h0, tx, "/c/x", "1");
    st_write(f->h1, HVS_TX_NONE, "/c/x", "2");
    st_write(f->h0, tx, "/c/x", "1+1");
    st_write(f->h0, tx, "/c/y", "side effect");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
    /* Nothing of the failed transaction was applied. */
    st_expect(f->h0, HVS_TX_NONE, "/c/x", "2");
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/c/y"), 0);
    /* The transaction is over. */
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -ENOENT);
    char *v = NULL;
    st_rc(f->h0, hvs_read(f->h0, tx, "/c/x", &v, NULL), -ENOENT);
    /* Redone, it commits. */
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect(f->h0, tx, "/c/x", "2");
    st_write(f->h0, tx, "/c/x", "3");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    st_expect(f->h1, HVS_TX_NONE, "/c/x", "3");
}

/* Two transactions that both read and write one node: the second loses. */
static void test_two_transactions_same_node(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/c/x", "0");
    hvs_tx_t a, b;
    st_ok(f->h0, hvs_tx_begin(f->h0, &a));
    st_ok(f->h1, hvs_tx_begin(f->h1, &b));
    st_expect(f->h0, a, "/c/x", "0");
    st_expect(f->h1, b, "/c/x", "0");
    st_write(f->h0, a, "/c/x", "a");
    st_write(f->h1, b, "/c/x", "b");
    st_rc(f->h0, hvs_tx_commit(f->h0, a), 0);
    st_rc(f->h1, hvs_tx_commit(f->h1, b), -EAGAIN);
    st_expect(f->h0, HVS_TX_NONE, "/c/x", "a");
}

/* Blind writes conflict too: the node was written meanwhile. */
static void test_write_write_conflict(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/c/x", "0");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_write(f->h0, tx, "/c/x", "tx");
    st_write(f->h1, HVS_TX_NONE, "/c/x", "outside");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
    st_expect(f->h0, HVS_TX_NONE, "/c/x", "outside");
}

static void test_disjoint_subtrees_both_commit(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/d/a/v", "a0");
    st_write(f->h0, HVS_TX_NONE, "/d/b/v", "b0");
    hvs_tx_t a, b;
    st_ok(f->h0, hvs_tx_begin(f->h0, &a));
    st_ok(f->h1, hvs_tx_begin(f->h1, &b));
    st_expect(f->h0, a, "/d/a/v", "a0");
    st_expect(f->h1, b, "/d/b/v", "b0");
    st_write(f->h0, a, "/d/a/v", "a1");
    st_write(f->h1, b, "/d/b/v", "b1");
    /* New nodes inside each subtree too. */
    st_write(f->h0, a, "/d/a/new", "an");
    st_write(f->h1, b, "/d/b/new", "bn");
    st_expect_dir(f->h0, a, "/d/a", "new,v");
    st_expect_dir(f->h1, b, "/d/b", "new,v");
    st_rc(f->h0, hvs_tx_commit(f->h0, a), 0);
    st_rc(f->h1, hvs_tx_commit(f->h1, b), 0);
    st_expect(f->h0, HVS_TX_NONE, "/d/a/v", "a1");
    st_expect(f->h0, HVS_TX_NONE, "/d/b/v", "b1");
    st_expect(f->h0, HVS_TX_NONE, "/d/a/new", "an");
    st_expect(f->h0, HVS_TX_NONE, "/d/b/new", "bn");

    /* Many at once, interleaved, one subtree each: all commit. */
    enum { N = 8 };
    hvs_tx_t tx[N];
    char path[64], val[16];
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/many/%d", i);
        st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, path), 0);
    }
    for (int i = 0; i < N; i++) {
        st_ok(f->h0, hvs_tx_begin(f->h0, &tx[i]));
        snprintf(path, sizeof(path), "/many/%d/x", i);
        char *v = NULL;
        st_rc(f->h0, hvs_read(f->h0, tx[i], path, &v, NULL), -ENOENT);
    }
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/many/%d/x", i);
        snprintf(val, sizeof(val), "%d", i);
        st_write(f->h0, tx[i], path, val);
    }
    for (int i = N - 1; i >= 0; i--)
        st_rc(f->h0, hvs_tx_commit(f->h0, tx[i]), 0);
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/many/%d/x", i);
        snprintf(val, sizeof(val), "%d", i);
        st_expect(f->h0, HVS_TX_NONE, path, val);
    }
}

static void test_unrelated_writes_do_not_conflict(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/u/a", "a");
    st_write(f->h0, HVS_TX_NONE, "/u/b", "b");
    st_write(f->h0, HVS_TX_NONE, "/u/deep/x", "x");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect(f->h0, tx, "/u/a", "a");
    st_write(f->h0, tx, "/u/b", "tx");
    /* A sibling, a new sibling (the parent's children change, but the
     * transaction did not list the parent), other subtrees, a node
     * elsewhere removed. */
    st_write(f->h1, HVS_TX_NONE, "/u/c", "c");
    st_write(f->h1, HVS_TX_NONE, "/u/deep/x", "x2");
    st_write(f->h1, HVS_TX_NONE, "/other/y", "y");
    st_rc(f->h1, hvs_rm(f->h1, HVS_TX_NONE, "/other"), 0);
    /* Another transaction that commits elsewhere. */
    hvs_tx_t t2;
    st_ok(f->h1, hvs_tx_begin(f->h1, &t2));
    st_write(f->h1, t2, "/u/deep/z", "z");
    st_rc(f->h1, hvs_tx_commit(f->h1, t2), 0);

    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    st_expect(f->h0, HVS_TX_NONE, "/u/b", "tx");
    st_expect(f->h0, HVS_TX_NONE, "/u/c", "c");
}

static void test_isolation(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/v/x", "old");
    hvs_tx_t a, b;
    st_ok(f->h0, hvs_tx_begin(f->h0, &a));
    st_ok(f->h1, hvs_tx_begin(f->h1, &b));
    st_write(f->h0, a, "/v/x", "new");
    st_write(f->h0, a, "/v/created", "c");
    /* The transaction sees its own writes... */
    st_expect(f->h0, a, "/v/x", "new");
    st_expect(f->h0, a, "/v/created", "c");
    /* ...nobody else does, in or out of a transaction, on any handle. */
    st_expect(f->h0, HVS_TX_NONE, "/v/x", "old");
    st_expect(f->h1, HVS_TX_NONE, "/v/x", "old");
    st_expect(f->h1, b, "/v/x", "old");
    assert_int_equal(st_exists(f->h1, b, "/v/created"), 0);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/v/created"), 0);
    st_rc(f->h0, hvs_tx_commit(f->h0, a), 0);
    st_expect(f->h0, HVS_TX_NONE, "/v/x", "new");
    st_expect(f->h0, HVS_TX_NONE, "/v/created", "c");
    st_ok(f->h1, hvs_tx_abort(f->h1, b));
}

/* A handle cannot use another handle's transaction. */
static void test_transaction_belongs_to_handle(void **state)
{
    struct fx *f = *state;
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_write(f->h0, tx, "/own/x", "1");
    char *v = NULL;
    st_rc(f->h1, hvs_read(f->h1, tx, "/own/x", &v, NULL), -ENOENT);
    st_rc(f->h1, hvs_write(f->h1, tx, "/own/y", "1", 1), -ENOENT);
    st_rc(f->h1, hvs_tx_commit(f->h1, tx), -ENOENT);
    st_rc(f->h1, hvs_tx_abort(f->h1, tx), -ENOENT);
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    st_expect(f->h1, HVS_TX_NONE, "/own/x", "1");
    assert_int_equal(st_exists(f->h1, HVS_TX_NONE, "/own/y"), 0);
    /* Ids never handed out are unknown. */
    st_rc(f->h0, hvs_read(f->h0, 0x7fffffffu, "/own/x", &v, NULL), -ENOENT);
    /* Closing a handle aborts its transactions. */
    st_ok(f->h1, hvs_tx_begin(f->h1, &tx));
    st_write(f->h1, tx, "/own/closed", "1");
    hvs_close(f->h1);
    f->h1 = st_open(f->uri, NULL);
    assert_int_equal(st_exists(f->h1, HVS_TX_NONE, "/own/closed"), 0);
}

static void test_rm_inside(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/r/x/y", "y");
    st_write(f->h0, HVS_TX_NONE, "/r/keep", "k");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_rc(f->h0, hvs_rm(f->h0, tx, "/r/x"), 0);
    assert_int_equal(st_exists(f->h0, tx, "/r/x"), 0);
    assert_int_equal(st_exists(f->h0, tx, "/r/x/y"), 0);
    st_expect_dir(f->h0, tx, "/r", "keep");
    /* Gone already, its parent there: fine, as outside a transaction. */
    st_rc(f->h0, hvs_rm(f->h0, tx, "/r/x"), 0);
    st_rc(f->h0, hvs_rm(f->h0, tx, "/r/x/y"), -ENOENT);
    /* Still there outside until commit. */
    st_expect(f->h1, HVS_TX_NONE, "/r/x/y", "y");
    st_expect_dir(f->h1, HVS_TX_NONE, "/r", "keep,x");
    /* Recreated in the same transaction, as a fresh node. */
    st_write(f->h0, tx, "/r/x/z", "z");
    assert_int_equal(st_exists(f->h0, tx, "/r/x/y"), 0);
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    assert_int_equal(st_exists(f->h1, HVS_TX_NONE, "/r/x/y"), 0);
    st_expect(f->h1, HVS_TX_NONE, "/r/x/z", "z");
    st_expect_dir(f->h1, HVS_TX_NONE, "/r/x", "z");

    /* A plain rm in a transaction. */
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_rc(f->h0, hvs_rm(f->h0, tx, "/r"), 0);
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    assert_int_equal(st_exists(f->h1, HVS_TX_NONE, "/r"), 0);
    assert_int_equal(st_exists(f->h1, HVS_TX_NONE, "/r/keep"), 0);
}

static void test_abort_leaves_nothing(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/ab/old", "o");
    st_write(f->h0, HVS_TX_NONE, "/ab/gone/sub", "s");
    char *before = st_dir(f->h0, HVS_TX_NONE, "/ab");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_write(f->h0, tx, "/ab/old", "changed");
    st_write(f->h0, tx, "/ab/new/deep", "n");
    st_rc(f->h0, hvs_mkdir(f->h0, tx, "/ab/dir"), 0);
    st_rc(f->h0, hvs_rm(f->h0, tx, "/ab/gone"), 0);
    hvs_perm_t p = {9, HVS_PERM_BOTH};
    st_rc(f->h0, hvs_perms_set(f->h0, tx, "/ab/gone/sub", &p, 1), -ENOENT);
    st_rc(f->h0, hvs_tx_abort(f->h0, tx), 0);
    st_expect(f->h0, HVS_TX_NONE, "/ab/old", "o");
    st_expect(f->h0, HVS_TX_NONE, "/ab/gone/sub", "s");
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/ab/new"), 0);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/ab/dir"), 0);
    char *after = st_dir(f->h0, HVS_TX_NONE, "/ab");
    assert_string_equal(before, after);
    free(before);
    free(after);
    st_rc(f->h0, hvs_tx_abort(f->h0, tx), -ENOENT);
}

static void test_directory_in_tx(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/dl/a", "1");
    st_write(f->h0, HVS_TX_NONE, "/dl/b", "2");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_write(f->h0, tx, "/dl/c", "3");
    st_rc(f->h0, hvs_rm(f->h0, tx, "/dl/a"), 0);
    st_expect_dir(f->h0, tx, "/dl", "b,c");
    st_expect_dir(f->h0, HVS_TX_NONE, "/dl", "a,b");
    char **names = NULL;
    uint64_t gen;
    int done = 0;
    int n = hvs_directory_part(f->h0, tx, "/dl", 0, &names, &gen, &done);
    assert_int_equal(n, 2);
    assert_int_equal(done, 1);
    hvs_list_free(names);
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    st_expect_dir(f->h0, HVS_TX_NONE, "/dl", "b,c");
}

/* Listing a directory is reading it: a child added meanwhile conflicts. */
static void test_listed_directory_conflicts(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/dl/a", "1");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect_dir(f->h0, tx, "/dl", "a");
    st_write(f->h1, HVS_TX_NONE, "/dl/b", "2");
    st_write(f->h0, tx, "/elsewhere/count", "1");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/elsewhere"), 0);

    /* And a child removed meanwhile. */
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect_dir(f->h0, tx, "/dl", "a,b");
    st_rc(f->h1, hvs_rm(f->h1, HVS_TX_NONE, "/dl/a"), 0);
    st_write(f->h0, tx, "/elsewhere/count", "1");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
}

static void test_conflicting_rm_of_read_node(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/cr/x", "x");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect(f->h0, tx, "/cr/x", "x");
    st_rc(f->h1, hvs_rm(f->h1, HVS_TX_NONE, "/cr/x"), 0);
    st_write(f->h0, tx, "/cr/y", "derived from x");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/cr/y"), 0);

    /* Removed and written again meanwhile (same value): still a change. */
    st_write(f->h0, HVS_TX_NONE, "/cr/x", "x");
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect(f->h0, tx, "/cr/x", "x");
    st_rc(f->h1, hvs_rm(f->h1, HVS_TX_NONE, "/cr"), 0);
    st_write(f->h1, HVS_TX_NONE, "/cr/x", "x");
    st_write(f->h0, tx, "/cr/y", "derived from x");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
}

/* Reading a node that does not exist, which then appears, conflicts too. */
static void test_absent_node_then_created(void **state)
{
    struct fx *f = *state;
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    assert_int_equal(st_exists(f->h0, tx, "/lock/owner"), 0);
    st_write(f->h1, HVS_TX_NONE, "/lock/owner", "h1");
    st_write(f->h0, tx, "/lock/claimed", "h0");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
    st_expect(f->h0, HVS_TX_NONE, "/lock/owner", "h1");
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/lock/claimed"), 0);
}

/* Permission changes are changes: a transaction that read the node's
 * permissions conflicts; one that set them applies them at commit only. */
static void test_perms_in_tx(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/pt", "v");
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    hvs_perm_t p = {0, HVS_PERM_READ};
    st_rc(f->h0, hvs_perms_set(f->h0, tx, "/pt", &p, 1), 0);
    st_expect_perms(f->h1, "/pt", "n0", NULL);
    hvs_perm_t *got = NULL;
    st_rc(f->h0, hvs_perms_get(f->h0, tx, "/pt", &got), 1);
    assert_int_equal(got[0].perm, HVS_PERM_READ);
    free(got);
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    st_expect_perms(f->h1, "/pt", "r0", NULL);

    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_rc(f->h0, hvs_perms_get(f->h0, tx, "/pt", &got), 1);
    free(got);
    st_perms(f->h1, "/pt", "b0", NULL);
    st_write(f->h0, tx, "/pt2", "x");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
}

/* Many transactions in a row each commit their writes. */
static void test_sequential_commits(void **state)
{
    struct fx *f = *state;
    char val[16];
    for (int i = 0; i < 200; i++) {
        hvs_tx_t tx;
        st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
        char *v = NULL;
        size_t len;
        int rc = hvs_read(f->h0, tx, "/seq/n", &v, &len);
        int n = rc == 0 ? atoi(v) : 0;
        free(v);
        snprintf(val, sizeof(val), "%d", n + 1);
        st_write(f->h0, tx, "/seq/n", val);
        st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    }
    st_expect(f->h1, HVS_TX_NONE, "/seq/n", "200");
}

/* A transaction that did nothing commits (and aborts) cleanly. */
static void test_empty_transaction(void **state)
{
    struct fx *f = *state;
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_rc(f->h0, hvs_tx_abort(f->h0, tx), 0);
    /* Only reads: commits, and conflicts like any other. */
    st_write(f->h0, HVS_TX_NONE, "/e", "1");
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect(f->h0, tx, "/e", "1");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect(f->h0, tx, "/e", "1");
    st_write(f->h1, HVS_TX_NONE, "/e", "2");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
}

/*
 * Real concurrency: threads, each with its own handle, increment one
 * counter by read-modify-write transactions, redoing them on -EAGAIN, and
 * each its own counter. No increment may be lost or doubled.
 */
#define INC_THREADS 4
#define INC_EACH 150

struct incr {
    const char *uri;
    int id;
    int conflicts;
    int rc;
};

static int incr_once(hvs_t *h, const char *path, int *conflicts)
{
    for (;;) {
        hvs_tx_t tx;
        int rc = hvs_tx_begin(h, &tx);
        if (rc < 0)
            return rc;
        char *v = NULL, val[16];
        rc = hvs_read(h, tx, path, &v, NULL);
        int n = rc == 0 ? atoi(v) : 0;
        free(v);
        if (rc < 0 && rc != -ENOENT) {
            hvs_tx_abort(h, tx);
            return rc;
        }
        snprintf(val, sizeof(val), "%d", n + 1);
        rc = hvs_write(h, tx, path, val, strlen(val));
        if (rc < 0) {
            hvs_tx_abort(h, tx);
            return rc;
        }
        rc = hvs_tx_commit(h, tx);
        if (rc != -EAGAIN)
            return rc;
        (*conflicts)++;
    }
}

static void *incr_main(void *arg)
{
    struct incr *w = arg;
    hvs_t *h = NULL;
    char own[32];
    snprintf(own, sizeof(own), "/inc/own%d", w->id);
    w->rc = hvs_open(&h, w->uri, NULL);
    for (int i = 0; i < INC_EACH && w->rc == 0; i++) {
        w->rc = incr_once(h, "/inc/shared", &w->conflicts);
        if (w->rc == 0)
            w->rc = incr_once(h, own, &w->conflicts);
    }
    hvs_close(h);
    return NULL;
}

static void test_concurrent_increments(void **state)
{
    struct fx *f = *state;
    st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, "/inc"), 0);
    pthread_t t[INC_THREADS];
    struct incr w[INC_THREADS];
    for (int i = 0; i < INC_THREADS; i++) {
        w[i] = (struct incr){.uri = f->uri, .id = i, .rc = -1};
        assert_int_equal(pthread_create(&t[i], NULL, incr_main, &w[i]), 0);
    }
    for (int i = 0; i < INC_THREADS; i++)
        pthread_join(t[i], NULL);
    char val[16], path[32];
    for (int i = 0; i < INC_THREADS; i++) {
        if (w[i].rc != 0)
            fail_msg("thread %d: %d", i, w[i].rc);
        snprintf(path, sizeof(path), "/inc/own%d", i);
        snprintf(val, sizeof(val), "%d", INC_EACH);
        st_expect(f->h0, HVS_TX_NONE, path, val);
    }
    snprintf(val, sizeof(val), "%d", INC_THREADS * INC_EACH);
    st_expect(f->h0, HVS_TX_NONE, "/inc/shared", val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_modify_write_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_transactions_same_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_write_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disjoint_subtrees_both_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrelated_writes_do_not_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_belongs_to_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_in_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listed_directory_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicting_rm_of_read_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_node_then_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perms_in_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequential_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_increments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
