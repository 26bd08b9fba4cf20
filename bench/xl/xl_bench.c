/* SPDX-License-Identifier: MIT */
/*
 * bench/xl: the xl binary as a shell user runs it, in a private run dir with
 * its own hvstored.
 *
 *   create  `xl create -q -c hello.cfg` until hello's first console line
 *           reaches xl's stdout (fork+exec of xl, monitor spawn, domain
 *           create/build/start, console attach); baseline: fork+exec of
 *           `true` until it exits, in the same rounds. Goal: 10 ms.
 *   list    `xl list` with 100 domains running (4 MiB, 1 vCPU, guest/sleep);
 *           baseline: `xl list` with no domain, measured in the same run.
 *           Goal: 20 ms.
 *
 * JSON lines on stdout (medians and p90 in ms, ratio = xl / baseline);
 * diagnostics on stderr. Never passes or fails on time: the exit status says
 * only whether it ran (77: no usable /dev/kvm).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../store/jsonl.h"

static const char *xl_path = XL_BENCH_XL;
static char guest_dir[PATH_MAX] = XL_BENCH_GUEST_DIR;
static char dir[1024];
static pid_t store_pid = -1;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[(size_t)((double)(n - 1) * p + 0.5)];
}

/* fork+exec argv with stdout to out_fd (-1: /dev/null); returns the pid. */
static pid_t spawn(char *const argv[], int out_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
        dup2(null, STDIN_FILENO);
        if (!getenv("XL_BENCH_VERBOSE"))
            dup2(null, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int run(char *const argv[])
{
    int st;
    pid_t pid = spawn(argv, -1);
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int write_cfg(const char *path, const char *name, const char *guest, unsigned mb,
                     const char *cmdline)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "name = \"%s\"\nmemory = %u\nkernel = \"%s/%s\"\n", name, mb, guest_dir, guest);
    if (cmdline)
        fprintf(f, "cmdline = \"%s\"\n", cmdline);
    return fclose(f);
}

static int start_store(void)
{
    char sock[1100], data[1100], line[256];
    const char *hvstored = getenv("HV_HVSTORED");
    int p[2];

    if (!hvstored)
        hvstored = XL_BENCH_HVSTORED;
    snprintf(sock, sizeof(sock), "%s/run/store.sock", dir);
    snprintf(data, sizeof(data), "%s/state/store", dir);
    if (pipe(p) < 0)
        return -1;
    char *argv[] = {(char *)hvstored, "-f", "--socket", sock, "--data-dir", data, NULL};
    store_pid = spawn(argv, p[1]);
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    if (!f || !fgets(line, sizeof(line), f) || !strstr(line, "ready")) {
        fprintf(stderr, "xl_bench: hvstored did not start\n");
        return -1;
    }
    /* Keep the pipe open: hvstored may write more. */
    char uri[1200];
    snprintf(uri, sizeof(uri), "unix:%s", sock);
    setenv("HV_STORE", uri, 1);
    return 0;
}

static void cleanup(void)
{
    char cmd[4096];

    /* Monitors carry our run dir in their environment; hvstored dies last. */
    snprintf(cmd, sizeof(cmd),
             "for e in /proc/[0-9]*/environ; do p=${e#/proc/}; p=${p%%/environ}; "
             "[ $p = $PPID ] && continue; grep -qzx 'HV_RUNDIR=%s/run' $e 2>/dev/null && "
             "kill -9 $p; done 2>/dev/null; true",
             dir);
    if (store_pid > 0)
        kill(store_pid, SIGSTOP); /* not found by the scan's kill midway */
    if (system(cmd) < 0)
        fprintf(stderr, "xl_bench: cleanup failed\n");
    if (store_pid > 0) {
        kill(store_pid, SIGKILL);
        waitpid(store_pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) < 0)
        fprintf(stderr, "xl_bench: rm failed\n");
}

/* One `xl create -q -c`: ms until the first line; -1 on failure. */
static double create_round(const char *cfg)
{
    int p[2];
    char buf[256];

    if (pipe(p) < 0)
        return -1;
    char *argv[] = {(char *)xl_path, "create", "-q", "-c", (char *)cfg, NULL};
    double t0 = now_ms();
    pid_t pid = spawn(argv, p[1]);
    close(p[1]);
    double t = -1;
    size_t got = 0;
    ssize_t r;
    while ((r = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += (size_t)r;
        if (memchr(buf, '\n', got)) {
            t = now_ms() - t0;
            break;
        }
        if (got == sizeof(buf) - 1)
            break;
    }
    /* Drain until xl exits (hello powers off, the console closes). */
    while (read(p[0], buf, sizeof(buf)) > 0)
        ;
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return t;
}

static double time_run(char *const argv[])
{
    double t0 = now_ms();
    int rc = run(argv);
    return rc == 0 ? now_ms() - t0 : -1;
}

static void emit(const char *bench, const char *base_name, double *v, double *b, size_t n,
                 double goal, int domains)
{
    struct jsonl j;
    double med = pct(v, n, 0.5), p90 = pct(v, n, 0.9);
    double bmed = pct(b, n, 0.5), bp90 = pct(b, n, 0.9);

    jl_begin(&j);
    jl_str(&j, "bench", bench);
    jl_str(&j, "unit", "ms");
    jl_int(&j, "rounds", (int64_t)n);
    if (domains >= 0)
        jl_int(&j, "domains", domains);
    jl_num(&j, "xl_median", med, 3);
    jl_num(&j, "xl_p90", p90, 3);
    jl_str(&j, "baseline", base_name);
    jl_num(&j, "baseline_median", bmed, 3);
    jl_num(&j, "baseline_p90", bp90, 3);
    jl_num(&j, "ratio", bmed > 0 ? med / bmed : 0.0 / 0.0, 2);
    jl_num(&j, "goal_ms", goal, 1);
    jl_end(&j);
}

static int bench_create(unsigned rounds)
{
    double *v = calloc(rounds, sizeof(double)), *b = calloc(rounds, sizeof(double));
    char cfg[2048];
    char *truth[] = {"/bin/true", NULL};

    snprintf(cfg, sizeof(cfg), "%s/hello.cfg", dir);
    if (!v || !b || write_cfg(cfg, "bench-hello", "hello", 16, NULL) < 0)
        return -1;
    for (unsigned i = 0; i < rounds + 3; i++) {
        /* Alternate the order so drift hits both sides. */
        double x, y;
        if (i & 1) {
            y = time_run(truth);
            x = create_round(cfg);
        } else {
            x = create_round(cfg);
            y = time_run(truth);
        }
        if (x < 0 || y < 0) {
            fprintf(stderr, "xl_bench: create round %u failed\n", i);
            return -1;
        }
        if (i >= 3) { /* warm-up rounds dropped */
            v[i - 3] = x;
            b[i - 3] = y;
        }
    }
    emit("xl-create", "fork+exec true", v, b, rounds, 10.0, -1);
    free(v);
    free(b);
    return 0;
}

static int bench_list(unsigned rounds, unsigned ndom)
{
    double *v = calloc(rounds, sizeof(double)), *b = calloc(rounds, sizeof(double));
    char *list[] = {(char *)xl_path, "list", NULL};

    if (!v || !b)
        return -1;
    for (unsigned i = 0; i < rounds; i++)
        if ((b[i] = time_run(list)) < 0) {
            fprintf(stderr, "xl_bench: xl list failed\n");
            return -1;
        }
    for (unsigned i = 0; i < ndom; i++) {
        char cfg[2048], name[32];
        snprintf(name, sizeof(name), "bench-%u", i);
        snprintf(cfg, sizeof(cfg), "%s/%s.cfg", dir, name);
        char *argv[] = {(char *)xl_path, "create", "-q", cfg, NULL};
        if (write_cfg(cfg, name, "sleep", 4, "3600000") < 0 || run(argv) != 0) {
            fprintf(stderr, "xl_bench: creating domain %u failed\n", i);
            return -1;
        }
    }
    for (unsigned i = 0; i < rounds; i++)
        if ((v[i] = time_run(list)) < 0) {
            fprintf(stderr, "xl_bench: xl list failed\n");
            return -1;
        }
    emit("xl-list", "xl list, no domain", v, b, rounds, 20.0, (int)ndom);
    free(v);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned rounds = 30, domains = 100;
    int opt;

    if (getenv("HV_GUEST_DIR"))
        snprintf(guest_dir, sizeof(guest_dir), "%s", getenv("HV_GUEST_DIR"));
    while ((opt = getopt(argc, argv, "r:n:g:x:")) != -1) {
        switch (opt) {
        case 'r': rounds = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'n': domains = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'g': snprintf(guest_dir, sizeof(guest_dir), "%s", optarg); break;
        case 'x': xl_path = optarg; break;
        default:
            fprintf(stderr, "usage: xl_bench [-r ROUNDS] [-n DOMAINS] [-g GUEST_DIR] [-x XL]\n");
            return 2;
        }
    }
    if (rounds < 1)
        rounds = 1;
    if (access("/dev/kvm", R_OK | W_OK) < 0) {
        fprintf(stderr, "xl_bench: /dev/kvm: %s: skipped\n", strerror(errno));
        return 77;
    }
    snprintf(dir, sizeof(dir), "%s/xlbench.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("xl_bench: mkdtemp");
        return 1;
    }
    char run_dir[1100], state_dir[1100];
    snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
    snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
    mkdir(run_dir, 0700);
    mkdir(state_dir, 0700);
    setenv("HV_RUNDIR", run_dir, 1);
    setenv("HV_STATEDIR", state_dir, 1);
    int ret = 1;
    if (start_store() == 0 && bench_create(rounds) == 0 && bench_list(rounds, domains) == 0)
        ret = 0;
    cleanup();
    return ret;
}
