/* SPDX-License-Identifier: MIT */
/*
 * The hostile guest attacks the hypercall interface and its own sandbox
 * (bad pointers, lengths, ports, builder-owned pages) and checks each attack
 * fails cleanly. The host survives, the guest reports all checks passed, and
 * the read-only start info page is byte for byte what the builder wrote.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_hostile(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "hostile", NULL, 32, 2, &con);
    static unsigned char before[HV_PAGE_SIZE], after[HV_PAGE_SIZE];

    assert_int_equal(hv_domain_memory_read(dom, HV_GPA_START_INFO, before,
                                           sizeof(before)), 0);
    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);

    int fails = tu_console_count_lines(con, "hostile: FAIL");
    char line[256];
    unsigned checks = 0;
    tu_check(fails == 0, con, "%d checks failed", fails);
    tu_check(tu_console_line(con, "hostile: ok ", 0, line, sizeof(line)) == 0 &&
                 sscanf(line, "hostile: ok %u checks", &checks) == 1,
             con, "no \"hostile: ok N checks\" line");
    tu_check(checks > 0, con, "zero checks");
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, con,
             "exit %s code %u vector 0x%x rip 0x%lx", tu_exit_reason_name(e.reason),
             e.code, e.vector, e.rip);
    print_message("hostile guest: %u checks passed\n", checks);

    assert_int_equal(hv_domain_memory_read(dom, HV_GPA_START_INFO, after,
                                           sizeof(after)), 0);
    tu_check(memcmp(before, after, sizeof(before)) == 0, con,
             "the start info page changed while the guest ran");
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostile, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
