/* SPDX-License-Identifier: MIT */
/*
 * The permissions matrix: owner, n/r/w/b, the default entry 0, listed
 * entries overriding it, dom0 overriding everything; creation needs w on
 * the nearest existing parent and gives the creator ownership; only the
 * owner sets permissions and a domU never gives a node away.
 *
 * Three handles on one engine: dom0, domain 1 and domain 2.
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>

struct fx {
    char uri[64];
    hvs_t *h0, *d1, *d2;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    st_mem_uri(f->uri, sizeof(f->uri));
    f->h0 = st_open(f->uri, NULL);
    st_ok(f->h0, hvs_domain_introduce(f->h0, 1));
    st_ok(f->h0, hvs_domain_introduce(f->h0, 2));
    f->d1 = st_open_as(f->uri, NULL, 1);
    f->d2 = st_open_as(f->uri, NULL, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hvs_close(f->d1);
    hvs_close(f->d2);
    hvs_close(f->h0);
    free(f);
    return 0;
}

/* What `h` may do to the existing node `path`: "rw", "r-", "-w" or "--". */
static void expect_access(hvs_t *h, const char *path, const char *want)
{
    char *v = NULL;
    int r = hvs_read(h, HVS_TX_NONE, path, &v, NULL);
    free(v);
    int w = hvs_write(h, HVS_TX_NONE, path, "probe", 5);
    char got[3] = {r == 0 ? 'r' : '-', w == 0 ? 'w' : '-', 0};
    if (strcmp(got, want) != 0)
        fail_msg("domain %u on %s: %s (read %d, write %d), expected %s", hvs_domid(h), path, got,
                 r, w, want);
    if ((r != 0 && r != -EACCES) || (w != 0 && w != -EACCES))
        fail_msg("domain %u on %s: refusals must be -EACCES (read %d, write %d)", hvs_domid(h),
                 path, r, w);
}

static void test_default_entry(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/t", "v");
    /* A node dom0 makes at the root is dom0's, closed to everybody. */
    st_expect_perms(f->h0, "/t", "n0", NULL);
    expect_access(f->d1, "/t", "--");

    st_perms(f->h0, "/t", "r0", NULL);
    expect_access(f->d1, "/t", "r-");
    expect_access(f->d2, "/t", "r-");
    st_perms(f->h0, "/t", "w0", NULL);
    expect_access(f->d1, "/t", "-w");
    st_perms(f->h0, "/t", "b0", NULL);
    expect_access(f->d1, "/t", "rw");
    expect_access(f->d2, "/t", "rw");
    st_perms(f->h0, "/t", "n0", NULL);
    expect_access(f->d1, "/t", "--");
    expect_access(f->d2, "/t", "--");
}

static void test_listed_entry_overrides_default(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/t", "v");

    st_perms(f->h0, "/t", "b0", "n1", NULL);
    expect_access(f->d1, "/t", "--");
    expect_access(f->d2, "/t", "rw");

    st_perms(f->h0, "/t", "n0", "r1", NULL);
    expect_access(f->d1, "/t", "r-");
    expect_access(f->d2, "/t", "--");

    st_perms(f->h0, "/t", "n0", "w1", "r2", NULL);
    expect_access(f->d1, "/t", "-w");
    expect_access(f->d2, "/t", "r-");

    st_perms(f->h0, "/t", "r0", "b2", NULL);
    expect_access(f->d1, "/t", "r-");
    expect_access(f->d2, "/t", "rw");
}

static void test_owner_and_dom0(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/o", "v");
    /* The owner may do anything, even if listed with nothing. */
    st_perms(f->h0, "/o", "n1", "n1", NULL);
    expect_access(f->d1, "/o", "rw");
    expect_access(f->d2, "/o", "--");
    st_perms(f->d1, "/o", "n1", "r2", NULL);
    expect_access(f->d2, "/o", "r-");
    st_rc(f->d1, hvs_mkdir(f->d1, HVS_TX_NONE, "/o/sub"), 0);
    st_rc(f->d1, hvs_rm(f->d1, HVS_TX_NONE, "/o/sub"), 0);

    /* dom0 may do anything to a node that is not its own. */
    st_perms(f->h0, "/o", "n1", NULL);
    expect_access(f->h0, "/o", "rw");
    st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, "/o/x"), 0);
    st_perms(f->h0, "/o", "n2", NULL);
    st_rc(f->h0, hvs_rm(f->h0, HVS_TX_NONE, "/o"), 0);
}

/* Each domain's own directory is its; the others cannot even look. */
static void test_other_domains_nodes(void **state)
{
    struct fx *f = *state;
    st_write(f->d2, HVS_TX_NONE, "secret", "s2");
    st_write(f->d1, HVS_TX_NONE, "mine", "m1");
    st_expect_perms(f->h0, "/local/domain/2", "n2", NULL);
    st_expect_perms(f->h0, "/local/domain/2/secret", "n2", NULL);

    char *v = NULL, **names = NULL;
    hvs_perm_t *p = NULL;
    st_rc(f->d1, hvs_read(f->d1, HVS_TX_NONE, "/local/domain/2/secret", &v, NULL), -EACCES);
    assert_null(v);
    st_rc(f->d1, hvs_directory(f->d1, HVS_TX_NONE, "/local/domain/2", &names), -EACCES);
    assert_null(names);
    st_rc(f->d1, hvs_perms_get(f->d1, HVS_TX_NONE, "/local/domain/2/secret", &p), -EACCES);
    assert_null(p);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/local/domain/2/secret", "x", 1), -EACCES);
    st_rc(f->d1, hvs_rm(f->d1, HVS_TX_NONE, "/local/domain/2/secret"), -EACCES);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/local/domain/2/new", "x", 1), -EACCES);
    st_rc(f->d1, hvs_mkdir(f->d1, HVS_TX_NONE, "/local/domain/2/new"), -EACCES);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/local/domain/2/new"), 0);
    st_expect(f->h0, HVS_TX_NONE, "/local/domain/2/secret", "s2");
    /* Nor in a transaction. */
    hvs_tx_t tx;
    st_ok(f->d1, hvs_tx_begin(f->d1, &tx));
    st_rc(f->d1, hvs_read(f->d1, tx, "/local/domain/2/secret", &v, NULL), -EACCES);
    st_rc(f->d1, hvs_write(f->d1, tx, "/local/domain/2/secret", "x", 1), -EACCES);
    st_ok(f->d1, hvs_tx_abort(f->d1, tx));

    /* The message says what was refused. */
    st_rc(f->d1, hvs_read(f->d1, HVS_TX_NONE, "/local/domain/2/secret", &v, NULL), -EACCES);
    assert_true(strlen(hvs_last_error(f->d1)) > 0);

    st_expect(f->d2, HVS_TX_NONE, "/local/domain/2/secret", "s2");
    st_expect(f->d1, HVS_TX_NONE, "mine", "m1");
    /* dom0 writing into a domain's directory leaves the node the domain's. */
    st_write(f->h0, HVS_TX_NONE, "/local/domain/1/fromdom0", "d0");
    st_expect_perms(f->h0, "/local/domain/1/fromdom0", "n1", NULL);
    st_expect(f->d1, HVS_TX_NONE, "fromdom0", "d0");
}

static void test_directory_and_perms_need_read(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/d/a", "1");
    st_perms(f->h0, "/d", "w0", NULL);
    char **names = NULL;
    hvs_perm_t *p = NULL;
    uint64_t gen;
    int done;
    st_rc(f->d1, hvs_directory(f->d1, HVS_TX_NONE, "/d", &names), -EACCES);
    st_rc(f->d1, hvs_directory_part(f->d1, HVS_TX_NONE, "/d", 0, &names, &gen, &done), -EACCES);
    st_rc(f->d1, hvs_perms_get(f->d1, HVS_TX_NONE, "/d", &p), -EACCES);
    st_perms(f->h0, "/d", "r0", NULL);
    st_expect_dir(f->d1, HVS_TX_NONE, "/d", "a");
    st_rc(f->d1, hvs_perms_get(f->d1, HVS_TX_NONE, "/d", &p), 1);
    assert_int_equal(p[0].domid, 0);
    assert_int_equal(p[0].perm, HVS_PERM_READ);
    free(p);
    /* A child is checked on its own: a closed parent does not hide it. */
    st_perms(f->h0, "/d", "n0", NULL);
    st_perms(f->h0, "/d/a", "r0", NULL);
    st_expect(f->d1, HVS_TX_NONE, "/d/a", "1");
}

static void test_create_needs_write_on_parent(void **state)
{
    struct fx *f = *state;
    st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, "/p"), 0);

    st_perms(f->h0, "/p", "r0", NULL);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/p/new", "x", 1), -EACCES);
    st_rc(f->d1, hvs_mkdir(f->d1, HVS_TX_NONE, "/p/new"), -EACCES);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/p/a/b/c", "x", 1), -EACCES);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/p/new"), 0);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/p/a"), 0);

    /* w on the parent suffices; the creator owns what it creates, and the
     * parent's other entries are inherited. */
    st_perms(f->h0, "/p", "w0", "r2", NULL);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/p/new", "x", 1), 0);
    st_expect_perms(f->h0, "/p/new", "w1", "r2", NULL);
    expect_access(f->d1, "/p/new", "rw");
    /* Missing parents too, each owned by the creator. */
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/p/a/b/c", "x", 1), 0);
    st_expect_perms(f->h0, "/p/a", "w1", "r2", NULL);
    st_expect_perms(f->h0, "/p/a/b", "w1", "r2", NULL);
    st_expect_perms(f->h0, "/p/a/b/c", "w1", "r2", NULL);
    st_rc(f->d1, hvs_mkdir(f->d1, HVS_TX_NONE, "/p/m"), 0);
    st_expect_perms(f->h0, "/p/m", "w1", "r2", NULL);

    /* The nearest existing parent decides, not a writable grandparent. */
    st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, "/p/closed"), 0);
    st_perms(f->h0, "/p/closed", "n0", NULL);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/p/closed/z", "x", 1), -EACCES);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/p/closed/y/z", "x", 1), -EACCES);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/p/closed/y"), 0);

    /* A node dom0 creates keeps its parent's owner. */
    st_rc(f->h0, hvs_write(f->h0, HVS_TX_NONE, "/p/a/fromdom0", "x", 1), 0);
    st_expect_perms(f->h0, "/p/a/fromdom0", "w1", "r2", NULL);
}

static void test_existing_node_needs_write(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/e/x/y", "v");
    st_perms(f->h0, "/e", "b0", NULL);
    st_perms(f->h0, "/e/x", "r0", NULL);
    /* mkdir of an existing node, rm and write all need w on the node. */
    st_rc(f->d1, hvs_mkdir(f->d1, HVS_TX_NONE, "/e/x"), -EACCES);
    st_rc(f->d1, hvs_rm(f->d1, HVS_TX_NONE, "/e/x"), -EACCES);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/e/x", "x", 1), -EACCES);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/e/x/y"), 1);
    st_perms(f->h0, "/e/x", "w0", NULL);
    st_rc(f->d1, hvs_mkdir(f->d1, HVS_TX_NONE, "/e/x"), 0);
    st_rc(f->d1, hvs_write(f->d1, HVS_TX_NONE, "/e/x", "x", 1), 0);
    st_rc(f->d1, hvs_rm(f->d1, HVS_TX_NONE, "/e/x"), 0);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/e/x"), 0);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/e/x/y"), 0);
    /* A write does not change the node's permissions. */
    st_write(f->h0, HVS_TX_NONE, "/e/k", "v");
    st_perms(f->h0, "/e/k", "w0", "r2", NULL);
    st_write(f->d1, HVS_TX_NONE, "/e/k", "w");
    st_expect_perms(f->h0, "/e/k", "w0", "r2", NULL);
}

static void test_perms_set_rules(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/s", "v");
    st_perms(f->h0, "/s", "b0", NULL);
    hvs_perm_t give[2] = {{1, HVS_PERM_BOTH}, {2, HVS_PERM_READ}};
    /* b on a node is not ownership. */
    st_rc(f->d1, hvs_perms_set(f->d1, HVS_TX_NONE, "/s", give, 2), -EACCES);
    st_expect_perms(f->h0, "/s", "b0", NULL);

    st_perms(f->h0, "/s", "n1", NULL);
    /* The owner may change the entries but not give the node away. */
    hvs_perm_t away[1] = {{2, HVS_PERM_NONE}};
    st_rc(f->d1, hvs_perms_set(f->d1, HVS_TX_NONE, "/s", away, 1), -EPERM);
    st_expect_perms(f->h0, "/s", "n1", NULL);
    st_rc(f->d1, hvs_perms_set(f->d1, HVS_TX_NONE, "/s", give, 2), 0);
    st_expect_perms(f->h0, "/s", "b1", "r2", NULL);
    /* Non-owners, even with w: -EACCES. */
    st_rc(f->d2, hvs_perms_set(f->d2, HVS_TX_NONE, "/s", away, 1), -EACCES);
    /* dom0 may give it to anyone, also to a domain that does not exist. */
    st_perms(f->h0, "/s", "n2", NULL);
    expect_access(f->d2, "/s", "rw");
    expect_access(f->d1, "/s", "--");
    st_perms(f->h0, "/s", "r99", "b1", NULL);
    expect_access(f->d1, "/s", "rw");
    expect_access(f->d2, "/s", "r-");

    /* Bad arguments. */
    st_rc(f->h0, hvs_perms_set(f->h0, HVS_TX_NONE, "/s", give, 0), -EINVAL);
    st_rc(f->h0, hvs_perms_set(f->h0, HVS_TX_NONE, "/s", NULL, 1), -EINVAL);
    hvs_perm_t bad[1] = {{0, 4}};
    st_rc(f->h0, hvs_perms_set(f->h0, HVS_TX_NONE, "/s", bad, 1), -EINVAL);
    st_rc(f->h0, hvs_perms_set(f->h0, HVS_TX_NONE, "/nonexistent", give, 1), -ENOENT);
    st_expect_perms(f->h0, "/s", "r99", "b1", NULL);
}

/* A permission change applies at once to the next request. */
static void test_revocation_immediate(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/rv", "v");
    st_perms(f->h0, "/rv", "n0", "b1", NULL);
    expect_access(f->d1, "/rv", "rw");
    st_perms(f->h0, "/rv", "n0", NULL);
    expect_access(f->d1, "/rv", "--");
}

static void test_perm_text(void **state)
{
    (void)state;
    struct {
        const char *text;
        uint32_t domid, perm;
    } good[] = {
        {"r5", 5, HVS_PERM_READ},   {"w0", 0, HVS_PERM_WRITE},
        {"b12", 12, HVS_PERM_BOTH}, {"n4294967295", 4294967295u, HVS_PERM_NONE},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        hvs_perm_t p = {0};
        assert_int_equal(hvs_perm_parse(good[i].text, &p), 0);
        assert_int_equal(p.domid, good[i].domid);
        assert_int_equal(p.perm, good[i].perm);
        char buf[32];
        assert_true(hvs_perm_format(&p, buf, sizeof(buf)) >= 0);
        assert_string_equal(buf, good[i].text);
    }
    const char *bad[] = {"", "r", "x5", "R5", "r-1", "r5x", "r 5", "5", "rr5",
                         "r4294967296", "r99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hvs_perm_t p;
        if (hvs_perm_parse(bad[i], &p) != -EINVAL)
            fail_msg("hvs_perm_parse(\"%s\") accepted", bad[i]);
    }
    hvs_perm_t p = {123, HVS_PERM_READ};
    char small[3];
    assert_true(hvs_perm_format(&p, small, sizeof(small)) < 0);
    hvs_perm_t badbits = {1, 7};
    char buf[32];
    assert_int_equal(hvs_perm_format(&badbits, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listed_entry_overrides_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_and_dom0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_domains_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_and_perms_need_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_needs_write_on_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_node_needs_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perms_set_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revocation_immediate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perm_text, NULL, NULL),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
