/* SPDX-License-Identifier: MIT */
/*
 * PV SMP: the smp guest brings up its secondary vCPUs with VCPU_UP, each
 * counts to 20,000,000, and the boot vCPU checks the total.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PER_VCPU 20000000ul

static void test_smp_4(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "smp", "4", 32, 4, &con);

    hv_domain_info_t info = tu_info(dom);
    assert_int_equal(info.vcpus, 4);
    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, con,
             "exit %s code %u vector 0x%x vcpu %u rip 0x%lx",
             tu_exit_reason_name(e.reason), e.code, e.vector, e.vcpu, e.rip);
    tu_check(tu_console_count_lines(con, "smp: ok 4") == 1, con, "no \"smp: ok 4\"");

    char line[128];
    int seen[4] = {0};
    int nlines = tu_console_count_lines(con, "smp: vcpu ");
    for (int i = 0; i < nlines; i++) {
        unsigned id;
        unsigned long counted;
        assert_int_equal(tu_console_line(con, "smp: vcpu ", i, line, sizeof(line)), 0);
        if (sscanf(line, "smp: vcpu %u counted %lu", &id, &counted) == 2) {
            tu_check(id < 4, con, "vcpu id %u", id);
            tu_check(counted == PER_VCPU, con, "vcpu %u counted %lu", id, counted);
            seen[id]++;
        } else {
            tu_check(sscanf(line, "smp: vcpu %u up", &id) == 1 && id >= 1 && id < 4,
                     con, "unexpected line \"%s\"", line);
        }
    }
    for (unsigned id = 0; id < 4; id++) {
        tu_check(seen[id] == 1, con, "vcpu %u reported %d times", id, seen[id]);
        if (id > 0) {
            snprintf(line, sizeof(line), "smp: vcpu %u up\n", id);
            size_t at;
            tu_check(tu_console_wait_from(con, 0, line, 0, &at) == 0, con,
                     "no \"%s\"", line);
        }
    }

    /* Each vCPU's own thread ran (CPU time is charged to it). */
    uint64_t sum = 0;
    for (uint32_t id = 0; id < 4; id++) {
        hv_vcpu_info_t vi = tu_vcpu_info(dom, id);
        print_message("vcpu %u: online %u cpu_time %" PRIu64 " ns\n", id, vi.online,
                      vi.cpu_time_ns);
        assert_int_equal(vi.vcpu, id);
        tu_check(vi.cpu_time_ns > 0, con, "vCPU %u never ran", id);
        sum += vi.cpu_time_ns;
    }
    info = tu_info(dom);
    print_message("domain: vcpus_online %u cpu_time %" PRIu64 " ns (sum %" PRIu64
                  ")\n", info.vcpus_online, info.cpu_time_ns, sum);
    tu_check(info.cpu_time_ns >= sum / 2, con, "domain cpu time %" PRIu64
             " below the vCPUs' %" PRIu64, info.cpu_time_ns, sum);
    hv_vcpu_info_t vi = {.size = sizeof(vi)};
    tu_check(hv_vcpu_info(dom, 4, &vi) < 0, con, "vcpu_info of vCPU 4 of 4");
    tu_env_destroy(env, dom);
}

/*
 * While a secondary runs, hv_vcpu_info reports it online: sampled from the
 * console callback, which libhv runs on the very vCPU thread that wrote, in
 * the middle of the secondary's CONSOLE_WRITE of "smp: vcpu N up".
 */
struct online_probe {
    struct tu_console *con;
    hv_domain_t *dom;
    int seen[4];        /* "up" lines seen per vCPU */
    int online[4];      /* hv_vcpu_info(...).online at that moment */
    int rc[4];
    uint32_t dom_online[4]; /* hv_domain_info(...).vcpus_online then */
};

static void probe_console(void *opaque, hv_domain_t *dom, const char *data,
                          size_t len)
{
    struct online_probe *p = opaque;
    unsigned id;
    int end = 0;
    char tmp[128];
    size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;

    memcpy(tmp, data, n);
    tmp[n] = 0;
    if (sscanf(tmp, "smp: vcpu %u%n", &id, &end) == 1 && id < 4 &&
        strcmp(tmp + end, " up\n") == 0) {
        hv_vcpu_info_t vi = {.size = sizeof(vi)};
        hv_domain_info_t di = {.size = sizeof(di)};
        p->seen[id]++;
        p->rc[id] = hv_vcpu_info(dom, id, &vi);
        p->online[id] = (int)vi.online;
        if (hv_domain_info(dom, &di) == 0)
            p->dom_online[id] = di.vcpus_online;
    }
    tu_console_append(p->con, data, len);
}

static void test_smp_online(void **state)
{
    struct tu_env *env = *state;
    /* Static: the callback may outlive a failed assertion until teardown. */
    static struct online_probe p;
    hv_domain_t *dom = tu_env_domain(env, "smp", "4", 32, 4, &p.con);

    memset(p.seen, 0, sizeof(p.seen));
    memset(p.online, 0, sizeof(p.online));
    memset(p.rc, 0, sizeof(p.rc));
    memset(p.dom_online, 0, sizeof(p.dom_online));
    p.dom = dom;
    for (uint32_t id = 1; id < 4; id++)
        tu_check(tu_vcpu_info(dom, id).online == 0, NULL,
                 "vCPU %u online before start", id);
    assert_int_equal(hv_domain_console_set_callback(dom, probe_console, &p), 0);
    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, p.con, "exit %s code %u",
             tu_exit_reason_name(e.reason), e.code);
    for (uint32_t id = 1; id < 4; id++) {
        print_message("vCPU %u said up: hv_vcpu_info %d online %d, domain "
                      "vcpus_online %u\n", id, p.rc[id], p.online[id],
                      p.dom_online[id]);
        tu_check(p.seen[id] == 1, p.con, "vCPU %u said up %d times", id, p.seen[id]);
        tu_check(p.rc[id] == 0 && p.online[id] == 1, p.con,
                 "vCPU %u not online while it runs (rc %d, online %d)", id, p.rc[id],
                 p.online[id]);
        /* At least the boot vCPU and this one. */
        tu_check(p.dom_online[id] >= 2 && p.dom_online[id] <= 4, p.con,
                 "domain info: %u vCPUs online while vCPU %u runs", p.dom_online[id],
                 id);
    }
    tu_env_destroy(env, dom);
}

static void test_smp_too_few(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "smp", "4", 32, 2, &con);

    assert_int_equal(hv_domain_start(dom), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 1, con, "exit %s code %u",
             tu_exit_reason_name(e.reason), e.code);
    tu_check(tu_console_count_lines(con, "smp: only 2 vcpus") == 1, con,
             "no \"smp: only 2 vcpus\"");
    tu_check(tu_console_count_lines(con, "smp: ok") == 0, con, "\"smp: ok\" anyway");
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_smp_4, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_smp_online, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_smp_too_few, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
