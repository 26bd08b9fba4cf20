/* SPDX-License-Identifier: MIT */
/*
 * Memory target (mem-set, mem-max): the balloon guest gives pages back and
 * the host really frees them (the RAM memfd's blocks fall); hostile
 * MEMORY_RELEASE/RECLAIM arguments are refused and free nothing.
 */
#include "balloon_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1ull << 20)

static uint64_t memfd_bytes(hv_domain_t *dom)
{
    int fd;
    struct stat st;

    assert_int_equal(hv_domain_memory_fd(dom, &fd, NULL), 0);
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    return (uint64_t)st.st_blocks * 512;
}

static void expect_mem(hv_domain_t *dom, struct tu_console *con, uint64_t target,
                          uint64_t max, uint64_t actual)
{
    hv_domain_info_t i = tu_info(dom);
    tu_check(i.memory_target_bytes == target && i.memory_max_bytes == max &&
             i.memory_actual_bytes == actual, con,
             "target %llu max %llu actual %llu, want %llu %llu %llu",
             (unsigned long long)i.memory_target_bytes,
             (unsigned long long)i.memory_max_bytes,
             (unsigned long long)i.memory_actual_bytes, (unsigned long long)target,
             (unsigned long long)max, (unsigned long long)actual);
}

static void test_target_down_up(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = bu_domain(env, "watch", 16, 0, 1, 0, &con);

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait(con, "balloon: ready pages=0 vcpus=1\n", tu_timeout_ms()) == 0,
             con, "guest not ready");
    expect_mem(dom, con, 16 * MiB, 16 * MiB, 16 * MiB);

    /* The guest wrote every free page before "ready": the host holds them. */
    uint64_t before = memfd_bytes(dom);
    assert_int_equal(hv_domain_memory_target_set(dom, 8 * MiB), 0);
    bu_wait_state(con, 2048, 1);
    expect_mem(dom, con, 8 * MiB, 16 * MiB, 8 * MiB);
    uint64_t after = memfd_bytes(dom);
    print_message("memfd: %llu KiB allocated before, %llu KiB after giving 8 MiB back\n",
                  (unsigned long long)(before >> 10), (unsigned long long)(after >> 10));
    /* Slack for the few pages the guest touches meanwhile (stack, console). */
    tu_check(after + 8 * MiB <= before + 256 * 1024, con,
             "memfd went from %llu to %llu bytes", (unsigned long long)before,
             (unsigned long long)after);

    assert_int_equal(hv_domain_memory_target_set(dom, 12 * MiB), 0);
    bu_wait_state(con, 1024, 1);
    expect_mem(dom, con, 12 * MiB, 16 * MiB, 12 * MiB);
    assert_int_equal(hv_domain_memory_target_set(dom, 16 * MiB), 0);
    bu_wait_state(con, 0, 1);
    expect_mem(dom, con, 16 * MiB, 16 * MiB, 16 * MiB);

    /* Rounded down to whole pages. */
    assert_int_equal(hv_domain_memory_target_set(dom, 8 * MiB + 100), 0);
    bu_wait_state(con, 2048, 1);
    expect_mem(dom, con, 8 * MiB, 16 * MiB, 8 * MiB);

    /* Out of bounds: refused, nothing changes. */
    assert_int_equal(hv_domain_memory_target_set(dom, 16 * MiB + 4096), -EINVAL);
    assert_int_equal(hv_domain_memory_target_set(dom, 1 * MiB), -EINVAL);
    tu_check(strstr(hv_last_error(env->hv), "below") != NULL, con, "message: %s",
             hv_last_error(env->hv));
    assert_int_equal(hv_domain_memory_max_set(dom, 32 * MiB), -EINVAL);
    assert_int_equal(hv_domain_memory_max_set(dom, 2 * MiB), -EINVAL);
    expect_mem(dom, con, 8 * MiB, 16 * MiB, 8 * MiB);

    /* mem-max below the target lowers the target too. */
    assert_int_equal(hv_domain_memory_max_set(dom, 12 * MiB), 0);
    expect_mem(dom, con, 8 * MiB, 12 * MiB, 8 * MiB);
    assert_int_equal(hv_domain_memory_target_set(dom, 12 * MiB + 4096), -EINVAL);
    tu_check(strstr(hv_last_error(env->hv), "maximum") != NULL, con, "message: %s",
             hv_last_error(env->hv));
    assert_int_equal(hv_domain_memory_max_set(dom, 6 * MiB), 0);
    bu_wait_state(con, 2560, 1);
    expect_mem(dom, con, 6 * MiB, 6 * MiB, 6 * MiB);

    assert_int_equal(hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    assert_int_equal(hv_domain_memory_target_set(dom, 6 * MiB), -ESRCH);
    tu_env_destroy(env, dom);
}

/* maxmem above memory: the guest gives the difference back as it boots. */
static void test_maxmem_at_boot(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = bu_domain(env, "watch", 8, 16, 1, 0, &con);

    expect_mem(dom, con, 8 * MiB, 16 * MiB, 16 * MiB);
    assert_int_equal(hv_domain_start(dom), 0);
    bu_wait_state(con, 2048, 1);
    hv_domain_info_t i = tu_info(dom);
    assert_int_equal(i.memory_bytes, 16 * MiB);
    expect_mem(dom, con, 8 * MiB, 16 * MiB, 8 * MiB);
    assert_int_equal(hv_domain_memory_target_set(dom, 16 * MiB), 0);
    bu_wait_state(con, 0, 1);
    expect_mem(dom, con, 16 * MiB, 16 * MiB, 16 * MiB);
    tu_env_destroy(env, dom);
}

static int is_data(int fd, off_t off)
{
    return lseek(fd, off, SEEK_DATA) == off;
}

static void expect_line(struct tu_console *con, const char *line)
{
    size_t at;
    tu_check(tu_console_wait_from(con, 0, line, 0, &at) == 0, con, "no \"%s\"", line);
}

static void test_hostile_release(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = bu_domain(env, "hostile", 16, 0, 1, 0, &con);
    static const char *const refused[] = {
        "page0", "pagetables", "startinfo", "sharedinfo", "rings", "straddle1m",
        "outside", "pastend", "overflow", "huge",
    };
    char line[128];

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait(con, "hostile: reads ", tu_timeout_ms()) == 0, con,
             "guest did not get through");
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(line, sizeof(line), "hostile: %s release=%d reclaim=%d\n", refused[i],
                 -HV_EFAULT, -HV_EFAULT);
        expect_line(con, line);
    }
    snprintf(line, sizeof(line), "hostile: unaligned release=%d reclaim=%d\n", -HV_EINVAL,
             -HV_EINVAL);
    expect_line(con, line);
    snprintf(line, sizeof(line), "hostile: argptr0 release=%d\n", -HV_EFAULT);
    expect_line(con, line);
    snprintf(line, sizeof(line), "hostile: argptr-end release=%d\n", -HV_EFAULT);
    expect_line(con, line);
    /* Counted once, and really freed: it reads back as zero. */
    expect_line(con, "hostile: twice release=1,0\n");
    expect_line(con, "hostile: reads 0 after release\n");
    expect_mem(dom, con, 16 * MiB, 16 * MiB, 16 * MiB - 4096);

    /* What the builder wrote below 1 MiB, the image and the top page are all
     * still there: none of the refused calls punched anything. */
    int fd;
    assert_int_equal(hv_domain_memory_fd(dom, &fd, NULL), 0);
    const off_t kept[] = {HV_GPA_PML4, HV_GPA_PDPT, HV_GPA_START_INFO, HV_GPA_SHARED_INFO,
                          HV_GPA_KERNEL, 16 * MiB - 4096};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        tu_check(is_data(fd, kept[i]), con, "page 0x%llx was freed",
                 (unsigned long long)kept[i]);
    close(fd);

    assert_int_equal(hv_domain_event_raise(dom, HV_EVT_HOST), 0);
    hv_exit_t e;
    tu_wait_exit(dom, &e);
    tu_check(e.reason == HV_EXIT_POWEROFF && e.code == 0, con, "exit %s code %u",
             tu_exit_reason_name(e.reason), e.code);
    expect_line(con, "hostile: twice reclaim=1,0\n");
    expect_line(con, "hostile: done 2\n");
    expect_mem(dom, con, 16 * MiB, 16 * MiB, 16 * MiB);
    tu_env_destroy(env, dom);
}

/* A bit per page of the domain's memfd that is a hole (never written or freed). */
static uint64_t *holes_of(hv_domain_t *dom, size_t bytes)
{
    uint64_t *bits = calloc(1, bytes), size;
    int fd;
    assert_non_null(bits);
    assert_int_equal(hv_domain_memory_fd(dom, &fd, &size), 0);
    for (off_t at = lseek(fd, 0, SEEK_HOLE); at >= 0 && (uint64_t)at < size;) {
        off_t end = lseek(fd, at, SEEK_DATA);
        if (end < 0)
            end = (off_t)size;
        for (uint64_t p = (uint64_t)at / 4096; p < (uint64_t)end / 4096; p++)
            bits[p / 64] |= 1ull << (p % 64);
        at = lseek(fd, end, SEEK_HOLE);
    }
    close(fd);
    return bits;
}

/*
 * A released page reads as zero from then on, a change no guest write made:
 * the dirty log must still report it, or a copy made from the log (an
 * incremental backup, a migration) keeps the old contents.
 */
static void test_released_pages_are_dirty(void **state)
{
    struct tu_env *env = *state;
    struct tu_console *con;
    hv_domain_t *dom = bu_domain(env, "watch", 16, 0, 1, 0, &con);

    assert_int_equal(hv_domain_start(dom), 0);
    tu_check(tu_console_wait(con, "balloon: ready pages=0 vcpus=1\n", tu_timeout_ms()) == 0,
             con, "guest not ready");
    size_t bytes = hv_domain_dirty_log_size(dom);
    uint64_t *bitmap = calloc(1, bytes);
    assert_non_null(bitmap);
    assert_int_equal(hv_domain_dirty_log_start(dom), 0);
    assert_true(hv_domain_dirty_log_fetch(dom, bitmap, bytes) >= 0); /* the baseline */
    uint64_t *before = holes_of(dom, bytes);

    assert_int_equal(hv_domain_memory_target_set(dom, 8 * MiB), 0);
    bu_wait_state(con, 2048, 1);
    long n = hv_domain_dirty_log_fetch(dom, bitmap, bytes);
    assert_true(n >= 2048);
    /* The released pages are the memfd's new holes; each must be in the log. */
    uint64_t *after = holes_of(dom, bytes), holes = 0, missing = 0;
    for (uint64_t p = 0; p < bytes * 8; p++)
        if ((after[p / 64] & ~before[p / 64]) >> (p % 64) & 1) {
            holes++;
            missing += !(bitmap[p / 64] >> (p % 64) & 1);
        }
    free(before);
    free(after);
    assert_int_equal(holes, 2048);
    tu_check(missing == 0, con, "%llu of the %llu released pages are not in the dirty log",
             (unsigned long long)missing, (unsigned long long)holes);
    assert_int_equal(hv_domain_dirty_log_stop(dom), 0);
    free(bitmap);
    tu_env_destroy(env, dom);
}

int main(void)
{
    tu_require_kvm();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_target_down_up, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_maxmem_at_boot, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_release, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_released_pages_are_dirty, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
