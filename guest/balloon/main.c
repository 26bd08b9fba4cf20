/* SPDX-License-Identifier: MIT */
/*
 * Balloon test guest. `watch`: writes every page of the free region (so the
 * host has really allocated them), then sleeps in hv_poll, where the runtime
 * honours the host's memory and vCPU targets, and prints a line after each
 * change: "balloon: pages=<given back> vcpus=<online>". HV_EVT_HOST makes it
 * print "balloon: host event". `hostile`: hands MEMORY_RELEASE/RECLAIM bad
 * arguments and prints what each returns.
 */
#include <hvrt.h>

#define CHECK_NS 10000000ull

static void touch_free_region(void)
{
    const struct hv_start_info *si = hv_start_info();
    uint64_t lo = (si->image_end + HV_PAGE_SIZE - 1) & ~(HV_PAGE_SIZE - 1);
    uint64_t hi = (si->stack_top - HVRT_BOOT_STACK_RESERVE) & ~(HV_PAGE_SIZE - 1);

    /* Nothing is allocated yet: these pages are free, and stay free. */
    for (uint64_t p = lo; p < hi; p += HV_PAGE_SIZE)
        *(volatile uint8_t *)(uintptr_t)p = 0;
    printf("balloon: touched %llu pages\n", (unsigned long long)((hi - lo) / HV_PAGE_SIZE));
}

static __attribute__((noreturn)) void watch(void)
{
    uint64_t host_bit = 1ull << HV_EVT_HOST;
    uint64_t pages = hv_balloon_pages();
    uint32_t vcpus = hv_vcpus_online();

    touch_free_region();
    printf("balloon: ready pages=%llu vcpus=%u\n", (unsigned long long)pages, vcpus);
    for (;;) {
        /* Bounded: a vCPU going down on its own wakes no one. */
        if (hv_poll(hv_monotonic_ns() + CHECK_NS, host_bit) & host_bit)
            printf("balloon: host event\n");
        if (hv_balloon_pages() != pages || hv_vcpus_online() != vcpus) {
            pages = hv_balloon_pages();
            vcpus = hv_vcpus_online();
            printf("balloon: pages=%llu vcpus=%u\n", (unsigned long long)pages, vcpus);
        }
    }
}

static int64_t mem_call(uint32_t nr, uint64_t gpa, uint64_t npages)
{
    struct hv_hc_memory m = {.gpa = gpa, .npages = npages};
    return hv_hypercall(nr, &m);
}

static int hostile(void)
{
    uint64_t ram = hv_start_info()->mem_size;
    static const char *const names[] = {
        "page0", "pagetables", "startinfo", "sharedinfo", "rings", "straddle1m",
        "outside", "pastend", "overflow", "huge", "unaligned",
    };
    const uint64_t args[][2] = {
        {0, 1},
        {HV_GPA_PML4, 4},
        {HV_GPA_START_INFO, 1},
        {HV_GPA_SHARED_INFO, 1},
        {HV_GPA_RINGS, 1},
        {HV_GPA_KERNEL - HV_PAGE_SIZE, 2},
        {ram, 1},
        {ram - HV_PAGE_SIZE, 2},
        {HV_GPA_KERNEL, (UINT64_MAX / HV_PAGE_SIZE) + 1}, /* npages * 4096 wraps to 0 */
        {HV_GPA_KERNEL, 1ull << 52},
        {HV_GPA_KERNEL + 8, 1},
    };

    for (unsigned i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        int64_t rel = mem_call(HV_HC_MEMORY_RELEASE, args[i][0], args[i][1]);
        int64_t rec = mem_call(HV_HC_MEMORY_RECLAIM, args[i][0], args[i][1]);
        printf("hostile: %s release=%lld reclaim=%lld\n", names[i], (long long)rel,
               (long long)rec);
    }
    /* The argument struct itself out of reach. */
    printf("hostile: argptr0 release=%lld\n",
           (long long)hv_hypercall(HV_HC_MEMORY_RELEASE, NULL));
    printf("hostile: argptr-end release=%lld\n",
           (long long)hv_hypercall(HV_HC_MEMORY_RELEASE, (void *)(uintptr_t)(ram - 8)));

    /* One page of our own, given back twice, counted once. */
    uint8_t *page = hv_alloc_pages(1);
    page[0] = 1;
    uint64_t gpa = (uint64_t)(uintptr_t)page;
    int64_t first = mem_call(HV_HC_MEMORY_RELEASE, gpa, 1);
    int64_t second = mem_call(HV_HC_MEMORY_RELEASE, gpa, 1);
    printf("hostile: twice release=%lld,%lld\n", (long long)first, (long long)second);
    printf("hostile: reads %u after release\n", page[0]);
    while (!(hv_poll(HV_POLL_FOREVER, 1ull << HV_EVT_HOST) & (1ull << HV_EVT_HOST)))
        ;
    first = mem_call(HV_HC_MEMORY_RECLAIM, gpa, 1);
    second = mem_call(HV_HC_MEMORY_RECLAIM, gpa, 1);
    printf("hostile: twice reclaim=%lld,%lld\n", (long long)first, (long long)second);
    page[0] = 2;
    printf("hostile: done %u\n", page[0]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "hostile"))
        return hostile();
    watch();
}
