/* SPDX-License-Identifier: MIT */
/* The hypercall instruction: `out %al, %dx` to HV_HC_PORT(nr), argument gpa in RDI. */
#ifndef HVRT_HYPERCALL_H
#define HVRT_HYPERCALL_H

#include <stdint.h>

#include <hv/abi.h>

/*
 * nr must be a constant or already checked to be <= HV_HC_VENDOR_LAST: a
 * larger number would reach a device doorbell port instead. The "memory"
 * clobber orders the argument struct's stores before the exit and the loads
 * of its output fields after it.
 */
static inline int64_t hvrt_hc(uint32_t nr, uint64_t arg_gpa)
{
    int64_t ret;

    __asm__ volatile("outb %%al, %%dx"
                     : "=a"(ret)
                     : "0"((uint64_t)0), "d"((uint16_t)HV_HC_PORT(nr)), "D"(arg_gpa)
                     : "memory");
    return ret;
}

static inline int64_t hvrt_hc_ptr(uint32_t nr, const volatile void *arg)
{
    /* RAM is identity-mapped: a guest-virtual address is the gpa. */
    return hvrt_hc(nr, (uint64_t)(uintptr_t)arg);
}

#endif
