/* SPDX-License-Identifier: MIT */
/* hvg_elf_check against hostile images built in memory (no KVM needed). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hv/abi.h"
#include "hv/hvguest.h"
#include "libhvguest/elf_check.h"
#include "mkelf.h"

#define MEM (64ull << 20)

struct result {
    int rc;
    struct hvg_elf_seg segs[HVG_ELF_MAX_SEGS];
    struct hvg_elf_layout layout;
    char err[256];
};

static struct result R;

static int check_len(const struct mkelf *m, size_t len, uint64_t mem)
{
    memset(&R, 0, sizeof(R));
    R.rc = hvg_elf_check(m->u.buf, len, mem, R.segs, HVG_ELF_MAX_SEGS,
                         &R.layout, R.err, sizeof(R.err));
    if (R.rc == 0)
        assert_string_equal(R.err, "");
    return R.rc;
}

static int check(const struct mkelf *m)
{
    return check_len(m, m->len, MEM);
}

/* The failure code and every fragment the message must contain. */
static void expect(int rc, int code, ...)
{
    va_list ap;
    const char *want;

    if (rc != code)
        fail_msg("rc %d, expected %d (message: \"%s\")", rc, code, R.err);
    va_start(ap, code);
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (!strstr(R.err, want))
            fail_msg("message \"%s\" lacks \"%s\"", R.err, want);
    }
    va_end(ap);
}

static void test_valid(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    assert_int_equal(check(&m), 0);
    assert_int_equal(R.layout.nsegs, 2);
    assert_int_equal(R.layout.entry, MKELF_TEXT);
    assert_int_equal(R.layout.image_start, MKELF_TEXT);
    assert_int_equal(R.layout.image_end, MKELF_DATA + MKELF_DATA_MEMSZ);
    assert_int_equal(R.segs[0].vaddr, MKELF_TEXT);
    assert_int_equal(R.segs[0].offset, 0x1000);
    assert_int_equal(R.segs[0].filesz, 0x1000);
    assert_int_equal(R.segs[0].flags, PF_R | PF_X);
    assert_int_equal(R.segs[1].vaddr, MKELF_DATA);
    assert_int_equal(R.segs[1].filesz, MKELF_DATA_FILESZ);
    assert_int_equal(R.segs[1].memsz, MKELF_DATA_MEMSZ);
    assert_int_equal(R.segs[1].index, 1);
}

static void test_valid_extras(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    /* Ignored types, an empty PT_LOAD, and a segment ending at the stack. */
    mkelf_add(&m, PT_GNU_STACK)->p_flags = PF_R | PF_W | PF_X;
    mkelf_add(&m, PT_NOTE); /* empty: no notes */
    Elf64_Phdr *empty = mkelf_add(&m, PT_LOAD);
    empty->p_vaddr = empty->p_paddr = MKELF_TEXT;
    Elf64_Phdr *top = mkelf_add(&m, PT_LOAD);
    top->p_flags = PF_R;
    top->p_memsz = 0x4000;
    top->p_vaddr = top->p_paddr = MEM - HVG_BOOT_STACK_SIZE - 0x4000;
    assert_int_equal(check(&m), 0);
    assert_int_equal(R.layout.nsegs, 3);
    assert_int_equal(R.segs[2].index, 5);
    assert_int_equal(R.layout.image_end, MEM - HVG_BOOT_STACK_SIZE);

    /* Unaligned end: image_end is page-rounded. */
    mkelf_valid(&m);
    m.u.h.ph[1].p_memsz = 0x2001;
    assert_int_equal(check(&m), 0);
    assert_int_equal(R.layout.image_end, MKELF_DATA + 0x3000);
}

static void test_truncated(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    expect(check_len(&m, 0, MEM), -ENOEXEC, "too small", NULL);
    expect(check_len(&m, 4, MEM), -ENOEXEC, "too small", NULL);
    expect(check_len(&m, sizeof(Elf64_Ehdr) - 1, MEM), -ENOEXEC,
           "too small", NULL);
    /* Header whole, program header table cut. */
    expect(check_len(&m, sizeof(Elf64_Ehdr), MEM), -ENOEXEC,
           "program header table", "outside the file", NULL);
    expect(check_len(&m, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 20, MEM),
           -ENOEXEC, "program header table", NULL);
    /* Segment data cut. */
    expect(check_len(&m, 0x1800, MEM), -ENOEXEC, "segment 0", "outside the file",
           NULL);
    expect(check_len(&m, MKELF_SIZE - 1, MEM), -ENOEXEC, "segment 1",
           "outside the file", NULL);
    assert_int_equal(check_len(&m, MKELF_SIZE, MEM), 0);
}

static void test_wx(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    m.u.h.ph[1].p_flags = PF_R | PF_W | PF_X;
    expect(check(&m), -ENOEXEC, "segment 1 is writable and executable", NULL);
    mkelf_valid(&m);
    m.u.h.ph[0].p_flags = PF_W | PF_X;
    expect(check(&m), -ENOEXEC, "segment 0 is writable and executable", NULL);
}

static void test_below_kernel(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    mkelf_move(&m, 0, HV_GPA_KERNEL - 0x1000);
    expect(check(&m), -ENOEXEC, "segment 0", "below the image base", NULL);
    mkelf_move(&m, 0, 0);
    expect(check(&m), -ENOEXEC, "segment 0", "below", NULL);
    mkelf_move(&m, 0, HV_GPA_START_INFO);
    expect(check(&m), -ENOEXEC, "segment 0", "below", NULL);
}

static void test_outside_ram(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    mkelf_move(&m, 1, MEM);
    expect(check(&m), -ENOEXEC,
           "segment 1 [0x4000000 - 0x4003000) lies outside RAM (64 MiB)", NULL);
    /* Straddling the end of RAM. */
    mkelf_move(&m, 1, MEM - 0x1000);
    expect(check(&m), -ENOEXEC, "segment 1", "outside RAM (64 MiB)", NULL);
    /* Inside RAM but into the boot stack, by a single byte. */
    mkelf_valid(&m);
    mkelf_move(&m, 1, MEM - HVG_BOOT_STACK_SIZE - MKELF_DATA_MEMSZ);
    assert_int_equal(check(&m), 0);
    m.u.h.ph[1].p_memsz++;
    expect(check(&m), -ENOEXEC, "segment 1", "boot stack", NULL);
    /* A guest too small for anything. */
    mkelf_valid(&m);
    expect(check_len(&m, m.len, 0), -ENOEXEC, "segment 0", "outside RAM", NULL);
    expect(check_len(&m, m.len, HVG_BOOT_STACK_SIZE), -ENOEXEC, "segment 0",
           "outside RAM", NULL);
    expect(check_len(&m, m.len, 2ull << 20), -ENOEXEC, "segment 1",
           "outside RAM (2 MiB)", NULL);
    expect(check_len(&m, m.len, MKELF_DATA + MKELF_DATA_MEMSZ), -ENOEXEC,
           "segment 1", "boot stack", NULL);
}

static void test_overlap(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    mkelf_move(&m, 1, MKELF_TEXT);
    expect(check(&m), -ENOEXEC, "segment 1", "overlaps segment 0", NULL);
    /* The later segment begins below the earlier one and runs into it. */
    mkelf_valid(&m);
    mkelf_move(&m, 0, MKELF_DATA + 0x1000);
    expect(check(&m), -ENOEXEC, "segment 1", "overlaps segment 0", NULL);
    /* Adjacent pages are fine, even when the first ends mid-page. */
    mkelf_valid(&m);
    m.u.h.ph[0].p_memsz = m.u.h.ph[0].p_filesz = 0x10;
    mkelf_move(&m, 1, MKELF_TEXT + 0x1000);
    assert_int_equal(check(&m), 0);
    /* Overlap with a third segment, checked against all earlier ones. */
    mkelf_valid(&m);
    Elf64_Phdr *ph = mkelf_add(&m, PT_LOAD);
    ph->p_flags = PF_R;
    ph->p_memsz = 0x1000;
    ph->p_vaddr = ph->p_paddr = MKELF_DATA + 0x2000;
    expect(check(&m), -ENOEXEC, "segment 2", "overlaps segment 1", NULL);
}

static void test_absurd_sizes(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    m.u.h.ph[1].p_memsz = UINT64_MAX;
    expect(check(&m), -ENOEXEC, "segment 1", "overflows", NULL);
    mkelf_valid(&m);
    m.u.h.ph[1].p_memsz = UINT64_MAX - MKELF_DATA + 1; /* end wraps to 0 */
    expect(check(&m), -ENOEXEC, "segment 1", "overflows", NULL);
    mkelf_valid(&m);
    m.u.h.ph[1].p_memsz = UINT64_MAX - MKELF_DATA; /* end is 2^64 - 1 */
    expect(check(&m), -ENOEXEC, "segment 1", "outside RAM", NULL);

    /* offset + filesz wraps around. */
    mkelf_valid(&m);
    m.u.h.ph[1].p_offset = UINT64_MAX - 0xfff;
    expect(check(&m), -ENOEXEC, "segment 1", "outside the file", NULL);
    m.u.h.ph[1].p_offset = 0x2000;
    m.u.h.ph[1].p_filesz = m.u.h.ph[1].p_memsz = UINT64_MAX - 0xfff;
    expect(check(&m), -ENOEXEC, "segment 1", "outside the file", NULL);

    /* Program header table: huge count, huge offset, wrong entry size. */
    mkelf_valid(&m);
    m.u.h.eh.e_phnum = 0xffff;
    expect(check(&m), -E2BIG, "65535 program headers", NULL);
    m.u.h.eh.e_phnum = HVG_ELF_MAX_PHNUM;
    expect(check(&m), -ENOEXEC, "program header table", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_phoff = UINT64_MAX - 8;
    expect(check(&m), -ENOEXEC, "program header table", NULL);
    m.u.h.eh.e_phoff = MKELF_SIZE - sizeof(Elf64_Phdr);
    expect(check(&m), -ENOEXEC, "program header table", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_phentsize = 0xffff;
    expect(check(&m), -ENOEXEC, "program header size", NULL);
    m.u.h.eh.e_phentsize = 0;
    expect(check(&m), -ENOEXEC, "program header size", NULL);
}

static void test_filesz_gt_memsz(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    m.u.h.ph[1].p_memsz = MKELF_DATA_FILESZ - 1;
    expect(check(&m), -ENOEXEC, "segment 1", "file size 0x800 exceeds", NULL);
}

static void test_alignment(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    mkelf_move(&m, 1, MKELF_DATA + 0x10);
    m.u.h.ph[1].p_offset = 0x2010;
    m.u.h.ph[1].p_filesz = 0x10;
    expect(check(&m), -ENOEXEC, "segment 1", "not page-aligned", NULL);
    /* Aligned address, offset not congruent to it. */
    mkelf_valid(&m);
    m.u.h.ph[1].p_offset = 0x2010;
    m.u.h.ph[1].p_filesz = 0x10;
    expect(check(&m), -ENOEXEC, "segment 1", "not congruent", NULL);
}

static void test_vaddr_paddr(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    m.u.h.ph[0].p_paddr = MKELF_TEXT + 0x1000;
    expect(check(&m), -ENOEXEC, "segment 0", "physical address", NULL);
}

static void test_entry(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    m.u.h.eh.e_entry = MKELF_DATA; /* writable, not executable */
    expect(check(&m), -ENOEXEC, "entry point 0x200000", "executable", NULL);
    m.u.h.eh.e_entry = MKELF_TEXT + 0x1000; /* one past the text */
    expect(check(&m), -ENOEXEC, "entry point", NULL);
    m.u.h.eh.e_entry = 0;
    expect(check(&m), -ENOEXEC, "entry point", NULL);
    m.u.h.eh.e_entry = MKELF_TEXT + 0xfff; /* the last byte is fine */
    assert_int_equal(check(&m), 0);
    /* Readable only: not an executable segment. */
    m.u.h.eh.e_entry = MKELF_TEXT;
    m.u.h.ph[0].p_flags = PF_R;
    expect(check(&m), -ENOEXEC, "entry point", NULL);
}

static void test_wrong_header(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    m.u.buf[0] = 0x7e;
    expect(check(&m), -ENOEXEC, "not an ELF", NULL);
    expect(check_len(&m, 10, MEM), -ENOEXEC, "not an ELF", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_ident[EI_CLASS] = ELFCLASS32;
    expect(check(&m), -ENOEXEC, "64-bit", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_ident[EI_DATA] = ELFDATA2MSB;
    expect(check(&m), -ENOEXEC, "little-endian", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_version = 2;
    expect(check(&m), -ENOEXEC, "version", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_ident[EI_VERSION] = 0;
    expect(check(&m), -ENOEXEC, "version", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_machine = EM_386;
    expect(check(&m), -ENOEXEC, "x86-64", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_machine = EM_AARCH64;
    expect(check(&m), -ENOEXEC, "x86-64", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_type = ET_DYN;
    expect(check(&m), -ENOEXEC, "ET_EXEC", NULL);
    m.u.h.eh.e_type = ET_REL;
    expect(check(&m), -ENOEXEC, "ET_EXEC", NULL);
    mkelf_valid(&m);
    m.u.h.eh.e_ehsize = 32;
    expect(check(&m), -ENOEXEC, "ELF header size", NULL);
}

static void test_no_segments(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    m.u.h.eh.e_phnum = 0;
    expect(check(&m), -ENOEXEC, "no program headers", NULL);
    mkelf_valid(&m);
    m.u.h.ph[0].p_type = PT_NULL;
    m.u.h.ph[1].p_type = PT_GNU_STACK;
    expect(check(&m), -ENOEXEC, "no loadable segments", NULL);
    /* Only empty PT_LOADs load nothing either. */
    mkelf_valid(&m);
    m.u.h.ph[0].p_memsz = m.u.h.ph[0].p_filesz = 0;
    m.u.h.ph[1].p_memsz = m.u.h.ph[1].p_filesz = 0;
    expect(check(&m), -ENOEXEC, "no loadable segments", NULL);
}

static void test_dynamic(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    Elf64_Phdr *ph = mkelf_add(&m, PT_INTERP);
    ph->p_offset = 0x200;
    ph->p_filesz = 0x10;
    expect(check(&m), -ENOEXEC, "segment 2 is PT_INTERP", NULL);
    mkelf_valid(&m);
    mkelf_add(&m, PT_NOTE);
    mkelf_add(&m, PT_DYNAMIC);
    expect(check(&m), -ENOEXEC, "segment 3 is PT_DYNAMIC", NULL);
}

/* Appends a note at file offset 0x2400 (inside the image, outside segments). */
static Elf64_Phdr *add_note(struct mkelf *m, const char *name, uint32_t type,
                            const void *desc, uint32_t descsz)
{
    Elf64_Nhdr nh = {.n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz,
                     .n_type = type};
    size_t at = 0x2400, namesz = (nh.n_namesz + 3u) & ~3u;

    memcpy(m->u.buf + at, &nh, sizeof(nh));
    memset(m->u.buf + at + sizeof(nh), 0, namesz + ((descsz + 3u) & ~3u));
    memcpy(m->u.buf + at + sizeof(nh), name, nh.n_namesz);
    memcpy(m->u.buf + at + sizeof(nh) + namesz, desc, descsz);
    Elf64_Phdr *ph = mkelf_add(m, PT_NOTE);
    ph->p_offset = at;
    ph->p_filesz = sizeof(nh) + namesz + ((descsz + 3u) & ~3u);
    return ph;
}

static void test_notes(void **state)
{
    (void)state;
    struct mkelf m;
    uint64_t table = MKELF_TEXT + 0x200;

    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &table, 8);
    assert_int_equal(check(&m), 0);
    assert_int_equal(R.layout.trap_entry, table);

    /* Another owner's notes and unknown libhv types are ignored. */
    mkelf_valid(&m);
    add_note(&m, "GNU", HV_ELFNOTE_TRAP_ENTRY, &table, 8);
    assert_int_equal(check(&m), 0);
    assert_int_equal(R.layout.trap_entry, 0);
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, 99, &table, 8);
    assert_int_equal(check(&m), 0);
    assert_int_equal(R.layout.trap_entry, 0);

    /* The table must be code: not data, not past the end of the text. */
    uint64_t bad = MKELF_DATA;
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &bad, 8);
    expect(check(&m), -ENOEXEC, "trap entry", "not inside an executable", NULL);
    bad = MKELF_TEXT + 0x1000 - 0x100;
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &bad, 8);
    expect(check(&m), -ENOEXEC, "not inside an executable", NULL);
    bad = 0;
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &bad, 8);
    expect(check(&m), -ENOEXEC, "note is 0", NULL);

    /* Malformed notes. */
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &table, 4);
    expect(check(&m), -ENOEXEC, "segment 2", "not 8", NULL);
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &table, 8)->p_filesz -= 4;
    expect(check(&m), -ENOEXEC, "segment 2 (PT_NOTE)", "past the end", NULL);
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &table, 8)->p_offset =
        UINT64_MAX - 8;
    expect(check(&m), -ENOEXEC, "segment 2 (PT_NOTE) lies outside the file", NULL);
    mkelf_valid(&m);
    Elf64_Nhdr huge = {.n_namesz = UINT32_MAX, .n_descsz = UINT32_MAX, .n_type = 1};
    Elf64_Phdr *ph = add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &table, 8);
    memcpy(m.u.buf + ph->p_offset, &huge, sizeof(huge));
    expect(check(&m), -ENOEXEC, "past the end", NULL);
    mkelf_valid(&m);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &table, 8);
    add_note(&m, HV_ELFNOTE_NAME, HV_ELFNOTE_TRAP_ENTRY, &table, 8);
    expect(check(&m), -ENOEXEC, "second libhv trap entry", NULL);
}

static void test_too_many_segments(void **state)
{
    (void)state;
    struct mkelf m;
    mkelf_valid(&m);
    struct hvg_elf_seg one[1];
    struct hvg_elf_layout l;
    char err[128];
    int rc = hvg_elf_check(m.u.buf, m.len, MEM, one, 1, &l, err, sizeof(err));
    assert_int_equal(rc, -E2BIG);
    assert_non_null(strstr(err, "segment 1"));
}

static void test_arguments(void **state)
{
    (void)state;
    struct mkelf m;
    struct hvg_elf_seg segs[4];
    struct hvg_elf_layout l;
    char err[8];
    mkelf_valid(&m);
    assert_int_equal(hvg_elf_check(NULL, 10, MEM, segs, 4, &l, NULL, 0), -EINVAL);
    assert_int_equal(hvg_elf_check(m.u.buf, m.len, MEM, NULL, 4, &l, NULL, 0),
                     -EINVAL);
    assert_int_equal(hvg_elf_check(m.u.buf, m.len, MEM, segs, 4, NULL, NULL, 0),
                     -EINVAL);
    /* No message buffer, or a tiny one: still the right code, no overflow. */
    m.u.h.ph[1].p_flags = PF_W | PF_X;
    assert_int_equal(hvg_elf_check(m.u.buf, m.len, MEM, segs, 4, &l, NULL, 0),
                     -ENOEXEC);
    memset(err, 'x', sizeof(err));
    assert_int_equal(hvg_elf_check(m.u.buf, m.len, MEM, segs, 4, &l, err,
                                   sizeof(err)), -ENOEXEC);
    assert_string_equal(err, "segment");
}

/* The image buffer need not be aligned: headers are copied out. */
static void test_unaligned_buffer(void **state)
{
    (void)state;
    static struct { unsigned char pad[3]; unsigned char img[MKELF_CAP]; } u;
    struct mkelf m;
    mkelf_valid(&m);
    memcpy(u.img, m.u.buf, m.len);
    struct hvg_elf_seg segs[4];
    struct hvg_elf_layout l;
    assert_int_equal(hvg_elf_check(u.img, m.len, MEM, segs, 4, &l, NULL, 0), 0);
    assert_int_equal(l.nsegs, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_valid_extras),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wx),
        cmocka_unit_test(test_below_kernel),
        cmocka_unit_test(test_outside_ram),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_absurd_sizes),
        cmocka_unit_test(test_filesz_gt_memsz),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_vaddr_paddr),
        cmocka_unit_test(test_entry),
        cmocka_unit_test(test_wrong_header),
        cmocka_unit_test(test_no_segments),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_dynamic),
        cmocka_unit_test(test_too_many_segments),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_unaligned_buffer),
    };
    return cmocka_run_group_tests_name("elf_check", tests, NULL, NULL);
}
