/* SPDX-License-Identifier: MIT */
/* Parsing and formatting shared by the commands: CPU lists, sizes, states. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xl.h"

static int parse_cpu(const char **p, uint32_t *out)
{
    char *end;

    if (!isdigit((unsigned char)**p))
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(*p, &end, 10);
    if (errno || v >= HV_MAX_HOST_CPUS)
        return -ERANGE;
    *out = (uint32_t)v;
    *p = end;
    return 0;
}

int xl_cpulist_parse(const char *s, uint32_t *cpus, size_t max, size_t *ncpus)
{
    unsigned char set[HV_MAX_HOST_CPUS] = {0};
    const char *p = s;

    *ncpus = 0;
    if (strcmp(s, "all") == 0)
        return 0;
    long nconf = sysconf(_SC_NPROCESSORS_CONF);
    if (nconf < 1 || nconf > HV_MAX_HOST_CPUS)
        nconf = HV_MAX_HOST_CPUS;
    /* Xen's syntax: "^N" removes; a list that starts with one removes from all. */
    if (*p == '^')
        memset(set, 1, (size_t)nconf);
    for (;;) {
        bool exclude = *p == '^';
        uint32_t a, b;
        int err;

        if (exclude)
            p++;
        if (!exclude && strncmp(p, "all", 3) == 0) {
            memset(set, 1, (size_t)nconf);
            p += 3;
        } else {
            if ((err = parse_cpu(&p, &a)) < 0)
                return err;
            b = a;
            if (*p == '-') {
                p++;
                if ((err = parse_cpu(&p, &b)) < 0)
                    return err;
                if (b < a)
                    return -EINVAL;
            }
            for (uint32_t c = a; c <= b; c++)
                set[c] = !exclude;
        }
        if (*p == '\0')
            break;
        if (*p != ',')
            return -EINVAL;
        p++;
    }
    for (uint32_t c = 0; c < HV_MAX_HOST_CPUS; c++)
        if (set[c]) {
            if (*ncpus == max)
                return -E2BIG;
            cpus[(*ncpus)++] = c;
        }
    return *ncpus ? 0 : -EINVAL;
}

void xl_cpulist_format(const uint32_t *cpus, size_t n, char *buf, size_t len)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    size_t used = 0;

    buf[0] = '\0';
    if (n == 0 || (online > 0 && n == (size_t)online && cpus[0] == 0 &&
                   cpus[n - 1] == (uint32_t)online - 1)) {
        snprintf(buf, len, "all");
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
            j++;
        int w = j > i ? snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", cpus[i],
                                 cpus[j])
                      : snprintf(buf + used, len - used, "%s%u", used ? "," : "", cpus[i]);
        if (w < 0 || (size_t)w >= len - used) {
            buf[used] = '\0';
            return;
        }
        used += (size_t)w;
        i = j + 1;
    }
}

int xl_size_parse(const char *s, uint64_t *bytes)
{
    char *end;

    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned shift;
    switch (tolower((unsigned char)*end)) {
    case 'b': shift = 0; break;
    case 'k': shift = 10; break;
    case '\0':
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: return -EINVAL;
    }
    if (*end && end[1] != '\0' && !((end[1] == 'b' || end[1] == 'B') && end[2] == '\0'))
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *bytes = (uint64_t)v << shift;
    return 0;
}

int xl_u32_parse(const char *s, uint32_t *out)
{
    char *end;

    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > UINT32_MAX)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

const char *xl_state_letters(const hv_domain_info_t *i)
{
    switch (i->state) {
    case HV_DOMAIN_RUNNING: return "r-----";
    case HV_DOMAIN_PAUSED: return "--p---";
    case HV_DOMAIN_SHUTDOWN: return i->exit_reason == HV_EXIT_CRASH ? "----c-" : "---s--";
    default: return "------";
    }
}

const char *xl_state_name(const hv_domain_info_t *i)
{
    switch (i->state) {
    case HV_DOMAIN_RUNNING: return "running";
    case HV_DOMAIN_PAUSED: return "paused";
    case HV_DOMAIN_SHUTDOWN: return i->exit_reason == HV_EXIT_CRASH ? "crashed" : "shutdown";
    default: return "created";
    }
}

uint64_t xl_now_ns(int clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *xl_run_dir(void)
{
    const char *d = getenv("HV_RUNDIR");
    return d && *d ? d : "/run/hv";
}

int xl_mkdir_p(const char *path, unsigned mode)
{
    char buf[PATH_MAX];

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = c;
        if (c == '\0')
            return 0;
    }
}

void xl_store_uri(char *buf, size_t len)
{
    const char *s = getenv("HV_STORE");

    if (s && *s)
        snprintf(buf, len, "%s", s);
    else
        snprintf(buf, len, "unix:%s/store.sock", xl_run_dir());
}

bool xl_store_none(void)
{
    char uri[16];

    xl_store_uri(uri, sizeof(uri));
    return strcmp(uri, "none") == 0;
}
