/* SPDX-License-Identifier: MIT */
/* mem-set (the memory target the guest balloons to) and mem-max (its ceiling). */
#include <stdio.h>

#include "xl.h"

static int mem(int argc, char **argv, const char *name, bool max)
{
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+h")) != -1) {
        if (opt == 'h') {
            printf("usage: xl %s DOMAIN SIZE\n", name);
            return XL_OK;
        }
        return xl_usage(name, "unknown option '-%c'", optopt);
    }
    if (argc - optind != 2)
        return xl_usage(name, "expects DOMAIN SIZE");
    uint64_t bytes;
    if (xl_size_parse(argv[optind + 1], &bytes) < 0)
        return xl_usage(name, "'%s' is not a size (a number of MiB, or with suffix b, k, m, g, t)",
                        argv[optind + 1]);
    hv_t *hv;
    hv_domain_t *dom = NULL;
    int ret = xl_host_open(&hv);
    if (ret == XL_OK)
        ret = xl_domain_get(hv, argv[optind], &dom);
    if (ret == XL_OK) {
        int err = max ? hv_domain_memory_max_set(dom, bytes)
                      : hv_domain_memory_target_set(dom, bytes);
        if (err < 0)
            ret = xl_fail_hv(hv, err, "domain %u: %s %llu bytes", hv_domain_id(dom),
                             max ? "memory max" : "memory target", (unsigned long long)bytes);
    }
    hv_domain_close(dom);
    hv_close(hv);
    return ret;
}

int cmd_mem_set(int argc, char **argv) { return mem(argc, argv, "mem-set", false); }
int cmd_mem_max(int argc, char **argv) { return mem(argc, argv, "mem-max", true); }
