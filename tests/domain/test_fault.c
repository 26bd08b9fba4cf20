/* SPDX-License-Identifier: MIT */
/*
 * A guest fault ends the domain as a crash that names the exception: the
 * fault guest reads page 0 (never mapped), its trap entry reports #PF with
 * CRASH, and the host fills in CR2 from the vCPU.
 */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

static void test_page_fault(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "fault", NULL, 16, 1, &con);

    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    print_message("exit %s vector %u error 0x%" PRIx64 " rip 0x%" PRIx64
                  " cr2 0x%" PRIx64 " vcpu %u\n", tu_exit_reason_name(e.reason),
                  e.vector, e.error_code, e.rip, e.cr2, e.vcpu);
    tu_check(tu_console_count_lines(con, "fault: touching page 0") == 1, con,
             "the guest did not say what it does");
    tu_check(e.reason == HV_EXIT_CRASH, con, "reason %s",
             tu_exit_reason_name(e.reason));
    tu_check(e.vector == 14, con, "vector %u, expected 14 (#PF)", e.vector);
    tu_check(e.cr2 == 0, con, "cr2 0x%" PRIx64, e.cr2);
    tu_check(e.rip >= HV_GPA_KERNEL && e.rip < (16ull << 20), con,
             "rip 0x%" PRIx64 " is not in the guest image", e.rip);
    /* #PF error code: not present (P=0), from user mode (U=1). */
    tu_check((e.error_code & 1) == 0 && (e.error_code & 4) != 0, con,
             "#PF error code 0x%" PRIx64, e.error_code);
    assert_int_equal(e.vcpu, 0);
    hv_domain_info_t info = tu_info(dom);
    tu_check(info.state == HV_DOMAIN_SHUTDOWN, con, "state %s",
             tu_state_name(info.state));
    tu_env_destroy(env, dom);
}

/* CR2 must be the vCPU's, not a zero that happens to match page 0. */
static void test_page_fault_address(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    /* 48 MiB: above the 16 MiB of RAM, so no page table maps it. */
    hv_domain_t *dom = tu_env_domain(env, "fault", "0x3000008", 16, 1, &con);

    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(tu_console_count_lines(con, "fault: touching 0x3000008") == 1, con,
             "the guest did not say what it does");
    tu_check(e.reason == HV_EXIT_CRASH && e.vector == 14, con, "reason %s vector %u",
             tu_exit_reason_name(e.reason), e.vector);
    tu_check(e.cr2 == 0x3000008, con, "cr2 0x%" PRIx64 ", expected 0x3000008", e.cr2);
    tu_env_destroy(env, dom);
}

/*
 * The guest image names its trap table in an ELF note: the builder installs
 * it before the guest runs (no SET_TRAP_ENTRY exit at boot), and the start
 * info says so.
 */
static void test_trap_entry_preinstalled(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "fault", NULL, 16, 1, &con);
    uint8_t gate[16];
    uint64_t si_trap = 0;

    assert_int_equal(hv_domain_memory_read(dom, HV_GPA_IDT + 14 * 16, gate,
                                           sizeof(gate)), 0);
    tu_check(gate[5] == 0xEF && gate[2] == HV_SEL_USER_CS, con,
             "#PF gate not installed by the builder (attr 0x%x)", gate[5]);
    assert_int_equal(hv_domain_memory_read(dom, HV_GPA_START_INFO +
                                           offsetof(struct hv_start_info, trap_entry),
                                           &si_trap, sizeof(si_trap)), 0);
    uint64_t target = gate[0] | (uint64_t)gate[1] << 8 | (uint64_t)gate[6] << 16 |
                      (uint64_t)gate[7] << 24 | (uint64_t)gate[8] << 32;
    tu_check(si_trap != 0 && target == si_trap + 14 * HV_TRAP_STRIDE, con,
             "start info trap_entry 0x%" PRIx64 ", gate 14 -> 0x%" PRIx64, si_trap,
             target);

    /* Not guest RAM, or not readable by the guest: refused. */
    assert_int_equal(hv_domain_trap_entry_set(dom, 0), -EINVAL);
    assert_int_equal(hv_domain_trap_entry_set(dom, (16ull << 20) - 256), -EINVAL);

    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_CRASH && e.vector == 14, con, "reason %s vector %u",
             tu_exit_reason_name(e.reason), e.vector);
    assert_int_equal(hv_domain_trap_entry_set(dom, si_trap), -EBUSY);
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_fault, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_page_fault_address, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_trap_entry_preinstalled, tu_setup,
                                        tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
