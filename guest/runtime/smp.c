/* SPDX-License-Identifier: MIT */
/* Secondary vCPUs: VCPU_UP onto a stack of their own, VCPU_DOWN when done. */
#include <stddef.h>

#include "asm.h"
#include "hypercall.h"
#include "rt.h"

/* What hvrt_vcpu_entry (entry.S) starts from; sits at the top of the stack. */
struct hvrt_vcpu_boot {
    void (*fn)(void *);
    void *arg;
    uint32_t *running;
    uint64_t pad;
};
_Static_assert(offsetof(struct hvrt_vcpu_boot, fn) == HVRT_VCPU_BOOT_FN, "asm.h");
_Static_assert(offsetof(struct hvrt_vcpu_boot, arg) == HVRT_VCPU_BOOT_ARG, "asm.h");
_Static_assert(offsetof(struct hvrt_vcpu_boot, running) == HVRT_VCPU_BOOT_RUNNING, "asm.h");
_Static_assert(sizeof(struct hvrt_vcpu_boot) == HVRT_VCPU_BOOT_SIZE, "asm.h");

/*
 * running[id] is 1 from hv_vcpu_start until the vCPU's last use of its stack
 * (entry.S clears it right before VCPU_DOWN), and owns stacks[id] meanwhile.
 */
struct smp_state {
    uint32_t running[HVRT_MAX_VCPUS];
    void *stacks[HVRT_MAX_VCPUS];
};
#define VCPU_UP_RETRIES 100
#define VCPU_UP_RETRY_NS 20000u

/*
 * Allocated at the first hv_vcpu_start: every guest links this file (the
 * runtime's vCPU target handling), and 12 KiB of .bss would cost every
 * guest's build and boot, SMP or not.
 */
static struct smp_state *smp;
static int smp_init_lock;

static struct smp_state *smp_get(void)
{
    struct smp_state *s = __atomic_load_n(&smp, __ATOMIC_ACQUIRE);
    if (s)
        return s;
    while (__atomic_exchange_n(&smp_init_lock, 1, __ATOMIC_ACQUIRE))
        hv_cpu_relax();
    if (!(s = smp)) {
        s = hv_alloc_pages((sizeof(*s) + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
        __atomic_store_n(&smp, s, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&smp_init_lock, 0, __ATOMIC_RELEASE);
    return s;
}

int hv_vcpu_start(uint32_t id, void (*fn)(void *), void *arg)
{
    uint32_t idle = 0;

    if (fn == NULL || id == 0 || id >= hv_nr_vcpus() || id >= HVRT_MAX_VCPUS)
        return -HV_EINVAL;
    struct smp_state *s = smp_get();
    if (!s)
        return -HV_ERANGE;
    uint32_t *running = s->running;
    void **stacks = s->stacks;
    if (!__atomic_compare_exchange_n(&running[id], &idle, 1, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return -HV_EBUSY;
    if (stacks[id] == NULL)
        stacks[id] = hv_alloc_pages(HVRT_VCPU_STACK_SIZE / HV_PAGE_SIZE);
    if (stacks[id] == NULL) {
        __atomic_store_n(&running[id], 0, __ATOMIC_RELEASE);
        return -HV_ERANGE;
    }

    struct hvrt_vcpu_boot *b = (struct hvrt_vcpu_boot *)
        ((char *)stacks[id] + HVRT_VCPU_STACK_SIZE - sizeof(*b));
    b->fn = fn;
    b->arg = arg;
    b->running = &running[id];
    struct hv_hc_vcpu_up up = {
        .vcpu = id,
        .rip = (uint64_t)(uintptr_t)hvrt_vcpu_entry,
        .rsp = (uint64_t)(uintptr_t)b, /* 16-byte aligned */
        .arg = (uint64_t)(uintptr_t)b,
    };
    /*
     * A vCPU that has just cleared running[id] may not have reached its
     * VCPU_DOWN yet: the host then still sees it running. Give it a moment.
     */
    int64_t r;
    for (unsigned tries = 0;; tries++) {
        r = hvrt_hc_ptr(HV_HC_VCPU_UP, &up);
        if ((r != -HV_EALREADY && r != -HV_EBUSY) || tries == VCPU_UP_RETRIES)
            break;
        hv_sleep_ns(VCPU_UP_RETRY_NS);
    }
    if (r < 0) {
        __atomic_store_n(&running[id], 0, __ATOMIC_RELEASE);
        return (int)r;
    }
    return 0;
}

/* VCPU_DOWN came back (entry.S): the host refused to stop this vCPU. */
void hvrt_vcpu_down_failed(void)
{
    hv_shutdown(HV_SHUTDOWN_CRASH, 0);
}
