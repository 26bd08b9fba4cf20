/* SPDX-License-Identifier: MIT */
/*
 * Pause really stops the guest: the busy counter guest increments a counter
 * in its memory as fast as it can; while paused the counter, the console and
 * the vCPU's CPU time stay still; after unpause they move again.
 */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define COUNTER_ARGS "5 busy"
/* How long the paused guest is watched: an observation window, not a wait. */
#define WINDOW_NS 200000000ull

static uint64_t read_counter(hv_domain_t *dom, uint64_t addr)
{
    uint64_t v;
    int rc = hv_domain_memory_read(dom, addr, &v, sizeof(v));
    if (rc < 0)
        fail_msg("memory_read(0x%" PRIx64 "): %d", addr, rc);
    return v;
}

/* Waits (bounded by the hang guard) until the counter differs from v. */
static int counter_moves(hv_domain_t *dom, uint64_t addr, uint64_t v)
{
    uint64_t until = tu_now_ns() + (uint64_t)tu_timeout_ms() * 1000000ull;
    while (tu_now_ns() < until) {
        if (read_counter(dom, addr) != v)
            return 1;
        sched_yield();
    }
    return 0;
}

static void test_pause_stops_guest(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "counter", COUNTER_ARGS, 16, 1, &con);
    char line[128];
    uint64_t addr = 0;

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait_line(con, "counter: addr=", 0, tu_timeout_ms(), line,
                                  sizeof(line)) == 0,
             con, "no counter address");
    tu_check(sscanf(line, "counter: addr=0x%" SCNx64, &addr) == 1, con,
             "cannot parse \"%s\"", line);
    tu_check(addr >= HV_GPA_KERNEL && addr + 8 <= (16ull << 20), con,
             "counter address 0x%" PRIx64 " outside RAM", addr);
    tu_check(tu_console_wait_count(con, "count=", 2, tu_timeout_ms()) == 0, con,
             "fewer than 2 count lines");

    /* Running: the counter at addr moves. */
    uint64_t v = read_counter(dom, addr);
    tu_check(counter_moves(dom, addr, v), con,
             "counter at 0x%" PRIx64 " stuck at %" PRIu64 " while running", addr, v);

    assert_int_equal(hv_domain_pause(dom), 0);
    hv_domain_info_t info = tu_info(dom);
    tu_check(info.state == HV_DOMAIN_PAUSED, con, "state %s after pause",
             tu_state_name(info.state));

    uint64_t p0 = read_counter(dom, addr);
    size_t con0 = tu_console_len(con);
    uint64_t cpu0 = tu_vcpu_info(dom, 0).cpu_time_ns;
    uint64_t dcpu0 = tu_info(dom).cpu_time_ns;
    uint64_t reads = 0;
    uint64_t start = tu_now_ns();
    while (tu_now_ns() - start < WINDOW_NS) {
        uint64_t p = read_counter(dom, addr);
        tu_check(p == p0, con, "counter moved from %" PRIu64 " to %" PRIu64
                 " while paused (after %" PRIu64 " reads)", p0, p, reads);
        reads++;
        sched_yield();
    }
    uint64_t cpu1 = tu_vcpu_info(dom, 0).cpu_time_ns;
    uint64_t dcpu1 = tu_info(dom).cpu_time_ns;
    print_message("paused: %" PRIu64 " reads of a still counter; vCPU 0 cpu time "
                  "%" PRIu64 " -> %" PRIu64 " ns, domain %" PRIu64 " -> %" PRIu64
                  " ns\n", reads, cpu0, cpu1, dcpu0, dcpu1);
    tu_check(tu_console_len(con) == con0, con, "console output while paused");
    /* A spinning vCPU would burn most of the window (~200 ms). */
    tu_check(cpu0 > 0 && cpu1 >= cpu0 && cpu1 - cpu0 < WINDOW_NS / 10, con,
             "vCPU cpu time %" PRIu64 " -> %" PRIu64 " ns while paused", cpu0, cpu1);
    tu_check(dcpu1 >= dcpu0 && dcpu1 - dcpu0 < WINDOW_NS / 10, con,
             "domain cpu time %" PRIu64 " -> %" PRIu64 " ns while paused", dcpu0,
             dcpu1);
    hv_exit_t e = {.size = sizeof(e)};
    assert_int_equal(hv_domain_wait(dom, &e, 0), -ETIMEDOUT);
    tu_check(tu_info(dom).state == HV_DOMAIN_PAUSED, con, "no longer paused");

    assert_int_equal(hv_domain_unpause(dom), 0);
    info = tu_info(dom);
    tu_check(info.state == HV_DOMAIN_RUNNING, con, "state %s after unpause",
             tu_state_name(info.state));
    tu_check(counter_moves(dom, addr, p0), con, "counter still at %" PRIu64
             " after unpause", p0);
    int lines = tu_console_count_lines(con, "count=");
    tu_check(tu_console_wait_count(con, "count=", lines + 1, tu_timeout_ms()) == 0,
             con, "no console output after unpause");
    tu_check(tu_vcpu_info(dom, 0).cpu_time_ns > cpu1, con,
             "cpu time did not advance after unpause");

    /* Pause and unpause again, many times: it keeps working. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(hv_domain_pause(dom), 0);
        uint64_t a = read_counter(dom, addr);
        sched_yield();
        tu_check(read_counter(dom, addr) == a, con, "round %d: moved while paused", i);
        assert_int_equal(hv_domain_unpause(dom), 0);
        tu_check(counter_moves(dom, addr, a), con, "round %d: stuck after unpause", i);
    }
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_stops_guest, tu_setup,
                                        tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
