/* SPDX-License-Identifier: MIT */
/*
 * Builds small ELF images in memory for the loader tests: a valid
 * two-segment executable that each test then breaks in one way.
 */
#ifndef TESTS_ELF_MKELF_H
#define TESTS_ELF_MKELF_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

#define MKELF_SIZE 0x2800u     /* bytes of the valid image */
#define MKELF_CAP 0x3000u      /* room for tests that grow the file */
#define MKELF_MAX_PH 8u
#define MKELF_TEXT 0x100000ull /* segment 0: R+X, 1 page, file 0x1000 */
#define MKELF_DATA 0x200000ull /* segment 1: R+W, 0x800 file + bss to 0x3000 */
#define MKELF_DATA_FILESZ 0x800ull
#define MKELF_DATA_MEMSZ 0x3000ull
#define MKELF_SHUTDOWN_CODE 42u

/* A union so tests may edit headers in place without aliasing trouble. */
struct mkelf {
    union {
        unsigned char buf[MKELF_CAP];
        struct {
            Elf64_Ehdr eh;
            Elf64_Phdr ph[MKELF_MAX_PH];
        } h;
    } u;
    size_t len;
};

/*
 * The text powers the guest off with code MKELF_SHUTDOWN_CODE:
 *   mov $MKELF_TEXT+0x100, %rdi; mov $HC_PORT(SHUTDOWN), %dx; out %al, %dx
 * and then spins. The argument struct sits at offset 0x100 of the text.
 */
static inline void mkelf_valid(struct mkelf *m)
{
    static const unsigned char code[] = {
        0x48, 0xc7, 0xc7, 0x00, 0x01, 0x10, 0x00, /* mov $0x100100, %rdi */
        0x66, 0xba, 0x01, 0x05,                   /* mov $0x501, %dx */
        0xee,                                     /* out %al, %dx */
        0xeb, 0xfe,                               /* 1: jmp 1b */
    };
    const uint32_t shutdown[2] = { 0 /* poweroff */, MKELF_SHUTDOWN_CODE };

    memset(m, 0, sizeof(*m));
    Elf64_Ehdr *eh = &m->u.h.eh;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_entry = MKELF_TEXT;
    eh->e_phoff = sizeof(Elf64_Ehdr);
    eh->e_ehsize = sizeof(Elf64_Ehdr);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 2;

    m->u.h.ph[0] = (Elf64_Phdr){
        .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0x1000,
        .p_vaddr = MKELF_TEXT, .p_paddr = MKELF_TEXT,
        .p_filesz = 0x1000, .p_memsz = 0x1000, .p_align = 0x1000,
    };
    m->u.h.ph[1] = (Elf64_Phdr){
        .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x2000,
        .p_vaddr = MKELF_DATA, .p_paddr = MKELF_DATA,
        .p_filesz = MKELF_DATA_FILESZ, .p_memsz = MKELF_DATA_MEMSZ,
        .p_align = 0x1000,
    };

    /* Recognisable bytes so tests can find each segment in guest RAM. */
    for (unsigned i = 0x1000; i < MKELF_SIZE; i++)
        m->u.buf[i] = (unsigned char)(i * 7 + 1);
    memcpy(m->u.buf + 0x1000, code, sizeof(code));
    memcpy(m->u.buf + 0x1100, shutdown, sizeof(shutdown));
    m->len = MKELF_SIZE;
}

/*
 * Puts probe code before the power-off sequence: the guest powers off with
 * MKELF_SHUTDOWN_CODE only if the probe did not fault.
 */
static inline void mkelf_probe(struct mkelf *m, const void *code, size_t len)
{
    memmove(m->u.buf + 0x1000 + len, m->u.buf + 0x1000, 0x20);
    memcpy(m->u.buf + 0x1000, code, len);
}

static inline Elf64_Phdr *mkelf_add(struct mkelf *m, uint32_t type)
{
    Elf64_Phdr *ph = &m->u.h.ph[m->u.h.eh.e_phnum++];
    memset(ph, 0, sizeof(*ph));
    ph->p_type = type;
    return ph;
}

/* Moves a segment, keeping vaddr == paddr. */
static inline void mkelf_move(struct mkelf *m, unsigned i, uint64_t vaddr)
{
    m->u.h.ph[i].p_vaddr = m->u.h.ph[i].p_paddr = vaddr;
}

#endif /* TESTS_ELF_MKELF_H */
