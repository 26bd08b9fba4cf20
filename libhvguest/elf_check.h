/* SPDX-License-Identifier: MIT */
/*
 * ELF validation for the guest loader (internal).
 *
 * Kept free of libhv so the fuzzer and the unit test can compile it alone:
 * it depends only on libc and hv/abi.h.
 */
#ifndef HVG_ELF_CHECK_H
#define HVG_ELF_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Caps that bound the work a hostile header can cause. */
#define HVG_ELF_MAX_PHNUM 1024u /* program headers of any type */
#define HVG_ELF_MAX_SEGS 64u    /* PT_LOAD segments */

/* A PT_LOAD segment that passed every check. */
struct hvg_elf_seg {
    uint64_t vaddr;   /* page-aligned; equals the guest-physical address */
    uint64_t memsz;   /* > 0 */
    uint64_t offset;  /* in the image; offset + filesz <= image length */
    uint64_t filesz;  /* <= memsz; the rest is zero-filled */
    uint32_t flags;   /* PF_R/PF_W/PF_X, never both W and X */
    uint32_t index;   /* program header index, for messages */
};

struct hvg_elf_layout {
    uint64_t entry;
    uint64_t image_start; /* lowest vaddr */
    uint64_t image_end;   /* page-rounded end of the highest segment */
    size_t nsegs;         /* entries of segs[] filled, >= 1 */
    uint64_t trap_entry;  /* from HV_ELFNOTE_TRAP_ENTRY, or 0 */
};

/*
 * Validates an ELF64 x86-64 ET_EXEC image against a guest of mem_size bytes
 * of RAM and describes its loadable segments in segs[0..max_segs) (in
 * program-header order; empty PT_LOAD segments are skipped). Nothing is
 * trusted: every length and offset is checked against len and mem_size
 * without overflow.
 *
 * Returns 0, or -ENOEXEC (malformed or unsupported image), -E2BIG (more
 * segments than max_segs or HVG_ELF_MAX_PHNUM) or -EINVAL (bad arguments),
 * with a message in err naming the segment index and the problem.
 */
int hvg_elf_check(const void *image, size_t len, uint64_t mem_size,
                  struct hvg_elf_seg *segs, size_t max_segs,
                  struct hvg_elf_layout *layout, char *err, size_t errlen);

#endif /* HVG_ELF_CHECK_H */
