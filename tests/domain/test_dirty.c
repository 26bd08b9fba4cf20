/* SPDX-License-Identifier: MIT */
/*
 * Dirty page logging is exact: the dirty guest writes 6 chosen pages of an
 * area at 32 MiB when the host raises HV_EVT_HOST; the log has exactly those
 * pages of the area, few others, nothing once the guest is idle, and never
 * the host's own writes (KVM logs only guest writes through the memslot:
 * writes through the host mapping are invisible to it, see
 * kvm-host-notes.md, "host writes via the mapping are not logged").
 */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MB 64
#define AREA_PAGE 8192u /* 32 MiB */
#define AREA_PAGES 4096u
#define PATTERN 0xD1D1D1D1D1D1D1D1ull
static const unsigned idx[] = {0, 1, 7, 100, 255, 4095};
#define NIDX (sizeof(idx) / sizeof(idx[0]))
#define DIRTY_ARGS "8192 0 1 7 100 255 4095"
/* The guest's own stack, data and console buffers. */
#define MAX_OTHER 16

static int bit(const uint64_t *bm, uint64_t page)
{
    return (int)((bm[page / 64] >> (page % 64)) & 1);
}

static long popcount(const uint64_t *bm, size_t bytes)
{
    long n = 0;
    for (size_t i = 0; i < bytes / 8; i++)
        n += __builtin_popcountll(bm[i]);
    return n;
}

static int is_chosen(uint64_t rel)
{
    for (size_t i = 0; i < NIDX; i++)
        if (idx[i] == rel)
            return 1;
    return 0;
}

struct counts {
    long area, other, total;
};

static struct counts count(const uint64_t *bm, size_t bytes)
{
    struct counts c = {0, 0, 0};
    for (uint64_t p = 0; p < bytes * 8; p++) {
        if (!bit(bm, p))
            continue;
        c.total++;
        if (p >= AREA_PAGE && p < AREA_PAGE + AREA_PAGES)
            c.area++;
        else
            c.other++;
    }
    return c;
}

static long fetch(hv_domain_t *dom, uint64_t *bm, size_t bytes, struct tu_console *con)
{
    memset(bm, 0xa5, bytes); /* not zero: fetch must write every word */
    long n = hv_domain_dirty_log_fetch(dom, bm, bytes);
    tu_check(n >= 0, con, "dirty_log_fetch: %ld", n);
    tu_check(n == popcount(bm, bytes), con,
             "fetch returned %ld but the bitmap has %ld bits", n, popcount(bm, bytes));
    return n;
}

static void test_dirty_exact(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = tu_env_domain(env, "dirty", DIRTY_ARGS, MEM_MB, 1, &con);
    size_t bytes = hv_domain_dirty_log_size(dom);

    assert_int_equal(bytes, (size_t)MEM_MB * 256 / 8);
    uint64_t *bm = malloc(bytes);
    assert_non_null(bm);

    /* Bad buffers. */
    long r = hv_domain_dirty_log_fetch(dom, bm, bytes);
    print_message("fetch before dirty_log_start -> %ld\n", r);
    tu_check(r < 0, con, "fetch before start of logging: %ld", r);
    assert_int_equal(hv_domain_dirty_log_start(dom), 0);
    r = hv_domain_dirty_log_fetch(dom, bm, bytes - 8);
    tu_check(r == -ENOSPC, con, "fetch into a short bitmap: %ld", r);
    r = hv_domain_dirty_log_fetch(dom, NULL, bytes);
    tu_check(r == -EINVAL, con, "fetch into NULL: %ld", r);

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait(con, "dirty: ready\n", tu_timeout_ms()) == 0, con,
             "no \"dirty: ready\"");

    /* Boot: the guest wrote at least its stack; discard. */
    long n = fetch(dom, bm, bytes, con);
    struct counts c = count(bm, bytes);
    print_message("boot: %ld dirty pages (%ld in the area)\n", n, c.area);
    tu_check(n > 0, con, "no page dirty after boot: the log sees nothing");
    tu_check(c.area == 0, con, "%ld area pages dirty before the guest wrote", c.area);

    assert_int_equal(hv_domain_event_raise(dom, HV_EVT_HOST), 0);
    tu_check(tu_console_wait(con, "dirty: wrote 6 pages\n", tu_timeout_ms()) == 0,
             con, "no \"dirty: wrote 6 pages\"");
    n = fetch(dom, bm, bytes, con);
    c = count(bm, bytes);
    print_message("writes: %ld dirty pages (%ld in the area, %ld outside)\n", n,
                  c.area, c.other);
    for (uint64_t rel = 0; rel < AREA_PAGES; rel++) {
        int want = is_chosen(rel);
        tu_check(bit(bm, AREA_PAGE + rel) == want, con,
                 "area page %" PRIu64 " (gpa 0x%" PRIx64 "): dirty %d, expected %d",
                 rel, (uint64_t)((AREA_PAGE + rel) * HV_PAGE_SIZE), bit(bm, AREA_PAGE + rel),
                 want);
    }
    assert_int_equal(c.area, NIDX);
    tu_check(c.other < MAX_OTHER, con, "%ld pages outside the area", c.other);
    for (uint64_t p = (uint64_t)MEM_MB * 256; p < bytes * 8; p++)
        tu_check(!bit(bm, p), con, "bit %" PRIu64 " past RAM set", p);

    /* The writes happened: the pattern at offset 8 of each chosen page only. */
    for (uint64_t rel = 0; rel < AREA_PAGES; rel++) {
        uint64_t w[2];
        uint64_t gpa = (AREA_PAGE + rel) * HV_PAGE_SIZE;
        assert_int_equal(hv_domain_memory_read(dom, gpa, w, sizeof(w)), 0);
        if (is_chosen(rel))
            tu_check(w[1] == PATTERN && w[0] == 0, con, "page %" PRIu64
                     ": 0x%" PRIx64 " 0x%" PRIx64, rel, w[0], w[1]);
        else
            tu_check(w[1] == 0, con, "unchosen page %" PRIu64 " written", rel);
    }

    /* The guest now waits in POLL: no more area writes. */
    n = fetch(dom, bm, bytes, con);
    c = count(bm, bytes);
    print_message("idle: %ld dirty pages (%ld in the area)\n", n, c.area);
    tu_check(c.area == 0, con, "%ld area pages dirty while the guest is idle", c.area);
    tu_check(c.other < MAX_OTHER, con, "%ld pages dirty while idle", c.other);

    /* A host write is not logged. */
    uint64_t host = 0x4854534f48ull;
    uint64_t hpage = AREA_PAGE + 2;
    assert_int_equal(hv_domain_memory_write(dom, hpage * HV_PAGE_SIZE + 64, &host,
                                            sizeof(host)), 0);
    n = fetch(dom, bm, bytes, con);
    tu_check(!bit(bm, hpage), con, "a host write was logged as dirty");
    tu_check(count(bm, bytes).area == 0, con, "area pages dirty after a host write");

    assert_int_equal(hv_domain_event_raise(dom, HV_EVT_HOST), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, con, "exit %s code %u",
             tu_exit_reason_name(e.reason), e.code);
    assert_int_equal(hv_domain_dirty_log_stop(dom), 0);
    free(bm);
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dirty_exact, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
