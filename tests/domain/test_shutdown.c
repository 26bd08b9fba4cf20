/* SPDX-License-Identifier: MIT */
/*
 * Host-requested shutdown: HV_EVT_SHUTDOWN reaches a guest that sleeps in
 * POLL, which then powers off or reboots as asked; the exit fd and
 * hv_domain_wait report the exit.
 */
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#define COUNTER_ARGS "10"

static void shutdown_as(struct tu_env *env, uint32_t how, hv_exit_reason_t want)
{
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "counter", COUNTER_ARGS, 16, 1, &con);
    hv_exit_t e = {.size = sizeof(e)};

    int fd = hv_domain_exit_fd(dom);
    tu_check(fd >= 0, con, "exit fd %d", fd);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    tu_check(poll(&p, 1, 0) == 0, con, "exit fd readable before start");

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait_count(con, "count=", 2, tu_timeout_ms()) == 0, con,
             "counter not counting");

    /* Running: not exited, by either means. */
    assert_int_equal(hv_domain_wait(dom, &e, 0), -ETIMEDOUT);
    assert_int_equal(hv_domain_wait(dom, &e, 20), -ETIMEDOUT);
    p.revents = 0;
    tu_check(poll(&p, 1, 0) == 0, con, "exit fd readable while running");
    assert_int_equal(hv_domain_exit_fd(dom), fd); /* the same fd each time */

    assert_int_equal(hv_domain_shutdown(dom, how), 0);
    p.revents = 0;
    int n = poll(&p, 1, tu_timeout_ms());
    tu_check(n == 1 && (p.revents & POLLIN), con, "exit fd not readable: poll %d "
             "revents 0x%x", n, p.revents);
    /* Level-triggered: still readable. */
    p.revents = 0;
    tu_check(poll(&p, 1, 0) == 1, con, "exit fd readable only once");

    e = (hv_exit_t){.size = sizeof(e)};
    assert_int_equal(hv_domain_wait(dom, &e, 0), 0);
    print_message("shutdown(%u): exit %s code %u vcpu %u\n", how,
                  tu_exit_reason_name(e.reason), e.code, e.vcpu);
    tu_check(e.reason == want, con, "exit %s, expected %s",
             tu_exit_reason_name(e.reason), tu_exit_reason_name(want));
    tu_check(tu_info(dom).state == HV_DOMAIN_SHUTDOWN, con, "state %s",
             tu_state_name(tu_info(dom).state));
    tu_env_destroy(env, dom);
}

static void test_poweroff(void **state)
{
    shutdown_as(*state, HV_SHUTDOWN_POWEROFF, HV_EXIT_POWEROFF);
}

static void test_reboot(void **state)
{
    shutdown_as(*state, HV_SHUTDOWN_REBOOT, HV_EXIT_REBOOT);
}

/* A paused domain takes the request when it is unpaused. */
static void test_shutdown_while_paused(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "counter", COUNTER_ARGS, 16, 1, &con);
    hv_exit_t e = {.size = sizeof(e)};

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait_count(con, "count=", 1, tu_timeout_ms()) == 0, con,
             "counter not counting");
    assert_int_equal(hv_domain_pause(dom), 0);
    assert_int_equal(hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF), 0);
    assert_int_equal(hv_domain_wait(dom, &e, 0), -ETIMEDOUT);
    tu_check(tu_info(dom).state == HV_DOMAIN_PAUSED, con, "state %s",
             tu_state_name(tu_info(dom).state));
    assert_int_equal(hv_domain_unpause(dom), 0);
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF, con, "exit %s",
             tu_exit_reason_name(e.reason));
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poweroff, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reboot, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_while_paused, tu_setup,
                                        tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
