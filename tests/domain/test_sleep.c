/* SPDX-License-Identifier: MIT */
/*
 * POLL blocks the vCPU in the host: the sleep guest sleeps 300 ms of its own
 * monotonic time (a correctness check of POLL's deadline, not a timing
 * assertion) and its vCPU thread burns far less CPU than that.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>

static void test_sleep_300(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "sleep", "300", 16, 1, &con);

    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, con, "exit %s code %u",
             tu_exit_reason_name(e.reason), e.code);

    char line[128];
    unsigned long ms, ns;
    tu_check(tu_console_line(con, "slept ", 0, line, sizeof(line)) == 0, con,
             "no \"slept\" line");
    tu_check(sscanf(line, "slept ms=%lu ns=%lu", &ms, &ns) == 2, con,
             "cannot parse \"%s\"", line);
    assert_int_equal(ms, 300);
    tu_check(ns >= 300000000ul, con, "the guest woke after %lu ns of its 300 ms", ns);

    uint64_t vcpu_cpu = tu_vcpu_info(dom, 0).cpu_time_ns;
    uint64_t dom_cpu = tu_info(dom).cpu_time_ns;
    print_message("slept %lu ns; vCPU 0 used %" PRIu64 " ns of CPU, domain %" PRIu64
                  " ns\n", ns, vcpu_cpu, dom_cpu);
    tu_check(vcpu_cpu > 0, con, "no CPU time recorded for vCPU 0");
    tu_check(vcpu_cpu < ns / 4, con, "vCPU 0 used %" PRIu64 " ns of CPU while "
             "sleeping %lu ns: busy waiting?", vcpu_cpu, ns);
    tu_check(dom_cpu < ns / 4, con, "domain used %" PRIu64 " ns of CPU", dom_cpu);
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sleep_300, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
