/* SPDX-License-Identifier: MIT */
/*
 * The ELF image is hostile input: every field is range-checked before use,
 * sums are checked for overflow before they are formed, and the image is
 * read through memcpy because its buffer need not be aligned.
 */
#include "elf_check.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hv/abi.h"
#include "hv/hvguest.h" /* HVG_BOOT_STACK_SIZE only: no libhv calls here */

#define PAGE_MASK (HV_PAGE_SIZE - 1)

struct ctx {
    char *err;
    size_t errlen;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct ctx *c, int code, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* "64 MiB" reads better than 0x4000000 in a message about guest RAM. */
static void fmt_size(char *buf, size_t len, uint64_t bytes)
{
    if (bytes && bytes % (1ull << 20) == 0)
        snprintf(buf, len, "%" PRIu64 " MiB", bytes >> 20);
    else
        snprintf(buf, len, "%" PRIu64 " bytes", bytes);
}

static int check_header(struct ctx *c, const Elf64_Ehdr *eh, size_t len)
{
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return fail(c, -ENOEXEC, "not an ELF file (bad magic)");
    if (eh->e_ident[EI_CLASS] != ELFCLASS64)
        return fail(c, -ENOEXEC, "not a 64-bit ELF file (class %u)",
                    eh->e_ident[EI_CLASS]);
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(c, -ENOEXEC, "not a little-endian ELF file (encoding %u)",
                    eh->e_ident[EI_DATA]);
    if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
        return fail(c, -ENOEXEC, "unsupported ELF version %u/%u",
                    eh->e_ident[EI_VERSION], eh->e_version);
    if (eh->e_machine != EM_X86_64)
        return fail(c, -ENOEXEC, "not an x86-64 executable (machine %u)",
                    eh->e_machine);
    if (eh->e_type != ET_EXEC)
        return fail(c, -ENOEXEC,
                    "not a static executable (type %u; ET_EXEC is required, "
                    "position-independent executables are not supported)",
                    eh->e_type);
    if (eh->e_ehsize != sizeof(Elf64_Ehdr))
        return fail(c, -ENOEXEC, "bad ELF header size %u (expected %zu)",
                    eh->e_ehsize, sizeof(Elf64_Ehdr));
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return fail(c, -ENOEXEC, "bad program header size %u (expected %zu)",
                    eh->e_phentsize, sizeof(Elf64_Phdr));
    if (eh->e_phnum == 0)
        return fail(c, -ENOEXEC, "no program headers");
    /* PN_XNUM (0xffff) would need section 0; it is far above the cap anyway. */
    if (eh->e_phnum > HVG_ELF_MAX_PHNUM)
        return fail(c, -E2BIG, "%u program headers (at most %u supported)",
                    eh->e_phnum, HVG_ELF_MAX_PHNUM);
    /* phnum <= 1024 and phentsize == 56: the product cannot overflow. */
    uint64_t table = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
    if (eh->e_phoff > len || table > len - eh->e_phoff)
        return fail(c, -ENOEXEC,
                    "program header table [0x%" PRIx64 " + 0x%" PRIx64
                    ") lies outside the file (%zu bytes)",
                    (uint64_t)eh->e_phoff, table, len);
    return 0;
}

/* Checks one PT_LOAD header on its own; overlaps are checked by the caller. */
static int check_load(struct ctx *c, unsigned i, const Elf64_Phdr *ph,
                      size_t len, uint64_t mem_size)
{
    char ram[32];

    if (ph->p_filesz > ph->p_memsz)
        return fail(c, -ENOEXEC,
                    "segment %u: file size 0x%" PRIx64
                    " exceeds its memory size 0x%" PRIx64,
                    i, (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return fail(c, -ENOEXEC,
                    "segment %u: file range [0x%" PRIx64 " + 0x%" PRIx64
                    ") lies outside the file (%zu bytes)",
                    i, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, len);
    if (ph->p_vaddr != ph->p_paddr)
        return fail(c, -ENOEXEC,
                    "segment %u: virtual address 0x%" PRIx64
                    " differs from its physical address 0x%" PRIx64
                    " (guest RAM is identity-mapped)",
                    i, (uint64_t)ph->p_vaddr, (uint64_t)ph->p_paddr);
    if (ph->p_vaddr & PAGE_MASK)
        return fail(c, -ENOEXEC,
                    "segment %u: address 0x%" PRIx64 " is not page-aligned",
                    i, (uint64_t)ph->p_vaddr);
    if ((ph->p_offset & PAGE_MASK) != (ph->p_vaddr & PAGE_MASK))
        return fail(c, -ENOEXEC,
                    "segment %u: file offset 0x%" PRIx64
                    " is not congruent to its address 0x%" PRIx64
                    " modulo the page size",
                    i, (uint64_t)ph->p_offset, (uint64_t)ph->p_vaddr);
    if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
        return fail(c, -ENOEXEC, "segment %u is writable and executable", i);
    if (ph->p_memsz > UINT64_MAX - ph->p_vaddr)
        return fail(c, -ENOEXEC,
                    "segment %u: size 0x%" PRIx64 " at 0x%" PRIx64
                    " overflows the address space",
                    i, (uint64_t)ph->p_memsz, (uint64_t)ph->p_vaddr);

    uint64_t start = ph->p_vaddr, end = start + ph->p_memsz;
    uint64_t limit = mem_size > HVG_BOOT_STACK_SIZE
                         ? mem_size - HVG_BOOT_STACK_SIZE : 0;
    fmt_size(ram, sizeof(ram), mem_size);
    if (start < HV_GPA_KERNEL)
        return fail(c, -ENOEXEC,
                    "segment %u [0x%" PRIx64 " - 0x%" PRIx64
                    ") lies below the image base 0x%llx",
                    i, start, end, HV_GPA_KERNEL);
    if (end > mem_size)
        return fail(c, -ENOEXEC,
                    "segment %u [0x%" PRIx64 " - 0x%" PRIx64
                    ") lies outside RAM (%s)", i, start, end, ram);
    if (end > limit)
        return fail(c, -ENOEXEC,
                    "segment %u [0x%" PRIx64 " - 0x%" PRIx64
                    ") overlaps the boot stack [0x%" PRIx64 " - 0x%" PRIx64
                    ") at the top of RAM (%s)",
                    i, start, end, limit, mem_size, ram);
    return 0;
}

/*
 * Reads the libhv notes of one PT_NOTE segment: a run of {namesz, descsz,
 * type} headers, each followed by its name and descriptor padded to 4 bytes.
 */
static int check_notes(struct ctx *c, unsigned i, const Elf64_Phdr *ph,
                       const unsigned char *p, size_t len,
                       struct hvg_elf_layout *layout)
{
    static const char name[] = HV_ELFNOTE_NAME;

    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return fail(c, -ENOEXEC, "segment %u (PT_NOTE) lies outside the file "
                    "(%zu bytes)", i, len);
    const unsigned char *n = p + ph->p_offset;
    uint64_t left = ph->p_filesz;
    while (left >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, n, sizeof(nh));
        uint64_t namesz = ((uint64_t)nh.n_namesz + 3) & ~3ull;
        uint64_t descsz = ((uint64_t)nh.n_descsz + 3) & ~3ull;
        left -= sizeof(nh);
        n += sizeof(nh);
        if (namesz > left || descsz > left - namesz)
            return fail(c, -ENOEXEC, "segment %u (PT_NOTE): a note runs past the "
                        "end of the segment", i);
        if (nh.n_namesz == sizeof(name) && !memcmp(n, name, sizeof(name)) &&
            nh.n_type == HV_ELFNOTE_TRAP_ENTRY) {
            if (nh.n_descsz != 8)
                return fail(c, -ENOEXEC, "segment %u: libhv trap entry note has "
                            "%u bytes, not 8", i, nh.n_descsz);
            if (layout->trap_entry)
                return fail(c, -ENOEXEC, "segment %u: a second libhv trap entry "
                            "note", i);
            memcpy(&layout->trap_entry, n + namesz, 8);
            if (!layout->trap_entry)
                return fail(c, -ENOEXEC, "segment %u: libhv trap entry note is 0", i);
        }
        left -= namesz + descsz;
        n += namesz + descsz;
    }
    return 0;
}

/* The whole trap table must be code of the image. */
static int inside_exec(const struct hvg_elf_seg *segs, size_t n, uint64_t at,
                       uint64_t bytes)
{
    for (size_t j = 0; j < n; j++)
        if ((segs[j].flags & PF_X) && at >= segs[j].vaddr &&
            at - segs[j].vaddr <= segs[j].memsz &&
            bytes <= segs[j].memsz - (at - segs[j].vaddr))
            return 1;
    return 0;
}

static uint64_t page_end(const struct hvg_elf_seg *s)
{
    /* Safe: check_load bounded the end by mem_size, far below 2^64 - 4096. */
    return (s->vaddr + s->memsz + PAGE_MASK) & ~PAGE_MASK;
}

int hvg_elf_check(const void *image, size_t len, uint64_t mem_size,
                  struct hvg_elf_seg *segs, size_t max_segs,
                  struct hvg_elf_layout *layout, char *err, size_t errlen)
{
    struct ctx c = { err, errlen };
    const unsigned char *p = image;
    Elf64_Ehdr eh;
    size_t n = 0;
    int r;

    if (err && errlen)
        err[0] = '\0';
    if ((!image && len) || (!segs && max_segs) || !layout)
        return fail(&c, -EINVAL, "invalid arguments");
    memset(layout, 0, sizeof(*layout));
    /* "Not an ELF file" helps more than "too small" for a short script. */
    if (len >= SELFMAG && memcmp(p, ELFMAG, SELFMAG) != 0)
        return fail(&c, -ENOEXEC, "not an ELF file (bad magic)");
    if (len < sizeof(eh))
        return fail(&c, -ENOEXEC,
                    "too small for an ELF header (%zu bytes)", len);
    memcpy(&eh, p, sizeof(eh));
    if ((r = check_header(&c, &eh, len)) < 0)
        return r;

    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, p + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));

        if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
            return fail(&c, -ENOEXEC,
                        "segment %u is %s: dynamically linked executables "
                        "are not supported", i,
                        ph.p_type == PT_INTERP ? "PT_INTERP" : "PT_DYNAMIC");
        if (ph.p_type == PT_NOTE && (r = check_notes(&c, i, &ph, p, len, layout)) < 0)
            return r;
        if (ph.p_type != PT_LOAD)
            continue;
        if ((r = check_load(&c, i, &ph, len, mem_size)) < 0)
            return r;
        if (ph.p_memsz == 0)
            continue; /* nothing to load; linkers occasionally emit these */
        if (n == max_segs)
            return fail(&c, -E2BIG,
                        "segment %u: more than %zu loadable segments", i,
                        max_segs);

        struct hvg_elf_seg s = {
            .vaddr = ph.p_vaddr, .memsz = ph.p_memsz,
            .offset = ph.p_offset, .filesz = ph.p_filesz,
            .flags = ph.p_flags, .index = i,
        };
        /* Page granularity: two segments must never share a guest page. */
        for (size_t j = 0; j < n; j++) {
            if (s.vaddr < page_end(&segs[j]) && segs[j].vaddr < page_end(&s))
                return fail(&c, -ENOEXEC,
                            "segment %u [0x%" PRIx64 " - 0x%" PRIx64
                            ") overlaps segment %u [0x%" PRIx64 " - 0x%" PRIx64
                            ") (page-rounded)",
                            i, s.vaddr, page_end(&s), segs[j].index,
                            segs[j].vaddr, page_end(&segs[j]));
        }
        segs[n++] = s;
    }
    if (n == 0)
        return fail(&c, -ENOEXEC, "no loadable segments");

    if (layout->trap_entry &&
        !inside_exec(segs, n, layout->trap_entry,
                     (uint64_t)HV_TRAP_STRIDE * HV_TRAP_VECTORS))
        return fail(&c, -ENOEXEC,
                    "trap entry note: table at 0x%" PRIx64
                    " is not inside an executable segment", layout->trap_entry);

    int entry_ok = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t j = 0; j < n; j++) {
        if ((segs[j].flags & PF_X) && eh.e_entry >= segs[j].vaddr &&
            eh.e_entry - segs[j].vaddr < segs[j].memsz)
            entry_ok = 1;
        if (segs[j].vaddr < lo)
            lo = segs[j].vaddr;
        if (page_end(&segs[j]) > hi)
            hi = page_end(&segs[j]);
    }
    if (!entry_ok)
        return fail(&c, -ENOEXEC,
                    "entry point 0x%" PRIx64
                    " is not inside an executable segment",
                    (uint64_t)eh.e_entry);

    layout->entry = eh.e_entry;
    layout->image_start = lo;
    layout->image_end = hi;
    layout->nsegs = n;
    return 0;
}
