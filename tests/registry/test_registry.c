/* SPDX-License-Identifier: MIT */
/*
 * The host registry: entries a domain gets in the store, unique names,
 * domids from many processes at once, cleanup when a monitor is killed with
 * SIGKILL, and hvstored started by libhv when none runs. Real /dev/kvm,
 * real hvstored, real processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_util.h"
#include "testutil.h"

#define NCONCURRENT 20

static hv_t *open_host(struct du_daemon *d, const char *store)
{
    hv_options_t o = {.size = sizeof(o), .store = store, .run_dir = d->dir,
                      .state_dir = d->dir, .hvstored_path = du_exe()};
    hv_t *hv = NULL;
    int rc = hv_open(&hv, &o);
    if (rc < 0)
        fail_msg("hv_open: %s", strerror(-rc));
    return hv;
}

static hv_domain_t *create(hv_t *hv, const char *name, int *err)
{
    hv_domain_config_t c = {.size = sizeof(c), .name = name, .memory_mb = 4, .vcpus = 1};
    hv_domain_t *dom = NULL;
    *err = hv_domain_create(hv, &c, &dom);
    return dom;
}

static char *read_node(hvs_t *h, const char *fmt, unsigned id)
{
    char path[256], *v = NULL;
    size_t len;
    snprintf(path, sizeof(path), fmt, id);
    if (hvs_read(h, HVS_TX_NONE, path, &v, &len) < 0)
        return NULL;
    return v;
}

static void count_event(void *opaque, const char *path, const char *token)
{
    (void)path;
    (void)token;
    ++*(int *)opaque;
}

static void test_entries_and_names(void **state)
{
    int events = 0;
    struct du_daemon *d = *state;
    hv_t *hv = open_host(d, d->uri);
    hvs_t *h = du_open(d, 0);
    int err;

    hv_domain_t *dom = create(hv, "alpha", &err);
    assert_int_equal(err, 0);
    unsigned id = hv_domain_id(dom);
    assert_true(id >= 1 && id <= 32751);

    char *v = read_node(h, "/local/domain/%u/name", id);
    assert_non_null(v);
    assert_string_equal(v, "alpha");
    free(v);
    size_t len;
    assert_int_equal(hvs_read(h, HVS_TX_NONE, "/tool/hv/name/alpha", &v, &len), 0);
    assert_int_equal(atoi(v), (int)id);
    free(v);
    char *vm = read_node(h, "/local/domain/%u/vm", id);
    assert_non_null(vm);
    char path[128];
    snprintf(path, sizeof(path), "%s/name", vm);
    assert_int_equal(hvs_read(h, HVS_TX_NONE, path, &v, &len), 0);
    assert_string_equal(v, "alpha");
    free(v);

    /* The guest may read its subtree and write only under data/. */
    hvs_t *guest = du_open(d, id);
    char gpath[64];
    snprintf(gpath, sizeof(gpath), "/local/domain/%u/name", id);
    assert_int_equal(hvs_read(guest, HVS_TX_NONE, gpath, &v, &len), 0);
    free(v);
    assert_int_equal(hvs_write(guest, HVS_TX_NONE, "name", "x", 1), -EACCES);
    assert_int_equal(hvs_write(guest, HVS_TX_NONE, "data/k", "v", 1), 0);
    hvs_close(guest);

    uint32_t found = 0;
    assert_int_equal(hv_domain_lookup(hv, "alpha", &found), 0);
    assert_int_equal(found, id);
    assert_int_equal(hv_domain_lookup(hv, "nosuch", &found), -ENOENT);
    assert_non_null(strstr(hv_last_error(hv), "nosuch"));

    /* Names are unique host-wide, also from another handle. */
    hv_t *hv2 = open_host(d, d->uri);
    hv_domain_t *dup = create(hv2, "alpha", &err);
    assert_null(dup);
    assert_int_equal(err, -EEXIST);
    assert_non_null(strstr(hv_last_error(hv2), "'alpha'"));
    hv_close(hv2);

    /* Destroy removes every entry and tells @releaseDomain watchers. */
    assert_int_equal(hvs_watch(h, "@releaseDomain", "rel", HVS_DEPTH_ANY, count_event, &events), 0);
    assert_int_equal(hvs_wait(h, DU_TIMEOUT_MS), 1); /* the registration's event */
    assert_int_equal(hv_domain_destroy(dom), 0);
    assert_int_equal(hvs_wait(h, DU_TIMEOUT_MS), 1);
    assert_null(read_node(h, "/local/domain/%u", id));
    assert_int_equal(hvs_read(h, HVS_TX_NONE, vm, &v, &len), -ENOENT);
    assert_int_equal(hvs_read(h, HVS_TX_NONE, "/tool/hv/name/alpha", &v, &len), -ENOENT);
    free(vm);

    /* The name is free again. */
    dom = create(hv, "alpha", &err);
    assert_int_equal(err, 0);
    assert_int_equal(hv_domain_destroy(dom), 0);
    hvs_close(h);
    hv_close(hv);
}

/* A monitor in a child: creates name, writes its domid to wfd, then waits
 * for EOF on rfd (or to be killed). */
static pid_t spawn_monitor(struct du_daemon *d, const char *name, int *domid_fd, int *hold_fd)
{
    int out[2], hold[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Only our own pipe ends: a sibling's end held here would keep it
         * from ever seeing EOF. */
        if (dup2(out[1], 100) < 0 || dup2(hold[0], 101) < 0)
            _exit(4);
        out[1] = 100;
        hold[0] = 101;
        for (int fd = 3; fd < 100; fd++)
            close(fd);
        hv_options_t o = {.size = sizeof(o), .store = d->uri, .run_dir = d->dir,
                          .state_dir = d->dir};
        hv_t *hv = NULL;
        int err = hv_open(&hv, &o);
        hv_domain_t *dom = NULL;
        hv_domain_config_t c = {.size = sizeof(c), .name = name, .memory_mb = 4, .vcpus = 1};
        if (!err)
            err = hv_domain_create(hv, &c, &dom);
        int msg = err < 0 ? err : (int)hv_domain_id(dom);
        if (err < 0)
            fprintf(stderr, "monitor %s: %s\n", name, hv ? hv_last_error(hv) : strerror(-err));
        if (write(out[1], &msg, sizeof(msg)) != sizeof(msg))
            _exit(3);
        char c1;
        while (read(hold[0], &c1, 1) > 0)
            ;
        hv_close(hv);
        _exit(err < 0 ? 1 : 0);
    }
    close(out[1]);
    close(hold[0]);
    *domid_fd = out[0];
    *hold_fd = hold[1];
    return pid;
}

static int read_domid(int fd)
{
    int v = 0;
    ssize_t n;
    while ((n = read(fd, &v, sizeof(v))) < 0 && errno == EINTR)
        ;
    assert_int_equal(n, sizeof(v));
    return v;
}

static void test_concurrent_creates(void **state)
{
    struct du_daemon *d = *state;
    pid_t pids[NCONCURRENT];
    int rfd[NCONCURRENT], hold[NCONCURRENT], ids[NCONCURRENT];

    for (int i = 0; i < NCONCURRENT; i++) {
        char name[32];
        snprintf(name, sizeof(name), "conc%d", i);
        pids[i] = spawn_monitor(d, name, &rfd[i], &hold[i]);
    }
    for (int i = 0; i < NCONCURRENT; i++) {
        ids[i] = read_domid(rfd[i]);
        close(rfd[i]);
        assert_true(ids[i] > 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ids[i], ids[j]);
    }
    hv_t *hv = open_host(d, d->uri);
    long n = hv_domain_list(hv, NULL, 0);
    /* hv_domain_list may still be a stub of the control engineer's; the
     * registry's own view is what this test is about. */
    (void)n;
    hvs_t *h = du_open(d, 0);
    for (int i = 0; i < NCONCURRENT; i++) {
        char *v = read_node(h, "/local/domain/%u/name", (unsigned)ids[i]);
        char want[32];
        snprintf(want, sizeof(want), "conc%d", i);
        assert_non_null(v);
        assert_string_equal(v, want);
        free(v);
    }
    for (int i = 0; i < NCONCURRENT; i++) {
        close(hold[i]);
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char **names;
    int rc = hvs_directory(h, HVS_TX_NONE, "/local/domain", &names);
    if (rc >= 0) {
        assert_null(names[0]);
        hvs_list_free(names);
    } else {
        assert_int_equal(rc, -ENOENT);
    }
    hvs_close(h);
    hv_close(hv);
}

static void test_sigkill_cleanup(void **state)
{
    struct du_daemon *d = *state;
    int rfd, hold, events = 0;
    hvs_t *h = du_open(d, 0);

    pid_t pid = spawn_monitor(d, "victim", &rfd, &hold);
    int id = read_domid(rfd);
    close(rfd);
    assert_true(id > 0);
    char *v = read_node(h, "/local/domain/%u/name", (unsigned)id);
    assert_non_null(v);
    free(v);
    char *vm = read_node(h, "/local/domain/%u/vm", (unsigned)id);
    assert_non_null(vm);

    assert_int_equal(hvs_watch(h, "@releaseDomain", "rel", HVS_DEPTH_ANY, count_event, &events), 0);
    assert_int_equal(hvs_wait(h, DU_TIMEOUT_MS), 1);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(hold);
    /* The store sees the connection go and cleans up: wait for its event. */
    assert_int_equal(hvs_wait(h, DU_TIMEOUT_MS), 1);
    assert_null(read_node(h, "/local/domain/%u", (unsigned)id));
    size_t len;
    assert_int_equal(hvs_read(h, HVS_TX_NONE, vm, &v, &len), -ENOENT);
    assert_int_equal(hvs_read(h, HVS_TX_NONE, "/tool/hv/name/victim", &v, &len), -ENOENT);
    char sock[256];
    snprintf(sock, sizeof(sock), "%s/domains/%d.sock", d->dir, id);
    struct stat st;
    assert_int_equal(stat(sock, &st), -1);
    free(vm);

    /* The name can be taken again at once. */
    hv_t *hv = open_host(d, d->uri);
    int err;
    hv_domain_t *dom = create(hv, "victim", &err);
    assert_int_equal(err, 0);
    hv_domain_destroy(dom);
    hv_close(hv);
    hvs_close(h);
}

/* With no daemon on the run dir's socket, libhv starts one itself. */
static void test_embedded_default(void **state)
{
    (void)state;
    struct du_daemon d;
    du_init(&d);
    /* The default store, not the test environment's "none". */
    unsetenv("HV_STORE");
    hv_t *hv = open_host(&d, NULL);
    int err;
    hv_domain_t *dom = create(hv, "fresh", &err);
    if (err)
        fail_msg("create on a fresh run dir: %s", hv_last_error(hv));
    char sock[160];
    snprintf(sock, sizeof(sock), "%s/store.sock", d.dir);
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    char data[200];
    snprintf(data, sizeof(data), "%s/store", d.dir);
    assert_int_equal(stat(data, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* A second host handle finds the same daemon: one registry. */
    hv_t *hv2 = open_host(&d, NULL);
    uint32_t id;
    assert_int_equal(hv_domain_lookup(hv2, "fresh", &id), 0);
    assert_int_equal(id, hv_domain_id(dom));
    hv_close(hv2);
    hv_domain_destroy(dom);
    hv_close(hv);
    /* The daemon we caused outlives the handles that caused it. */
    assert_int_equal(tu_spawned_daemon_stop(sock, NULL), 0);
    assert_int_equal(stat(sock, &st), -1);
    du_fini(&d);
}

static int setup(void **state)
{
    return du_fixture_setup(state, NULL, NULL);
}

int main(int argc, char **argv)
{
    tu_require_kvm();
    du_set_exe(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entries_and_names, setup, du_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_creates, setup, du_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_cleanup, setup, du_fixture_teardown),
        cmocka_unit_test(test_embedded_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
