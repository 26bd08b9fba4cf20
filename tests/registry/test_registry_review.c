/* SPDX-License-Identifier: MIT */
/*
 * Regressions from the issue 4 review of the registry: a monitor that dies
 * after releasing a domid a successor took, a store daemon restarted under
 * running monitors, and the store daemon libhv starts inheriting the
 * caller's fds. Real hvstored, real processes, /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_util.h"
#include "testutil.h"

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

static hv_domain_t *create(hv_t *hv, const char *name)
{
    hv_domain_config_t c = {.size = sizeof(c), .name = name, .memory_mb = 4, .vcpus = 1};
    hv_domain_t *dom = NULL;
    int err = hv_domain_create(hv, &c, &dom);
    if (err)
        fail_msg("create %s: %s", name, hv_last_error(hv));
    return dom;
}

static char *read_node(hvs_t *h, const char *fmt, unsigned id)
{
    char path[256], *v = NULL;
    snprintf(path, sizeof(path), fmt, id);
    if (hvs_read(h, HVS_TX_NONE, path, &v, NULL) < 0)
        return NULL;
    return v;
}

static void ignore_event(void *opaque, const char *path, const char *token)
{
    (void)opaque;
    (void)path;
    (void)token;
}

static void sock_path(struct du_daemon *d, unsigned id, char *out, size_t size)
{
    /* hvstored's run dir is its socket's directory. */
    snprintf(out, size, "%s/domains/%u.sock", d->dir, id);
}

/*
 * Monitor A releases domid N but dies before it disowns it (the gap in
 * registry_release); B has claimed N meanwhile. A's death must leave B's
 * entries, introduction and control socket alone. A also owns SENTINEL,
 * which it never releases: its cleanup tells us the daemon is done with A.
 */
#define OWNED 5u
#define SENTINEL 6u

static void test_owner_gap(void **state)
{
    struct du_daemon *d = *state;
    hvs_t *a = du_open(d, 0), *b = du_open(d, 0), *adm = du_open(d, 0);
    char dir[160], sock[200];
    snprintf(dir, sizeof(dir), "%s/domains", d->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    sock_path(d, OWNED, sock, sizeof(sock));

    /* A's claims. */
    assert_int_equal(hvs_write(a, HVS_TX_NONE, "/local/domain/5/name", "alpha", 5), 0);
    assert_int_equal(hvs_write(a, HVS_TX_NONE, "/tool/hv/name/alpha", "5", 1), 0);
    assert_int_equal(hvs_domain_introduce(a, OWNED), 0);
    const char *pa[] = {"/vm/aaaa", "/tool/hv/name/alpha"};
    assert_int_equal(hvs_domain_own(a, OWNED, pa, 2), 0);
    assert_int_equal(hvs_domain_introduce(a, SENTINEL), 0);
    const char *ps[] = {"/tool/hv/name/sentinel"};
    assert_int_equal(hvs_domain_own(a, SENTINEL, ps, 1), 0);

    /* A's registry_release up to its disown. */
    assert_int_equal(hvs_rm(a, HVS_TX_NONE, "/tool/hv/name/alpha"), 0);
    assert_int_equal(hvs_domain_release(a, OWNED), 0);

    /* B takes the free domid and makes its control socket. */
    assert_int_equal(hvs_write(b, HVS_TX_NONE, "/local/domain/5/name", "beta", 4), 0);
    assert_int_equal(hvs_domain_introduce(b, OWNED), 0);
    const char *pb[] = {"/vm/bbbb", "/tool/hv/name/beta"};
    assert_int_equal(hvs_domain_own(b, OWNED, pb, 2), 0);
    int fd = open(sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);

    /* A dies. */
    assert_int_equal(hvs_watch(adm, "/local/domain/6", "gone", HVS_DEPTH_ANY, ignore_event,
                               NULL), 0);
    hvs_close(a);
    char *v;
    while ((v = read_node(adm, "/local/domain/%u", SENTINEL))) {
        free(v);
        assert_true(hvs_wait(adm, DU_TIMEOUT_MS) > 0);
    }

    v = read_node(adm, "/local/domain/%u/name", OWNED);
    if (!v || strcmp(v, "beta"))
        fail_msg("/local/domain/%u/name is %s after its first owner died", OWNED,
                 v ? v : "gone");
    free(v);
    assert_int_equal(hvs_domain_introduced(adm, OWNED), 1);
    struct stat st;
    if (stat(sock, &st) < 0)
        fail_msg("%s: %s after the domid's first owner died", sock, strerror(errno));

    /* B's own death still cleans up. */
    assert_int_equal(hvs_watch(adm, "/local/domain/5", "b", HVS_DEPTH_ANY, ignore_event,
                               NULL), 0);
    hvs_close(b);
    while ((v = read_node(adm, "/local/domain/%u", OWNED))) {
        free(v);
        assert_true(hvs_wait(adm, DU_TIMEOUT_MS) > 0);
    }
    assert_int_equal(stat(sock, &st), -1);
    assert_int_equal(hvs_domain_introduced(adm, OWNED), 0);
    hvs_close(adm);
}

/* hvstored stops (upgrade, crash and restart) under a running monitor: the
 * domain's entries and control socket stay for the next daemon. */
static void test_daemon_restart(void **state)
{
    struct du_daemon *d = *state;
    hv_t *hv = open_host(d, d->uri);
    hv_domain_t *dom = create(hv, "survivor");
    unsigned id = hv_domain_id(dom);
    char sock[200];
    sock_path(d, id, sock, sizeof(sock));
    struct stat st;
    if (stat(sock, &st) < 0)
        fail_msg("%s: %s", sock, strerror(errno));

    du_stop_ok(d);
    du_start_ok(d);

    hvs_t *h = du_open(d, 0);
    char *v = read_node(h, "/local/domain/%u/name", id);
    if (!v || strcmp(v, "survivor"))
        fail_msg("/local/domain/%u/name is %s after a daemon restart", id, v ? v : "gone");
    free(v);
    size_t len;
    assert_int_equal(hvs_read(h, HVS_TX_NONE, "/tool/hv/name/survivor", &v, &len), 0);
    assert_int_equal(atoi(v), (int)id);
    free(v);
    if (stat(sock, &st) < 0)
        fail_msg("%s: %s after a daemon restart", sock, strerror(errno));
    hvs_close(h);
    /* Its registry connection went with the old daemon: what destroy
     * manages to remove is not this test's business. */
    hv_domain_destroy(dom);
    hv_close(hv);
}

/* The store daemon libhv starts outlives the caller: it must not hold the
 * caller's fds (a pipe to `xl create | ...`, a harness's fd) open. */
static void test_spawned_daemon_fds(void **state)
{
    (void)state;
    struct du_daemon d;
    du_init(&d);
    char *saved = getenv("HV_STORE") ? strdup(getenv("HV_STORE")) : NULL;
    unsetenv("HV_STORE");
    int p[2];
    assert_int_equal(pipe(p), 0); /* inheritable on purpose */

    hv_t *hv = open_host(&d, NULL);
    hv_domain_t *dom = create(hv, "fdleak");
    char sock[160];
    snprintf(sock, sizeof(sock), "%s/store.sock", d.dir);
    assert_int_equal(hv_domain_destroy(dom), 0);
    hv_close(hv);

    /* Our write end was the last one unless the daemon has a copy. */
    close(p[1]);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    int ready = poll(&pf, 1, 0);
    char c;
    ssize_t n = ready == 1 ? read(p[0], &c, 1) : -1;
    close(p[0]);

    pid_t daemon_pid = -1;
    assert_int_equal(tu_spawned_daemon_stop(sock, &daemon_pid), 0);
    du_fini(&d);
    if (saved) {
        setenv("HV_STORE", saved, 1);
        free(saved);
    }

    if (ready != 1 || n != 0)
        fail_msg("the pipe's write end is still open after we closed ours (poll %d, read "
                 "%zd): the store daemon libhv started (pid %d) inherited it",
                 ready, n, (int)daemon_pid);
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
        cmocka_unit_test_setup_teardown(test_owner_gap, setup, du_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_restart, setup, du_fixture_teardown),
        cmocka_unit_test(test_spawned_daemon_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
