/* SPDX-License-Identifier: MIT */
/*
 * libhvguest: loading and building guests on libhv domains (save/restore and
 * migration come later). Errors are recorded on the domain's host handle:
 * read them with hv_last_error(hv_domain_host(dom)).
 */
#ifndef HV_HVGUEST_H
#define HV_HVGUEST_H

#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hvg_elf_info {
    size_t size;          /* sizeof(hvg_elf_info_t) */
    uint64_t entry;
    uint64_t image_start; /* lowest loaded address (page-aligned) */
    uint64_t image_end;   /* first page past the highest segment */
    uint32_t segments;    /* PT_LOAD segments loaded */
} hvg_elf_info_t;

/*
 * Checks an ELF64 x86-64 executable and copies its PT_LOAD segments into the
 * domain's RAM: each page-aligned, not both writable and executable, inside
 * RAM above HV_GPA_KERNEL and below the boot stack, none overlapping. On
 * failure nothing is reported loaded and the message names the file and the
 * offending segment. info may be NULL.
 */
HV_EXPORT int hvg_load_elf(hv_domain_t *dom, const char *path,
                           hvg_elf_info_t *info);
/* The same from an image in memory; name is used in messages. */
HV_EXPORT int hvg_load_elf_image(hv_domain_t *dom, const void *image, size_t len,
                                 const char *name, hvg_elf_info_t *info);

/* Bytes reserved at the top of RAM for the boot vCPU's stack. */
#define HVG_BOOT_STACK_SIZE (64u * 1024u)

typedef struct hvg_build_options {
    size_t size;          /* sizeof(hvg_build_options_t) */
    const char *kernel;   /* path of the guest ELF, or NULL with image */
    const void *image;    /* an ELF image in memory (used when kernel is NULL) */
    size_t image_len;
    const char *cmdline;  /* NULL: empty; at most HV_CMDLINE_MAX - 1 bytes */
} hvg_build_options_t;

/*
 * Builds a not-yet-started domain as docs/guest-abi.md describes: loads the
 * kernel, writes the GDT, IDT, TSS with its I/O bitmap, page tables, start
 * info and shared info, and sets the boot vCPU's entry state.
 */
HV_EXPORT int hvg_build(hv_domain_t *dom, const hvg_build_options_t *opts);

#ifdef __cplusplus
}
#endif

#endif /* HV_HVGUEST_H */
