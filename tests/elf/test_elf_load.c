/* SPDX-License-Identifier: MIT */
/*
 * hvg_load_elf and hvg_build on real domains (/dev/kvm): bad images leave
 * guest RAM untouched, good ones land where they should, and the builder
 * writes the tables that the guest ABI describes.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/abi.h"
#include "hv/hv.h"
#include "hv/hvguest.h"
#include "mkelf.h"

#define MIB (1ull << 20)

struct fx {
    hv_t *hv;
    hv_domain_t *dom;
    uint8_t *ram;
    uint64_t size;
    char dir[64];
    char path[256];
};

static int create_domain(struct fx *f, uint64_t memory_mb, hv_domain_t **out)
{
    hv_domain_config_t cfg = {
        .size = sizeof(cfg), .name = "elf-test", .memory_mb = memory_mb,
        .vcpus = 1,
    };
    return hv_domain_create(f->hv, &cfg, out);
}

static void map_ram(struct fx *f, hv_domain_t *dom, uint64_t size)
{
    void *p;
    int rc = hv_domain_memory_map(dom, 0, size, &p);
    if (rc < 0)
        fail_msg("map RAM: %d %s", rc, hv_last_error(f->hv));
    f->ram = p;
    f->size = size;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/hvg-elf-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* A private run directory: tests never touch the host's /run/hv. */
    hv_options_t opts = { .size = sizeof(opts), .run_dir = f->dir };
    int rc = hv_open(&f->hv, &opts);
    if (rc < 0)
        fail_msg("hv_open: %d", rc);
    rc = create_domain(f, 64, &f->dom);
    if (rc < 0)
        fail_msg("hv_domain_create: %d %s", rc, hv_last_error(f->hv));
    map_ram(f, f->dom, 64 * MIB);
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->dom)
        hv_domain_destroy(f->dom);
    hv_close(f->hv);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static const char *write_file(struct fx *f, const char *name, const void *data,
                              size_t len)
{
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return f->path;
}

static int ram_is_zero(const struct fx *f)
{
    for (uint64_t i = 0; i < f->size; i += 8) {
        uint64_t v;
        memcpy(&v, f->ram + i, 8);
        if (v)
            return 0;
    }
    return 1;
}

static uint64_t ram64(const struct fx *f, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, f->ram + gpa, sizeof(v));
    return v;
}

static void expect_error(struct fx *f, int rc, int code, const char *frag1,
                         const char *frag2)
{
    const char *msg = hv_last_error(f->hv);
    if (rc != code)
        fail_msg("rc %d, expected %d (\"%s\")", rc, code, msg);
    if (frag1 && !strstr(msg, frag1))
        fail_msg("message \"%s\" lacks \"%s\"", msg, frag1);
    if (frag2 && !strstr(msg, frag2))
        fail_msg("message \"%s\" lacks \"%s\"", msg, frag2);
}

/* ---- hvg_load_elf ----------------------------------------------------- */

struct bad_case {
    const char *name;
    void (*mutate)(struct mkelf *m);
    int code;
    const char *frag;
};

static void wx(struct mkelf *m) { m->u.h.ph[1].p_flags |= PF_X; }
static void cut_data(struct mkelf *m) { m->len = 0x2400; }
static void cut_header(struct mkelf *m) { m->len = 40; }
static void beyond_ram(struct mkelf *m) { mkelf_move(m, 1, 64 * MIB); }
static void in_stack(struct mkelf *m)
{
    mkelf_move(m, 1, 64 * MIB - HVG_BOOT_STACK_SIZE - 0x1000);
}
static void interp(struct mkelf *m) { mkelf_add(m, PT_INTERP); }
static void overlap(struct mkelf *m) { mkelf_move(m, 1, MKELF_TEXT); }
static void entry_data(struct mkelf *m) { m->u.h.eh.e_entry = MKELF_DATA; }
static void pie(struct mkelf *m) { m->u.h.eh.e_type = ET_DYN; }
static void not_elf(struct mkelf *m)
{
    memcpy(m->u.buf, "#!/bin/sh\nexit 0\n", 17);
    m->len = 17;
}

static void test_load_bad_files(void **state)
{
    struct fx *f = *state;
    static const struct bad_case cases[] = {
        { "wx.elf", wx, -ENOEXEC, "segment 1 is writable and executable" },
        { "cut-data.elf", cut_data, -ENOEXEC, "segment 1" },
        { "cut-header.elf", cut_header, -ENOEXEC, "too small" },
        { "beyond-ram.elf", beyond_ram, -ENOEXEC, "outside RAM (64 MiB)" },
        { "stack.elf", in_stack, -ENOEXEC, "boot stack" },
        { "interp.elf", interp, -ENOEXEC, "segment 2 is PT_INTERP" },
        { "overlap.elf", overlap, -ENOEXEC, "overlaps segment 0" },
        { "entry.elf", entry_data, -ENOEXEC, "entry point" },
        { "pie.elf", pie, -ENOEXEC, "ET_EXEC" },
        { "script", not_elf, -ENOEXEC, "not an ELF" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mkelf m;
        mkelf_valid(&m);
        cases[i].mutate(&m);
        const char *path = write_file(f, cases[i].name, m.u.buf, m.len);
        hvg_elf_info_t info = { .size = sizeof(info), .segments = 0xdead };
        int rc = hvg_load_elf(f->dom, path, &info);
        expect_error(f, rc, cases[i].code, path, cases[i].frag);
        assert_int_equal(info.segments, 0xdead);
        if (!ram_is_zero(f))
            fail_msg("%s: guest RAM written", cases[i].name);
    }

    const char *path = write_file(f, "empty", "", 0);
    expect_error(f, hvg_load_elf(f->dom, path, NULL), -ENOEXEC, path,
                 "too small");
    assert_true(ram_is_zero(f));
}

static void test_load_bad_paths(void **state)
{
    struct fx *f = *state;
    char path[300];
    snprintf(path, sizeof(path), "%s/no-such-file", f->dir);
    expect_error(f, hvg_load_elf(f->dom, path, NULL), -ENOENT, path,
                 "cannot open");
    expect_error(f, hvg_load_elf(f->dom, f->dir, NULL), -ENOEXEC, f->dir,
                 "not a regular file");
    expect_error(f, hvg_load_elf(f->dom, NULL, NULL), -EINVAL, NULL, NULL);
    assert_true(ram_is_zero(f));
}

static void expect_loaded(const struct fx *f, const struct mkelf *m)
{
    assert_memory_equal(f->ram + MKELF_TEXT, m->u.buf + 0x1000, 0x1000);
    assert_memory_equal(f->ram + MKELF_DATA, m->u.buf + 0x2000,
                        MKELF_DATA_FILESZ);
    for (uint64_t a = MKELF_DATA + MKELF_DATA_FILESZ;
         a < MKELF_DATA + MKELF_DATA_MEMSZ; a++)
        assert_int_equal(f->ram[a], 0);
}

static void test_load_valid(void **state)
{
    struct fx *f = *state;
    struct mkelf m;
    mkelf_valid(&m);
    const char *path = write_file(f, "good.elf", m.u.buf, m.len);
    hvg_elf_info_t info = { .size = sizeof(info) };
    int rc = hvg_load_elf(f->dom, path, &info);
    if (rc)
        fail_msg("load: %d %s", rc, hv_last_error(f->hv));
    assert_int_equal(info.size, sizeof(info));
    assert_int_equal(info.entry, MKELF_TEXT);
    assert_int_equal(info.image_start, MKELF_TEXT);
    assert_int_equal(info.image_end, MKELF_DATA + MKELF_DATA_MEMSZ);
    assert_int_equal(info.segments, 2);
    expect_loaded(f, &m);

    /* Nothing outside the segments was written. */
    memset(f->ram + MKELF_TEXT, 0, 0x1000);
    memset(f->ram + MKELF_DATA, 0, MKELF_DATA_MEMSZ);
    assert_true(ram_is_zero(f));

    /* An older, smaller info struct gets only the fields it has. */
    hvg_elf_info_t old = { .size = offsetof(hvg_elf_info_t, segments),
                           .segments = 77 };
    rc = hvg_load_elf_image(f->dom, m.u.buf, m.len, "in-memory", &old);
    assert_int_equal(rc, 0);
    assert_int_equal(old.entry, MKELF_TEXT);
    assert_int_equal(old.segments, 77);
    expect_loaded(f, &m);
}

/* A second load clears what an earlier one left in the bss pages. */
static void test_load_clears_bss(void **state)
{
    struct fx *f = *state;
    struct mkelf m;
    mkelf_valid(&m);
    memset(f->ram + MKELF_DATA, 0xcc, MKELF_DATA_MEMSZ + 0x1000);
    assert_int_equal(hvg_load_elf_image(f->dom, m.u.buf, m.len, "img", NULL), 0);
    expect_loaded(f, &m);
    assert_int_equal(f->ram[MKELF_DATA + MKELF_DATA_MEMSZ], 0xcc);
}

static void test_load_image_errors_name_it(void **state)
{
    struct fx *f = *state;
    struct mkelf m;
    mkelf_valid(&m);
    wx(&m);
    expect_error(f, hvg_load_elf_image(f->dom, m.u.buf, m.len, "my-kernel",
                                       NULL),
                 -ENOEXEC, "my-kernel: ", "segment 1 is writable");
    assert_true(ram_is_zero(f));
}

/* ---- hvg_build -------------------------------------------------------- */

static void test_build_refusals_write_nothing(void **state)
{
    struct fx *f = *state;
    struct mkelf m;
    char cmdline[HV_CMDLINE_MAX + 1];
    mkelf_valid(&m);

    memset(cmdline, 'a', HV_CMDLINE_MAX);
    cmdline[HV_CMDLINE_MAX] = '\0';
    hvg_build_options_t o = {
        .size = sizeof(o), .image = m.u.buf, .image_len = m.len,
        .cmdline = cmdline,
    };
    expect_error(f, hvg_build(f->dom, &o), -E2BIG, "1024", NULL);
    assert_true(ram_is_zero(f));

    o.cmdline = "quiet";
    wx(&m);
    expect_error(f, hvg_build(f->dom, &o), -ENOEXEC, "segment 1", NULL);
    assert_true(ram_is_zero(f));

    char path[300];
    snprintf(path, sizeof(path), "%s/missing.elf", f->dir);
    o.kernel = path;
    expect_error(f, hvg_build(f->dom, &o), -ENOENT, path, NULL);
    assert_true(ram_is_zero(f));

    o.kernel = NULL;
    o.image = NULL;
    expect_error(f, hvg_build(f->dom, &o), -EINVAL, NULL, NULL);
    o.size = 0;
    expect_error(f, hvg_build(f->dom, &o), -EINVAL, NULL, NULL);
    assert_int_equal(hvg_build(f->dom, NULL), -EINVAL);
    assert_true(ram_is_zero(f));
}

/* Flags: P 0x1, RW 0x2, US 0x4, A 0x20, D 0x40, PS 0x80 (A and D preset). */
static void check_page_tables(const struct fx *f, uint64_t mem)
{
    uint64_t large = mem / HV_LARGE_PAGE_SIZE;
    unsigned npd = (unsigned)((mem + (1ull << 30) - 1) >> 30);

    assert_int_equal(ram64(f, HV_GPA_PML4), HV_GPA_PDPT | 0x27);
    for (unsigned i = 1; i < 512; i++)
        assert_int_equal(ram64(f, HV_GPA_PML4 + 8 * i), 0);
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(ram64(f, HV_GPA_PDPT + 8 * i),
                         i < npd ? (HV_GPA_PD + i * 0x1000ull) | 0x27 : 0);
    for (uint64_t k = 0; k < npd * 512ull; k++) {
        uint64_t want = k == 0 ? HV_GPA_PT0 | 0x27
                        : k < large ? (k << 21) | 0xe7 : 0;
        assert_int_equal(ram64(f, HV_GPA_PD + 8 * k), want);
    }
    assert_int_equal(ram64(f, HV_GPA_PT0), 0);                   /* NULL */
    assert_int_equal(ram64(f, HV_GPA_PT0 + 8), 0x1063);          /* GDT */
    assert_int_equal(ram64(f, HV_GPA_PT0 + 8 * 6), 0x6063);      /* PML4 */
    assert_int_equal(ram64(f, HV_GPA_PT0 + 8 * 15), 0xf063);
    assert_int_equal(ram64(f, HV_GPA_PT0 + 8 * 16), 0x10025);    /* start info */
    assert_int_equal(ram64(f, HV_GPA_PT0 + 8 * 17), 0x11067);    /* shared */
    assert_int_equal(ram64(f, HV_GPA_PT0 + 8 * 256), 0x100067);  /* kernel */
    assert_int_equal(ram64(f, HV_GPA_PT0 + 8 * 511), 0x1ff067);
}

static void check_descriptors(const struct fx *f)
{
    assert_int_equal(ram64(f, HV_GPA_GDT), 0);
    assert_int_equal(ram64(f, HV_GPA_GDT + 0x08), 0x00AF9B000000FFFFull);
    assert_int_equal(ram64(f, HV_GPA_GDT + 0x10), 0x00CF93000000FFFFull);
    assert_int_equal(ram64(f, HV_GPA_GDT + 0x18), 0x00AFFB000000FFFFull);
    assert_int_equal(ram64(f, HV_GPA_GDT + 0x20), 0x00CFF3000000FFFFull);
    /* Base 0x3000, limit 0x68 + 8192 (the terminator byte), type 0x89. */
    assert_int_equal(ram64(f, HV_GPA_GDT + 0x28), 0x0000890030002068ull);
    assert_int_equal(ram64(f, HV_GPA_GDT + 0x30), 0);

    for (unsigned i = 0; i < 4096; i++)
        assert_int_equal(f->ram[HV_GPA_IDT + i], 0);

    const uint8_t *tss = f->ram + HV_GPA_TSS;
    uint16_t iomap;
    memcpy(&iomap, tss + 102, 2);
    assert_int_equal(iomap, HV_TSS_IOMAP_OFF);
    for (unsigned i = 0; i < 102; i++)
        assert_int_equal(tss[i], 0);
    const uint8_t *map = tss + HV_TSS_IOMAP_OFF;
    for (unsigned port = 0; port < 65536; port++) {
        int allowed = !(map[port / 8] & (1u << (port % 8)));
        if (allowed != (port >= HV_PORT_FIRST && port <= HV_PORT_LAST))
            fail_msg("port 0x%x: allowed=%d", port, allowed);
    }
    assert_int_equal(map[HV_TSS_IOMAP_BYTES], 0xff);
}

static void check_start_info(const struct fx *f, hv_domain_t *dom,
                             uint64_t mem, const char *cmdline)
{
    hv_domain_info_t di = { .size = sizeof(di) };
    assert_int_equal(hv_domain_info(dom, &di), 0);

    struct hv_start_info si;
    memcpy(&si, f->ram + HV_GPA_START_INFO, sizeof(si));
    assert_int_equal(si.magic, HV_START_MAGIC);
    assert_int_equal(si.version, HV_ABI_VERSION);
    assert_int_equal(si.size, sizeof(si));
    assert_int_equal(si.nr_vcpus, 1);
    assert_int_equal(si.features,
                     HV_FEAT_SMP | HV_FEAT_TRAP_ENTRY | HV_FEAT_PVCLOCK |
                         HV_FEAT_BALLOON | HV_FEAT_VCPU_TARGET);
    assert_int_equal(si.mem_size, mem);
    assert_int_equal(si.shared_info, HV_GPA_SHARED_INFO);
    assert_int_equal(si.image_start, MKELF_TEXT);
    assert_int_equal(si.image_end, MKELF_DATA + MKELF_DATA_MEMSZ);
    assert_int_equal(si.stack_top, mem);
    assert_int_equal(si.domid, hv_domain_id(dom));
    assert_int_equal(si.domid, di.domid);
    assert_memory_equal(si.uuid, di.uuid, 16);
    assert_string_equal(si.cmdline, cmdline);
    assert_int_equal(si.nr_devices, 0);
}

static void test_build_layout(void **state)
{
    struct fx *f = *state;
    struct mkelf m;
    mkelf_valid(&m);
    const char *path = write_file(f, "kernel.elf", m.u.buf, m.len);
    /* Stale bytes in the builder area must not survive. */
    memset(f->ram + HV_GPA_GDT, 0xee, HV_GPA_SHARED_INFO + 0x1000 - HV_GPA_GDT);

    hvg_build_options_t o = { .size = sizeof(o), .kernel = path,
                              .cmdline = "console=hv quiet" };
    int rc = hvg_build(f->dom, &o);
    if (rc)
        fail_msg("build: %d %s", rc, hv_last_error(f->hv));
    check_page_tables(f, 64 * MIB);
    check_descriptors(f);
    check_start_info(f, f->dom, 64 * MIB, "console=hv quiet");
    for (unsigned i = 0; i < 4096; i++)
        assert_int_equal(f->ram[HV_GPA_SHARED_INFO + i], 0);
    expect_loaded(f, &m);

    /* The longest command line that fits, from an in-memory image. */
    char cmdline[HV_CMDLINE_MAX];
    memset(cmdline, 'b', sizeof(cmdline) - 1);
    cmdline[sizeof(cmdline) - 1] = '\0';
    o = (hvg_build_options_t){ .size = sizeof(o), .image = m.u.buf,
                               .image_len = m.len, .cmdline = cmdline };
    assert_int_equal(hvg_build(f->dom, &o), 0);
    check_start_info(f, f->dom, 64 * MIB, cmdline);
}

/* More than 1 GiB: a second page directory, partly filled. */
static void test_build_large(void **state)
{
    struct fx *f = *state;
    const uint64_t mb = 1024 + 6;
    hv_domain_t *dom;
    hv_domain_destroy(f->dom);
    f->dom = NULL;
    int rc = create_domain(f, mb, &dom);
    if (rc < 0)
        fail_msg("create %llu MiB: %d %s", (unsigned long long)mb, rc,
                 hv_last_error(f->hv));
    f->dom = dom;
    map_ram(f, dom, mb * MIB);

    struct mkelf m;
    mkelf_valid(&m);
    hvg_build_options_t o = { .size = sizeof(o), .image = m.u.buf,
                              .image_len = m.len };
    rc = hvg_build(dom, &o);
    if (rc)
        fail_msg("build: %d %s", rc, hv_last_error(f->hv));
    check_page_tables(f, mb * MIB);
    assert_int_equal(ram64(f, HV_GPA_PD + 0x1000 + 8 * 2),
                     ((1ull << 30) + (4ull << 20)) | 0xe7);
    assert_int_equal(ram64(f, HV_GPA_PD + 0x1000 + 8 * 3), 0);
    check_start_info(f, dom, mb * MIB, "");
}

static void test_build_odd_memory(void **state)
{
    struct fx *f = *state;
    hv_domain_t *dom;
    if (create_domain(f, 65, &dom) < 0)
        skip(); /* libhv refuses it itself: fine as well */
    hv_domain_destroy(f->dom);
    f->dom = dom;
    map_ram(f, dom, 65 * MIB);
    struct mkelf m;
    mkelf_valid(&m);
    hvg_build_options_t o = { .size = sizeof(o), .image = m.u.buf,
                              .image_len = m.len };
    expect_error(f, hvg_build(dom, &o), -EINVAL, "multiple of 2 MiB", NULL);
    assert_true(ram_is_zero(f));
}

/*
 * The built domain really boots: the test text powers off through the
 * SHUTDOWN hypercall, which needs the GDT, TSS I/O bitmap and page tables
 * to be right. A started domain can no longer be built.
 */
static void test_build_boots(void **state)
{
    struct fx *f = *state;
    struct mkelf m;
    mkelf_valid(&m);
    hvg_build_options_t o = { .size = sizeof(o), .image = m.u.buf,
                              .image_len = m.len };
    int rc = hvg_build(f->dom, &o);
    if (rc)
        fail_msg("build: %d %s", rc, hv_last_error(f->hv));
    rc = hv_domain_start(f->dom);
    if (rc)
        fail_msg("start: %d %s", rc, hv_last_error(f->hv));
    hv_exit_t ex = { .size = sizeof(ex) };
    rc = hv_domain_wait(f->dom, &ex, 10000);
    if (rc)
        fail_msg("wait: %d %s", rc, hv_last_error(f->hv));
    if (ex.reason != HV_EXIT_POWEROFF)
        fail_msg("exit reason %d vector 0x%x rip 0x%llx", ex.reason, ex.vector,
                 (unsigned long long)ex.rip);
    assert_int_equal(ex.code, MKELF_SHUTDOWN_CODE);

    memset(f->ram + HV_GPA_START_INFO, 0, 0x1000);
    expect_error(f, hvg_build(f->dom, &o), -EBUSY, "started", NULL);
    for (unsigned i = 0; i < 4096; i++)
        assert_int_equal(f->ram[HV_GPA_START_INFO + i], 0);
}

/*
 * What the page tables keep from the CPL3 guest: page 0, the builder's
 * tables (a write faults, and with no trap entry set the fault is a triple
 * fault, reported as a crash), and writes to the start info.
 */
static void test_build_protects(void **state)
{
    struct fx *f = *state;
    /* mov ADDR, %eax (7 bytes) or movb $1, ADDR (8 bytes), ADDR absolute. */
#define READ(a) { 0x8b, 0x04, 0x25, (a) & 0xff, (a) >> 8 & 0xff, (a) >> 16, 0 }, 7
#define WRITE(a) { 0xc6, 0x04, 0x25, (a) & 0xff, (a) >> 8 & 0xff, (a) >> 16, 0, 1 }, 8
    static const struct {
        const char *what;
        unsigned char code[8];
        size_t len;
        int crash;
    } probes[] = {
        { "read start info", READ(0x10000), 0 },
        { "write shared info", WRITE(0x11000), 0 },
        { "read page 0", READ(0x0), 1 },
        { "write GDT", WRITE(0x1000), 1 },
        { "read page tables", READ(0x6000), 1 },
        { "write start info", WRITE(0x10000), 1 },
    };
#undef READ
#undef WRITE
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        hv_domain_t *dom;
        hv_domain_destroy(f->dom);
        f->dom = NULL;
        assert_int_equal(create_domain(f, 64, &dom), 0);
        f->dom = dom;

        struct mkelf m;
        mkelf_valid(&m);
        mkelf_probe(&m, probes[i].code, probes[i].len);
        hvg_build_options_t o = { .size = sizeof(o), .image = m.u.buf,
                                  .image_len = m.len };
        assert_int_equal(hvg_build(dom, &o), 0);
        assert_int_equal(hv_domain_start(dom), 0);
        hv_exit_t ex = { .size = sizeof(ex) };
        assert_int_equal(hv_domain_wait(dom, &ex, 10000), 0);
        int crashed = ex.reason == HV_EXIT_CRASH;
        if (crashed != probes[i].crash ||
            (!crashed && (ex.reason != HV_EXIT_POWEROFF ||
                          ex.code != MKELF_SHUTDOWN_CODE)))
            fail_msg("%s: exit reason %d code %u vector 0x%x", probes[i].what,
                     ex.reason, ex.code, ex.vector);
    }
}

int main(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "/dev/kvm not usable: skipped\n");
        return 77;
    }
    close(fd);

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_load_bad_files),
        T(test_load_bad_paths),
        T(test_load_valid),
        T(test_load_clears_bss),
        T(test_load_image_errors_name_it),
        T(test_build_refusals_write_nothing),
        T(test_build_layout),
        T(test_build_large),
        T(test_build_odd_memory),
        T(test_build_boots),
        T(test_build_protects),
    };
    return cmocka_run_group_tests_name("elf_load", tests, NULL, NULL);
}
