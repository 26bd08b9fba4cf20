/* SPDX-License-Identifier: MIT */
/*
 * xl top: xentop's table, refreshed every -d seconds; on a terminal the
 * screen is redrawn and 'q' quits, with -b (or output not a terminal) each
 * round is appended, -i N stops after N rounds. CPU(%) is the CPU time a
 * domain used since the previous round over the wall time between them.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <termios.h>
#include <time.h>

#include "xl.h"

struct sample {
    uint32_t domid;
    uint64_t start_time_ns; /* tells a restarted domid from the old one */
    uint64_t cpu_ns;
};

static const struct sample *find(const struct sample *s, size_t n, const hv_domain_info_t *i)
{
    for (size_t k = 0; k < n; k++)
        if (s[k].domid == i->domid && s[k].start_time_ns == i->start_time_ns)
            return &s[k];
    return NULL;
}

static void print_round(const hv_domain_info_t *v, size_t n, const struct sample *prev,
                        size_t nprev, double dt_ns)
{
    struct sysinfo si;
    unsigned running = 0, paused = 0, shut = 0, crashed = 0;
    char ts[16];
    time_t t = time(NULL);
    struct tm tm;

    sysinfo(&si);
    uint64_t total_k = (uint64_t)si.totalram * si.mem_unit >> 10;
    uint64_t free_k = (uint64_t)si.freeram * si.mem_unit >> 10;
    for (size_t k = 0; k < n; k++) {
        const char *s = xl_state_name(&v[k]);
        running += strcmp(s, "running") == 0;
        paused += strcmp(s, "paused") == 0;
        shut += strcmp(s, "shutdown") == 0;
        crashed += strcmp(s, "crashed") == 0;
    }
    strftime(ts, sizeof(ts), "%T", localtime_r(&t, &tm));
    printf("xl top - %s\n", ts);
    printf("%zu domains: %u running, %u paused, %u shutdown, %u crashed\n", n, running, paused,
           shut, crashed);
    printf("Mem: %lluk total, %lluk used, %lluk free    CPUs: %ld\n",
           (unsigned long long)total_k, (unsigned long long)(total_k - free_k),
           (unsigned long long)free_k, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%10s %6s %10s %6s %10s %6s %10s %9s %5s %5s\n", "NAME", "STATE", "CPU(sec)",
           "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "ID");
    for (size_t k = 0; k < n; k++) {
        const hv_domain_info_t *i = &v[k];
        const struct sample *p = find(prev, nprev, i);
        double pct = 0.0;
        if (p && dt_ns > 0 && i->cpu_time_ns >= p->cpu_ns)
            pct = (double)(i->cpu_time_ns - p->cpu_ns) * 100.0 / dt_ns;
        uint64_t mem_k = (i->memory_actual_bytes ? i->memory_actual_bytes : i->memory_bytes) >> 10;
        uint64_t max_k = (i->memory_max_bytes ? i->memory_max_bytes : i->memory_bytes) >> 10;
        printf("%10.10s %6s %10llu %6.1f %10llu %6.1f %10llu %9.1f %5u %5u\n", i->name,
               xl_state_letters(i), (unsigned long long)(i->cpu_time_ns / 1000000000ull), pct,
               (unsigned long long)mem_k, total_k ? mem_k * 100.0 / (double)total_k : 0.0,
               (unsigned long long)max_k, total_k ? max_k * 100.0 / (double)total_k : 0.0,
               i->vcpus, i->domid);
    }
}

/* Waits delay seconds; on a terminal returns 1 early when 'q' is typed. */
static int pause_round(double delay, bool tty)
{
    uint64_t end = xl_now_ns(CLOCK_MONOTONIC) + (uint64_t)(delay * 1e9);

    for (;;) {
        uint64_t now = xl_now_ns(CLOCK_MONOTONIC);
        if (now >= end)
            return 0;
        int ms = (int)((end - now + 999999) / 1000000);
        struct pollfd p = {.fd = tty ? STDIN_FILENO : -1, .events = POLLIN};
        int r = poll(&p, 1, ms);
        if (r > 0) {
            char c;
            if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
                return 1;
            if (r > 0 && (p.revents & (POLLHUP | POLLERR)))
                tty = false;
        }
    }
}

static void keys_mode(struct termios *t)
{
    t->c_lflag &= ~(tcflag_t)(ICANON | ECHO);
}

int cmd_top(int argc, char **argv)
{
    bool batch = false;
    double delay = 3.0;
    long iterations = -1;
    char *end;
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+bd:i:h")) != -1) {
        switch (opt) {
        case 'b': batch = true; break;
        case 'd':
            errno = 0;
            delay = strtod(optarg, &end);
            if (errno || *end || !(delay >= 0.0) || delay > 86400.0 || isnan(delay))
                return xl_usage("top", "-d: '%s' is not a delay in seconds", optarg);
            break;
        case 'i':
            errno = 0;
            iterations = strtol(optarg, &end, 10);
            if (errno || *end || iterations < 1)
                return xl_usage("top", "-i: '%s' is not a count (1 or more)", optarg);
            break;
        case 'h': printf("usage: xl top [-b] [-d SECONDS] [-i N]\n"); return XL_OK;
        case ':': return xl_usage("top", "option -%c needs an argument", optopt);
        default:
            if (optopt == 'd' || optopt == 'i')
                return xl_usage("top", "option -%c needs an argument", optopt);
            return xl_usage("top", "unknown option '-%c'", optopt);
        }
    }
    if (optind != argc)
        return xl_usage("top", "no operands expected");
    bool tty = !batch && isatty(STDOUT_FILENO);
    hv_t *hv;
    if (xl_host_open(&hv) != XL_OK)
        return XL_FAIL;
    /* 'q' without Enter, not echoed; Ctrl-C still works (ISIG). */
    bool kbd = tty && xl_term_set(STDIN_FILENO, keys_mode) == 0;
    struct sample *prev = NULL;
    size_t nprev = 0;
    uint64_t prev_t = 0;
    int ret = XL_OK;
    for (long round = 0; iterations < 0 || round < iterations; round++) {
        hv_domain_info_t *v;
        size_t n;
        if ((ret = xl_domain_list(hv, &v, &n)) != XL_OK)
            break;
        uint64_t now = xl_now_ns(CLOCK_MONOTONIC);
        if (tty)
            fputs("\033[H\033[2J", stdout);
        else if (round)
            putchar('\n');
        print_round(v, n, prev, nprev, prev ? (double)(now - prev_t) : 0.0);
        fflush(stdout);
        free(prev);
        prev = calloc(n ? n : 1, sizeof(*prev));
        nprev = prev ? n : 0;
        for (size_t k = 0; k < nprev; k++)
            prev[k] = (struct sample){v[k].domid, v[k].start_time_ns, v[k].cpu_time_ns};
        prev_t = now;
        free(v);
        if ((iterations < 0 || round + 1 < iterations) && pause_round(delay, kbd))
            break;
    }
    free(prev);
    xl_term_restore();
    hv_close(hv);
    return ret;
}
