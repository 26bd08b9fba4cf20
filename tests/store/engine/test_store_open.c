/* SPDX-License-Identifier: MIT */
/*
 * Opening embedded engines: "mem:" is a private volatile engine, "mem:NAME"
 * one shared by name within the process; URIs and options are checked as
 * docs/api-conventions.md says; hvs_act_as is dom0's, once.
 */
#include "store_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void test_mem_private_and_named(void **state)
{
    (void)state;
    hvs_t *a = st_open("mem:", NULL);
    hvs_t *b = st_open("mem:", NULL);
    st_write(a, HVS_TX_NONE, "/only-a", "a");
    assert_int_equal(st_exists(b, HVS_TX_NONE, "/only-a"), 0);
    hvs_close(a);
    hvs_close(b);

    char uri[64], other[64];
    st_mem_uri(uri, sizeof(uri));
    st_mem_uri(other, sizeof(other));
    a = st_open(uri, NULL);
    b = st_open(uri, NULL);
    hvs_t *c = st_open(other, NULL);
    st_write(a, HVS_TX_NONE, "/shared", "s");
    st_expect(b, HVS_TX_NONE, "/shared", "s");
    assert_int_equal(st_exists(c, HVS_TX_NONE, "/shared"), 0);
    hvs_close(a);
    st_expect(b, HVS_TX_NONE, "/shared", "s");
    hvs_close(b);
    hvs_close(c);
}

static void test_bad_uris_and_options(void **state)
{
    (void)state;
    const char *bad[] = {"", "mem", "memory:", "file", "file:", "tcp:1.2.3.4", "unix:",
                         "MEM:", " mem:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hvs_t *h = (hvs_t *)1;
        int rc = hvs_open(&h, bad[i], NULL);
        if (rc != -EINVAL)
            fail_msg("hvs_open(\"%s\"): %d, expected -EINVAL", bad[i], rc);
        assert_null(h);
        assert_true(strlen(hvs_open_error()) > 0);
    }
    hvs_t *h = (hvs_t *)1;
    assert_int_equal(hvs_open(&h, NULL, NULL), -EINVAL);
    assert_null(h);
    assert_int_equal(hvs_open(NULL, "mem:", NULL), -EINVAL);

    /* A size that was not set. */
    hvs_options_t o = {0};
    assert_int_equal(hvs_open(&h, "mem:", &o), -EINVAL);
    assert_null(h);
    hvs_quota_t q = {0};
    o.size = sizeof(o);
    o.quota = &q;
    assert_int_equal(hvs_open(&h, "mem:", &o), -EINVAL);
    assert_null(h);
    /* A newer caller's larger struct: fine if the unknown tail is zero. */
    struct {
        hvs_options_t o;
        uint64_t future;
    } big = {.o = {.size = sizeof(big)}, .future = 0};
    st_rc(NULL, hvs_open(&h, "mem:", &big.o), 0);
    hvs_close(h);
    big.future = 1;
    assert_int_equal(hvs_open(&h, "mem:", &big.o), -EINVAL);
    assert_null(h);
    /* Success leaves no stale message. */
    st_rc(NULL, hvs_open(&h, "mem:", NULL), 0);
    assert_string_equal(hvs_open_error(), "");
    hvs_close(h);
    hvs_close(NULL);
}

static void test_act_as(void **state)
{
    (void)state;
    char uri[64];
    st_mem_uri(uri, sizeof(uri));
    hvs_t *h = st_open(uri, NULL);
    assert_int_equal(hvs_domid(h), HVS_DOM0);
    st_rc(h, hvs_act_as(h, 5), 0);
    assert_int_equal(hvs_domid(h), 5);
    /* Cannot be undone, nor changed. */
    st_rc(h, hvs_act_as(h, 0), -EPERM);
    st_rc(h, hvs_act_as(h, 6), -EPERM);
    assert_int_equal(hvs_domid(h), 5);
    assert_true(strlen(hvs_last_error(h)) > 0);
    /* Now it is domain 5: relative paths and permissions are its. */
    hvs_t *h0 = st_open(uri, NULL);
    st_write(h0, HVS_TX_NONE, "/root-only", "x");
    char *v = NULL;
    st_rc(h, hvs_read(h, HVS_TX_NONE, "/root-only", &v, NULL), -EACCES);
    int rc = hvs_domain_introduce(h, 9);
    assert_true(rc == -EPERM || rc == -EACCES);
    hvs_close(h);
    hvs_close(h0);
}

/* Error messages are per thread and per handle. */
static void test_last_error_per_handle(void **state)
{
    (void)state;
    char uri[64];
    st_mem_uri(uri, sizeof(uri));
    hvs_t *a = st_open(uri, NULL);
    hvs_t *b = st_open(uri, NULL);
    assert_string_equal(hvs_last_error(a), "");
    char *v = NULL;
    assert_int_equal(hvs_read(a, HVS_TX_NONE, "/missing-node", &v, NULL), -ENOENT);
    assert_non_null(strstr(hvs_last_error(a), "missing-node"));
    assert_string_equal(hvs_last_error(b), "");
    hvs_close(a);
    hvs_close(b);
}

struct err_thread {
    hvs_t *h;
    pthread_barrier_t *bar;
    const char *path;
    char msg[256];
};

/* Fails on a shared handle, waits until the other thread failed too, then
 * reads its own message back. */
static void *err_main(void *arg)
{
    struct err_thread *e = arg;
    char *v = NULL;
    int rc = hvs_read(e->h, HVS_TX_NONE, e->path, &v, NULL);
    pthread_barrier_wait(e->bar);
    snprintf(e->msg, sizeof(e->msg), "%d %s", rc, hvs_last_error(e->h));
    return NULL;
}

static void test_last_error_per_thread(void **state)
{
    (void)state;
    hvs_t *h = st_open("mem:", NULL);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct err_thread a = {.h = h, .bar = &bar, .path = "/first-missing"};
    struct err_thread b = {.h = h, .bar = &bar, .path = "/second-missing"};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, err_main, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, err_main, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&bar);
    if (!strstr(a.msg, "first-missing") || strstr(a.msg, "second"))
        fail_msg("thread a: \"%s\"", a.msg);
    if (!strstr(b.msg, "second-missing") || strstr(b.msg, "first"))
        fail_msg("thread b: \"%s\"", b.msg);
    assert_int_equal(atoi(a.msg), -ENOENT);
    /* This thread failed nothing on h. */
    assert_string_equal(hvs_last_error(h), "");
    hvs_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_private_and_named),
        cmocka_unit_test(test_bad_uris_and_options),
        cmocka_unit_test(test_act_as),
        cmocka_unit_test(test_last_error_per_handle),
        cmocka_unit_test(test_last_error_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
