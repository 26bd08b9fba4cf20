/* SPDX-License-Identifier: MIT */
/* xl info (the host) and xl uptime (the domains). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>

#include "xl.h"

#ifndef XL_VERSION
#define XL_VERSION "unknown"
#endif

static void row(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row(const char *key, const char *fmt, ...)
{
    va_list ap;

    printf("%-23s: ", key);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void kvm_row(void)
{
    const char *path = "/dev/kvm";
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        row("kvm", "%s: %s", path, strerror(errno));
        return;
    }
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    int nested = -1;
    FILE *f = fopen("/sys/module/kvm_intel/parameters/nested", "re");
    if (!f)
        f = fopen("/sys/module/kvm_amd/parameters/nested", "re");
    if (f) {
        int c = fgetc(f);
        nested = c == 'Y' || c == '1';
        fclose(f);
    }
    row("kvm", "%s, API version %d%s", path, v,
        nested < 0 ? "" : nested ? ", nested enabled" : "");
    close(fd);
}

int cmd_info(int argc, char **argv)
{
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+h")) != -1) {
        if (opt == 'h') {
            printf("usage: xl info\n");
            return XL_OK;
        }
        return xl_usage("info", "unknown option '-%c'", optopt);
    }
    if (optind != argc)
        return xl_usage("info", "no operands expected");
    hv_t *hv;
    if (xl_host_open(&hv) != XL_OK)
        return XL_FAIL;
    struct utsname u;
    struct sysinfo si;
    char store[4096];
    uname(&u);
    sysinfo(&si);
    long ndom = hv_domain_list(hv, NULL, 0);
    const char *sd = getenv("HV_STATEDIR");

    row("host", "%s", u.nodename);
    row("release", "%s", u.release);
    row("machine", "%s", u.machine);
    row("nr_cpus", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    row("total_memory", "%llu", (unsigned long long)si.totalram * si.mem_unit >> 20);
    row("free_memory", "%llu", (unsigned long long)si.freeram * si.mem_unit >> 20);
    kvm_row();
    row("hv_version", "%d.%d", HV_VERSION_MAJOR, HV_VERSION_MINOR);
    row("hv_max_vcpus", "%d", HV_MAX_VCPUS);
    row("xl_version", "%s", XL_VERSION);
    xl_store_uri(store, sizeof(store));
    row("store", "%s", store);
    row("run_dir", "%s", xl_run_dir());
    row("state_dir", "%s", sd && *sd ? sd : "/var/lib/hv");
    if (ndom < 0)
        row("nr_domains", "unknown (%s)", hv_last_error(hv));
    else
        row("nr_domains", "%ld", ndom);
    hv_close(hv);
    return XL_OK;
}

static void format_uptime(uint64_t s, char *buf, size_t len)
{
    uint64_t d = s / 86400;

    s %= 86400;
    if (d)
        snprintf(buf, len, "%llu day%s, %2u:%02u:%02u", (unsigned long long)d,
                 d == 1 ? "" : "s", (unsigned)(s / 3600), (unsigned)(s / 60 % 60),
                 (unsigned)(s % 60));
    else
        snprintf(buf, len, "%2u:%02u:%02u", (unsigned)(s / 3600), (unsigned)(s / 60 % 60),
                 (unsigned)(s % 60));
}

int cmd_uptime(int argc, char **argv)
{
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+h")) != -1) {
        if (opt == 'h') {
            printf("usage: xl uptime [DOMAIN...]\n");
            return XL_OK;
        }
        return xl_usage("uptime", "unknown option '-%c'", optopt);
    }
    hv_t *hv;
    if (xl_host_open(&hv) != XL_OK)
        return XL_FAIL;
    hv_domain_info_t *v = NULL;
    size_t n = 0;
    int ret = xl_domain_infos(hv, argv + optind, argc - optind, &v, &n);
    if (ret == XL_OK) {
        uint64_t now = xl_now_ns(CLOCK_REALTIME);
        printf("%-33s %4s %s\n", "Name", "ID", "Uptime");
        for (size_t k = 0; k < n; k++) {
            char up[64] = "-";
            if (v[k].start_time_ns && now >= v[k].start_time_ns)
                format_uptime((now - v[k].start_time_ns) / 1000000000ull, up, sizeof(up));
            printf("%-33s %4u %s\n", v[k].name, v[k].domid, up);
        }
    }
    free(v);
    hv_close(hv);
    return ret;
}
