/* SPDX-License-Identifier: MIT */
/* Exceptions: report them to the host with CRASH (trap.S is the entry). */
#include "hypercall.h"
#include "rt.h"

struct hvrt_trap_frame {
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors without one */
    uint64_t rip;        /* pushed by the CPU from here on */
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t ss;
};

HVRT_NORETURN void hvrt_trap(const struct hvrt_trap_frame *f);

static uint32_t trap_depth;

/*
 * A CPL3 handler cannot read CR2: the host reads it from the vCPU when it
 * handles CRASH. Nothing here may fault; a fault while reporting one (a
 * smashed stack, say) ends in SHUTDOWN(crash) instead of recursing.
 */
void hvrt_trap(const struct hvrt_trap_frame *f)
{
    if (__atomic_add_fetch(&trap_depth, 1, __ATOMIC_RELAXED) <= 4) {
        struct hv_hc_crash c = {
            .vector = (uint32_t)f->vector,
            .error_code = f->error_code,
            .rip = f->rip,
            .rsp = f->rsp,
        };
        hvrt_hc_ptr(HV_HC_CRASH, &c);
    }
    hv_shutdown(HV_SHUTDOWN_CRASH, (uint32_t)f->vector);
}

int64_t hv_trap_install(void)
{
    struct hv_hc_set_trap_entry t = { .rip = (uint64_t)(uintptr_t)hvrt_trap_table };

    return hvrt_hc_ptr(HV_HC_SET_TRAP_ENTRY, &t);
}
