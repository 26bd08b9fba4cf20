/* SPDX-License-Identifier: MIT */
/*
 * A bump page allocator over the free RAM: from the end of the image up to
 * the boot stack's reserve at the top of RAM. Lock-free (any vCPU may
 * allocate); nothing is ever freed.
 */
#include "rt.h"

static uint64_t next_free; /* first free byte, page aligned */
static uint64_t limit;     /* first byte not to hand out */

void hvrt_alloc_init(const struct hv_start_info *si)
{
    uint64_t start = (uint64_t)(uintptr_t)__image_end;
    uint64_t top = si->stack_top < si->mem_size ? si->stack_top : si->mem_size;

    /* The host's image_end, unless it is below what the linker placed. */
    if (si->image_end > start && si->image_end <= si->mem_size)
        start = si->image_end;
    start = hvrt_align_up(start, HV_PAGE_SIZE);
    top = top > HVRT_BOOT_STACK_RESERVE ? (top - HVRT_BOOT_STACK_RESERVE) & ~(HV_PAGE_SIZE - 1) : 0;
    next_free = start;
    limit = top > start ? top : start;
}

void *hv_alloc_pages(size_t npages)
{
    uint64_t cur = __atomic_load_n(&next_free, __ATOMIC_RELAXED);

    if (npages == 0 || npages > (limit >> 12))
        return NULL;
    uint64_t bytes = (uint64_t)npages * HV_PAGE_SIZE;
    do {
        if (limit - cur < bytes)
            return NULL;
    } while (!__atomic_compare_exchange_n(&next_free, &cur, cur + bytes, true,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return (void *)(uintptr_t)cur;
}
