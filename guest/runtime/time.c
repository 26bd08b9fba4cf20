/* SPDX-License-Identifier: MIT */
/* Time: the pvclock record in the shared info page, read with rdtsc. */
#include "hypercall.h"
#include "rt.h"

static inline uint64_t rdtsc_ordered(void)
{
    uint32_t lo, hi;

    /* lfence: the TSC is read after the record's loads, not before. */
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

int64_t hv_wallclock(uint64_t *wall_ns, uint64_t *mono_ns)
{
    struct hv_hc_wallclock w = { 0, 0 };
    int64_t r = hvrt_hc_ptr(HV_HC_WALLCLOCK, &w);

    if (r < 0)
        return r;
    if (wall_ns)
        *wall_ns = w.wall_ns;
    if (mono_ns)
        *mono_ns = w.mono_ns;
    return 0;
}

/*
 * One consistent reading of the record (seqlock: the version is odd while
 * the host writes it; retry if odd or changed). False if the record is not
 * usable (mul 0: the host provides no pvclock) or the host holds it odd for
 * far too long; the callers then ask the host with WALLCLOCK.
 */
static bool clock_read(uint64_t *mono, int64_t *wall_offset)
{
    volatile struct hv_pvclock *c = &hvrt_shared->clock;

    for (unsigned tries = 0; tries < (1u << 20); tries++) {
        uint32_t v1 = __atomic_load_n(&c->version, __ATOMIC_ACQUIRE);
        if (v1 & 1) {
            hv_cpu_relax();
            continue;
        }
        uint32_t mul = c->mul;
        int8_t shift = c->shift;
        uint64_t tsc_base = c->tsc_base;
        uint64_t ns_base = c->ns_base;
        int64_t off = c->wall_offset_ns;
        uint64_t tsc = rdtsc_ordered();
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&c->version, __ATOMIC_RELAXED) != v1)
            continue;
        if (mul == 0)
            return false;
        *mono = hvrt_pvclock_ns(tsc, tsc_base, ns_base, mul, shift);
        *wall_offset = off;
        return true;
    }
    return false;
}

uint64_t hv_monotonic_ns(void)
{
    uint64_t mono = 0;
    int64_t off;

    if (!clock_read(&mono, &off))
        hv_wallclock(NULL, &mono);
    return mono;
}

uint64_t hv_wallclock_ns(void)
{
    uint64_t mono, wall = 0;
    int64_t off;

    if (clock_read(&mono, &off))
        return mono + (uint64_t)off;
    hv_wallclock(&wall, NULL);
    return wall;
}
