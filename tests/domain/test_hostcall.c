/* SPDX-License-Identifier: MIT */
/*
 * Vendor host functions: hypercall 0x80 registered by the host runs on the
 * vCPU thread with the guest's argument address; unregistered, the guest
 * gets -ENOSYS; registration is checked.
 */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct add_args {
    int64_t a, b;
};

struct calls {
    int n;
    uint32_t vcpu;
    uint64_t gpa;
    int64_t a, b;
    int read_rc;
    hv_domain_t *dom;
    pthread_t thread;
};

static int64_t add(void *opaque, hv_domain_t *dom, uint32_t vcpu, uint64_t arg_gpa)
{
    struct calls *c = opaque;
    struct add_args args;

    c->n++;
    c->vcpu = vcpu;
    c->gpa = arg_gpa;
    c->dom = dom;
    c->thread = pthread_self();
    c->read_rc = hv_domain_guest_read(dom, arg_gpa, &args, sizeof(args));
    if (c->read_rc < 0)
        return -EFAULT;
    c->a = args.a;
    c->b = args.b;
    return args.a + args.b;
}

static void test_hostcall_registered(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    struct calls calls = {0};
    hv_domain_t *dom = tu_env_domain(env, "hostcall", NULL, 16, 1, &con);

    assert_int_equal(hv_domain_hostcall_register(dom, 0x80, add, &calls), 0);
    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, con, "exit %s code %u",
             tu_exit_reason_name(e.reason), e.code);
    tu_check(tu_console_count_lines(con, "hostcall: 2 + 3 = 5") == 1, con,
             "no \"hostcall: 2 + 3 = 5\"");
    /* The handler ran once, on the vCPU's thread, with the guest's struct. */
    assert_int_equal(calls.n, 1);
    assert_int_equal(calls.vcpu, 0);
    assert_true(calls.dom == dom);
    assert_false(pthread_equal(calls.thread, pthread_self()));
    assert_int_equal(calls.read_rc, 0);
    tu_check(calls.gpa >= HV_GPA_KERNEL && calls.gpa < (16ull << 20), con,
             "arg_gpa 0x%" PRIx64, calls.gpa);
    assert_int_equal(calls.a, 2);
    assert_int_equal(calls.b, 3);
    tu_env_destroy(env, dom);
}

static void test_hostcall_unregistered(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    struct calls calls = {0};
    hv_domain_t *dom = tu_env_domain(env, "hostcall", NULL, 16, 1, &con);

    /* A neighbour is registered, 0x80 is not. */
    assert_int_equal(hv_domain_hostcall_register(dom, 0x81, add, &calls), 0);
    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 1, con, "exit %s code %u",
             tu_exit_reason_name(e.reason), e.code);
    tu_check(tu_console_count_lines(con, "hostcall: failed -38") == 1, con,
             "no \"hostcall: failed -38\" (-ENOSYS)");
    assert_int_equal(calls.n, 0);
    tu_env_destroy(env, dom);
}

static void test_hostcall_register_checks(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    struct calls calls = {0};
    hv_domain_t *dom = tu_env_domain(env, "counter", "10", 16, 1, &con);
    static const uint32_t bad[] = {0, HV_HC_CONSOLE_WRITE, HV_HC_SHUTDOWN,
                                   HV_HC_NR_CORE, 0x7f, 0x100, 0x1ff, UINT32_MAX};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = hv_domain_hostcall_register(dom, bad[i], add, &calls);
        tu_check(rc == -EINVAL, NULL, "register nr 0x%x: %d", bad[i], rc);
    }
    assert_int_equal(hv_domain_hostcall_register(NULL, 0x80, add, &calls), -EINVAL);
    assert_int_equal(hv_domain_hostcall_register(dom, HV_HC_VENDOR_FIRST, add,
                                                 &calls), 0);
    assert_int_equal(hv_domain_hostcall_register(dom, HV_HC_VENDOR_LAST, add,
                                                 &calls), 0);

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait_count(con, "count=", 1, tu_timeout_ms()) == 0, con,
             "counter not running");
    int rc = hv_domain_hostcall_register(dom, 0x90, add, &calls);
    print_message("register after start -> %d\n", rc);
    tu_check(rc < 0, con, "register after start: %d", rc);
    assert_int_equal(calls.n, 0);
    tu_env_destroy(env, dom);
}

/*
 * A host function reaches guest memory with the guest's own rights: a guest
 * handing it the address of the builder's tables gets nothing out of it.
 */
static void test_guest_access(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "hello", NULL, 16, 1, &con);
    uint8_t buf[16] = {0}, idt[16];

    assert_int_equal(hv_domain_memory_read(dom, HV_GPA_IDT, idt, sizeof(idt)), 0);
    assert_int_equal(hv_domain_guest_read(dom, 0, buf, 8), -EFAULT);
    assert_int_equal(hv_domain_guest_read(dom, HV_GPA_PML4, buf, 8), -EFAULT);
    assert_int_equal(hv_domain_guest_write(dom, HV_GPA_IDT, buf, sizeof(buf)), -EFAULT);
    assert_int_equal(hv_domain_guest_write(dom, HV_GPA_START_INFO, buf, 8), -EFAULT);
    /* A range that starts in the guest's memory but ends in the builder's. */
    assert_int_equal(hv_domain_guest_read(dom, HV_GPA_START_INFO - 8, buf, 16), -EFAULT);
    assert_int_equal(hv_domain_guest_read(dom, (16ull << 20) - 8, buf, 16), -EFAULT);
    assert_int_equal(hv_domain_guest_read(dom, UINT64_MAX - 7, buf, 16), -EFAULT);
    /* What the guest may touch, it may have touched for it. */
    assert_int_equal(hv_domain_guest_read(dom, HV_GPA_START_INFO, buf, 8), 0);
    assert_int_equal(hv_domain_guest_write(dom, HV_GPA_SHARED_INFO + 4096, buf, 8), 0);
    uint8_t after[16];
    assert_int_equal(hv_domain_memory_read(dom, HV_GPA_IDT, after, sizeof(after)), 0);
    assert_memory_equal(idt, after, sizeof(idt));
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostcall_registered, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_hostcall_unregistered, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_guest_access, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_hostcall_register_checks, tu_setup,
                                        tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
