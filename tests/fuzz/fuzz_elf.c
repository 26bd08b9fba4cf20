/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ELF validator. Beyond "no crash, no sanitizer
 * report", whatever it accepts must be safe to load: every segment inside
 * the file and inside RAM below the boot stack, none writable and
 * executable, none sharing a page, the entry in an executable one.
 */
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/abi.h"
#include "hv/hvguest.h"
#include "libhvguest/elf_check.h"
#include "tests/elf/mkelf.h"

#define PAGE_MASK (HV_PAGE_SIZE - 1)

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            abort(); \
    } while (0)

static void run(const uint8_t *data, size_t size, uint64_t mem)
{
    struct hvg_elf_seg segs[HVG_ELF_MAX_SEGS];
    struct hvg_elf_layout l;
    char err[256];

    memset(err, 0x5a, sizeof(err));
    int rc = hvg_elf_check(data, size, mem, segs, HVG_ELF_MAX_SEGS, &l, err,
                           sizeof(err));
    CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    if (rc < 0) {
        CHECK(err[0] != '\0');
        return;
    }
    CHECK(rc == 0 && err[0] == '\0');
    CHECK(l.nsegs >= 1 && l.nsegs <= HVG_ELF_MAX_SEGS);
    CHECK(mem > HVG_BOOT_STACK_SIZE);

    int entry_ok = 0, trap_ok = l.trap_entry == 0;
    uint64_t table = (uint64_t)HV_TRAP_STRIDE * HV_TRAP_VECTORS;
    for (size_t i = 0; i < l.nsegs; i++) {
        const struct hvg_elf_seg *s = &segs[i];
        CHECK(s->memsz > 0 && s->filesz <= s->memsz);
        CHECK(s->offset <= size && s->filesz <= size - s->offset);
        CHECK((s->vaddr & PAGE_MASK) == 0);
        CHECK(s->vaddr >= HV_GPA_KERNEL);
        CHECK(s->memsz <= mem - HVG_BOOT_STACK_SIZE - s->vaddr);
        CHECK(!((s->flags & PF_W) && (s->flags & PF_X)));
        uint64_t end = (s->vaddr + s->memsz + PAGE_MASK) & ~PAGE_MASK;
        CHECK(s->vaddr >= l.image_start && end <= l.image_end);
        for (size_t j = 0; j < i; j++) {
            uint64_t e2 = (segs[j].vaddr + segs[j].memsz + PAGE_MASK) & ~PAGE_MASK;
            CHECK(end <= segs[j].vaddr || e2 <= s->vaddr);
        }
        if ((s->flags & PF_X) && l.entry >= s->vaddr &&
            l.entry - s->vaddr < s->memsz)
            entry_ok = 1;
        /* A trap table the builder would install lies in code. */
        if ((s->flags & PF_X) && l.trap_entry >= s->vaddr &&
            l.trap_entry - s->vaddr <= s->memsz &&
            table <= s->memsz - (l.trap_entry - s->vaddr))
            trap_ok = 1;
    }
    CHECK(entry_ok);
    CHECK(trap_ok);
    CHECK(l.image_end <= mem - HVG_BOOT_STACK_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_both(const uint8_t *data, size_t size)
{
    run(data, size, 64ull << 20);
    /* Barely larger than the image base and the stack: most images fail. */
    run(data, size, HV_GPA_KERNEL + HVG_BOOT_STACK_SIZE + 3 * HV_PAGE_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_both(data, size);

    /*
     * The input also overwrites the header fields and program headers of a
     * valid image (its e_ident kept): random bytes seldom make an ELF magic,
     * and this reaches the segment checks without a seed corpus.
     */
    static struct mkelf tmpl, m;
    size_t keep = EI_NIDENT, room = sizeof(Elf64_Ehdr) +
                  MKELF_MAX_PH * sizeof(Elf64_Phdr) - keep;
    if (!tmpl.len)
        mkelf_valid(&tmpl);
    memcpy(&m, &tmpl, sizeof(m));
    memcpy(m.u.buf + keep, data, size < room ? size : room);
    run_both(m.u.buf, m.len);
    return 0;
}
