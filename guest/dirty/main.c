/* SPDX-License-Identifier: MIT */
/*
 * dirty base_page idx...: for the dirty-log tests. Waits for HV_EVT_HOST,
 * then writes 0xD1D1D1D1D1D1D1D1 at offset 8 of pages base_page + idx (and
 * of no other page of the area), then waits for HV_EVT_HOST again. The area
 * must lie outside the image and the stack.
 */
#include <hvrt.h>

#define MAX_PAGES 256
#define PATTERN 0xD1D1D1D1D1D1D1D1ull

static uint64_t pages[MAX_PAGES];

static void wait_host(void)
{
    const uint64_t bit = 1ull << HV_EVT_HOST;

    while (!(hv_poll(HV_POLL_FOREVER, bit) & bit))
        ;
}

int main(int argc, char **argv)
{
    const struct hv_start_info *si = hv_start_info();
    uint64_t base;
    unsigned n = 0;

    if (argc < 2 || hv_parse_u64(argv[1], &base) < 0) {
        printf("dirty: usage: dirty base_page idx...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        uint64_t idx, page;
        if (n == MAX_PAGES || hv_parse_u64(argv[i], &idx) < 0 ||
            __builtin_add_overflow(base, idx, &page) ||
            page >= si->mem_size / HV_PAGE_SIZE || page < HV_GPA_KERNEL / HV_PAGE_SIZE) {
            printf("dirty: bad page argument '%s'\n", argv[i]);
            return 2;
        }
        pages[n++] = page;
    }

    printf("dirty: ready\n");
    wait_host();
    for (unsigned i = 0; i < n; i++)
        *(volatile uint64_t *)(uintptr_t)(pages[i] * HV_PAGE_SIZE + 8) = PATTERN;
    printf("dirty: wrote %u pages\n", n);
    wait_host();
    return 0;
}
