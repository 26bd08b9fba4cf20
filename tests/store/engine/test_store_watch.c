/* SPDX-License-Identifier: MIT */
/*
 * Watches: the initial event, events at and below the path limited by the
 * depth, never above or beside it, once per changed node at commit and not
 * before, @introduceDomain/@releaseDomain, unwatch, the pollable fd with
 * hvs_dispatch, readable nodes only for a domU, relative event paths.
 *
 * Structures are built and the initial events drained before the change
 * under test, so every count below is exact.
 */
#include "store_test.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct fx {
    char uri[64];
    hvs_t *h0, *h1; /* two dom0 handles on one engine */
    struct st_events ev;
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
    st_ev_clear(&f->ev);
    free(f);
    return 0;
}

/* Sets a watch on h and consumes its initial event. */
static void watch_quiet(hvs_t *h, const char *path, const char *token, int depth,
                        struct st_events *ev)
{
    st_rc(h, hvs_watch(h, path, token, depth, st_ev_cb, ev), 0);
    st_ev_drain(h);
    if (st_ev_count(ev, path, token) != 1)
        fail_msg("watch %s/%s: initial events: %s", path, token, st_ev_text(ev));
    st_ev_clear(ev);
}

/* Drains h and asserts the recorded events are exactly `want`
 * ("path=token; ..." in order, or "(none)"); clears them. */
static void expect_events(hvs_t *h, struct st_events *ev, const char *want)
{
    st_ev_drain(h);
    const char *got = st_ev_text(ev);
    if (strcmp(got, want) != 0)
        fail_msg("events: %s, expected %s", got, want);
    st_ev_clear(ev);
}

static void test_initial_event(void **state)
{
    struct fx *f = *state;
    /* Whether or not the node exists. */
    st_rc(f->h0, hvs_watch(f->h0, "/nowhere", "t1", HVS_DEPTH_ANY, st_ev_cb, &f->ev), 0);
    expect_events(f->h0, &f->ev, "/nowhere=t1");
    st_write(f->h0, HVS_TX_NONE, "/here", "x");
    st_rc(f->h0, hvs_watch(f->h0, "/here", "t2", 0, st_ev_cb, &f->ev), 0);
    expect_events(f->h0, &f->ev, "/here=t2");
    /* Only once: nothing more without a change. */
    expect_events(f->h0, &f->ev, "(none)");
    /* The same (path, token) again is refused; another token is a new watch. */
    st_rc(f->h0, hvs_watch(f->h0, "/here", "t2", 0, st_ev_cb, &f->ev), -EEXIST);
    expect_events(f->h0, &f->ev, "(none)");
    st_rc(f->h0, hvs_watch(f->h0, "/here", "t3", 0, st_ev_cb, &f->ev), 0);
    expect_events(f->h0, &f->ev, "/here=t3");
    /* Both fire, each with its own token. */
    st_write(f->h0, HVS_TX_NONE, "/here", "y");
    st_ev_drain(f->h0);
    assert_int_equal(f->ev.n, 2);
    assert_int_equal(st_ev_count(&f->ev, "/here", "t2"), 1);
    assert_int_equal(st_ev_count(&f->ev, "/here", "t3"), 1);
    /* Bad depth. */
    st_rc(f->h0, hvs_watch(f->h0, "/here", "bad", -2, st_ev_cb, &f->ev), -EINVAL);
}

static void test_depth(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/d/a/b/c", "x");
    st_write(f->h0, HVS_TX_NONE, "/dd", "prefix, not a child");
    st_write(f->h0, HVS_TX_NONE, "/d-x", "prefix, not a child");

    struct st_events e0 = {0}, e1 = {0}, eany = {0};
    hvs_t *h2 = st_open(f->uri, NULL);
    hvs_t *h3 = st_open(f->uri, NULL);
    watch_quiet(f->h0, "/d", "0", 0, &e0);
    watch_quiet(h2, "/d", "1", 1, &e1);
    watch_quiet(h3, "/d", "any", HVS_DEPTH_ANY, &eany);

    st_write(f->h1, HVS_TX_NONE, "/d", "v");
    expect_events(f->h0, &e0, "/d=0");
    expect_events(h2, &e1, "/d=1");
    expect_events(h3, &eany, "/d=any");

    st_write(f->h1, HVS_TX_NONE, "/d/a", "v");
    expect_events(f->h0, &e0, "(none)");
    expect_events(h2, &e1, "/d/a=1");
    expect_events(h3, &eany, "/d/a=any");

    st_write(f->h1, HVS_TX_NONE, "/d/a/b", "v");
    expect_events(f->h0, &e0, "(none)");
    expect_events(h2, &e1, "(none)");
    expect_events(h3, &eany, "/d/a/b=any");

    st_write(f->h1, HVS_TX_NONE, "/d/a/b/c", "v");
    expect_events(h2, &e1, "(none)");
    expect_events(h3, &eany, "/d/a/b/c=any");

    /* Above and beside: nothing, names sharing the prefix included. */
    st_write(f->h1, HVS_TX_NONE, "/dd", "v");
    st_write(f->h1, HVS_TX_NONE, "/d-x", "v");
    st_write(f->h1, HVS_TX_NONE, "/other", "v");
    st_rc(f->h1, hvs_mkdir(f->h1, HVS_TX_NONE, "/dd/sub"), 0);
    expect_events(f->h0, &e0, "(none)");
    expect_events(h2, &e1, "(none)");
    expect_events(h3, &eany, "(none)");

    /* mkdir and rm are changes too; rm of a child fires with its path. */
    st_rc(f->h1, hvs_mkdir(f->h1, HVS_TX_NONE, "/d/new"), 0);
    expect_events(f->h0, &e0, "(none)");
    expect_events(h2, &e1, "/d/new=1");
    expect_events(h3, &eany, "/d/new=any");
    st_rc(f->h1, hvs_rm(f->h1, HVS_TX_NONE, "/d/a/b"), 0);
    expect_events(f->h0, &e0, "(none)");
    expect_events(h2, &e1, "(none)");
    expect_events(h3, &eany, "/d/a/b=any");

    /* A watch below a removed node fires with its own path. */
    struct st_events ebelow = {0};
    watch_quiet(f->h1, "/d/a", "below", HVS_DEPTH_ANY, &ebelow);
    st_rc(f->h0, hvs_rm(f->h0, HVS_TX_NONE, "/d"), 0);
    expect_events(f->h1, &ebelow, "/d/a=below");
    expect_events(f->h0, &e0, "/d=0");
    expect_events(h2, &e1, "/d=1");
    expect_events(h3, &eany, "/d=any");

    /* A watch on the root with depth 1 sees top-level nodes only. */
    struct st_events eroot = {0};
    watch_quiet(f->h1, "/", "root", 1, &eroot);
    st_write(f->h0, HVS_TX_NONE, "/top", "v");
    st_write(f->h0, HVS_TX_NONE, "/top/sub", "v");
    expect_events(f->h1, &eroot, "/top=root");
    hvs_close(h2);
    hvs_close(h3);
}

/* A write creating missing parents fires watches on the written path. */
static void test_write_creating_parents(void **state)
{
    struct fx *f = *state;
    watch_quiet(f->h1, "/p", "p", HVS_DEPTH_ANY, &f->ev);
    st_write(f->h0, HVS_TX_NONE, "/p/a/b/c", "v");
    st_ev_drain(f->h1);
    if (st_ev_count(&f->ev, "/p/a/b/c", "p") != 1)
        fail_msg("events: %s", st_ev_text(&f->ev));
    st_ev_clear(&f->ev);
}

static void test_fires_on_commit_only(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/t/x", "0");
    st_write(f->h0, HVS_TX_NONE, "/t/y", "0");
    st_write(f->h0, HVS_TX_NONE, "/t/z", "0");
    watch_quiet(f->h1, "/t", "t", HVS_DEPTH_ANY, &f->ev);

    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_write(f->h0, tx, "/t/x", "1");
    st_write(f->h0, tx, "/t/x", "2");
    st_write(f->h0, tx, "/t/x", "3");
    st_write(f->h0, tx, "/t/y", "1");
    st_rc(f->h0, hvs_rm(f->h0, tx, "/t/z"), 0);
    expect_events(f->h1, &f->ev, "(none)");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    /* One event per changed node, whatever the number of writes. */
    st_ev_drain(f->h1);
    if (f->ev.n != 3 || st_ev_count(&f->ev, "/t/x", "t") != 1 ||
        st_ev_count(&f->ev, "/t/y", "t") != 1 || st_ev_count(&f->ev, "/t/z", "t") != 1)
        fail_msg("events at commit: %s", st_ev_text(&f->ev));
    st_ev_clear(&f->ev);

    /* An aborted or conflicting transaction fires nothing. */
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_write(f->h0, tx, "/t/x", "aborted");
    st_ok(f->h0, hvs_tx_abort(f->h0, tx));
    expect_events(f->h1, &f->ev, "(none)");
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_expect(f->h0, tx, "/t/y", "1");
    st_write(f->h0, tx, "/t/y", "lost");
    st_write(f->h1, HVS_TX_NONE, "/t/y", "winner");
    expect_events(f->h1, &f->ev, "/t/y=t");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), -EAGAIN);
    expect_events(f->h1, &f->ev, "(none)");
}

static void test_domain_events(void **state)
{
    struct fx *f = *state;
    struct st_events ein = {0}, erel = {0}, edom = {0};
    watch_quiet(f->h1, "@introduceDomain", "in", 0, &ein);
    watch_quiet(f->h1, "@releaseDomain", "rel", 0, &erel);

    assert_int_equal(hvs_domain_introduced(f->h0, 3), 0);
    st_rc(f->h0, hvs_domain_introduce(f->h0, 3), 0);
    expect_events(f->h1, &ein, "@introduceDomain=in");
    expect_events(f->h1, &erel, "(none)");
    assert_int_equal(hvs_domain_introduced(f->h0, 3), 1);
    st_expect_perms(f->h0, "/local/domain/3", "n3", NULL);
    st_rc(f->h0, hvs_domain_introduce(f->h0, 3), -EEXIST);
    expect_events(f->h1, &ein, "(none)");

    st_write(f->h0, HVS_TX_NONE, "/local/domain/3/device/vif/0", "x");
    hvs_t *d3 = st_open_as(f->uri, NULL, 3);
    watch_quiet(d3, "device", "mine", HVS_DEPTH_ANY, &edom);
    watch_quiet(f->h1, "/local/domain/3/device/vif", "vif", HVS_DEPTH_ANY, &f->ev);

    /* Only dom0 introduces and releases. */
    int rc = hvs_domain_introduce(d3, 4);
    assert_true(rc == -EPERM || rc == -EACCES);
    rc = hvs_domain_release(d3, 3);
    assert_true(rc == -EPERM || rc == -EACCES);
    expect_events(f->h1, &ein, "(none)");
    expect_events(f->h1, &erel, "(none)");

    st_rc(f->h0, hvs_domain_release(f->h0, 3), 0);
    expect_events(f->h1, &erel, "@releaseDomain=rel");
    expect_events(f->h1, &ein, "(none)");
    /* The domain's subtree is gone, and watches in it saw that. */
    assert_int_equal(st_exists(f->h0, HVS_TX_NONE, "/local/domain/3"), 0);
    assert_int_equal(hvs_domain_introduced(f->h0, 3), 0);
    expect_events(f->h1, &f->ev, "/local/domain/3/device/vif=vif");
    st_rc(f->h0, hvs_domain_release(f->h0, 3), -ENOENT);
    expect_events(f->h1, &erel, "(none)");
    hvs_close(d3);
    st_ev_clear(&edom);

    /* Introduced again: a fresh, empty directory. */
    st_rc(f->h0, hvs_domain_introduce(f->h0, 3), 0);
    expect_events(f->h1, &ein, "@introduceDomain=in");
    st_expect_dir(f->h0, HVS_TX_NONE, "/local/domain/3", "");
    char *p = NULL;
    st_rc(f->h0, hvs_domain_path(f->h0, 3, &p), 0);
    assert_string_equal(p, "/local/domain/3");
    free(p);
}

static void test_unwatch(void **state)
{
    struct fx *f = *state;
    watch_quiet(f->h1, "/w", "a", HVS_DEPTH_ANY, &f->ev);
    struct st_events eb = {0};
    watch_quiet(f->h1, "/w", "b", HVS_DEPTH_ANY, &eb);
    st_rc(f->h1, hvs_unwatch(f->h1, "/w", "a"), 0);
    st_write(f->h0, HVS_TX_NONE, "/w/x", "v");
    expect_events(f->h1, &f->ev, "(none)");
    expect_events(f->h1, &eb, "/w/x=b");
    st_rc(f->h1, hvs_unwatch(f->h1, "/w", "a"), -ENOENT);
    st_rc(f->h1, hvs_unwatch(f->h1, "/w", "nope"), -ENOENT);
    /* Another handle's watch is not this handle's to remove. */
    st_rc(f->h0, hvs_unwatch(f->h0, "/w", "b"), -ENOENT);
    st_write(f->h0, HVS_TX_NONE, "/w/x", "v2");
    expect_events(f->h1, &eb, "/w/x=b");

    /* Events queued before the unwatch are dropped with it. */
    st_write(f->h0, HVS_TX_NONE, "/w/x", "v3");
    st_rc(f->h1, hvs_unwatch(f->h1, "/w", "b"), 0);
    expect_events(f->h1, &eb, "(none)");
    /* The same (path, token) may be set again, and fires again. */
    st_rc(f->h1, hvs_watch(f->h1, "/w", "b", 0, st_ev_cb, &eb), 0);
    expect_events(f->h1, &eb, "/w=b");
}

struct writer {
    char uri[64];
    int rc;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    hvs_t *h = NULL;
    w->rc = hvs_open(&h, w->uri, NULL);
    if (w->rc == 0)
        w->rc = hvs_write(h, HVS_TX_NONE, "/fd/from-thread", "t", 1);
    hvs_close(h);
    return NULL;
}

static pthread_t cb_thread;
static int cb_calls;

static void thread_cb(void *opaque, const char *path, const char *token)
{
    cb_thread = pthread_self();
    cb_calls++;
    st_ev_cb(opaque, path, token);
}

static int readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    assert_true(n >= 0);
    return n > 0 && (p.revents & POLLIN);
}

static void test_watch_fd_and_dispatch(void **state)
{
    struct fx *f = *state;
    int fd = hvs_watch_fd(f->h1);
    assert_true(fd >= 0);
    assert_int_equal(hvs_watch_fd(f->h1), fd);
    assert_int_equal(readable(fd, 0), 0);

    st_rc(f->h1, hvs_watch(f->h1, "/fd", "tok", HVS_DEPTH_ANY, thread_cb, &f->ev), 0);
    assert_true(readable(fd, ST_TIMEOUT_MS));
    /* No callback runs until the caller dispatches. */
    assert_int_equal(cb_calls, 0);
    assert_int_equal(hvs_dispatch(f->h1), 1);
    assert_int_equal(cb_calls, 1);
    assert_true(pthread_equal(cb_thread, pthread_self()));
    assert_int_equal(readable(fd, 0), 0);
    assert_int_equal(hvs_dispatch(f->h1), 0);
    st_ev_clear(&f->ev);

    /* A change made by another thread wakes a poll loop here. */
    struct writer w = {.rc = 1};
    snprintf(w.uri, sizeof(w.uri), "%s", f->uri);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    assert_true(readable(fd, ST_TIMEOUT_MS));
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    expect_events(f->h1, &f->ev, "/fd/from-thread=tok");
    assert_true(pthread_equal(cb_thread, pthread_self()));
    assert_int_equal(readable(fd, 0), 0);

    /* Several events: the fd stays readable until all are dispatched. */
    st_write(f->h0, HVS_TX_NONE, "/fd/a", "1");
    st_write(f->h0, HVS_TX_NONE, "/fd/b", "1");
    assert_true(readable(fd, 0));
    expect_events(f->h1, &f->ev, "/fd/a=tok; /fd/b=tok");
    assert_int_equal(readable(fd, 0), 0);

    /* hvs_wait: 0 on timeout, else dispatches. */
    assert_int_equal(hvs_wait(f->h1, 0), 0);
    st_write(f->h0, HVS_TX_NONE, "/fd/c", "1");
    assert_int_equal(hvs_wait(f->h1, ST_TIMEOUT_MS), 1);
    assert_int_equal(st_ev_count(&f->ev, "/fd/c", "tok"), 1);
    st_ev_clear(&f->ev);
}

/* A domU gets events only for nodes it may read. */
static void test_domu_sees_readable_only(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/pub/open", "v");
    st_write(f->h0, HVS_TX_NONE, "/pub/secret", "v");
    st_perms(f->h0, "/pub", "r0", NULL);
    st_perms(f->h0, "/pub/open", "r0", NULL);
    st_perms(f->h0, "/pub/secret", "n0", NULL);
    hvs_t *u = st_open_as(f->uri, NULL, 8);
    watch_quiet(u, "/pub", "u", HVS_DEPTH_ANY, &f->ev);

    st_write(f->h0, HVS_TX_NONE, "/pub/secret", "v2");
    expect_events(u, &f->ev, "(none)");
    st_write(f->h0, HVS_TX_NONE, "/pub/open", "v2");
    expect_events(u, &f->ev, "/pub/open=u");
    /* Nor for another domain's directory. */
    st_ok(f->h0, hvs_domain_introduce(f->h0, 9));
    hvs_t *u9 = st_open_as(f->uri, NULL, 9);
    struct st_events e9 = {0};
    st_rc(u, hvs_watch(u, "/local/domain/9", "spy", HVS_DEPTH_ANY, st_ev_cb, &e9), 0);
    st_ev_drain(u);
    st_ev_clear(&e9);
    st_write(u9, HVS_TX_NONE, "private", "p");
    expect_events(u, &e9, "(none)");
    /* In a transaction's commit alike. */
    hvs_tx_t tx;
    st_ok(f->h0, hvs_tx_begin(f->h0, &tx));
    st_write(f->h0, tx, "/pub/secret", "v3");
    st_write(f->h0, tx, "/pub/open", "v3");
    st_rc(f->h0, hvs_tx_commit(f->h0, tx), 0);
    expect_events(u, &f->ev, "/pub/open=u");
    hvs_close(u9);
    hvs_close(u);
}

static void test_relative_event_paths(void **state)
{
    struct fx *f = *state;
    st_ok(f->h0, hvs_domain_introduce(f->h0, 6));
    hvs_t *u = st_open_as(f->uri, NULL, 6);
    st_rc(u, hvs_watch(u, "data", "rel", HVS_DEPTH_ANY, st_ev_cb, &f->ev), 0);
    expect_events(u, &f->ev, "data=rel");
    st_write(f->h0, HVS_TX_NONE, "/local/domain/6/data/x", "1");
    expect_events(u, &f->ev, "data/x=rel");
    st_write(u, HVS_TX_NONE, "data", "1");
    expect_events(u, &f->ev, "data=rel");
    /* The same node watched absolutely gets the absolute path. */
    struct st_events eabs = {0};
    watch_quiet(u, "/local/domain/6/data", "abs", HVS_DEPTH_ANY, &eabs);
    st_write(u, HVS_TX_NONE, "data/y", "1");
    expect_events(u, &f->ev, "data/y=rel");
    expect_events(u, &eabs, "/local/domain/6/data/y=abs");
    /* dom0 relative too. */
    struct st_events e0 = {0};
    st_rc(f->h1, hvs_watch(f->h1, "mine", "d0", 0, st_ev_cb, &e0), 0);
    expect_events(f->h1, &e0, "mine=d0");
    st_write(f->h0, HVS_TX_NONE, "/local/domain/0/mine", "1");
    expect_events(f->h1, &e0, "mine=d0");
    st_rc(f->h1, hvs_unwatch(f->h1, "mine", "d0"), 0);
    hvs_close(u);
}

/* Permission changes fire watches (xenstore: SET_PERMS is a change). */
static void test_perms_change_fires(void **state)
{
    struct fx *f = *state;
    st_write(f->h0, HVS_TX_NONE, "/pc", "v");
    watch_quiet(f->h1, "/pc", "pc", 0, &f->ev);
    st_perms(f->h0, "/pc", "r0", NULL);
    expect_events(f->h1, &f->ev, "/pc=pc");
}

/* Closing a handle with watches and undelivered events leaks nothing and
 * stops its events; other handles' watches go on. */
static void test_close_with_pending(void **state)
{
    struct fx *f = *state;
    hvs_t *h = st_open(f->uri, NULL);
    struct st_events e = {0};
    st_rc(h, hvs_watch(h, "/cl", "x", HVS_DEPTH_ANY, st_ev_cb, &e), 0);
    watch_quiet(f->h1, "/cl", "y", HVS_DEPTH_ANY, &f->ev);
    st_write(f->h0, HVS_TX_NONE, "/cl/a", "1");
    hvs_close(h);
    assert_int_equal(e.n, 0);
    st_write(f->h0, HVS_TX_NONE, "/cl/b", "1");
    expect_events(f->h1, &f->ev, "/cl/a=y; /cl/b=y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initial_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_creating_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fires_on_commit_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_fd_and_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domu_sees_readable_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_event_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perms_change_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
