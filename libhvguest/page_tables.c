/* SPDX-License-Identifier: MIT */
/*
 * Identity map of all guest RAM. 2 MiB pages everywhere except the first
 * 2 MiB, which is split into 4 KiB pages so that page 0 can fault (NULL
 * dereferences), the builder's tables are out of the CPL3 guest's reach,
 * and the start info is read-only to it.
 */
#include <string.h>

#include "internal.h"

#define PTE_P  0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_A  0x20ull
#define PTE_D  0x40ull
#define PTE_PS 0x80ull

/*
 * Accessed and Dirty are set up front: the guest never looks at them, and
 * with them clear KVM's shadow MMU here maps one page per fault and takes a
 * second fault on the first write (measured: ~120 us more per boot).
 */
#define TABLE      (PTE_P | PTE_RW | PTE_US | PTE_A) /* restricts nothing */
#define USER_RW    (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)
#define USER_RO    (PTE_P | PTE_US | PTE_A)
#define SUPERVISOR (PTE_P | PTE_RW | PTE_A | PTE_D)
#define LARGE_PAGE (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_A | PTE_D)

#define ENTRIES 512u
#define GIB (1ull << 30)

_Static_assert(HV_GPA_PD + HV_MAX_PDS * HV_PAGE_SIZE <= HV_GPA_START_INFO,
               "page directories fit below the start info");

static uint64_t pt0_entry(uint64_t gpa)
{
    if (gpa == 0)
        return 0;
    if (gpa < HV_GPA_START_INFO)
        return gpa | SUPERVISOR;
    if (gpa == HV_GPA_START_INFO)
        return gpa | USER_RO;
    return gpa | USER_RW;
}

void hvg_write_page_tables(uint8_t *low, uint64_t mem_size)
{
    uint64_t large_pages = mem_size / HV_LARGE_PAGE_SIZE;
    unsigned npd = (unsigned)((mem_size + GIB - 1) / GIB);

    /* Every table page in use whole, so entries past RAM are not present.
     * Directories past RAM are never walked: leave their pages untouched. */
    memset(hvg_low_at(low, HV_GPA_PML4), 0,
           HV_GPA_PD + npd * HV_PAGE_SIZE - HV_GPA_PML4);

    hvg_put64(low, HV_GPA_PML4, HV_GPA_PDPT | TABLE);
    for (unsigned i = 0; i < npd; i++)
        hvg_put64(low, HV_GPA_PDPT + 8ull * i,
                  (HV_GPA_PD + i * HV_PAGE_SIZE) | TABLE);

    for (uint64_t k = 0; k < large_pages; k++) {
        uint64_t pd = HV_GPA_PD + (k / ENTRIES) * HV_PAGE_SIZE;
        uint64_t e = k == 0 ? HV_GPA_PT0 | TABLE
                            : (k * HV_LARGE_PAGE_SIZE) | LARGE_PAGE;
        hvg_put64(low, pd + 8 * (k % ENTRIES), e);
    }

    for (unsigned p = 0; p < ENTRIES; p++)
        hvg_put64(low, HV_GPA_PT0 + 8ull * p, pt0_entry(p * HV_PAGE_SIZE));
}
