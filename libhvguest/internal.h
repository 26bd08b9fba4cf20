/* SPDX-License-Identifier: MIT */
/* libhvguest internals: hidden symbols shared between its source files. */
#ifndef HVG_INTERNAL_H
#define HVG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "elf_check.h"
#include "hv/abi.h"
#include "hv/hv.h"

/*
 * Largest kernel file read into memory: far above any real guest image, low
 * enough that pointing at the wrong file fails cleanly instead of
 * exhausting the host.
 */
#define HVG_ELF_FILE_MAX (1ull << 30)

/* Reads a whole regular file; *buf is malloc'd. Errors name the path. */
int hvg_read_file(hv_t *hv, const char *path, void **buf, size_t *len);

/* A validated ELF image whose destinations are already mapped. */
struct hvg_elf_plan {
    struct hvg_elf_seg segs[HVG_ELF_MAX_SEGS];
    void *dst[HVG_ELF_MAX_SEGS]; /* host view of each page-rounded segment */
    struct hvg_elf_layout layout;
};

/*
 * Validates image against a guest of mem_size bytes and maps the segment
 * destinations. Writes nothing to guest RAM.
 */
int hvg_elf_prepare(hv_domain_t *dom, const void *image, size_t len,
                    const char *name, uint64_t mem_size,
                    struct hvg_elf_plan *plan);
/* Copies the segments and zeroes the rest of their pages. Cannot fail. */
void hvg_elf_commit(const struct hvg_elf_plan *plan, const void *image);

/* The builder-owned low memory, mapped once: [HVG_LOW_BASE, HVG_LOW_END). */
#define HVG_LOW_BASE HV_GPA_GDT
#define HVG_LOW_END (HV_GPA_SHARED_INFO + HV_PAGE_SIZE)

static inline void *hvg_low_at(uint8_t *low, uint64_t gpa)
{
    return low + (gpa - HVG_LOW_BASE);
}

/*
 * Multi-byte values are stored in the host's byte order: the host is
 * x86-64 like the guest (KVM on x86 only), so it is the guest's order too.
 */
static inline void hvg_put64(uint8_t *low, uint64_t gpa, uint64_t v)
{
    __builtin_memcpy(hvg_low_at(low, gpa), &v, sizeof(v));
}

/* The writers below fill their whole region: stale bytes never survive. */
void hvg_write_descriptors(uint8_t *low); /* GDT, IDT, TSS + I/O bitmap */
/* mem_size: a multiple of HV_LARGE_PAGE_SIZE, at most HV_MAX_MEMORY. */
void hvg_write_page_tables(uint8_t *low, uint64_t mem_size);

/* -E2BIG (recorded on hv) when cmdline does not fit the start info. */
int hvg_cmdline_check(hv_t *hv, const char *cmdline);
/* Start info page (cmdline already checked) and a zeroed shared info page. */
void hvg_write_start_info(uint8_t *low, const hv_domain_info_t *info,
                          const struct hvg_elf_layout *image,
                          const char *cmdline,
                          const struct hv_device_desc *devs, uint32_t ndevs);

#endif /* HVG_INTERNAL_H */
