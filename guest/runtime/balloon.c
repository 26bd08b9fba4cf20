/* SPDX-License-Identifier: MIT */
/*
 * The host's memory and vCPU targets (docs/guest-abi.md, "Balloon and vCPU
 * targets"), handled inside hv_poll. Memory: free pages come off the top of
 * the allocator's region and go back to the host with MEMORY_RELEASE, or are
 * taken again with MEMORY_RECLAIM; what is given back is always one range,
 * just above the allocator's limit. vCPUs: vCPUs 1..target-1 run an idle
 * loop that sleeps in hv_poll and returns (going down) once the target no
 * longer includes it; vCPU 0 always stays.
 *
 * Any vCPU may take the events; one at a time does the work (a try-lock),
 * and bits that arrive meanwhile wait in `pending` for it.
 */
#include "balloon.h"
#include "hypercall.h"
#include "rt.h"

#define EVT_MEMORY (1ull << HV_EVT_MEMORY)
#define EVT_VCPUS  (1ull << HV_EVT_VCPUS)
/*
 * There is no way to wake one vCPU: an idle vCPU that the event did not
 * reach sees a lowered target when its sleep ends, at most this late.
 */
#define IDLE_CHECK_NS 20000000ull
#define START_RETRIES 100
#define START_RETRY_NS 20000u

static uint64_t pending;
static uint32_t busy;
static uint64_t given_gpa, given_pages;  /* the range given back */
static uint32_t want_vcpus;              /* 0: the host has not asked yet */
static uint8_t idle_on[HVRT_MAX_VCPUS]; /* runs idle_loop (bytes: .bss is boot cost) */

uint64_t hvrt_targets_mask(void)
{
    uint64_t f = hvrt_si->features, m = 0;

    if (f & HV_FEAT_BALLOON)
        m |= EVT_MEMORY;
    if (f & HV_FEAT_VCPU_TARGET)
        m |= EVT_VCPUS;
    return m;
}

static void memory_target(void)
{
    uint64_t ram = hvrt_si->mem_size / HV_PAGE_SIZE;
    uint64_t target = hvrt_shared->mem_target_pages;
    uint64_t in_use = ram - given_pages;

    if (target == 0 || target > ram)
        return; /* not a target this RAM can mean */
    if (in_use > target) {
        uint64_t gpa, n = hvrt_alloc_shrink(in_use - target, &gpa);
        struct hv_hc_memory m = {.gpa = gpa, .npages = n};
        if (n == 0)
            return;
        if (hvrt_hc_ptr(HV_HC_MEMORY_RELEASE, &m) < 0) {
            hvrt_alloc_grow(n);
            return;
        }
        given_gpa = gpa;
        given_pages += n;
    } else if (in_use < target && given_pages) {
        uint64_t n = target - in_use < given_pages ? target - in_use : given_pages;
        struct hv_hc_memory m = {.gpa = given_gpa, .npages = n};
        if (hvrt_hc_ptr(HV_HC_MEMORY_RECLAIM, &m) < 0)
            return;
        given_gpa += n * HV_PAGE_SIZE;
        given_pages -= n;
        hvrt_alloc_grow(n);
    }
}

static void idle_loop(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;

    while (id < __atomic_load_n(&want_vcpus, __ATOMIC_ACQUIRE))
        hv_poll(hv_monotonic_ns() + IDLE_CHECK_NS, 0);
    __atomic_store_n(&idle_on[id], 0, __ATOMIC_RELEASE);
}

static void vcpus_target(void)
{
    uint32_t nr = hv_nr_vcpus() < HVRT_MAX_VCPUS ? hv_nr_vcpus() : HVRT_MAX_VCPUS;
    uint32_t target = hvrt_shared->vcpus_target;

    if (target < 1)
        target = 1;
    if (target > nr)
        target = nr;
    /* Those above the target see it when they wake, and go down. */
    __atomic_store_n(&want_vcpus, target, __ATOMIC_RELEASE);
    for (uint32_t id = 1; id < target; id++) {
        if (__atomic_exchange_n(&idle_on[id], 1, __ATOMIC_ACQ_REL))
            continue;
        /* -HV_EBUSY: an idle loop that just ended has not gone down yet
         * (or the guest runs its own code there, which stays). */
        int r;
        for (unsigned tries = 0;; tries++) {
            r = hv_vcpu_start(id, idle_loop, (void *)(uintptr_t)id);
            if (r != -HV_EBUSY || tries == START_RETRIES)
                break;
            hv_sleep_ns(START_RETRY_NS);
        }
        if (r < 0)
            __atomic_store_n(&idle_on[id], 0, __ATOMIC_RELEASE);
    }
}

void hvrt_targets_event(uint64_t ready)
{
    if (ready)
        __atomic_fetch_or(&pending, ready, __ATOMIC_ACQ_REL);
    /* Bits added while another vCPU held the lock are seen after it lets go. */
    while (__atomic_load_n(&pending, __ATOMIC_ACQUIRE)) {
        uint32_t idle = 0;
        if (!__atomic_compare_exchange_n(&busy, &idle, 1, false, __ATOMIC_ACQUIRE,
                                         __ATOMIC_RELAXED))
            return;
        uint64_t work;
        while ((work = __atomic_exchange_n(&pending, 0, __ATOMIC_ACQ_REL))) {
            if (work & EVT_MEMORY)
                memory_target();
            if (work & EVT_VCPUS)
                vcpus_target();
        }
        __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    }
}

uint64_t hv_balloon_pages(void)
{
    return __atomic_load_n(&given_pages, __ATOMIC_RELAXED);
}

uint32_t hv_vcpus_online(void)
{
    uint32_t n = 1;

    for (uint32_t id = 1; id < HVRT_MAX_VCPUS && id < hv_nr_vcpus(); id++)
        n += __atomic_load_n(&idle_on[id], __ATOMIC_ACQUIRE);
    return n;
}
