/* SPDX-License-Identifier: MIT */
/* vcpu-list, vcpu-pin (host thread affinity), vcpu-set (vCPUs online). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl.h"

static int no_options(int argc, char **argv, const char *name, const char *usage)
{
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+h")) != -1) {
        if (opt == 'h') {
            printf("usage: xl %s %s\n", name, usage);
            return -1;
        }
        xl_usage(name, "unknown option '-%c'", optopt);
        return -2;
    }
    return 0;
}

static void list_vcpus(hv_t *hv, const hv_domain_info_t *i, uint32_t *cpus)
{
    hv_domain_t *dom;

    if (hv_domain_open(hv, i->domid, &dom) < 0)
        return; /* gone since the list */
    for (uint32_t n = 0; n < i->vcpus; n++) {
        hv_vcpu_info_t vi = {.size = sizeof(vi)};
        char cpu[16] = "-", aff[512] = "?";
        if (hv_vcpu_info(dom, n, &vi) < 0)
            continue;
        if (vi.online && vi.host_cpu >= 0)
            snprintf(cpu, sizeof(cpu), "%d", vi.host_cpu);
        int na = hv_vcpu_affinity_get(dom, n, cpus, HV_MAX_HOST_CPUS);
        if (na >= 0)
            xl_cpulist_format(cpus, (size_t)na < HV_MAX_HOST_CPUS ? (size_t)na : HV_MAX_HOST_CPUS,
                              aff, sizeof(aff));
        const char *st = !vi.online ? "---" : i->state == HV_DOMAIN_PAUSED ? "--p" : "r--";
        printf("%-32s %5u %5u %5s   %s %9.1f %s\n", i->name, i->domid, n, cpu, st,
               (double)vi.cpu_time_ns / 1e9, aff);
    }
    hv_domain_close(dom);
}

int cmd_vcpu_list(int argc, char **argv)
{
    int r = no_options(argc, argv, "vcpu-list", "[DOMAIN...]");
    if (r)
        return r == -1 ? XL_OK : XL_USAGE;
    hv_t *hv;
    if (xl_host_open(&hv) != XL_OK)
        return XL_FAIL;
    hv_domain_info_t *v = NULL;
    size_t n = 0;
    uint32_t *cpus = calloc(HV_MAX_HOST_CPUS, sizeof(*cpus));
    int ret = cpus ? xl_domain_infos(hv, argv + optind, argc - optind, &v, &n)
                   : xl_fail("out of memory");
    if (ret == XL_OK) {
        printf("%-32s %5s %5s %5s %5s %9s %s\n", "Name", "ID", "VCPU", "CPU", "State", "Time(s)",
               "Affinity");
        for (size_t k = 0; k < n; k++)
            list_vcpus(hv, &v[k], cpus);
    }
    free(cpus);
    free(v);
    hv_close(hv);
    return ret;
}

int cmd_vcpu_pin(int argc, char **argv)
{
    int r = no_options(argc, argv, "vcpu-pin", "DOMAIN VCPU|all CPUS|all");
    if (r)
        return r == -1 ? XL_OK : XL_USAGE;
    if (argc - optind != 3)
        return xl_usage("vcpu-pin", "expects DOMAIN VCPU CPUS");
    const char *ref = argv[optind], *vs = argv[optind + 1], *cs = argv[optind + 2];
    uint32_t vcpu = 0;
    bool all = strcmp(vs, "all") == 0;
    if (!all && xl_u32_parse(vs, &vcpu) < 0)
        return xl_usage("vcpu-pin", "'%s' is not a vCPU number", vs);
    uint32_t *cpus = calloc(HV_MAX_HOST_CPUS, sizeof(*cpus));
    size_t ncpus;
    if (!cpus)
        return xl_fail("out of memory");
    if (xl_cpulist_parse(cs, cpus, HV_MAX_HOST_CPUS, &ncpus) < 0) {
        free(cpus);
        return xl_usage("vcpu-pin", "'%s' is not a CPU list (like 0-1,3 or all)", cs);
    }
    hv_t *hv;
    hv_domain_t *dom = NULL;
    int ret = xl_host_open(&hv);
    if (ret == XL_OK)
        ret = xl_domain_get(hv, ref, &dom);
    if (ret == XL_OK) {
        hv_domain_info_t i = {.size = sizeof(i)};
        int err = all ? hv_domain_info(dom, &i) : 0;
        uint32_t first = all ? 0 : vcpu, last = all ? i.vcpus : vcpu + 1;
        for (uint32_t n = first; n < last && err >= 0; n++)
            if ((err = hv_vcpu_affinity_set(dom, n, cpus, ncpus)) < 0)
                vcpu = n;
        if (err < 0)
            ret = xl_fail_hv(hv, err, "domain %u: pinning vCPU %u", hv_domain_id(dom), vcpu);
    }
    free(cpus);
    hv_domain_close(dom);
    hv_close(hv);
    return ret;
}

int cmd_vcpu_set(int argc, char **argv)
{
    int r = no_options(argc, argv, "vcpu-set", "DOMAIN N");
    if (r)
        return r == -1 ? XL_OK : XL_USAGE;
    if (argc - optind != 2)
        return xl_usage("vcpu-set", "expects DOMAIN N");
    uint32_t count;
    if (xl_u32_parse(argv[optind + 1], &count) < 0 || count == 0)
        return xl_usage("vcpu-set", "'%s' is not a vCPU count (1 or more)", argv[optind + 1]);
    hv_t *hv;
    hv_domain_t *dom = NULL;
    int ret = xl_host_open(&hv);
    if (ret == XL_OK)
        ret = xl_domain_get(hv, argv[optind], &dom);
    if (ret == XL_OK) {
        int err = hv_domain_vcpus_set(dom, count);
        if (err < 0)
            ret = xl_fail_hv(hv, err, "domain %u: setting %u vCPUs online", hv_domain_id(dom),
                             count);
    }
    hv_domain_close(dom);
    hv_close(hv);
    return ret;
}
