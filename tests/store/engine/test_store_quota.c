/* SPDX-License-Identifier: MIT */
/*
 * Per-domain quotas of the embedded engine: nodes owned, value size,
 * watches, open transactions. Each is reached at exactly its value (set
 * through hvs_options_t.quota, or the documented default), refused with
 * -EDQUOT and a message naming the quota and the value, freed again when
 * the domain gives back, and never applied to dom0.
 *
 * The quotas are distinct numbers so that a message naming the wrong value
 * shows: nodes 17, value_size 333, watches 7, transactions 3. The domain
 * under test (5) is not introduced, so it owns nothing to begin with.
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>

#define Q_NODES 17
#define Q_VALUE 333
#define Q_WATCHES 7
#define Q_TX 3

struct fx {
    char uri[64];
    hvs_quota_t q;
    hvs_t *h0, *u;
};

static int setup_quota(void **state, int defaults)
{
    struct fx *f = calloc(1, sizeof(*f));
    st_mem_uri(f->uri, sizeof(f->uri));
    f->q = (hvs_quota_t){.size = sizeof(hvs_quota_t), .nodes = Q_NODES, .value_size = Q_VALUE,
                         .watches = Q_WATCHES, .transactions = Q_TX};
    const hvs_quota_t *q = defaults ? NULL : &f->q;
    f->h0 = st_open(f->uri, q);
    f->u = st_open_as(f->uri, q, 5);
    /* A place where domain 5 may create nodes. */
    st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, "/q"), 0);
    st_perms(f->h0, "/q", "n0", "b5", "b6", NULL);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_quota(state, 0);
}

static int setup_defaults(void **state)
{
    return setup_quota(state, 1);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hvs_close(f->u);
    hvs_close(f->h0);
    free(f);
    return 0;
}

static void noop_cb(void *opaque, const char *path, const char *token)
{
    (void)opaque, (void)path, (void)token;
}

/* The last error on h names the quota (quoted, as in "domain 5: quota
 * 'nodes' (1000) reached", so that a mere mention of nodes does not count)
 * and its value. */
static void expect_message(hvs_t *h, const char *quota, unsigned value)
{
    const char *msg = hvs_last_error(h);
    char num[16], name[32];
    snprintf(num, sizeof(num), "%u", value);
    snprintf(name, sizeof(name), "'%s", quota);
    if (!strstr(msg, name) || !strstr(msg, num))
        fail_msg("quota message \"%s\" does not name '%s' and %s", msg, quota, num);
}

/* Creates /q/<prefix><i> as domain u until refused; returns how many. */
static int fill_nodes(hvs_t *u, const char *prefix, int limit)
{
    int n = 0;
    for (; n < limit; n++) {
        char path[64];
        snprintf(path, sizeof(path), "/q/%s%d", prefix, n);
        int rc = hvs_write(u, HVS_TX_NONE, path, "x", 1);
        if (rc == -EDQUOT)
            break;
        if (rc != 0)
            fail_msg("write %s: %d: %s", path, rc, hvs_last_error(u));
    }
    return n;
}

static void test_nodes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fill_nodes(f->u, "n", Q_NODES + 10), Q_NODES);
    expect_message(f->u, "nodes", Q_NODES);
    st_rc(f->u, hvs_mkdir(f->u, HVS_TX_NONE, "/q/more"), -EDQUOT);
    expect_message(f->u, "nodes", Q_NODES);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/q/more"), 0);
    /* Rewriting a node it owns creates nothing. */
    st_write(f->u, HVS_TX_NONE, "/q/n0", "again");

    /* Another domain has its own count. */
    hvs_t *u6 = st_open_as(f->uri, &f->q, 6);
    st_write(u6, HVS_TX_NONE, "/q/six", "6");
    hvs_close(u6);

    /* Removing a node gives it back. */
    st_rc(f->u, hvs_rm(f->u, HVS_TX_NONE, "/q/n3"), 0);
    st_write(f->u, HVS_TX_NONE, "/q/again", "x");
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/over", "x", 1), -EDQUOT);

    /* So does a recursive rm of several, and dom0 taking one over. */
    st_rc(f->u, hvs_rm(f->u, HVS_TX_NONE, "/q/n4"), 0);
    st_rc(f->u, hvs_rm(f->u, HVS_TX_NONE, "/q/n5"), 0);
    st_write(f->u, HVS_TX_NONE, "/q/sub/a", "x"); /* two nodes: sub, sub/a */
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/over", "x", 1), -EDQUOT);
    st_rc(f->u, hvs_rm(f->u, HVS_TX_NONE, "/q/sub"), 0);
    st_write(f->u, HVS_TX_NONE, "/q/sub2", "x");
    st_write(f->u, HVS_TX_NONE, "/q/sub3", "x");
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/over", "x", 1), -EDQUOT);
    st_perms(f->h0, "/q/n6", "b0", NULL);
    st_write(f->u, HVS_TX_NONE, "/q/taken-over", "x");
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/over", "x", 1), -EDQUOT);
    /* And dom0 giving one to the domain counts against it. */
    st_rc(f->h0, hvs_rm(f->h0, HVS_TX_NONE, "/q/n7"), 0);
    st_write(f->h0, HVS_TX_NONE, "/q/gift", "x");
    st_perms(f->h0, "/q/gift", "b5", NULL);
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/over", "x", 1), -EDQUOT);
}

/* A write that would create several parents is refused as a whole. */
static void test_nodes_with_parents(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fill_nodes(f->u, "n", Q_NODES - 2), Q_NODES - 2);
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/a/b/c", "x", 1), -EDQUOT);
    expect_message(f->u, "nodes", Q_NODES);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/q/a"), 0);
    st_write(f->u, HVS_TX_NONE, "/q/a/b", "x");
    st_rc(f->u, hvs_mkdir(f->u, HVS_TX_NONE, "/q/c"), -EDQUOT);
}

/* Nodes created in a transaction count: refused at the write or at commit,
 * never over the quota afterwards. */
static void test_nodes_in_transaction(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fill_nodes(f->u, "n", Q_NODES - 1), Q_NODES - 1);
    hvs_tx_t tx;
    st_ok(f->u, hvs_tx_begin(f->u, &tx));
    int rc = hvs_write(f->u, tx, "/q/t1", "x", 1);
    assert_int_equal(rc, 0);
    rc = hvs_write(f->u, tx, "/q/t2", "x", 1);
    if (rc == 0) {
        rc = hvs_tx_commit(f->u, tx);
        assert_int_equal(rc, -EDQUOT);
    } else {
        assert_int_equal(rc, -EDQUOT);
        st_ok(f->u, hvs_tx_abort(f->u, tx));
    }
    expect_message(f->u, "nodes", Q_NODES);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/q/t2"), 0);
    /* Exactly one more fits. */
    st_write(f->u, HVS_TX_NONE, "/q/last", "x");
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/over", "x", 1), -EDQUOT);
}

static void test_value_size(void **state)
{
    struct fx *f = *state;
    char big[4000];
    memset(big, 'v', sizeof(big));
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/v", big, Q_VALUE), 0);
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/v", big, Q_VALUE + 1), -EDQUOT);
    expect_message(f->u, "value", Q_VALUE);
    char *v = NULL;
    size_t len = 0;
    st_rc(f->u, hvs_read(f->u, HVS_TX_NONE, "/q/v", &v, &len), 0);
    assert_int_equal(len, Q_VALUE); /* the refused write changed nothing */
    free(v);
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/w", big, Q_VALUE + 1), -EDQUOT);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/q/w"), 0);
    /* In a transaction too. */
    hvs_tx_t tx;
    st_ok(f->u, hvs_tx_begin(f->u, &tx));
    int rc = hvs_write(f->u, tx, "/q/v", big, Q_VALUE + 1);
    if (rc == 0)
        rc = hvs_tx_commit(f->u, tx);
    else
        hvs_tx_abort(f->u, tx);
    assert_int_equal(rc, -EDQUOT);
    /* dom0 writes any size into the same place. */
    st_rc(f->h0, hvs_write(f->h0, HVS_TX_NONE, "/q/v", big, sizeof(big)), 0);
}

static void test_watches(void **state)
{
    struct fx *f = *state;
    char tok[16];
    for (int i = 0; i < Q_WATCHES; i++) {
        snprintf(tok, sizeof(tok), "t%d", i);
        st_rc(f->u, hvs_watch(f->u, "/q", tok, 0, noop_cb, NULL), 0);
    }
    st_rc(f->u, hvs_watch(f->u, "/q", "over", 0, noop_cb, NULL), -EDQUOT);
    expect_message(f->u, "watches", Q_WATCHES);
    st_rc(f->u, hvs_watch(f->u, "@releaseDomain", "over", 0, noop_cb, NULL), -EDQUOT);
    /* The refused watch does not exist. */
    st_rc(f->u, hvs_unwatch(f->u, "/q", "over"), -ENOENT);
    st_rc(f->u, hvs_unwatch(f->u, "/q", "t0"), 0);
    st_rc(f->u, hvs_watch(f->u, "/q", "again", 0, noop_cb, NULL), 0);
    st_rc(f->u, hvs_watch(f->u, "/q", "over", 0, noop_cb, NULL), -EDQUOT);

    /* The quota is the domain's: a second handle acting for it shares it;
     * closing a handle gives its watches back. */
    hvs_t *u2 = st_open_as(f->uri, &f->q, 5);
    st_rc(u2, hvs_watch(u2, "/q", "u2", 0, noop_cb, NULL), -EDQUOT);
    hvs_close(f->u);
    f->u = NULL;
    st_rc(u2, hvs_watch(u2, "/q", "u2", 0, noop_cb, NULL), 0);
    hvs_close(u2);
}

static void test_transactions(void **state)
{
    struct fx *f = *state;
    hvs_tx_t tx[Q_TX + 1];
    for (int i = 0; i < Q_TX; i++)
        st_rc(f->u, hvs_tx_begin(f->u, &tx[i]), 0);
    st_rc(f->u, hvs_tx_begin(f->u, &tx[Q_TX]), -EDQUOT);
    expect_message(f->u, "transactions", Q_TX);
    /* Ending one, by commit or abort, frees a slot. */
    st_rc(f->u, hvs_tx_abort(f->u, tx[0]), 0);
    st_rc(f->u, hvs_tx_begin(f->u, &tx[0]), 0);
    st_rc(f->u, hvs_tx_begin(f->u, &tx[Q_TX]), -EDQUOT);
    st_rc(f->u, hvs_tx_commit(f->u, tx[1]), 0);
    st_rc(f->u, hvs_tx_begin(f->u, &tx[1]), 0);
    st_rc(f->u, hvs_tx_begin(f->u, &tx[Q_TX]), -EDQUOT);
    /* A commit that fails with -EAGAIN ends the transaction too. */
    st_write(f->u, tx[2], "/q/c", "in-tx");
    st_write(f->h0, HVS_TX_NONE, "/q/c", "outside");
    st_rc(f->u, hvs_tx_commit(f->u, tx[2]), -EAGAIN);
    st_rc(f->u, hvs_tx_begin(f->u, &tx[2]), 0);
    for (int i = 0; i < Q_TX; i++)
        st_rc(f->u, hvs_tx_abort(f->u, tx[i]), 0);
}

static void test_dom0_exempt(void **state)
{
    struct fx *f = *state;
    char path[64], big[Q_VALUE * 4];
    memset(big, 'd', sizeof(big));
    for (int i = 0; i < Q_NODES * 3; i++) {
        snprintf(path, sizeof(path), "/d0/n%d", i);
        st_write(f->h0, HVS_TX_NONE, path, "x");
    }
    st_rc(f->h0, hvs_write(f->h0, HVS_TX_NONE, "/d0/big", big, sizeof(big)), 0);
    for (int i = 0; i < Q_WATCHES * 3; i++) {
        snprintf(path, sizeof(path), "w%d", i);
        st_rc(f->h0, hvs_watch(f->h0, "/d0", path, 0, noop_cb, NULL), 0);
    }
    hvs_tx_t tx[Q_TX * 3];
    for (int i = 0; i < Q_TX * 3; i++)
        st_rc(f->h0, hvs_tx_begin(f->h0, &tx[i]), 0);
    for (int i = 0; i < Q_TX * 3; i++)
        st_rc(f->h0, hvs_tx_abort(f->h0, tx[i]), 0);
    /* dom0's nodes in the domain's place do not count against the domain. */
    for (int i = 0; i < Q_NODES; i++) {
        snprintf(path, sizeof(path), "/q/dom0-%d", i);
        st_write(f->h0, HVS_TX_NONE, path, "x");
        st_perms(f->h0, path, "b0", NULL);
    }
    assert_int_equal(fill_nodes(f->u, "n", Q_NODES + 1), Q_NODES);
}

/* With no quota given, the documented defaults apply. */
static void test_defaults(void **state)
{
    struct fx *f = *state;
    char big[2049];
    memset(big, 'v', sizeof(big));
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/v", big, 2048), 0);
    st_rc(f->u, hvs_write(f->u, HVS_TX_NONE, "/q/v", big, 2049), -EDQUOT);
    expect_message(f->u, "value", 2048);
    /* /q/v is one node already. */
    assert_int_equal(fill_nodes(f->u, "n", 1100), 999);
    expect_message(f->u, "nodes", 1000);
    char tok[16];
    for (int i = 0; i < 128; i++) {
        snprintf(tok, sizeof(tok), "t%d", i);
        st_rc(f->u, hvs_watch(f->u, "/q", tok, 0, noop_cb, NULL), 0);
    }
    st_rc(f->u, hvs_watch(f->u, "/q", "over", 0, noop_cb, NULL), -EDQUOT);
    expect_message(f->u, "watches", 128);
    hvs_tx_t tx[11];
    for (int i = 0; i < 10; i++)
        st_rc(f->u, hvs_tx_begin(f->u, &tx[i]), 0);
    st_rc(f->u, hvs_tx_begin(f->u, &tx[10]), -EDQUOT);
    expect_message(f->u, "transactions", 10);
    for (int i = 0; i < 10; i++)
        st_rc(f->u, hvs_tx_abort(f->u, tx[i]), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_with_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_in_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dom0_exempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup_defaults, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
