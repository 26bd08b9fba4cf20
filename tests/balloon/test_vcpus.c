/* SPDX-License-Identifier: MIT */
/*
 * vCPU target (vcpu-set): the guest runtime brings vCPUs up and down; and
 * vCPU affinity (vcpu-pin): the vCPU's thread really runs where it is
 * pinned, as seen from the console callback, which libhv runs on the very
 * vCPU thread that wrote.
 */
#include "balloon_util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void expect_online(hv_domain_t *dom, struct tu_console *con, uint32_t n)
{
    hv_domain_info_t i = tu_info(dom);
    tu_check(i.vcpus_online == n && i.vcpus_target == n, con,
             "vcpus_online %u target %u, want %u", i.vcpus_online, i.vcpus_target, n);
}

/*
 * A vCPU prints its last line just before its VCPU_DOWN exit: once the line
 * is seen, the host marks it down within that one exit. Yield meanwhile
 * (bounded by the hang guard, never a sleep).
 */
static void wait_online(hv_domain_t *dom, struct tu_console *con, uint32_t n)
{
    uint64_t end = tu_now_ns() + (uint64_t)tu_timeout_ms() * 1000000u;
    while (tu_info(dom).vcpus_online != n && tu_now_ns() < end)
        sched_yield();
    expect_online(dom, con, n);
}

static void test_vcpus_set(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = bu_domain(env, "watch", 16, 0, 4, 1, &con);

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait(con, "balloon: ready pages=0 vcpus=1\n", tu_timeout_ms()) == 0,
             con, "guest not ready");
    expect_online(dom, con, 1);

    assert_int_equal(hv_domain_vcpus_set(dom, 3), 0);
    bu_wait_state(con, 0, 3);
    expect_online(dom, con, 3);
    for (uint32_t v = 0; v < 4; v++)
        tu_check(tu_vcpu_info(dom, v).online == (v < 3), con, "vCPU %u online %u", v,
                 tu_vcpu_info(dom, v).online);

    assert_int_equal(hv_domain_vcpus_set(dom, 1), 0);
    bu_wait_state(con, 0, 1);
    wait_online(dom, con, 1);

    assert_int_equal(hv_domain_vcpus_set(dom, 4), 0);
    bu_wait_state(con, 0, 4);
    expect_online(dom, con, 4);
    assert_int_equal(hv_domain_vcpus_set(dom, 2), 0);
    bu_wait_state(con, 0, 2);
    wait_online(dom, con, 2);

    assert_int_equal(hv_domain_vcpus_set(dom, 0), -EINVAL);
    assert_int_equal(hv_domain_vcpus_set(dom, 5), -EINVAL);
    expect_online(dom, con, 2);

    /* The domain still shuts down cleanly with idle vCPUs online. */
    assert_int_equal(hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    assert_int_equal(e.reason, HV_EXIT_POWEROFF);
    tu_env_destroy(env, dom);
}

/* The console callback, on the vCPU thread: where did it run, where may it run. */
struct where {
    pthread_mutex_t lock;
    struct tu_console *con;
    int cpu;
    cpu_set_t allowed;
};

static void on_console(void *opaque, hv_domain_t *dom, const char *data, size_t len)
{
    struct where *w = opaque;
    (void)dom;
    pthread_mutex_lock(&w->lock);
    w->cpu = sched_getcpu();
    sched_getaffinity(0, sizeof(w->allowed), &w->allowed);
    pthread_mutex_unlock(&w->lock);
    tu_console_append(w->con, data, len);
}

/* Has the guest print a line now, and checks where that ran. */
static void expect_runs_on(hv_domain_t *dom, struct where *w, const int *cpus, int n)
{
    assert_int_equal(hv_domain_event_raise(dom, HV_EVT_HOST), 0);
    tu_check(tu_console_wait(w->con, "balloon: host event\n", tu_timeout_ms()) == 0, w->con,
             "no host event line");
    pthread_mutex_lock(&w->lock);
    int cpu = w->cpu, count = CPU_COUNT(&w->allowed);
    bool in = false, all = true;
    for (int i = 0; i < n; i++) {
        in |= cpu == cpus[i];
        all &= CPU_ISSET(cpus[i], &w->allowed) != 0;
    }
    pthread_mutex_unlock(&w->lock);
    tu_check(in && all && count == n, w->con, "thread ran on CPU %d with %d CPUs allowed",
             cpu, count);
    if (n == 1) {
        int32_t host = tu_vcpu_info(dom, 0).host_cpu;
        tu_check(host == cpus[0], w->con, "hv_vcpu_info says CPU %d, not %d", host,
                 cpus[0]);
    }
}

static void test_affinity(void **state)
{
    struct tu_env *env = *state;
    struct where w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cpu = -1};
    hv_domain_t *dom = bu_domain(env, "watch", 16, 0, 2, 1, &w.con);
    long ncpus = sysconf(_SC_NPROCESSORS_CONF);
    uint32_t got[HV_MAX_HOST_CPUS];
    int one = 1, zero = 0;

    if (ncpus < 2) {
        print_message("one host CPU: pinning cannot be told apart\n");
        skip();
    }
    assert_int_equal(hv_domain_console_set_callback(dom, on_console, &w), 0);
    tu_check(tu_vcpu_info(dom, 0).host_cpu == -1, w.con, "host_cpu before start");

    /* Before start: kept, applied when the thread starts. */
    const uint32_t cpu1 = 1, cpu0 = 0;
    assert_int_equal(hv_vcpu_affinity_set(dom, 0, &cpu1, 1), 0);
    assert_int_equal(hv_vcpu_affinity_get(dom, 0, got, HV_MAX_HOST_CPUS), 1);
    assert_int_equal(got[0], 1);
    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait(w.con, "balloon: ready", tu_timeout_ms()) == 0, w.con,
             "guest not ready");
    expect_runs_on(dom, &w, &one, 1);

    /* A running thread moves. */
    assert_int_equal(hv_vcpu_affinity_set(dom, 0, &cpu0, 1), 0);
    expect_runs_on(dom, &w, &zero, 1);

    /* Bad CPUs and vCPUs are refused and change nothing. */
    uint32_t bad[] = {(uint32_t)ncpus, HV_MAX_HOST_CPUS, UINT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t list[2] = {1, bad[i]};
        assert_int_equal(hv_vcpu_affinity_set(dom, 0, list, 2), -EINVAL);
        char cpu[16];
        snprintf(cpu, sizeof(cpu), "CPU %u", bad[i]);
        tu_check(strstr(hv_last_error(env->hv), cpu) && strstr(hv_last_error(env->hv), "vCPU 0"),
                 w.con, "message: %s", hv_last_error(env->hv));
    }
    assert_int_equal(hv_vcpu_affinity_set(dom, 2, &cpu0, 1), -EINVAL);
    assert_int_equal(hv_vcpu_affinity_get(dom, 2, got, 4), -EINVAL);
    assert_int_equal(hv_vcpu_affinity_get(dom, 0, got, HV_MAX_HOST_CPUS), 1);
    assert_int_equal(got[0], 0);
    expect_runs_on(dom, &w, &zero, 1);

    /* None: all host CPUs again. */
    assert_int_equal(hv_vcpu_affinity_set(dom, 0, NULL, 0), 0);
    int n = hv_vcpu_affinity_get(dom, 0, got, HV_MAX_HOST_CPUS);
    assert_int_equal(n, sysconf(_SC_NPROCESSORS_ONLN));
    int all[HV_MAX_HOST_CPUS];
    for (int i = 0; i < n; i++)
        all[i] = (int)got[i];
    expect_runs_on(dom, &w, all, n);

    /* A vCPU brought up later starts pinned. */
    assert_int_equal(hv_vcpu_affinity_set(dom, 1, &cpu1, 1), 0);
    assert_int_equal(hv_domain_vcpus_set(dom, 2), 0);
    bu_wait_state(w.con, 0, 2);
    /* Its thread exists once vCPU 0 printed; it may not have run yet. */
    uint64_t end = tu_now_ns() + (uint64_t)tu_timeout_ms() * 1000000u;
    int32_t host;
    while ((host = tu_vcpu_info(dom, 1).host_cpu) == -1 && tu_now_ns() < end)
        sched_yield();
    tu_check(host == 1, w.con, "vCPU 1 ran on CPU %d", host);
    tu_env_destroy(env, dom);
}

/* Cpus_allowed_list of a /proc status file; 0 if found. */
static int status_cpus(const char *path, char *list, size_t len)
{
    char line[256];
    int rc = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "Cpus_allowed_list:", 18)) {
            char *v = line + 18 + strspn(line + 18, " \t");
            v[strcspn(v, "\n")] = '\0';
            snprintf(list, len, "%s", v);
            rc = 0;
        }
    fclose(f);
    return rc;
}

/* Cpus_allowed_list of this process's thread named name; 0 if found. */
static int thread_cpus(const char *name, char *list, size_t len)
{
    DIR *dir = opendir("/proc/self/task");
    struct dirent *de;
    int rc = -1;

    assert_non_null(dir);
    while (rc < 0 && (de = readdir(dir))) {
        char path[300], line[256];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        bool match = fgets(line, sizeof(line), f) && !strncmp(line, name, strlen(name)) &&
                     line[strlen(name)] == '\n';
        fclose(f);
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
        if (match)
            rc = status_cpus(path, list, len);
    }
    closedir(dir);
    return rc;
}

/*
 * A thread inherits its creator's CPU set: vCPU 1, brought up from pinned
 * vCPU 0's thread, must still run wherever the process may, as
 * hv_vcpu_affinity_get says.
 */
static void test_affinity_not_inherited(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = bu_domain(env, "watch", 16, 0, 2, 1, &con);
    const uint32_t cpu1 = 1;
    char mine[256], v0[256], v1[256], name[16];

    assert_int_equal(hv_vcpu_affinity_set(dom, 0, &cpu1, 1), 0);
    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait(con, "balloon: ready", tu_timeout_ms()) == 0, con, "not ready");
    assert_int_equal(hv_domain_vcpus_set(dom, 2), 0);
    wait_online(dom, con, 2);
    /* The main thread's: the test pins nothing else. */
    assert_int_equal(status_cpus("/proc/self/status", mine, sizeof(mine)), 0);
    snprintf(name, sizeof(name), "hv%u/v0", hv_domain_id(dom));
    assert_int_equal(thread_cpus(name, v0, sizeof(v0)), 0);
    assert_string_equal(v0, "1");
    snprintf(name, sizeof(name), "hv%u/v1", hv_domain_id(dom));
    assert_int_equal(thread_cpus(name, v1, sizeof(v1)), 0);
    tu_check(!strcmp(v1, mine), con, "vCPU 1 runs on CPUs %s, the process on %s", v1, mine);
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vcpus_set, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_affinity, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_affinity_not_inherited, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
