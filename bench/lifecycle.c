/* SPDX-License-Identifier: MIT */
/*
 * bench/lifecycle: what a domain costs through libhv, beside a raw-KVM
 * program (raw_kvm.c) doing the same minimal work in the same run.
 *
 *   lifecycle  create (64 MiB, 1 vCPU) + load guest/hello + run to its first
 *              visible hypercall + destroy, alternating libhv and raw rounds
 *              so that drift hits both equally. Median and p90 in us.
 *   hypercall  one hypercall round trip: guest/hcbench calls vendor
 *              hypercall 0x81 N times into a registered host function, beside
 *              a raw guest doing N `out`s. (t_N - t_1) / (N - 1), median of
 *              several runs, in ns.
 *
 * stdout carries only JSON lines (one object each); diagnostics go to stderr.
 * Never passes or fails on time: the exit status says only whether both
 * sides ran. Exits 77 when /dev/kvm is not usable.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hv/abi.h"
#include "hv/hv.h"
#include "hv/hvguest.h"
#include "raw_kvm.h"

#define MEM_MB 64u
#define HC_NR 0x81u
#define WAIT_MS 20000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- statistics ------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *v, size_t n, unsigned pct)
{
    size_t rank = (n * pct + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

/* ---- libhv side -------------------------------------------------------- */

static void log_stderr(void *opaque, hv_log_level_t level, const char *msg)
{
    (void)opaque;
    static const char *const names[] = { "error", "warn", "info", "debug" };
    fprintf(stderr, "libhv %s: %s\n",
            (unsigned)level < 4 ? names[level] : "?", msg);
}

struct first_output {
    int efd;              /* eventfd the main thread waits on */
    atomic_bool fired;
};

/* On the vCPU thread: the guest's first console write of this round. */
static void on_console(void *opaque, hv_domain_t *dom, const char *data,
                       size_t len)
{
    (void)dom;
    (void)data;
    (void)len;
    struct first_output *f = opaque;
    if (atomic_exchange(&f->fired, true))
        return;
    uint64_t one = 1;
    if (write(f->efd, &one, sizeof one) != sizeof one)
        abort(); /* an eventfd write of 1 cannot fail short of a bug */
}

static void report_exit(hv_domain_t *dom, const char *what)
{
    hv_exit_t ex = { .size = sizeof ex };
    if (hv_domain_wait(dom, &ex, 0) == 0)
        fprintf(stderr, "lifecycle: %s: the guest exited (reason %d, code %u, "
                "vector 0x%x, rip 0x%llx)\n", what, ex.reason, ex.code,
                ex.vector, (unsigned long long)ex.rip);
}

/* t (may be NULL): t[0] before create, t[1] after it. */
static int make_domain(hv_t *hv, const char *name, const char *kernel,
                       const char *cmdline, hv_domain_t **out, uint64_t *t)
{
    hv_domain_config_t cfg = {
        .size = sizeof cfg, .name = name, .memory_mb = MEM_MB, .vcpus = 1,
    };
    hv_domain_t *dom;
    if (t)
        t[0] = now_ns();
    int err = hv_domain_create(hv, &cfg, &dom);
    if (t)
        t[1] = now_ns();
    if (err) {
        fprintf(stderr, "lifecycle: hv_domain_create: %s (%s)\n",
                strerror(-err), hv_last_error(hv));
        return err;
    }
    hvg_build_options_t bo = {
        .size = sizeof bo, .kernel = kernel, .cmdline = cmdline,
    };
    err = hvg_build(dom, &bo);
    if (err) {
        fprintf(stderr, "lifecycle: hvg_build %s: %s (%s)\n", kernel,
                strerror(-err), hv_last_error(hv));
        hv_domain_destroy(dom);
        return err;
    }
    *out = dom;
    return 0;
}

/*
 * One libhv lifecycle; the caller times it as a whole, phase_ns gets the
 * parts in the order of enum raw_kvm_phase.
 */
static int libhv_lifecycle(hv_t *hv, const char *kernel, struct first_output *f,
                           uint64_t phase_ns[RAW_PHASES])
{
    uint64_t t[RAW_PHASES + 1];
    atomic_store(&f->fired, false);
    hv_domain_t *dom;
    int err = make_domain(hv, "bench-lifecycle", kernel, NULL, &dom, t);
    if (err)
        return err;
    err = hv_domain_console_set_callback(dom, on_console, f);
    t[2] = now_ns();
    if (!err)
        err = hv_domain_start(dom);
    if (err) {
        fprintf(stderr, "lifecycle: start: %s (%s)\n", strerror(-err),
                hv_last_error(hv));
        hv_domain_destroy(dom);
        return err;
    }
    struct pollfd pfd = { .fd = f->efd, .events = POLLIN };
    int n;
    do
        n = poll(&pfd, 1, WAIT_MS);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        fprintf(stderr, "lifecycle: no console output from %s within %d ms\n",
                kernel, WAIT_MS);
        report_exit(dom, "hello");
        hv_domain_destroy(dom);
        return -ETIMEDOUT;
    }
    uint64_t count;
    if (read(f->efd, &count, sizeof count) != sizeof count) {
        perror("lifecycle: eventfd read");
        hv_domain_destroy(dom);
        return -EIO;
    }
    t[3] = now_ns();
    err = hv_domain_destroy(dom);
    t[4] = now_ns();
    if (err) {
        fprintf(stderr, "lifecycle: hv_domain_destroy: %s (%s)\n",
                strerror(-err), hv_last_error(hv));
        return err;
    }
    for (int i = 0; i < RAW_PHASES; i++)
        phase_ns[i] = t[i + 1] - t[i];
    return 0;
}

struct hc_state {
    uint32_t calls;   /* the N the guest was asked for */
    uint64_t seen;
    uint64_t t_first;
    uint64_t t_last;
};

/* On the vCPU thread, once per guest hypercall 0x81. */
static int64_t on_hostcall(void *opaque, hv_domain_t *dom, uint32_t vcpu,
                           uint64_t arg_gpa)
{
    (void)dom;
    (void)vcpu;
    (void)arg_gpa;
    struct hc_state *s = opaque;
    s->seen++;
    if (s->seen == 1)
        s->t_first = now_ns();
    if (s->seen == s->calls)
        s->t_last = now_ns();
    return 0;
}

static int libhv_hcloop(hv_t *hv, const char *kernel, uint32_t calls,
                        double *ns_per_call)
{
    char cmdline[32];
    snprintf(cmdline, sizeof cmdline, "%u", calls);
    hv_domain_t *dom;
    int err = make_domain(hv, "bench-hcbench", kernel, cmdline, &dom, NULL);
    if (err)
        return err;
    struct hc_state s = { .calls = calls };
    err = hv_domain_hostcall_register(dom, HC_NR, on_hostcall, &s);
    if (!err)
        err = hv_domain_start(dom);
    if (err) {
        fprintf(stderr, "lifecycle: hcbench start: %s (%s)\n", strerror(-err),
                hv_last_error(hv));
        hv_domain_destroy(dom);
        return err;
    }
    hv_exit_t ex = { .size = sizeof ex };
    err = hv_domain_wait(dom, &ex, WAIT_MS * 6);
    if (err) {
        fprintf(stderr, "lifecycle: hcbench did not exit: %s\n", strerror(-err));
    } else if (ex.reason != HV_EXIT_POWEROFF || ex.code != 0) {
        fprintf(stderr, "lifecycle: hcbench exited with reason %d code %u "
                "(vector 0x%x rip 0x%llx)\n", ex.reason, ex.code, ex.vector,
                (unsigned long long)ex.rip);
        err = -EIO;
    }
    if (err) {
        char buf[512];
        uint64_t pos = 0;
        long n = hv_domain_console_read(dom, &pos, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = 0;
            fprintf(stderr, "lifecycle: hcbench console: %s\n", buf);
        }
    }
    hv_domain_destroy(dom); /* joins the vCPU thread: s is complete */
    if (err)
        return err;
    if (s.seen != calls) {
        fprintf(stderr, "lifecycle: hcbench made %llu hypercalls 0x%x, "
                "expected %u\n", (unsigned long long)s.seen, HC_NR, calls);
        return -EIO;
    }
    *ns_per_call = (double)(s.t_last - s.t_first) / (double)(calls - 1);
    return 0;
}

/* ---- setup ------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int is_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    return n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

/* --guest-dir, else $HV_GUEST_DIR, else <build root>/guest. */
static const char *find_guest_dir(const char *opt, char *buf, size_t len)
{
    if (opt)
        return opt;
    const char *env = getenv("HV_GUEST_DIR");
    if (env && *env)
        return env;
    /* The executable is <build root>/bench/lifecycle. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = 0;
        }
        int w = snprintf(buf, len, "%s/guest", exe);
        if (w > 0 && (size_t)w < len && is_file(buf, "hello"))
            return buf;
    }
#ifdef HV_BENCH_GUEST_DIR
    return HV_BENCH_GUEST_DIR;
#else
    return buf;
#endif
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lifecycle [--rounds N] [--warmup N] [--calls N] [--reps N]\n"
            "                 [--guest-dir DIR]\n"
            "  --rounds N     measured lifecycle rounds per side (200)\n"
            "  --warmup N     unmeasured rounds per side first (20)\n"
            "  --calls N      hypercalls per hypercall run (20000)\n"
            "  --reps N       hypercall runs per side (5)\n"
            "  --guest-dir D  where hello and hcbench are (default: $HV_GUEST_DIR,\n"
            "                 else <build root>/guest)\n"
            "Prints JSON lines on stdout; never fails on time.\n");
}

static int parse_uint(const char *s, unsigned min, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < min || v > INT32_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned rounds = 200, warmup = 20, calls = 20000, reps = 5;
    const char *guest_opt = NULL;
    static const struct option longopts[] = {
        { "rounds", required_argument, NULL, 'r' },
        { "warmup", required_argument, NULL, 'w' },
        { "calls", required_argument, NULL, 'c' },
        { "reps", required_argument, NULL, 'n' },
        { "guest-dir", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'r': bad = parse_uint(optarg, 1, &rounds); break;
        case 'w': bad = parse_uint(optarg, 0, &warmup); break;
        case 'c': bad = parse_uint(optarg, 2, &calls); break;
        case 'n': bad = parse_uint(optarg, 1, &reps); break;
        case 'g': guest_opt = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "lifecycle: bad value for --%s: %s\n",
                    longopts[opt == 'r' ? 0 : opt == 'w' ? 1 : opt == 'c' ? 2 : 3].name,
                    optarg);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    char dirbuf[PATH_MAX] = "";
    const char *guest_dir = find_guest_dir(guest_opt, dirbuf, sizeof dirbuf);
    char hello[PATH_MAX], hcbench[PATH_MAX];
    if (snprintf(hello, sizeof hello, "%s/hello", guest_dir) >= (int)sizeof hello ||
        snprintf(hcbench, sizeof hcbench, "%s/hcbench", guest_dir) >=
            (int)sizeof hcbench) {
        fprintf(stderr, "lifecycle: guest directory path too long\n");
        return 2;
    }

    struct raw_kvm raw;
    int err = raw_kvm_open(&raw, NULL);
    if (err) {
        fprintf(stderr, "lifecycle: /dev/kvm: %s: skipped\n", strerror(-err));
        return 77;
    }
    if (!is_file(guest_dir, "hello") || !is_file(guest_dir, "hcbench")) {
        fprintf(stderr, "lifecycle: no hello/hcbench guest in %s "
                "(build them, or pass --guest-dir)\n", guest_dir);
        raw_kvm_close(&raw);
        return 1;
    }

    char run_dir[] = "/tmp/hv-bench-XXXXXX";
    if (!mkdtemp(run_dir)) {
        perror("lifecycle: mkdtemp");
        raw_kvm_close(&raw);
        return 1;
    }
    /* The core against raw KVM: no host registry unless $HV_STORE asks for
     * one (bench/xl measures the whole toolstack path). */
    hv_options_t hopts = {
        .size = sizeof hopts, .log = log_stderr, .log_level = HV_LOG_WARN,
        .run_dir = run_dir, .store = getenv("HV_STORE") ? NULL : "none",
    };
    hv_t *hv = NULL;
    err = hv_open(&hv, &hopts);
    if (err) {
        fprintf(stderr, "lifecycle: hv_open: %s\n", strerror(-err));
        raw_kvm_close(&raw);
        rmdir(run_dir);
        return err == -ENOENT || err == -EACCES || err == -EPERM ? 77 : 1;
    }

    int status = 1;
    struct first_output first = { .efd = -1 };
    double *lib_us = calloc(rounds, sizeof *lib_us);
    double *raw_us = calloc(rounds, sizeof *raw_us);
    double *lib_ph = calloc((size_t)rounds * RAW_PHASES, sizeof *lib_ph);
    double *raw_ph = calloc((size_t)rounds * RAW_PHASES, sizeof *raw_ph);
    double *lib_ns = calloc(reps, sizeof *lib_ns);
    double *raw_ns = calloc(reps, sizeof *raw_ns);
    if (!lib_us || !raw_us || !lib_ph || !raw_ph || !lib_ns || !raw_ns)
        goto out;
    first.efd = eventfd(0, EFD_CLOEXEC);
    if (first.efd < 0) {
        perror("lifecycle: eventfd");
        goto out;
    }

    /* Lifecycle: alternate which side goes first so drift hits both. */
    for (unsigned i = 0; i < warmup + rounds; i++) {
        for (int k = 0; k < 2; k++) {
            int libhv_turn = (k == 0) == (i % 2 == 0);
            uint64_t ph[RAW_PHASES];
            uint64_t t0 = now_ns();
            err = libhv_turn ? libhv_lifecycle(hv, hello, &first, ph)
                             : raw_kvm_lifecycle(&raw, (uint64_t)MEM_MB << 20, ph);
            uint64_t t1 = now_ns();
            if (err) {
                fprintf(stderr, "lifecycle: %s round %u failed: %s\n",
                        libhv_turn ? "libhv" : "raw", i, strerror(-err));
                goto out;
            }
            if (i < warmup)
                continue;
            unsigned r = i - warmup;
            (libhv_turn ? lib_us : raw_us)[r] = (double)(t1 - t0) / 1e3;
            for (int p = 0; p < RAW_PHASES; p++)
                (libhv_turn ? lib_ph : raw_ph)[p * rounds + r] =
                    (double)ph[p] / 1e3;
        }
    }
    double lib_med = median(lib_us, rounds), raw_med = median(raw_us, rounds);
    double lib_phm[RAW_PHASES], raw_phm[RAW_PHASES];
    for (int p = 0; p < RAW_PHASES; p++) {
        lib_phm[p] = median(lib_ph + p * rounds, rounds);
        raw_phm[p] = median(raw_ph + p * rounds, rounds);
    }
    printf("{\"bench\":\"lifecycle\",\"unit\":\"us\","
           "\"libhv_median\":%.1f,\"libhv_p90\":%.1f,"
           "\"raw_median\":%.1f,\"raw_p90\":%.1f,"
           "\"ratio\":%.3f,\"goal\":1.2,\"rounds\":%u,\"warmup\":%u,"
           "\"mem_mb\":%u,\"vcpus\":1,"
           "\"libhv_phases_median\":{\"create\":%.1f,\"build\":%.1f,"
           "\"run\":%.1f,\"destroy\":%.1f},"
           "\"raw_phases_median\":{\"create\":%.1f,\"build\":%.1f,"
           "\"run\":%.1f,\"destroy\":%.1f},"
           "\"libhv_until\":\"first console write of hello\","
           "\"raw_until\":\"first out exit\","
           "\"note\":\"libhv: hv_domain_create + hvg_build(hello ELF read "
           "from file) + start + wait for the console callback + destroy; the "
           "first console write is hello's first hypercall (the builder "
           "installs its trap table from its ELF note), and the figure "
           "includes waking the waiting thread. raw: same memfd RAM, CPL3 "
           "long-mode setup, copies a 13-byte code blob, runs on the calling "
           "thread.\"}\n",
           lib_med, percentile(lib_us, rounds, 90), raw_med,
           percentile(raw_us, rounds, 90), lib_med / raw_med, rounds, warmup,
           MEM_MB, lib_phm[0], lib_phm[1], lib_phm[2], lib_phm[3],
           raw_phm[0], raw_phm[1], raw_phm[2], raw_phm[3]);
    fflush(stdout);

    for (unsigned i = 0; i < reps; i++) {
        for (int k = 0; k < 2; k++) {
            int libhv_turn = (k == 0) == (i % 2 == 0);
            double ns;
            err = libhv_turn ? libhv_hcloop(hv, hcbench, calls, &ns)
                             : raw_kvm_hcloop(&raw, (uint64_t)MEM_MB << 20,
                                              calls, &ns);
            if (err) {
                fprintf(stderr, "lifecycle: %s hypercall run %u failed: %s\n",
                        libhv_turn ? "libhv" : "raw", i, strerror(-err));
                goto out;
            }
            (libhv_turn ? lib_ns : raw_ns)[i] = ns;
        }
    }
    lib_med = median(lib_ns, reps);
    raw_med = median(raw_ns, reps);
    printf("{\"bench\":\"hypercall\",\"unit\":\"ns\","
           "\"libhv_median\":%.0f,\"raw_median\":%.0f,\"ratio\":%.3f,"
           "\"goal\":1.05,\"calls\":%u,\"reps\":%u,"
           "\"libhv_min\":%.0f,\"raw_min\":%.0f,"
           "\"note\":\"(t_N - t_1)/(N - 1) per run. libhv: guest hcbench, "
           "vendor hypercall 0x%x into a registered host function. raw: "
           "an out loop; each exit reads RDI and writes RAX through "
           "KVM_CAP_SYNC_REGS.\"}\n",
           lib_med, raw_med, lib_med / raw_med, calls, reps, lib_ns[0],
           raw_ns[0], HC_NR);
    fflush(stdout);
    status = 0;

out:
    if (first.efd >= 0)
        close(first.efd);
    free(lib_us);
    free(raw_us);
    free(lib_ph);
    free(raw_ph);
    free(lib_ns);
    free(raw_ns);
    hv_close(hv);
    raw_kvm_close(&raw);
    nftw(run_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return status;
}
