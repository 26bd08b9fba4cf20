/* SPDX-License-Identifier: MIT */
/*
 * vCPU state get, destroy, create a new domain from the copied memory and
 * state, and the counter continues where it stopped: the next line of the
 * restored guest is n+1 (not a fresh boot's 1) and its clock did not go back.
 */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MB 16
#define COUNTER_ARGS "10"

struct count_line {
    unsigned long n, mono;
};

static struct count_line parse_count(struct tu_console *con, int which)
{
    char line[128];
    struct count_line cl;
    tu_check(tu_console_line(con, "count=", which, line, sizeof(line)) == 0, con,
             "no count line %d", which);
    tu_check(sscanf(line, "count=%lu mono=%lu", &cl.n, &cl.mono) == 2, con,
             "cannot parse \"%s\"", line);
    return cl;
}

struct image {
    uint8_t *mem;
    void *state;
    size_t state_len;
    hv_clock_t clock;
    struct count_line last;
};

/* Runs the counter to count=5, pauses it, saves everything, destroys it. */
static void save(struct tu_env *env, struct image *img)
{
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "counter", COUNTER_ARGS, MEM_MB, 1, &con);
    int rc;

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait_count(con, "count=", 5, tu_timeout_ms()) == 0, con,
             "the counter never reached 5");

    /* Not while it runs. */
    size_t len = 0;
    rc = hv_vcpu_state_get(dom, 0, NULL, &len);
    tu_check(rc == -EBUSY, con, "state_get of a running vCPU: %d", rc);
    hv_clock_t clk = {.size = sizeof(clk)};
    rc = hv_domain_clock_set(dom, &clk);
    tu_check(rc < 0, con, "clock_set after start: %d", rc);

    assert_int_equal(hv_domain_pause(dom), 0);
    img->last = parse_count(con, -1);
    struct count_line first = parse_count(con, 0);
    tu_check(first.n == 1 && img->last.n >= 5, con, "counts %lu..%lu", first.n,
             img->last.n);

    len = 0;
    rc = hv_vcpu_state_get(dom, 0, NULL, &len);
    tu_check(rc == -ENOSPC && len > 0, con, "state_get(NULL): %d, len %zu", rc, len);
    img->state = malloc(len);
    assert_non_null(img->state);
    size_t small = len - 1;
    rc = hv_vcpu_state_get(dom, 0, img->state, &small);
    tu_check(rc == -ENOSPC && small == len, con, "state_get(len - 1): %d, len %zu",
             rc, small);
    img->state_len = len;
    rc = hv_vcpu_state_get(dom, 0, img->state, &img->state_len);
    tu_check(rc == 0 && img->state_len > 0 && img->state_len <= len, con,
             "state_get: %d (%s)", rc, hv_last_error(env->hv));
    rc = hv_vcpu_state_get(dom, 1, img->state, &len);
    tu_check(rc < 0, con, "state_get of vCPU 1 of 1: %d", rc);

    img->clock = (hv_clock_t){.size = sizeof(hv_clock_t)};
    assert_int_equal(hv_domain_clock_get(dom, &img->clock), 0);
    print_message("saved at count=%lu mono=%lu; %zu bytes of vCPU state; "
                  "guest_ns %" PRIu64 " kvm_clock_ns %" PRIu64 "\n", img->last.n,
                  img->last.mono, img->state_len, img->clock.guest_ns,
                  img->clock.kvm_clock_ns);
    tu_check(img->clock.guest_ns >= img->last.mono, con,
             "clock_get guest_ns %" PRIu64 " before the last line's mono %lu",
             img->clock.guest_ns, img->last.mono);

    img->mem = malloc((size_t)MEM_MB << 20);
    assert_non_null(img->mem);
    assert_int_equal(hv_domain_memory_read(dom, 0, img->mem, (size_t)MEM_MB << 20), 0);

    /* Still paused: nothing moved while we copied. */
    tu_check(parse_count(con, -1).n == img->last.n, con, "output while paused");
    tu_env_destroy(env, dom);
}

static void expect_rejected(hv_domain_t *dom, const void *blob, size_t len,
                            const char *what)
{
    hv_t *hv = hv_domain_host(dom);
    hv_error(hv, -EIO, TU_SENTINEL);
    int rc = hv_vcpu_state_set(dom, 0, blob, len);
    const char *msg = hv_last_error(hv);
    print_message("state_set(%s) -> %d: %s\n", what, rc, msg);
    tu_check(rc == -EINVAL, NULL, "state_set(%s): %d, expected -EINVAL", what, rc);
    tu_check(!blob || (*msg && strcmp(msg, TU_SENTINEL) != 0), NULL,
             "state_set(%s): no error message", what);
}

static void test_save_restore(void **state)
{
    struct tu_env *env = *state;
    struct image img;
    memset(&img, 0, sizeof(img));

    save(env, &img);

    hv_domain_t *dom = tu_domain_create(env->hv, "restored", MEM_MB, 1);
    struct tu_console *con = tu_env_adopt(env, dom);
    assert_int_equal(hv_domain_memory_write(dom, 0, img.mem, (size_t)MEM_MB << 20), 0);

    /* Corrupted blobs are refused and change nothing. */
    uint8_t *bad = malloc(img.state_len);
    assert_non_null(bad);
    memcpy(bad, img.state, img.state_len);
    bad[0] ^= 0x5a;
    expect_rejected(dom, bad, img.state_len, "bad magic");
    memcpy(bad, img.state, img.state_len);
    bad[4] ^= 0x7f; /* libhv's blob: u32 magic, then u32 version */
    expect_rejected(dom, bad, img.state_len, "wrong version");
    expect_rejected(dom, img.state, img.state_len / 2, "truncated to half");
    expect_rejected(dom, img.state, img.state_len - 1, "one byte short");
    expect_rejected(dom, img.state, 8, "8 bytes");
    expect_rejected(dom, img.state, 0, "empty");
    expect_rejected(dom, NULL, img.state_len, "NULL");
    free(bad);
    tu_check(hv_vcpu_state_set(dom, 1, img.state, img.state_len) < 0, NULL,
             "state_set of vCPU 1 of 1 accepted");

    /* The good blob still restores. */
    int rc = hv_vcpu_state_set(dom, 0, img.state, img.state_len);
    tu_check(rc == 0, NULL, "state_set: %d: %s", rc, hv_last_error(env->hv));
    rc = hv_domain_clock_set(dom, &img.clock);
    tu_check(rc == 0, NULL, "clock_set: %d: %s", rc, hv_last_error(env->hv));
    hv_clock_t now = {.size = sizeof(now)};
    assert_int_equal(hv_domain_clock_get(dom, &now), 0);
    tu_check(now.guest_ns >= img.clock.guest_ns, NULL, "guest time %" PRIu64
             " after clock_set is before the saved %" PRIu64, now.guest_ns,
             img.clock.guest_ns);
    assert_int_equal(hv_domain_start(dom), 0);

    /* Not a new boot: it picks up at n+1, n+2, n+3 with time moving on. */
    unsigned long prev_mono = img.last.mono;
    for (int i = 0; i < 3; i++) {
        tu_check(tu_console_wait_count(con, "count=", i + 1, tu_timeout_ms()) == 0,
                 con, "restored guest printed only %d count lines", i);
        struct count_line cl = parse_count(con, i);
        tu_check(cl.n == img.last.n + 1 + (unsigned long)i, con,
                 "restored line %d is count=%lu, expected %lu", i, cl.n,
                 img.last.n + 1 + (unsigned long)i);
        print_message("restored: count=%lu mono=%lu\n", cl.n, cl.mono);
        tu_check(cl.mono >= prev_mono, con, "mono went back from %lu to %lu",
                 prev_mono, cl.mono);
        prev_mono = cl.mono;
    }
    tu_check(tu_console_count_lines(con, "counter: addr=") == 0, con,
             "the restored guest booted again");

    /* And it can still be told to stop. */
    assert_int_equal(hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF, con, "exit %s",
             tu_exit_reason_name(e.reason));
    tu_env_destroy(env, dom);
    free(img.mem);
    free(img.state);
}

/*
 * clock_set really moves guest time: a fresh counter guest whose clock is
 * set 1000 s ahead prints mono values past 1000 s. (In the restore above,
 * the counter's own deadline in memory would hide a clock left at zero.)
 */
static void test_clock_set(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "counter", COUNTER_ARGS, MEM_MB, 1, &con);
    hv_clock_t clk = {.size = sizeof(clk)};
    const uint64_t ahead = 1000ull * 1000000000ull;

    assert_int_equal(hv_domain_clock_get(dom, &clk), 0);
    tu_check(clk.guest_ns < ahead, NULL, "a new domain's clock at %" PRIu64,
             clk.guest_ns);
    clk.guest_ns += ahead;
    int rc = hv_domain_clock_set(dom, &clk);
    tu_check(rc == 0, NULL, "clock_set: %d: %s", rc, hv_last_error(env->hv));
    hv_clock_t bad = {.size = 0};
    assert_int_equal(hv_domain_clock_set(dom, &bad), -EINVAL);
    assert_int_equal(hv_domain_clock_set(dom, NULL), -EINVAL);
    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait_count(con, "count=", 1, tu_timeout_ms()) == 0, con,
             "no count line");
    struct count_line cl = parse_count(con, 0);
    print_message("clock set 1000 s ahead: count=%lu mono=%lu\n", cl.n, cl.mono);
    tu_check(cl.n == 1, con, "first line count=%lu", cl.n);
    tu_check(cl.mono >= clk.guest_ns, con, "guest mono %lu, clock set to %" PRIu64,
             cl.mono, clk.guest_ns);
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_restore, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_clock_set, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
