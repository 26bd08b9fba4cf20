/* SPDX-License-Identifier: MIT */
/*
 * A bump page allocator over the free RAM: from the end of the image up to
 * the boot stack's reserve at the top of RAM. Lock-free (any vCPU may
 * allocate); nothing is ever freed. The balloon (balloon.c) takes pages off
 * the top of the free region and puts them back, so the bottom (next free
 * page) and the top (limit) move in one 64-bit word: an allocation can never
 * hand out a page the balloon took at the same time.
 */
#include "balloon.h"
#include "rt.h"

/* Page numbers: limit in the high half, next free in the low half. */
static uint64_t region;

static inline uint64_t pack(uint64_t next, uint64_t limit)
{
    return limit << 32 | next;
}

void hvrt_alloc_init(const struct hv_start_info *si)
{
    uint64_t start = (uint64_t)(uintptr_t)__image_end;
    uint64_t top = si->stack_top < si->mem_size ? si->stack_top : si->mem_size;

    /* The host's image_end, unless it is below what the linker placed. */
    if (si->image_end > start && si->image_end <= si->mem_size)
        start = si->image_end;
    start = hvrt_align_up(start, HV_PAGE_SIZE);
    top = top > HVRT_BOOT_STACK_RESERVE ? (top - HVRT_BOOT_STACK_RESERVE) & ~(HV_PAGE_SIZE - 1) : 0;
    if (top < start)
        top = start;
    region = pack(start >> 12, top >> 12);
}

void *hv_alloc_pages(size_t npages)
{
    uint64_t cur = __atomic_load_n(&region, __ATOMIC_RELAXED);

    do {
        uint64_t next = cur & 0xffffffffu, limit = cur >> 32;
        if (npages == 0 || limit - next < npages)
            return NULL;
        if (__atomic_compare_exchange_n(&region, &cur, pack(next + npages, limit), true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return (void *)(uintptr_t)(next << 12);
    } while (1);
}

uint64_t hvrt_alloc_shrink(uint64_t npages, uint64_t *gpa)
{
    uint64_t cur = __atomic_load_n(&region, __ATOMIC_RELAXED), take;

    do {
        uint64_t next = cur & 0xffffffffu, limit = cur >> 32;
        take = limit - next < npages ? limit - next : npages;
        *gpa = (limit - take) << 12;
        if (take == 0)
            return 0;
        if (__atomic_compare_exchange_n(&region, &cur, pack(next, limit - take), true,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return take;
    } while (1);
}

void hvrt_alloc_grow(uint64_t npages)
{
    __atomic_fetch_add(&region, npages << 32, __ATOMIC_ACQ_REL);
}
