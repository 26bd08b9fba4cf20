/* SPDX-License-Identifier: MIT */
/*
 * Decoding of hypercall arguments: copies the guest's argument struct out of
 * guest memory once (so the guest cannot change it under the host) and
 * checks every pointer, length and value in it. Pure: no KVM, no domain,
 * so the fuzzer can drive it directly.
 */
#ifndef LIBHV_HYPERCALL_DECODE_H
#define LIBHV_HYPERCALL_DECODE_H

#include <stdint.h>

#include "guest_mem.h"

union hc_args {
    struct hv_hc_console_write console_write;
    struct hv_hc_shutdown shutdown;
    struct hv_hc_poll poll;
    struct hv_hc_wallclock wallclock;
    struct hv_hc_vcpu_up vcpu_up;
    struct hv_hc_set_trap_entry set_trap_entry;
    struct hv_hc_crash crash;
    struct hv_hc_memory memory;
};

struct hc_call {
    uint32_t nr;
    uint64_t arg_gpa;
    union hc_args args;
    /* Where outputs go back to (validated for guest writes), or NULL. */
    void *out;
    /* CONSOLE_WRITE: the validated bytes to read. */
    const void *data;
};

/*
 * Decodes core hypercall nr (< HV_HC_NR_CORE) with its argument at arg_gpa.
 * nr_vcpus bounds VCPU_UP. Returns 0, or the negative HV_E* value the guest
 * gets back in RAX.
 */
int hc_decode(const struct hv_guest_mem *m, uint32_t nr, uint64_t arg_gpa,
              uint32_t nr_vcpus, struct hc_call *call);

/*
 * A trap table must be guest-readable RAM: a gate into nowhere would turn
 * every later fault into a triple fault with no report.
 */
static inline int hc_trap_table_ok(const struct hv_guest_mem *m, uint64_t rip)
{
    return guest_mem_ptr(m, rip, (uint64_t)HV_TRAP_STRIDE * HV_TRAP_VECTORS,
                         GUEST_ACCESS_READ) != NULL;
}

/*
 * MEMORY_RELEASE/RECLAIM: whole pages of RAM at or above HV_GPA_KERNEL, so a
 * guest cannot have the host free page 0, the builder's tables, the start
 * and shared info or the device rings. npages 0 is a valid no-op.
 */
static inline int hc_memory_range_ok(const struct hv_guest_mem *m, uint64_t gpa,
                                     uint64_t npages)
{
    if (gpa & (HV_PAGE_SIZE - 1))
        return -HV_EINVAL;
    if (gpa < HV_GPA_KERNEL || gpa > m->size || npages > (m->size - gpa) / HV_PAGE_SIZE)
        return -HV_EFAULT;
    return 0;
}

/* A 48-bit canonical address: anything else faults on entry. */
static inline int hc_canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

#endif
