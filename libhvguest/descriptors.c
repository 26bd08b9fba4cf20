/* SPDX-License-Identifier: MIT */
/*
 * GDT, IDT and TSS of the guest ABI (docs/guest-abi.md). The guest runs at
 * CPL3 and has no ring-0 code, so these only need to be loadable and to
 * describe the I/O ports the guest may use.
 */
#include <string.h>

#include "internal.h"

/*
 * Accessed bits are preset (type 0x9B/0x93/0xFB/0xF3) so the CPU never has
 * to write a descriptor: the GDT page is supervisor-only and the CPU would
 * otherwise need a locked write on every segment load that finds it clear.
 */
#define GDT_KERNEL_CODE64 0x00AF9B000000FFFFull
#define GDT_KERNEL_DATA   0x00CF93000000FFFFull
#define GDT_USER_CODE64   0x00AFFB000000FFFFull
#define GDT_USER_DATA     0x00CFF3000000FFFFull

#define TSS_TYPE_AVAIL64 0x89ull /* present, DPL0, 64-bit TSS (available) */
#define TSS_HW_SIZE 0x68u
#define TSS_IOMAP_BASE_OFF 102u
/* The limit is the offset of the last byte: the bitmap's 0xff terminator. */
#define TSS_LIMIT (HV_TSS_IOMAP_OFF + HV_TSS_IOMAP_BYTES)

_Static_assert(HV_TSS_IOMAP_OFF >= TSS_HW_SIZE, "I/O bitmap after the TSS");
_Static_assert(HV_GPA_TSS + TSS_LIMIT < HV_GPA_PML4, "TSS below the tables");
_Static_assert(HV_PORT_LAST < HV_TSS_IOMAP_BYTES * 8, "ports in the bitmap");
_Static_assert(HV_SEL_TSS / 8 + 2 == HV_GDT_ENTRIES, "TSS is the last entry");

static void write_gdt(uint8_t *low)
{
    const uint64_t base = HV_GPA_TSS;
    uint64_t tss_lo = (TSS_LIMIT & 0xffffull) | ((base & 0xffffffull) << 16) |
                      (TSS_TYPE_AVAIL64 << 40) |
                      ((uint64_t)(TSS_LIMIT >> 16 & 0xf) << 48) |
                      ((base >> 24 & 0xff) << 56);

    memset(hvg_low_at(low, HV_GPA_GDT), 0, HV_PAGE_SIZE);
    hvg_put64(low, HV_GPA_GDT + HV_SEL_KERNEL_CS, GDT_KERNEL_CODE64);
    hvg_put64(low, HV_GPA_GDT + HV_SEL_KERNEL_DS, GDT_KERNEL_DATA);
    hvg_put64(low, HV_GPA_GDT + (HV_SEL_USER_CS & ~3u), GDT_USER_CODE64);
    hvg_put64(low, HV_GPA_GDT + (HV_SEL_USER_DS & ~3u), GDT_USER_DATA);
    hvg_put64(low, HV_GPA_GDT + HV_SEL_TSS, tss_lo);
    hvg_put64(low, HV_GPA_GDT + HV_SEL_TSS + 8, base >> 32);
}

/*
 * All gates not present: a fault before the guest sets its trap entry is a
 * triple fault, which libhv reports as a crash. libhv fills vectors 0-31
 * when the guest calls SET_TRAP_ENTRY.
 */
static void write_idt(uint8_t *low)
{
    memset(hvg_low_at(low, HV_GPA_IDT), 0, HV_PAGE_SIZE);
}

/*
 * PVM forces IOPL 0, so the I/O bitmap alone decides which ports CPL3 may
 * use: only the hypercall and doorbell ports are opened (a clear bit allows
 * the port).
 */
static void write_tss(uint8_t *low)
{
    uint8_t *tss = hvg_low_at(low, HV_GPA_TSS);
    uint8_t *map = tss + HV_TSS_IOMAP_OFF;
    uint16_t iomap = HV_TSS_IOMAP_OFF;

    /* RSP0 and IST stay 0: there is no ring-0 handler to run on them. */
    memset(tss, 0, HV_TSS_IOMAP_OFF);
    memcpy(tss + TSS_IOMAP_BASE_OFF, &iomap, sizeof(iomap));
    memset(map, 0xff, HV_TSS_IOMAP_BYTES + 1); /* + the terminator byte */
    for (unsigned port = HV_PORT_FIRST; port <= HV_PORT_LAST; port++)
        map[port / 8] &= (uint8_t)~(1u << (port % 8));
}

void hvg_write_descriptors(uint8_t *low)
{
    /* Clear the pages around the TSS too, so nothing stale sits there. */
    memset(hvg_low_at(low, HV_GPA_TSS), 0, HV_GPA_PML4 - HV_GPA_TSS);
    write_gdt(low);
    write_idt(low);
    write_tss(low);
}
