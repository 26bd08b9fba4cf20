/* SPDX-License-Identifier: MIT */
/*
 * hostile: calls every hypercall with hostile arguments and checks that the
 * host refuses each with the right error (docs/guest-abi.md, "Errors"):
 * -HV_EFAULT for a struct or buffer not entirely in RAM (or output aimed at
 * the read-only start info page or the builder's pages), -HV_EINVAL for bad
 * values, -HV_ENOSYS for unknown numbers. Prints `hostile: FAIL ...` per
 * unexpected result and a summary; exit code 0 only if all passed.
 *
 * Calls that would succeed with the memory they point at (a SHUTDOWN or CRASH
 * struct that lies in RAM) are never made. The CRASH checks, whose failure
 * ends the domain, come last.
 */
#include <hvrt.h>

/* Accepted outcomes of a check. */
#define R_OK     (1u << 0) /* >= 0 */
#define R_EFAULT (1u << 1)
#define R_EINVAL (1u << 2)
#define R_ENOSYS (1u << 3)
#define R_EBUSY  (1u << 4)
#define R_EALREADY (1u << 5)
#define R_ANYERR (1u << 6) /* any negative value */

static unsigned checks, failures;
static uint64_t mem;

static bool accepted(int64_t r, unsigned ok)
{
    if (r >= 0)
        return ok & R_OK;
    if (ok & R_ANYERR)
        return true;
    return (r == -HV_EFAULT && (ok & R_EFAULT)) || (r == -HV_EINVAL && (ok & R_EINVAL)) ||
           (r == -HV_ENOSYS && (ok & R_ENOSYS)) || (r == -HV_EBUSY && (ok & R_EBUSY)) ||
           (r == -HV_EALREADY && (ok & R_EALREADY));
}

static bool check(int64_t r, unsigned ok, const char *fmt, ...) HVRT_PRINTF(3, 4);
static bool check(int64_t r, unsigned ok, const char *fmt, ...)
{
    checks++;
    if (accepted(r, ok))
        return true;

    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    failures++;
    printf("hostile: FAIL %s ret=%ld\n", what, (long)r);
    return false;
}

static int64_t hc(uint32_t nr, uint64_t gpa)
{
    return hv_hypercall(nr, (void *)(uintptr_t)gpa);
}

static int64_t hcp(uint32_t nr, const void *arg)
{
    return hv_hypercall(nr, (void *)(uintptr_t)arg);
}

/*
 * POLL and WALLCLOCK come after the calls that only read: a broken host that
 * let them write into page 0 would change what the others read there.
 */
static const struct call {
    uint32_t nr;
    const char *name;
    uint64_t size;
} calls[] = {
    { HV_HC_CONSOLE_WRITE, "console_write", sizeof(struct hv_hc_console_write) },
    { HV_HC_SHUTDOWN, "shutdown", sizeof(struct hv_hc_shutdown) },
    { HV_HC_VCPU_UP, "vcpu_up", sizeof(struct hv_hc_vcpu_up) },
    { HV_HC_SET_TRAP_ENTRY, "set_trap_entry", sizeof(struct hv_hc_set_trap_entry) },
    { HV_HC_POLL, "poll", sizeof(struct hv_hc_poll) },
    { HV_HC_WALLCLOCK, "wallclock", sizeof(struct hv_hc_wallclock) },
    { HV_HC_CRASH, "crash", sizeof(struct hv_hc_crash) },
};
#define NR_CALLS (sizeof(calls) / sizeof(calls[0]))

#define NR_BAD_GPAS 9
static uint64_t bad_gpas[NR_BAD_GPAS];

static void init_bad_gpas(void)
{
    const uint64_t g[NR_BAD_GPAS] = {
        0, 1, 0xfff, mem - 1, mem - 8, mem, UINT64_MAX, UINT64_MAX - 7, 1ull << 63,
    };
    memcpy(bad_gpas, g, sizeof(g));
}

static bool in_ram(uint64_t gpa, uint64_t len)
{
    return gpa <= mem && len <= mem - gpa;
}

static void bad_pointers(bool crash)
{
    for (unsigned c = 0; c < NR_CALLS; c++) {
        const struct call *k = &calls[c];
        if ((k->nr == HV_HC_CRASH) != crash)
            continue;
        for (unsigned i = 0; i < NR_BAD_GPAS; i++) {
            uint64_t gpa = bad_gpas[i];
            /* Page 0 and the builder's pages are not the guest's to name. */
            if (in_ram(gpa, k->size) && gpa >= HV_GPA_START_INFO)
                continue; /* in RAM (the stack's top): not hostile */
            check(hc(k->nr, gpa), R_EFAULT, "%s gpa=0x%lx", k->name, (unsigned long)gpa);
        }
        if (k->nr == HV_HC_SET_TRAP_ENTRY)
            hv_trap_install();
    }
}

/* Outputs aimed at pages the guest may not write. */
static void read_only_outputs(void)
{
    static const uint64_t ro[] = {
        HV_GPA_START_INFO, HV_GPA_START_INFO + 0x100, HV_GPA_GDT, HV_GPA_IDT,
        HV_GPA_TSS, HV_GPA_PML4, HV_GPA_PT0,
        HV_GPA_SHARED_INFO - 8, /* straddles start info and shared info */
    };
    for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        check(hc(HV_HC_POLL, ro[i]), R_EFAULT, "poll gpa=0x%lx (read-only)",
              (unsigned long)ro[i]);
        check(hc(HV_HC_WALLCLOCK, ro[i]), R_EFAULT, "wallclock gpa=0x%lx (read-only)",
              (unsigned long)ro[i]);
    }
}

/* Valid structs at an odd address: any alignment is allowed. */
static void unaligned(void)
{
    static uint64_t area[16];
    unsigned char *u = (unsigned char *)area + 1;

    struct hv_hc_console_write cw = { (uint64_t)(uintptr_t)area, HV_CONSOLE_WRITE_MAX + 1 };
    memcpy(u, &cw, sizeof(cw));
    check(hcp(HV_HC_CONSOLE_WRITE, u), R_EINVAL, "console_write unaligned len>max");

    struct hv_hc_shutdown sd = { 99, 0 };
    memcpy(u, &sd, sizeof(sd));
    check(hcp(HV_HC_SHUTDOWN, u), R_EINVAL, "shutdown unaligned reason=99");

    struct hv_hc_poll p = { 0, 0, 0xdeadbeef };
    memcpy(u, &p, sizeof(p));
    if (check(hcp(HV_HC_POLL, u), R_OK, "poll unaligned")) {
        memcpy(&p, u, sizeof(p));
        check(p.ready == 0 ? 0 : -1, R_OK, "poll unaligned: ready=0x%lx not written",
              (unsigned long)p.ready);
    }

    struct hv_hc_wallclock w = { 0, 0 };
    memcpy(u, &w, sizeof(w));
    if (check(hcp(HV_HC_WALLCLOCK, u), R_OK, "wallclock unaligned")) {
        memcpy(&w, u, sizeof(w));
        check(w.wall_ns != 0 ? 0 : -1, R_OK, "wallclock unaligned: wall_ns not written");
    }

    struct hv_hc_vcpu_up up = { .vcpu = 0 };
    memcpy(u, &up, sizeof(up));
    check(hcp(HV_HC_VCPU_UP, u), R_EINVAL, "vcpu_up unaligned vcpu=0");

    struct hv_hc_set_trap_entry t = { 0 };
    memcpy(u, &t, sizeof(t));
    check(hcp(HV_HC_SET_TRAP_ENTRY, u), R_EINVAL, "set_trap_entry unaligned rip=0");
    hv_trap_install();
}

static void console_buffers(void)
{
    static const char text[] = "x";
    const uint64_t ram = HV_GPA_KERNEL; /* more than 4 KiB of RAM from here */
    const struct {
        uint64_t buf, len;
        unsigned ok;
    } t[] = {
        { ram, UINT64_MAX, R_EINVAL | R_EFAULT },
        { ram, 1ull << 63, R_EINVAL | R_EFAULT },
        { ram, HV_CONSOLE_WRITE_MAX + 1, R_EINVAL },
        { ram, 1ull << 32, R_EINVAL | R_EFAULT },
        { UINT64_MAX - 10, 100, R_EFAULT },                  /* wraps around */
        { UINT64_MAX - 10, HV_CONSOLE_WRITE_MAX, R_EFAULT },
        { UINT64_MAX, 1, R_EFAULT },
        { UINT64_MAX, 0, R_OK | R_EFAULT | R_EINVAL },
        { mem, 1, R_EFAULT },
        { mem - 1, 2, R_EFAULT },
        { mem - 8, HV_CONSOLE_WRITE_MAX, R_EFAULT },
        { 1ull << 63, 16, R_EFAULT },
        { (uint64_t)(uintptr_t)text, 0, R_OK | R_EINVAL },
    };
    for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct hv_hc_console_write w = { t[i].buf, t[i].len };
        check(hcp(HV_HC_CONSOLE_WRITE, &w), t[i].ok, "console_write buf=0x%lx len=0x%lx",
              (unsigned long)t[i].buf, (unsigned long)t[i].len);
    }

    /* The start info page is read-only, but reading it is fine. */
    printf("hostile: start info magic: ");
    struct hv_hc_console_write w = { HV_GPA_START_INFO, 4 };
    int64_t r = hcp(HV_HC_CONSOLE_WRITE, &w);
    printf("\n");
    check(r, R_OK, "console_write from start info");
}

static void stray_vcpu(void)
{
    hv_shutdown(HV_SHUTDOWN_CRASH, 0xbad);
}

static uint64_t stray_stack[64] __attribute__((aligned(16)));

static void vcpu_up_values(void)
{
    uint32_t nr = hv_nr_vcpus();
    const struct {
        uint32_t id;
        unsigned ok;
    } t[] = {
        { 0, R_EINVAL },
        { nr, R_EINVAL },
        { nr + 1, R_EINVAL },
        { HVRT_MAX_VCPUS, R_EINVAL },
        { 0x80000000u, R_EINVAL },
        { UINT32_MAX, R_EINVAL },
    };
    for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].id != 0 && t[i].id < nr)
            continue; /* a valid id on a very large domain */
        struct hv_hc_vcpu_up up = {
            .vcpu = t[i].id,
            .rip = (uint64_t)(uintptr_t)stray_vcpu,
            .rsp = (uint64_t)(uintptr_t)(stray_stack + 64),
        };
        check(hcp(HV_HC_VCPU_UP, &up), t[i].ok, "vcpu_up vcpu=%u", t[i].id);
    }
}

static void trap_entry_values(void)
{
    /* Not canonical, or the 32 stubs not all in guest-readable RAM. */
    const uint64_t rips[] = {
        0, 0x0000800000000000ull, 0x8000000000000000ull, 0xdead0000beef0000ull,
        0x00ff000000000000ull, HV_GPA_GDT, HV_GPA_START_INFO - HV_TRAP_STRIDE,
        mem - HV_TRAP_STRIDE, mem, UINT64_MAX - 15,
    };
    for (unsigned i = 0; i < sizeof(rips) / sizeof(rips[0]); i++) {
        struct hv_hc_set_trap_entry t = { rips[i] };
        check(hcp(HV_HC_SET_TRAP_ENTRY, &t), R_EINVAL, "set_trap_entry rip=0x%lx",
              (unsigned long)rips[i]);
    }
    check(hv_trap_install(), R_OK, "set_trap_entry (valid)");
}

static void shutdown_values(void)
{
    static const uint32_t reasons[] = { 3, 99, 0x80000000u, UINT32_MAX };
    for (unsigned i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        struct hv_hc_shutdown s = { reasons[i], 0 };
        check(hcp(HV_HC_SHUTDOWN, &s), R_EINVAL, "shutdown reason=%u", reasons[i]);
    }
}

static void unknown_numbers(void)
{
    static struct hv_hc_poll valid;

    for (uint32_t nr = HV_HC_NR_CORE; nr < HV_HC_VENDOR_FIRST; nr++) {
        check(hc(nr, 0), R_ENOSYS, "hypercall %u gpa=0", nr);
        check(hcp(nr, &valid), R_ENOSYS, "hypercall %u valid gpa", nr);
        for (unsigned i = 3; i < NR_BAD_GPAS; i++)
            check(hc(nr, bad_gpas[i]), R_ENOSYS, "hypercall %u gpa=0x%lx", nr,
                  (unsigned long)bad_gpas[i]);
    }
    check(hc(0xfe, 0), R_ENOSYS, "vendor hypercall 0xfe gpa=0");
    check(hcp(0xfe, &valid), R_ENOSYS, "vendor hypercall 0xfe valid gpa");
    check(hc(0xfe, UINT64_MAX), R_ENOSYS, "vendor hypercall 0xfe gpa=max");
}

/*
 * With a second vCPU: VCPU_UP of a running vCPU fails with -HV_EALREADY, and
 * VCPU_DOWN (which takes no argument) stops the vCPU whatever RDI holds: a
 * later VCPU_UP of it then succeeds, and the VCPU_DOWN never returns.
 */
static uint32_t held, release, down_returned, came_back;

static void hold(void *arg)
{
    (void)arg;
    __atomic_store_n(&held, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&release, __ATOMIC_ACQUIRE))
        hv_sleep_ms(1);
    hc(HV_HC_VCPU_DOWN, UINT64_MAX);
    __atomic_store_n(&down_returned, 1, __ATOMIC_RELEASE);
}

/* Entered straight from VCPU_UP (no runtime trampoline), so it ends itself. */
static void come_back(void)
{
    __atomic_store_n(&came_back, 1, __ATOMIC_RELEASE);
    hc(HV_HC_VCPU_DOWN, 0);
    hv_shutdown(HV_SHUTDOWN_CRASH, 0xbad);
}

static void second_vcpu(void)
{
    if (hv_nr_vcpus() < 2)
        return;
    if (!check(hv_vcpu_start(1, hold, NULL), R_OK, "vcpu_up vcpu=1 (valid)"))
        return;
    while (!__atomic_load_n(&held, __ATOMIC_ACQUIRE))
        hv_sleep_ms(1);

    struct hv_hc_vcpu_up up = {
        .vcpu = 1,
        .rip = (uint64_t)(uintptr_t)stray_vcpu,
        .rsp = (uint64_t)(uintptr_t)(stray_stack + 64),
    };
    check(hcp(HV_HC_VCPU_UP, &up), R_EALREADY, "vcpu_up of running vcpu 1");

    /* VCPU_UP answers -HV_EALREADY while vCPU 1 is up, so it succeeds
     * exactly when the junk-RDI VCPU_DOWN took vCPU 1 down. The raw
     * hypercall: the runtime's hv_vcpu_start counts vCPU 1 as still in hold(). */
    __atomic_store_n(&release, 1, __ATOMIC_RELEASE);
    struct hv_hc_vcpu_up again = {
        .vcpu = 1,
        .rip = (uint64_t)(uintptr_t)come_back,
        .rsp = (uint64_t)(uintptr_t)(stray_stack + 64) - 8, /* as after a call */
    };
    int64_t r;
    while ((r = hcp(HV_HC_VCPU_UP, &again)) == -HV_EALREADY) {
        if (__atomic_load_n(&down_returned, __ATOMIC_ACQUIRE))
            break;
        hv_sleep_ms(1);
    }
    check(__atomic_load_n(&down_returned, __ATOMIC_ACQUIRE) ? -1 : 0, R_OK,
          "vcpu_down with junk rdi returned to the guest");
    check(r, R_OK, "vcpu_up after vcpu_down");
    while (r == 0 && !__atomic_load_n(&came_back, __ATOMIC_ACQUIRE))
        hv_sleep_ms(1);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    mem = hv_start_info()->mem_size;
    init_bad_gpas();

    bad_pointers(false);
    read_only_outputs();
    unaligned();
    console_buffers();
    vcpu_up_values();
    trap_entry_values();
    shutdown_values();
    unknown_numbers();
    second_vcpu();
    bad_pointers(true); /* CRASH last: a host that accepts one ends the domain */

    if (failures == 0) {
        printf("hostile: ok %u checks\n", checks);
        return 0;
    }
    printf("hostile: failed %u of %u\n", failures, checks);
    return 1;
}
