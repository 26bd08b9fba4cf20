/* SPDX-License-Identifier: MIT */
/*
 * The durable embedded engine, "file:PATH": what is written (values with
 * any bytes, removals, permissions, committed transactions) is there after
 * close and reopen, in this process or another; what was not committed is
 * not; a second process cannot open a file in use (-EBUSY); a process
 * killed mid-stream loses no write it was told had succeeded; a file that
 * is not a store is refused and left alone.
 *
 * Second processes are this executable run again (/proc/self/exe) with a
 * child mode as argv[1], so they share nothing with the parent's engine.
 */
#include "store_test.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fx {
    char *dir;
    char uri[PATH_MAX + 8];
    char file[PATH_MAX];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = st_tmpdir();
    snprintf(f->file, sizeof(f->file), "%s/store.db", f->dir);
    snprintf(f->uri, sizeof(f->uri), "file:%s", f->file);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    st_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Runs this executable with `args` (NULL-terminated); returns its exit
 * status, or 128 + signal. */
static int run_child(const char *const *args)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[8];
        int n = 0;
        argv[n++] = (char *)"test_store_file";
        for (; args[n - 1] && n < 7; n++)
            argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_values_survive_reopen(void **state)
{
    struct fx *f = *state;
    static const char bin[] = {'a', 0, 'b', '\n', (char)0xff, 0, 0};
    char big[4096 + 100];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);

    hvs_t *h = st_open(f->uri, NULL);
    st_write(h, HVS_TX_NONE, "/plain", "hello");
    st_rc(h, hvs_write(h, HVS_TX_NONE, "/bin", bin, sizeof(bin)), 0);
    st_rc(h, hvs_write(h, HVS_TX_NONE, "/empty", "", 0), 0);
    st_rc(h, hvs_write(h, HVS_TX_NONE, "/big", big, sizeof(big)), 0);
    st_write(h, HVS_TX_NONE, "/deep/a/b/c", "deep");
    st_rc(h, hvs_mkdir(h, HVS_TX_NONE, "/dir"), 0);
    st_write(h, HVS_TX_NONE, "/over", "first");
    st_write(h, HVS_TX_NONE, "/over", "second");
    st_write(h, HVS_TX_NONE, "relative", "dom0's");
    hvs_close(h);

    h = st_open(f->uri, NULL);
    st_expect(h, HVS_TX_NONE, "/plain", "hello");
    char *v = NULL;
    size_t len = 0;
    st_rc(h, hvs_read(h, HVS_TX_NONE, "/bin", &v, &len), 0);
    assert_int_equal(len, sizeof(bin));
    assert_memory_equal(v, bin, sizeof(bin));
    free(v);
    st_rc(h, hvs_read(h, HVS_TX_NONE, "/big", &v, &len), 0);
    assert_int_equal(len, sizeof(big));
    assert_memory_equal(v, big, sizeof(big));
    free(v);
    st_expect(h, HVS_TX_NONE, "/empty", "");
    st_expect(h, HVS_TX_NONE, "/deep/a/b/c", "deep");
    st_expect(h, HVS_TX_NONE, "/deep/a", "");
    st_expect(h, HVS_TX_NONE, "/dir", "");
    st_expect(h, HVS_TX_NONE, "/over", "second");
    st_expect(h, HVS_TX_NONE, "/local/domain/0/relative", "dom0's");
    st_expect_dir(h, HVS_TX_NONE, "/deep/a", "b");
    hvs_close(h);
}

static void test_rm_and_perms_survive(void **state)
{
    struct fx *f = *state;
    hvs_t *h = st_open(f->uri, NULL);
    st_write(h, HVS_TX_NONE, "/keep/x", "x");
    st_write(h, HVS_TX_NONE, "/gone/a/b", "b");
    st_write(h, HVS_TX_NONE, "/gone/c", "c");
    st_write(h, HVS_TX_NONE, "/p", "p");
    hvs_close(h);

    h = st_open(f->uri, NULL);
    st_rc(h, hvs_rm(h, HVS_TX_NONE, "/gone"), 0);
    st_perms(h, "/p", "n7", "r3", "b9", NULL);
    st_perms(h, "/keep", "r0", NULL);
    hvs_close(h);

    h = st_open(f->uri, NULL);
    assert_int_equal(st_exists(h, HVS_TX_NONE, "/gone"), 0);
    assert_int_equal(st_exists(h, HVS_TX_NONE, "/gone/a/b"), 0);
    assert_int_equal(st_exists(h, HVS_TX_NONE, "/gone/c"), 0);
    st_expect(h, HVS_TX_NONE, "/keep/x", "x");
    st_expect_perms(h, "/p", "n7", "r3", "b9", NULL);
    st_expect_perms(h, "/keep", "r0", NULL);
    /* And they are enforced after the reload. */
    hvs_t *u = st_open_as(f->uri, NULL, 7);
    st_expect(u, HVS_TX_NONE, "/p", "p");
    hvs_close(u);
    u = st_open_as(f->uri, NULL, 4);
    char *v = NULL;
    st_rc(u, hvs_read(u, HVS_TX_NONE, "/p", &v, NULL), -EACCES);
    st_expect(u, HVS_TX_NONE, "/keep", "");
    hvs_close(u);
    hvs_close(h);
}

static void test_transactions_and_reopen(void **state)
{
    struct fx *f = *state;
    hvs_t *h = st_open(f->uri, NULL);
    hvs_tx_t tx;
    st_ok(h, hvs_tx_begin(h, &tx));
    st_write(h, tx, "/tx/committed", "yes");
    st_rc(h, hvs_tx_commit(h, tx), 0);
    st_ok(h, hvs_tx_begin(h, &tx));
    st_write(h, tx, "/tx/aborted", "no");
    st_rc(h, hvs_tx_abort(h, tx), 0);
    st_ok(h, hvs_tx_begin(h, &tx));
    st_write(h, tx, "/tx/open-at-close", "no");
    hvs_close(h);

    h = st_open(f->uri, NULL);
    st_expect(h, HVS_TX_NONE, "/tx/committed", "yes");
    st_expect_dir(h, HVS_TX_NONE, "/tx", "committed");
    hvs_close(h);
}

static void test_second_process_refused(void **state)
{
    struct fx *f = *state;
    hvs_t *h = st_open(f->uri, NULL);
    st_write(h, HVS_TX_NONE, "/owner", "parent");
    const char *open_args[] = {"--open-rc", f->file, NULL};
    assert_int_equal(run_child(open_args), EBUSY);
    /* The refused attempt did not disturb the parent's store. */
    st_write(h, HVS_TX_NONE, "/after", "1");
    st_expect(h, HVS_TX_NONE, "/owner", "parent");
    hvs_close(h);

    /* Closed: another process opens it and finds what was written. */
    const char *read_args[] = {"--expect", f->file, "/owner", "parent", NULL};
    assert_int_equal(run_child(read_args), 0);
    const char *read2[] = {"--expect", f->file, "/after", "1", NULL};
    assert_int_equal(run_child(read2), 0);
    /* And this process again after it. */
    h = st_open(f->uri, NULL);
    st_expect(h, HVS_TX_NONE, "/owner", "parent");
    hvs_close(h);
}

/* Two opens in one process share one engine, however the path is spelled,
 * also when the first open created the file. */
static void test_same_process_shares(void **state)
{
    struct fx *f = *state;
    char alt[PATH_MAX + 16];
    snprintf(alt, sizeof(alt), "file:%s/./store.db", f->dir);
    hvs_t *a = st_open(alt, NULL);
    hvs_t *b = st_open(alt, NULL);
    hvs_t *c = st_open(f->uri, NULL);
    st_write(a, HVS_TX_NONE, "/shared", "a");
    st_expect(b, HVS_TX_NONE, "/shared", "a");
    st_expect(c, HVS_TX_NONE, "/shared", "a");
    struct st_events ev = {0};
    st_rc(c, hvs_watch(c, "/shared", "w", 0, st_ev_cb, &ev), 0);
    st_ev_drain(c);
    st_ev_clear(&ev);
    st_write(b, HVS_TX_NONE, "/shared", "b");
    st_ev_drain(c);
    assert_int_equal(st_ev_count(&ev, "/shared", "w"), 1);
    st_ev_clear(&ev);
    /* The engine lives while any handle does. */
    hvs_close(a);
    st_write(b, HVS_TX_NONE, "/still", "open");
    hvs_close(b);
    st_expect(c, HVS_TX_NONE, "/still", "open");
    hvs_close(c);
    hvs_t *h = st_open(f->uri, NULL);
    st_expect(h, HVS_TX_NONE, "/still", "open");
    hvs_close(h);
}

static void test_many_reopens(void **state)
{
    struct fx *f = *state;
    char path[64], val[16];
    for (int i = 0; i < 30; i++) {
        hvs_t *h = st_open(f->uri, NULL);
        snprintf(path, sizeof(path), "/cycle/%d", i);
        snprintf(val, sizeof(val), "%d", i);
        st_write(h, HVS_TX_NONE, path, val);
        if (i > 0) {
            snprintf(path, sizeof(path), "/cycle/%d", i - 1);
            snprintf(val, sizeof(val), "%d", i - 1);
            st_expect(h, HVS_TX_NONE, path, val);
        }
        hvs_close(h);
    }
    hvs_t *h = st_open(f->uri, NULL);
    char **names = NULL;
    st_rc(h, hvs_directory(h, HVS_TX_NONE, "/cycle", &names), 30);
    hvs_list_free(names);
    hvs_close(h);
}

/* Many children with long names survive a reopen. */
static void test_large_directory_survives(void **state)
{
    struct fx *f = *state;
    hvs_t *h = st_open(f->uri, NULL);
    hvs_tx_t tx;
    char path[400], name[300];
    st_ok(h, hvs_tx_begin(h, &tx));
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "n%04d-%0200d", i, i);
        snprintf(path, sizeof(path), "/large/%s", name);
        st_rc(h, hvs_mkdir(h, tx, path), 0);
    }
    st_rc(h, hvs_tx_commit(h, tx), 0);
    hvs_close(h);
    h = st_open(f->uri, NULL);
    char **names = NULL;
    st_rc(h, hvs_directory(h, HVS_TX_NONE, "/large", &names), 2000);
    hvs_list_free(names);
    hvs_close(h);
}

/* A killed process loses no write it saw succeed. */
static void test_killed_writer_loses_nothing(void **state)
{
    struct fx *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        char fdtext[16];
        snprintf(fdtext, sizeof(fdtext), "%d", p[1]);
        execl("/proc/self/exe", "test_store_file", "--writer", f->file, fdtext, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    /* Kill it once it has acknowledged a good number of writes. */
    int acked = -1, got;
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    while (acked < 150) {
        assert_true(poll(&pfd, 1, ST_TIMEOUT_MS) == 1);
        ssize_t n = read(p[0], &got, sizeof(got));
        if (n != (ssize_t)sizeof(got))
            fail_msg("the writer stopped after %d acknowledged writes", acked + 1);
        assert_int_equal(got, acked + 1);
        acked = got;
    }
    kill(pid, SIGKILL);
    /* Anything it acknowledged before dying counts too. */
    while (read(p[0], &got, sizeof(got)) == (ssize_t)sizeof(got))
        acked = got;
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    hvs_t *h = st_open(f->uri, NULL);
    char path[64], val[16];
    for (int i = 0; i <= acked; i++) {
        snprintf(path, sizeof(path), "/w/%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        st_expect(h, HVS_TX_NONE, path, val);
    }
    /* And the file takes new writes. */
    st_write(h, HVS_TX_NONE, "/after-kill", "ok");
    hvs_close(h);
}

/* Something that is not a store is refused, with a message, and kept. */
static void test_not_a_store(void **state)
{
    struct fx *f = *state;
    char junk[8192];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 131 + 7);
    int fd = open(f->file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);

    hvs_t *h = (hvs_t *)1;
    int rc = hvs_open(&h, f->uri, NULL);
    assert_true(rc < 0);
    assert_null(h);
    assert_true(strlen(hvs_open_error()) > 0);
    assert_non_null(strstr(hvs_open_error(), "store.db"));

    char back[sizeof(junk) + 1];
    fd = open(f->file, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, back, sizeof(back)), (ssize_t)sizeof(junk));
    close(fd);
    assert_memory_equal(back, junk, sizeof(junk));

    /* A file in a directory that does not exist. */
    char uri[PATH_MAX + 32];
    snprintf(uri, sizeof(uri), "file:%s/no/such/dir/x.db", f->dir);
    rc = hvs_open(&h, uri, NULL);
    assert_true(rc < 0);
    assert_null(h);
    assert_true(strlen(hvs_open_error()) > 0);
    rc = hvs_open(&h, "file:", NULL);
    assert_int_equal(rc, -EINVAL);
}

/* ---- Child modes ---------------------------------------------------------- */

static int child_open_rc(const char *file)
{
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof(uri), "file:%s", file);
    hvs_t *h = NULL;
    int rc = hvs_open(&h, uri, NULL);
    hvs_close(h);
    return rc < 0 ? -rc : 0;
}

static int child_expect(const char *file, const char *path, const char *value)
{
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof(uri), "file:%s", file);
    hvs_t *h = NULL;
    if (hvs_open(&h, uri, NULL) != 0) {
        fprintf(stderr, "child: open %s: %s\n", uri, hvs_open_error());
        return 2;
    }
    char *v = NULL;
    size_t len;
    int rc = hvs_read(h, HVS_TX_NONE, path, &v, &len);
    int ret = rc != 0 ? 3 : (len != strlen(value) || memcmp(v, value, len) != 0) ? 4 : 0;
    free(v);
    hvs_close(h);
    return ret;
}

static int child_writer(const char *file, int fd)
{
    char uri[PATH_MAX + 8], path[64], val[16];
    snprintf(uri, sizeof(uri), "file:%s", file);
    hvs_t *h = NULL;
    if (hvs_open(&h, uri, NULL) != 0)
        return 2;
    for (int i = 0; i < 100000; i++) {
        snprintf(path, sizeof(path), "/w/%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        if (hvs_write(h, HVS_TX_NONE, path, val, strlen(val)) != 0)
            return 3;
        if (write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i))
            return 4;
    }
    return 5; /* never killed */
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--open-rc") == 0)
        return child_open_rc(argv[2]);
    if (argc == 5 && strcmp(argv[1], "--expect") == 0)
        return child_expect(argv[2], argv[3], argv[4]);
    if (argc == 4 && strcmp(argv[1], "--writer") == 0)
        return child_writer(argv[2], atoi(argv[3]));

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_values_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_and_perms_survive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_process_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_process_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_directory_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
