/* SPDX-License-Identifier: MIT */
/*
 * The one bounds-checking helper for guest memory. Every guest-supplied
 * address and length goes through guest_mem_ptr() before the host touches
 * the bytes; nothing else turns a guest-physical address into a pointer.
 */
#ifndef LIBHV_GUEST_MEM_H
#define LIBHV_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "hv/abi.h"

struct hv_guest_mem {
    uint8_t *base;
    uint64_t size;
};

enum guest_access {
    /* The host's own access (builder, API callers): any byte of RAM. */
    GUEST_ACCESS_HOST = 0,
    /* On the guest's behalf: only what the guest itself may read. */
    GUEST_ACCESS_READ,
    /* On the guest's behalf: only what the guest itself may write. */
    GUEST_ACCESS_WRITE,
};

/*
 * Page 0 and the builder area are not the guest's to name, and the start
 * info is read-only to it: a hypercall must not let the host do for the guest
 * what its page tables forbid.
 */
#define GUEST_FIRST_READABLE HV_GPA_START_INFO
#define GUEST_FIRST_WRITABLE HV_GPA_SHARED_INFO

/* A pointer to [gpa, gpa + len) if that range is allowed, else NULL. */
static inline void *guest_mem_ptr(const struct hv_guest_mem *m, uint64_t gpa,
                                  uint64_t len, enum guest_access access)
{
    uint64_t floor = access == GUEST_ACCESS_WRITE  ? GUEST_FIRST_WRITABLE
                     : access == GUEST_ACCESS_READ ? GUEST_FIRST_READABLE
                                                   : 0;
    if (gpa < floor || gpa > m->size || len > m->size - gpa)
        return NULL;
    return m->base + gpa;
}

#endif
