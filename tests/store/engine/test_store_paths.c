/* SPDX-License-Identifier: MIT */
/*
 * Path validation with hostile input, through every operation that takes a
 * path: what xenstore refuses is -EINVAL and leaves the store unchanged;
 * the length limit holds at the exact byte; relative paths resolve under
 * the handle's domain; "@" special paths are watch-only.
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>

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

static void noop_cb(void *opaque, const char *path, const char *token)
{
    (void)opaque, (void)path, (void)token;
}

/* Every path-taking operation refuses `path` with -EINVAL (naming the op). */
static void expect_invalid_everywhere(hvs_t *h, const char *path, const char *label)
{
    char *v = NULL, **names = NULL;
    hvs_perm_t *perms = NULL, p0 = {0, HVS_PERM_READ};
    uint64_t gen;
    int done, rc;

#define EXPECT_EINVAL(op, call)                                                        \
    do {                                                                               \
        rc = (call);                                                                   \
        if (rc != -EINVAL)                                                             \
            fail_msg("%s of %s: %d (%s), expected -EINVAL: %s", op, label, rc,         \
                     rc < 0 ? strerror(-rc) : "ok", hvs_last_error(h));                \
    } while (0)
    EXPECT_EINVAL("read", hvs_read(h, HVS_TX_NONE, path, &v, NULL));
    EXPECT_EINVAL("write", hvs_write(h, HVS_TX_NONE, path, "x", 1));
    EXPECT_EINVAL("mkdir", hvs_mkdir(h, HVS_TX_NONE, path));
    EXPECT_EINVAL("rm", hvs_rm(h, HVS_TX_NONE, path));
    EXPECT_EINVAL("directory", hvs_directory(h, HVS_TX_NONE, path, &names));
    EXPECT_EINVAL("directory_part",
                  hvs_directory_part(h, HVS_TX_NONE, path, 0, &names, &gen, &done));
    EXPECT_EINVAL("perms_get", hvs_perms_get(h, HVS_TX_NONE, path, &perms));
    EXPECT_EINVAL("perms_set", hvs_perms_set(h, HVS_TX_NONE, path, &p0, 1));
#undef EXPECT_EINVAL
    assert_null(v);
    assert_null(names);
    assert_null(perms);
}

/* Also refused as a watch path. */
static void expect_invalid_watch(hvs_t *h, const char *path, const char *label)
{
    int rc = hvs_watch(h, path, "tok", HVS_DEPTH_ANY, noop_cb, NULL);
    if (rc != -EINVAL)
        fail_msg("watch of %s: %d, expected -EINVAL", label, rc);
    rc = hvs_unwatch(h, path, "tok");
    if (rc != -EINVAL)
        fail_msg("unwatch of %s: %d, expected -EINVAL", label, rc);
}

static const char *const bad_paths[] = {
    "",            /* empty */
    "//",          /* empty component */
    "/a//b",       /* empty component inside */
    "///",         /* only separators */
    "/a/",         /* trailing separator */
    "a/",          /* relative, trailing */
    "a//b",        /* relative, empty component */
    "/.",          /* dot: not in the character set */
    "/..",         /* no parent traversal */
    "/a/../b",     /* .. inside */
    "./a",         /* relative dot */
    "/a.b",        /* dot inside a name */
    "/a b",        /* space */
    "/a\tb",       /* tab */
    "/a\nb",       /* newline */
    "/a\rb",       /* carriage return */
    "/a\x01",      /* control character */
    "/a\x7f",      /* DEL */
    "/\xc3\xa4",   /* UTF-8 letter: not ASCII */
    "/a\xc0\x80",  /* overlong NUL in UTF-8 ("NUL-like") */
    "/a\xff",      /* high byte */
    "/a:b",        /* colon */
    "/a\\b",       /* backslash */
    "/a*",         /* glob */
    "/a?",         /* glob */
    "/a%00",       /* percent escape is not decoded */
    "/a\"b",       /* quote */
    "/a,b",        /* comma */
    "/a+b",        /* plus */
    "/a=b",        /* equals */
    "/a~",         /* tilde */
    "/a|b",        /* the wire's argument separator in tools' output */
};

static void test_bad_paths_refused(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/a", "1");
    st_write(f->h0, HVS_TX_NONE, "/a/b", "2");
    char *before = st_dir(f->h0, HVS_TX_NONE, "/");

    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        char label[64];
        snprintf(label, sizeof(label), "bad_paths[%zu]", i);
        expect_invalid_everywhere(f->h0, bad_paths[i], label);
        expect_invalid_watch(f->h0, bad_paths[i], label);
    }
    /* Nothing was created or removed by the refused calls. */
    char *after = st_dir(f->h0, HVS_TX_NONE, "/");
    assert_string_equal(before, after);
    st_expect(f->h0, HVS_TX_NONE, "/a", "1");
    st_expect(f->h0, HVS_TX_NONE, "/a/b", "2");
    st_expect_dir(f->h0, HVS_TX_NONE, "/a", "b");
    free(before);
    free(after);
}

/* The same inside a transaction, for a domU handle too. */
static void test_bad_paths_in_tx_and_domu(void **state)
{
    struct fx *f = *state;
    hvs_t *u = st_open_as(f->uri, NULL, 4);
    hvs_tx_t tx;
    st_ok(u, hvs_tx_begin(u, &tx));
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        char *v = NULL;
        int rc = hvs_read(u, tx, bad_paths[i], &v, NULL);
        if (rc != -EINVAL)
            fail_msg("domU tx read of bad_paths[%zu]: %d", i, rc);
        rc = hvs_write(u, tx, bad_paths[i], "v", 1);
        if (rc != -EINVAL)
            fail_msg("domU tx write of bad_paths[%zu]: %d", i, rc);
        expect_invalid_everywhere(u, bad_paths[i], "domU");
    }
    st_rc(u, hvs_tx_commit(u, tx), 0);
    hvs_close(u);
}

static void test_null_arguments(void **state)
{
    struct fx *f = *state;
    char *v = NULL;
    st_rc(f->h0, hvs_read(f->h0, HVS_TX_NONE, NULL, &v, NULL), -EINVAL);
    st_rc(f->h0, hvs_write(f->h0, HVS_TX_NONE, NULL, "x", 1), -EINVAL);
    st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, NULL), -EINVAL);
    st_rc(f->h0, hvs_rm(f->h0, HVS_TX_NONE, NULL), -EINVAL);
    st_rc(f->h0, hvs_watch(f->h0, NULL, "t", 0, noop_cb, NULL), -EINVAL);
    st_rc(f->h0, hvs_watch(f->h0, "/a", NULL, 0, noop_cb, NULL), -EINVAL);
    /* The message names what was wrong. */
    st_rc(f->h0, hvs_read(f->h0, HVS_TX_NONE, "/a b", &v, NULL), -EINVAL);
    assert_true(strlen(hvs_last_error(f->h0)) > 0);
}

/* "/" followed by components of 'c' separated by '/', `len` bytes in all. */
static char *path_of_len(const char *prefix, size_t len)
{
    size_t plen = strlen(prefix);
    assert_true(len > plen + 1);
    char *p = malloc(len + 1);
    memcpy(p, prefix, plen);
    for (size_t i = plen; i < len; i++)
        p[i] = (i - plen) % 100 == 99 ? '/' : 'c';
    /* no trailing '/' */
    if (p[len - 1] == '/')
        p[len - 1] = 'c';
    p[len] = 0;
    return p;
}

static void test_length_boundary(void **state)
{
    struct fx *f = *state;
    char *ok = path_of_len("/", HVS_PATH_MAX);
    /* Its own first component, so a refusal that created parents shows. */
    char *over = path_of_len("/z", HVS_PATH_MAX + 1);
    assert_int_equal(strlen(ok), HVS_PATH_MAX);
    assert_int_equal(strlen(over), HVS_PATH_MAX + 1);

    st_write(f->h0, HVS_TX_NONE, ok, "deep");
    char *root = st_dir(f->h0, HVS_TX_NONE, "/");
    st_expect(f->h0, HVS_TX_NONE, ok, "deep");
    hvs_perm_t *p = NULL;
    st_rc(f->h0, hvs_perms_get(f->h0, HVS_TX_NONE, ok, &p), 1);
    free(p);
    struct st_events ev = {0};
    st_rc(f->h0, hvs_watch(f->h0, ok, "long", 0, st_ev_cb, &ev), 0);
    st_ev_drain(f->h0);
    assert_int_equal(st_ev_count(&ev, ok, "long"), 1);
    st_rc(f->h0, hvs_unwatch(f->h0, ok, "long"), 0);
    st_ev_clear(&ev);

    expect_invalid_everywhere(f->h0, over, "a path of HVS_PATH_MAX + 1 bytes");
    expect_invalid_watch(f->h0, over, "a path of HVS_PATH_MAX + 1 bytes");
    /* Much longer too (no overflow of a fixed buffer). */
    char *huge = path_of_len("/y", 64 * 1024);
    expect_invalid_everywhere(f->h0, huge, "a 64 KiB path");
    /* The refusals created none of the parents. */
    st_expect_dir(f->h0, HVS_TX_NONE, "/", root);
    free(root);
    free(ok);
    free(over);
    free(huge);
}

/* Relative paths count their absolute length: /local/domain/<id>/ + rest. */
static void test_relative_length_boundary(void **state)
{
    struct fx *f = *state;
    hvs_t *u = st_open_as(f->uri, NULL, 7);
    st_ok(f->h0, hvs_domain_introduce(f->h0, 7));
    const char *base = "/local/domain/7/";
    size_t blen = strlen(base);
    char *ok = path_of_len("r", HVS_PATH_MAX - blen);
    char *over = path_of_len("r", HVS_PATH_MAX - blen + 1);

    st_write(u, HVS_TX_NONE, ok, "rel");
    char *abs = malloc(HVS_PATH_MAX + 1);
    snprintf(abs, HVS_PATH_MAX + 1, "%s%s", base, ok);
    assert_int_equal(strlen(abs), HVS_PATH_MAX);
    st_expect(f->h0, HVS_TX_NONE, abs, "rel");
    expect_invalid_everywhere(u, over, "a relative path one byte over");
    free(ok);
    free(over);
    free(abs);
    hvs_close(u);
}

static void test_valid_characters(void **state)
{
    struct fx *f = *state;
    const char *good[] = {
        "/",
        "/abcdefghijklmnopqrstuvwxyz",
        "/ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "/0123456789",
        "/a_b-c",
        "/a@b",
        "/-",
        "/_",
        "/x/@y",
    };
    for (size_t i = 1; i < sizeof(good) / sizeof(good[0]); i++) {
        st_write(f->h0, HVS_TX_NONE, good[i], good[i]);
        st_expect(f->h0, HVS_TX_NONE, good[i], good[i]);
    }
    /* The root reads (an empty value) and lists. */
    char *v = NULL;
    size_t len = 1;
    st_rc(f->h0, hvs_read(f->h0, HVS_TX_NONE, "/", &v, &len), 0);
    free(v);
    char *d = st_dir(f->h0, HVS_TX_NONE, "/");
    assert_non_null(strstr(d, "a_b-c"));
    assert_non_null(strstr(d, "a@b"));
    free(d);
    st_rc(f->h0, hvs_mkdir(f->h0, HVS_TX_NONE, "/"), 0);
}

static void test_relative_paths(void **state)
{
    struct fx *f = *state;
    /* dom0's relative paths are under /local/domain/0. */
    st_write(f->h0, HVS_TX_NONE, "name", "dom0");
    st_expect(f->h0, HVS_TX_NONE, "/local/domain/0/name", "dom0");
    st_write(f->h0, HVS_TX_NONE, "/local/domain/0/dev/vif", "v");
    st_expect(f->h0, HVS_TX_NONE, "dev/vif", "v");

    /* A domU's are under its own domain path. */
    st_ok(f->h0, hvs_domain_introduce(f->h0, 12));
    hvs_t *u = st_open_as(f->uri, NULL, 12);
    assert_int_equal(hvs_domid(u), 12);
    st_write(u, HVS_TX_NONE, "data/x", "mine");
    st_expect(f->h0, HVS_TX_NONE, "/local/domain/12/data/x", "mine");
    st_expect(u, HVS_TX_NONE, "/local/domain/12/data/x", "mine");
    st_expect_dir(u, HVS_TX_NONE, "data", "x");
    st_rc(u, hvs_mkdir(u, HVS_TX_NONE, "data/y"), 0);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/local/domain/12/data/y"), 1);
    st_rc(u, hvs_rm(u, HVS_TX_NONE, "data/y"), 0);
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/local/domain/12/data/y"), 0);
    /* Not confused with the absolute path of the same name. */
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/data"), 0);

    char *dp = NULL;
    st_rc(u, hvs_domain_path(u, 12, &dp), 0);
    assert_string_equal(dp, "/local/domain/12");
    free(dp);
    hvs_close(u);
}

/* "@" paths name events, not nodes. */
static void test_special_paths_watch_only(void **state)
{
    struct fx *f = *state;
    const char *special[] = {"@introduceDomain", "@releaseDomain"};
    for (size_t i = 0; i < 2; i++) {
        expect_invalid_everywhere(f->h0, special[i], special[i]);
        struct st_events ev = {0};
        st_rc(f->h0, hvs_watch(f->h0, special[i], "sp", 0, st_ev_cb, &ev), 0);
        st_ev_drain(f->h0);
        assert_int_equal(st_ev_count(&ev, special[i], "sp"), 1);
        st_rc(f->h0, hvs_unwatch(f->h0, special[i], "sp"), 0);
        st_ev_clear(&ev);
    }
    /* A component that starts with '@' below the root is an ordinary node. */
    st_write(f->h0, HVS_TX_NONE, "/@introduceDomain", "node");
    st_expect(f->h0, HVS_TX_NONE, "/@introduceDomain", "node");
    /* Special paths with a bad character or a slash are still refused. */
    expect_invalid_watch(f->h0, "@intro duce", "\"@intro duce\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_paths_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_paths_in_tx_and_domu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_length_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_length_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_paths_watch_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
