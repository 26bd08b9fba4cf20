/* SPDX-License-Identifier: MIT */
/*
 * Domain lifecycle: a guest runs to completion and says hello, the state
 * machine, 100 create/start/pause/unpause/destroy cycles without leaking
 * fds, threads, mappings or memory, config validation and API misuse.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO "hello from libhv guest\n"
#define COUNTER_ARGS "10"

static void test_hello(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "hello", NULL, 16, 1, &con);

    hv_domain_info_t info = tu_info(dom);
    tu_check(info.state == HV_DOMAIN_CREATED, NULL, "state %s before start",
             tu_state_name(info.state));
    assert_int_equal(info.vcpus, 1);
    assert_true(info.memory_bytes == 16ull << 20);
    assert_true(info.domid >= 1 && info.domid <= 32751);
    assert_int_equal(info.domid, hv_domain_id(dom));
    assert_true(hv_domain_host(dom) == env->hv);
    static const uint8_t zero[16];
    tu_check(memcmp(info.uuid, zero, 16) != 0, NULL,
             "an all-zero uuid in the config must produce a random one");
    assert_true(strncmp(info.name, "tu-hello-", 9) == 0);

    assert_int_equal(hv_domain_start(dom), 0);

    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, con,
             "exit reason %s code %u vector 0x%x rip 0x%lx",
             tu_exit_reason_name(e.reason), e.code, e.vector, e.rip);
    assert_int_equal(e.vcpu, 0);

    info = tu_info(dom);
    tu_check(info.state == HV_DOMAIN_SHUTDOWN, con, "state %s after exit",
             tu_state_name(info.state));

    /* The exit is final: a second wait reports the same, at once. */
    hv_exit_t e2 = {.size = sizeof(e2)};
    assert_int_equal(hv_domain_wait(dom, &e2, 0), 0);
    assert_int_equal(e2.reason, e.reason);
    assert_int_equal(e2.code, e.code);

    /* Through the callback (all output precedes the SHUTDOWN hypercall). */
    size_t len;
    char *cb = tu_console_text(con, &len);
    tu_check(strstr(cb, HELLO) != NULL, con, "no greeting on the callback");

    /* Through the history, from position 0: the very same bytes. */
    char hist[HV_CONSOLE_HISTORY];
    uint64_t pos = 0;
    long n = hv_domain_console_read(dom, &pos, hist, sizeof(hist) - 1);
    tu_check(n > 0, con, "console_read returned %ld", n);
    hist[n] = 0;
    assert_true(pos == (uint64_t)n);
    tu_check(strstr(hist, HELLO) != NULL, con, "history: \"%s\"", hist);
    tu_check((size_t)n == len && memcmp(hist, cb, len) == 0, con,
             "history (%ld bytes) and callback (%zu bytes) differ", n, len);

    /* Nothing more to read; a short read resumes where it stopped. */
    assert_int_equal(hv_domain_console_read(dom, &pos, hist, sizeof(hist)), 0);
    assert_true(pos == (uint64_t)n);
    pos = 0;
    char part[5];
    assert_int_equal(hv_domain_console_read(dom, &pos, part, sizeof(part)), 5);
    assert_true(pos == 5);
    assert_memory_equal(part, cb, 5);
    n = hv_domain_console_read(dom, &pos, hist, sizeof(hist));
    assert_true(n == (long)len - 5);
    assert_memory_equal(hist, cb + 5, len - 5);
    free(cb);

    tu_env_destroy(env, dom);
}

static void expect_state(hv_domain_t *dom, hv_domain_state_t want,
                         struct tu_console *con)
{
    hv_domain_info_t info = tu_info(dom);
    tu_check(info.state == want, con, "state %s, expected %s",
             tu_state_name(info.state), tu_state_name(want));
}

/* More words than the runtime's argv holds: refused out loud, not cut. */
static void test_too_many_args(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    char cmdline[HV_CMDLINE_MAX];
    size_t at = 0;

    for (int i = 0; i < 200; i++)
        at += (size_t)snprintf(cmdline + at, sizeof(cmdline) - at, "%d ", i % 10);
    hv_domain_t *dom = tu_env_domain(env, "hello", cmdline, 16, 1, &con);
    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_CRASH && e.vector == HV_CRASH_GUEST, con,
             "exit %s vector 0x%x", tu_exit_reason_name(e.reason), e.vector);
    tu_check(tu_console_count_lines(con, "guest: more than 127 arguments on the "
                                         "command line") == 1, con, "no message");
    tu_check(tu_console_count_lines(con, "hello from libhv guest") == 0, con,
             "main ran anyway");
    tu_env_destroy(env, dom);
}

static void test_states(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "counter", COUNTER_ARGS, 16, 1, &con);

    expect_state(dom, HV_DOMAIN_CREATED, con);
    assert_int_equal(hv_domain_start(dom), 0);
    expect_state(dom, HV_DOMAIN_RUNNING, con);
    tu_check(tu_console_wait_line(con, "count=", 0, tu_timeout_ms(), NULL, 0) == 0,
             con, "the counter never counted");
    expect_state(dom, HV_DOMAIN_RUNNING, con);
    assert_int_equal(hv_domain_pause(dom), 0);
    expect_state(dom, HV_DOMAIN_PAUSED, con);
    assert_int_equal(hv_domain_pause(dom), 0); /* idempotent */
    expect_state(dom, HV_DOMAIN_PAUSED, con);
    assert_int_equal(hv_domain_unpause(dom), 0);
    expect_state(dom, HV_DOMAIN_RUNNING, con);
    /* It runs again: one more line than when it was unpaused. */
    int lines = tu_console_count_lines(con, "count=");
    tu_check(tu_console_wait_count(con, "count=", lines + 1, tu_timeout_ms()) == 0,
             con, "no output after unpause");

    assert_int_equal(hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF, con, "reason %s",
             tu_exit_reason_name(e.reason));
    expect_state(dom, HV_DOMAIN_SHUTDOWN, con);
    tu_env_destroy(env, dom);
}

/*
 * One cycle. Before the build the host writes 4 MiB of guest RAM (zeros:
 * that allocates the pages without changing what the guest sees), so a
 * domain whose RAM is never released shows up in RSS.
 */
static void cycle(struct tu_env *env, int i)
{
    static char zeros[4 << 20];
    hv_domain_t *dom = tu_domain_create(env->hv, "cycle", 16, 1);
    int rc = hv_domain_memory_write(dom, 8ull << 20, zeros, sizeof(zeros));
    if (rc < 0) {
        hv_domain_destroy(dom);
        fail_msg("memory_write: %d", rc);
    }
    struct tu_console *con = tu_env_adopt(env, dom);
    char *path = tu_guest_path("counter");
    hvg_build_options_t o = {.size = sizeof(o), .kernel = path,
                             .cmdline = COUNTER_ARGS};
    rc = hvg_build(dom, &o);
    free(path);
    tu_check(rc == 0, con, "cycle %d: hvg_build: %d: %s", i, rc,
             hv_last_error(env->hv));
    tu_check(hv_domain_start(dom) == 0, con, "cycle %d: start", i);
    /* It really ran. */
    tu_check(tu_console_wait(con, "counter: addr=", tu_timeout_ms()) == 0, con,
             "cycle %d: no output", i);
    tu_check(hv_domain_pause(dom) == 0, con, "cycle %d: pause", i);
    tu_check(hv_domain_unpause(dom) == 0, con, "cycle %d: unpause", i);
    tu_env_destroy(env, dom);
}

static void test_cycles_no_leak(void **state)
{
    struct tu_env *env = *state;
    int maps0 = tu_count_maps("/memfd:");
    int fds_pre = tu_count_open_fds();

    cycle(env, 0); /* anything libhv sets up once per handle or process */
    int fds0 = tu_count_open_fds();
    int threads0 = tu_count_threads();
    uint64_t rss10 = 0;

    for (int i = 1; i < 100; i++) {
        cycle(env, i);
        if (i == 10)
            rss10 = tu_rss_kb();
    }
    int fds = tu_count_open_fds();
    int threads = tu_count_threads();
    int maps = tu_count_maps("/memfd:");
    uint64_t rss = tu_rss_kb();
    print_message("fds %d (before the first cycle) %d -> %d, threads %d -> %d, memfd maps %d -> %d, "
                  "VmRSS after 10 cycles %lu kB, after 100 %lu kB\n",
                  fds_pre, fds0, fds, threads0, threads, maps0, maps, rss10, rss);
    assert_true(fds0 > 0 && rss10 > 0);
    assert_int_equal(fds, fds0);
    assert_int_equal(fds, fds_pre); /* nothing kept open across domains either */
    assert_int_equal(threads, threads0);
    assert_int_equal(maps, maps0);
    /*
     * 90 leaked domains would hold at least 90 x 4 MiB. Under ASan, freed
     * heap memory stays resident in its quarantine (LeakSanitizer checks the
     * heap there), so only the guest RAM part of the check is kept.
     */
    uint64_t bound_kb = TU_ASAN ? 64 * 1024 : 8 * 1024;
    tu_check(rss < rss10 + bound_kb, NULL, "VmRSS grew from %lu to %lu kB", rss10,
             rss);
}

/* ---- Config validation -------------------------------------------------------- */

static void expect_invalid(hv_t *hv, const hv_domain_config_t *cfg,
                           const char *field, const char *what)
{
    hv_domain_t *dom = NULL;
    /* A stale message from an earlier call must not pass for this one. */
    hv_error(hv, -EIO, TU_SENTINEL);
    int rc = hv_domain_create(hv, cfg, &dom);
    if (rc == 0)
        hv_domain_destroy(dom);
    const char *msg = hv_last_error(hv);
    print_message("%-28s -> %d: %s\n", what, rc, msg);
    tu_check(rc == -EINVAL, NULL, "%s: rc %d, expected -EINVAL", what, rc);
    assert_null(dom);
    tu_check(msg && *msg && strcmp(msg, TU_SENTINEL) != 0, NULL,
             "%s: no hv_last_error message", what);
    tu_check(!field || strstr(msg, field) != NULL, NULL,
             "%s: message \"%s\" does not name the field \"%s\"", what, msg, field);
}

static hv_domain_config_t good_config(const char *name)
{
    hv_domain_config_t c = {0};
    c.size = sizeof(c);
    c.name = name;
    c.memory_mb = 16;
    c.vcpus = 1;
    return c;
}

static void expect_valid(hv_t *hv, const hv_domain_config_t *cfg, const char *what)
{
    hv_domain_t *dom = NULL;
    int rc = hv_domain_create(hv, cfg, &dom);
    tu_check(rc == 0, NULL, "%s: rc %d: %s", what, rc, hv_last_error(hv));
    assert_non_null(dom);
    hv_domain_info_t info = tu_info(dom);
    assert_true(info.memory_bytes == cfg->memory_mb << 20);
    assert_int_equal(info.vcpus, cfg->vcpus);
    assert_string_equal(info.name, cfg->name);
    assert_int_equal(hv_domain_destroy(dom), 0);
}

static void test_invalid_config(void **state)
{
    struct tu_env *env = *state;
    hv_t *hv = env->hv;
    hv_domain_config_t c;
    char name[64];
    char long_name[65];

    tu_domain_name(name, sizeof(name), "cfg");

    c = good_config(NULL);
    expect_invalid(hv, &c, "name", "NULL name");
    c = good_config("");
    expect_invalid(hv, &c, "name", "empty name");
    c = good_config("bad name");
    expect_invalid(hv, &c, "name", "name with a space");
    c = good_config("a/b");
    expect_invalid(hv, &c, "name", "name with a slash");
    c = good_config("caf\xc3\xa9");
    expect_invalid(hv, &c, "name", "name with UTF-8");
    memset(long_name, 'x', 64);
    long_name[64] = 0;
    c = good_config(long_name);
    expect_invalid(hv, &c, "name", "64-character name");

    c = good_config(name);
    c.memory_mb = 0;
    expect_invalid(hv, &c, "memory", "memory 0");
    c.memory_mb = 17;
    expect_invalid(hv, &c, "memory", "memory 17 MiB");
    c.memory_mb = 5;
    expect_invalid(hv, &c, "memory", "memory 5 MiB");
    c.memory_mb = 2;
    expect_invalid(hv, &c, "memory", "memory 2 MiB (< minimum)");
    c.memory_mb = (HV_MAX_MEMORY >> 20) + 2;
    expect_invalid(hv, &c, "memory", "memory above the maximum");
    c.memory_mb = UINT64_MAX & ~1ull;
    expect_invalid(hv, &c, "memory", "memory 2^64-2 MiB");

    c = good_config(name);
    c.vcpus = 0;
    expect_invalid(hv, &c, "vcpus", "vcpus 0");
    c.vcpus = HV_MAX_VCPUS + 1;
    expect_invalid(hv, &c, "vcpus", "vcpus HV_MAX_VCPUS + 1");
    c.vcpus = UINT32_MAX;
    expect_invalid(hv, &c, "vcpus", "vcpus UINT32_MAX");

    c = good_config(name);
    c.size = 0;
    expect_invalid(hv, &c, "size", "size 0");
    c.size = offsetof(hv_domain_config_t, memory_mb);
    expect_invalid(hv, &c, NULL, "size cutting memory_mb");

    /* NULL arguments. */
    hv_domain_t *dom = NULL;
    c = good_config(name);
    assert_int_equal(hv_domain_create(hv, NULL, &dom), -EINVAL);
    assert_null(dom);
    assert_int_equal(hv_domain_create(hv, &c, NULL), -EINVAL);
    assert_int_equal(hv_domain_create(NULL, &c, &dom), -EINVAL);
    assert_null(dom);

    /* The boundaries are accepted (so the checks are not off by one). */
    memset(long_name, 'a', 63);
    long_name[63] = 0;
    c = good_config(long_name);
    expect_valid(hv, &c, "63-character name");
    c = good_config("A-z_0.9");
    expect_valid(hv, &c, "name with - _ .");
    c = good_config(name);
    c.memory_mb = HV_MIN_MEMORY >> 20;
    expect_valid(hv, &c, "minimum memory");
    c.memory_mb = 16;
    c.vcpus = HV_MAX_VCPUS;
    expect_valid(hv, &c, "HV_MAX_VCPUS vCPUs");

    /* A caller built against a newer header: its extra fields are accepted
     * while zero (defaults), refused when set (a feature libhv lacks). */
    struct {
        hv_domain_config_t cfg;
        uint64_t newer;
    } big = {.cfg = good_config(name)};
    big.cfg.size = sizeof(big);
    expect_valid(hv, &big.cfg, "newer config, new field zero");
    big.newer = 1;
    hv_domain_t *nd = NULL;
    assert_int_equal(hv_domain_create(hv, &big.cfg, &nd), -E2BIG);
    assert_null(nd);
}

/* ---- API misuse ----------------------------------------------------------------- */

static void test_misuse(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "counter", COUNTER_ARGS, 16, 1, &con);
    int rc;

    rc = hv_domain_pause(dom);
    print_message("pause before start -> %d\n", rc);
    tu_check(rc < 0, con, "pause before start: %d", rc);
    rc = hv_domain_unpause(dom);
    print_message("unpause before start -> %d\n", rc);
    tu_check(rc < 0, con, "unpause before start: %d", rc);
    expect_state(dom, HV_DOMAIN_CREATED, con);

    assert_int_equal(hv_domain_start(dom), 0);
    rc = hv_domain_start(dom);
    print_message("second start -> %d\n", rc);
    tu_check(rc == -EALREADY, con, "second start: %d", rc);
    tu_check(tu_console_wait_count(con, "count=", 1, tu_timeout_ms()) == 0, con,
             "not running after a second start");

    /* An out-of-range vCPU and memory outside RAM. */
    hv_vcpu_info_t vi = {.size = sizeof(vi)};
    rc = hv_vcpu_info(dom, 1, &vi);
    tu_check(rc < 0, con, "vcpu_info of vCPU 1 of 1: %d", rc);
    uint64_t word;
    rc = hv_domain_memory_read(dom, 16ull << 20, &word, sizeof(word));
    tu_check(rc == -EFAULT, con, "read past RAM: %d", rc);
    rc = hv_domain_memory_read(dom, (16ull << 20) - 4, &word, sizeof(word));
    tu_check(rc == -EFAULT, con, "read straddling the end of RAM: %d", rc);
    rc = hv_domain_memory_read(dom, UINT64_MAX - 3, &word, sizeof(word));
    tu_check(rc == -EFAULT, con, "read wrapping around: %d", rc);

    /* NULL arguments. */
    hv_exit_t e = {.size = sizeof(e)};
    hv_domain_info_t info = {.size = sizeof(info)};
    uint64_t pos = 0;
    char buf[8];
    assert_int_equal(hv_domain_start(NULL), -EINVAL);
    assert_int_equal(hv_domain_pause(NULL), -EINVAL);
    assert_int_equal(hv_domain_unpause(NULL), -EINVAL);
    assert_int_equal(hv_domain_shutdown(NULL, HV_SHUTDOWN_POWEROFF), -EINVAL);
    assert_int_equal(hv_domain_destroy(NULL), -EINVAL);
    assert_int_equal(hv_domain_wait(NULL, &e, 0), -EINVAL);
    assert_int_equal(hv_domain_info(NULL, &info), -EINVAL);
    assert_int_equal(hv_domain_info(dom, NULL), -EINVAL);
    assert_int_equal(hv_vcpu_info(NULL, 0, &vi), -EINVAL);
    assert_int_equal(hv_vcpu_info(dom, 0, NULL), -EINVAL);
    assert_int_equal(hv_domain_console_read(NULL, &pos, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(hv_domain_console_read(dom, NULL, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(hv_domain_console_read(dom, &pos, NULL, sizeof(buf)), -EINVAL);
    assert_int_equal(hv_domain_memory_read(NULL, 0x100000, buf, 8), -EINVAL);
    assert_int_equal(hv_domain_memory_read(dom, 0x100000, NULL, 8), -EINVAL);
    assert_int_equal(hv_domain_memory_write(dom, 0x100000, NULL, 8), -EINVAL);
    assert_true(hv_domain_exit_fd(NULL) < 0);
    assert_int_equal(hv_domain_console_set_callback(NULL, NULL, NULL), -EINVAL);

    rc = hv_domain_shutdown(dom, 99);
    print_message("shutdown reason 99 -> %d\n", rc);
    tu_check(rc == -EINVAL, con, "shutdown with reason 99: %d", rc);

    /* Still alive and well after all that. */
    int lines = tu_console_count_lines(con, "count=");
    tu_check(tu_console_wait_count(con, "count=", lines + 1, tu_timeout_ms()) == 0,
             con, "the domain stopped counting");
    expect_state(dom, HV_DOMAIN_RUNNING, con);

    /* After the exit: no start, pause or unpause. */
    assert_int_equal(hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF), 0);
    tu_wait_exit(dom, &e);
    rc = hv_domain_start(dom);
    tu_check(rc < 0, con, "start after exit: %d", rc);
    rc = hv_domain_unpause(dom);
    print_message("start after exit -> negative; unpause after exit -> %d\n", rc);
    expect_state(dom, HV_DOMAIN_SHUTDOWN, con);
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_states, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_too_many_args, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_cycles_no_leak, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_config, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_misuse, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
