/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes hypercall argument decoding: the input is a hypercall number, an
 * argument address and the contents of a small guest RAM. Whatever the
 * guest wrote, hc_decode must only hand out pointers inside RAM that the
 * guest may read (or write, for outputs).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libhv/hypercall_decode.h"

/* Past HV_GPA_KERNEL, so that MEMORY_RELEASE/RECLAIM can succeed too. */
#define RAM_SIZE (HV_GPA_KERNEL + 4 * HV_PAGE_SIZE)

static void check_inside(const struct hv_guest_mem *m, const void *p, uint64_t len,
                         uint64_t floor)
{
    const uint8_t *b = p;
    if (b < m->base + floor || b > m->base + m->size ||
        len > (uint64_t)(m->base + m->size - b))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    struct hv_guest_mem m;
    struct hc_call c;
    uint64_t gpa;
    uint32_t nr;

    if (size < 12)
        return 0;
    if (!ram)
        ram = calloc(1, RAM_SIZE);
    memcpy(&nr, data, 4);
    memcpy(&gpa, data + 4, 8);
    data += 12;
    size -= 12;
    /* Only these two pages are ever written: the rest stays zero. */
    memset(ram + HV_GPA_SHARED_INFO, 0, HV_PAGE_SIZE);
    memset(ram + RAM_SIZE - HV_PAGE_SIZE, 0, HV_PAGE_SIZE);
    /* Put the fuzzer's bytes where arguments usually live, and at the end. */
    size_t n = size < HV_PAGE_SIZE ? size : HV_PAGE_SIZE;
    memcpy(ram + HV_GPA_SHARED_INFO, data, n);
    memcpy(ram + RAM_SIZE - n, data, n);
    m.base = ram;
    m.size = RAM_SIZE;

    nr %= HV_HC_NR_CORE + 2;
    if (gpa & 0x8000)
        gpa = (gpa & 0x3fff) + HV_GPA_SHARED_INFO - 0x100; /* near the boundary */
    int ret = hc_decode(&m, nr, gpa, 4, &c);
    if (ret > 0)
        abort();
    if (ret < 0)
        return 0;
    if (c.out)
        check_inside(&m, c.out, 8, GUEST_FIRST_WRITABLE);
    if (nr == HV_HC_CONSOLE_WRITE) {
        if (c.args.console_write.len > HV_CONSOLE_WRITE_MAX)
            abort();
        check_inside(&m, c.data, c.args.console_write.len, GUEST_FIRST_READABLE);
    }
    if (nr == HV_HC_VCPU_UP && (c.args.vcpu_up.vcpu == 0 || c.args.vcpu_up.vcpu >= 4))
        abort();
    if (nr == HV_HC_SHUTDOWN && c.args.shutdown.reason > HV_SHUTDOWN_CRASH)
        abort();
    if (nr == HV_HC_MEMORY_RELEASE || nr == HV_HC_MEMORY_RECLAIM) {
        uint64_t g = c.args.memory.gpa, np = c.args.memory.npages;
        if ((g & (HV_PAGE_SIZE - 1)) || g < HV_GPA_KERNEL || g > RAM_SIZE ||
            np > (RAM_SIZE - g) / HV_PAGE_SIZE)
            abort();
    }
    return 0;
}
