/* SPDX-License-Identifier: MIT */
/* xl list: Xen's table, or with -l a JSON array through yajl's generator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>
#include <yajl/yajl_gen.h>

#include "xl.h"

static uint64_t mem_now(const hv_domain_info_t *i)
{
    return i->memory_actual_bytes ? i->memory_actual_bytes : i->memory_bytes;
}

static uint32_t vcpus_shown(const hv_domain_info_t *i)
{
    /* An exited domain has no vCPU online; Xen shows its count anyway. */
    if (i->state == HV_DOMAIN_RUNNING || i->state == HV_DOMAIN_PAUSED)
        return i->vcpus_online;
    return i->vcpus;
}

static void print_table(const hv_domain_info_t *v, size_t n)
{
    printf("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
    for (size_t k = 0; k < n; k++) {
        const hv_domain_info_t *i = &v[k];
        printf("%-40s %5u %5llu %5u     %s %8.1f\n", i->name, i->domid,
               (unsigned long long)(mem_now(i) >> 20), vcpus_shown(i), xl_state_letters(i),
               (double)i->cpu_time_ns / 1e9);
    }
}

static void gs(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gi(yajl_gen g, const char *k, long long v)
{
    gs(g, k);
    yajl_gen_integer(g, v);
}

static const char *exit_name(hv_exit_reason_t r)
{
    switch (r) {
    case HV_EXIT_POWEROFF: return "poweroff";
    case HV_EXIT_REBOOT: return "reboot";
    case HV_EXIT_CRASH: return "crash";
    case HV_EXIT_DESTROYED: return "destroyed";
    default: return NULL;
    }
}

static int print_json(const hv_domain_info_t *v, size_t n)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char u[37];

    if (!g)
        return xl_fail("out of memory");
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    yajl_gen_array_open(g);
    for (size_t k = 0; k < n; k++) {
        const hv_domain_info_t *i = &v[k];
        yajl_gen_map_open(g);
        gi(g, "domid", i->domid);
        gs(g, "name");
        gs(g, i->name);
        uuid_unparse_lower(i->uuid, u);
        gs(g, "uuid");
        gs(g, u);
        gs(g, "state");
        gs(g, xl_state_name(i));
        gs(g, "exit_reason");
        const char *why = i->state == HV_DOMAIN_SHUTDOWN ? exit_name(i->exit_reason) : NULL;
        if (why)
            gs(g, why);
        else
            yajl_gen_null(g);
        gi(g, "exit_code", i->exit_code);
        gs(g, "memory");
        yajl_gen_map_open(g);
        gi(g, "bytes", (long long)i->memory_bytes);
        gi(g, "target", (long long)i->memory_target_bytes);
        gi(g, "max", (long long)i->memory_max_bytes);
        gi(g, "actual", (long long)i->memory_actual_bytes);
        yajl_gen_map_close(g);
        gi(g, "vcpus", i->vcpus);
        gi(g, "vcpus_online", i->vcpus_online);
        gi(g, "vcpus_target", i->vcpus_target);
        gi(g, "cpu_time_ns", (long long)i->cpu_time_ns);
        char secs[32];
        int w = snprintf(secs, sizeof(secs), "%.6f", (double)i->cpu_time_ns / 1e9);
        gs(g, "cpu_time"); /* seconds, as Xen; microsecond digits, not yajl's %.20g */
        yajl_gen_number(g, secs, (size_t)w);
        gi(g, "start_time_ns", (long long)i->start_time_ns);
        gi(g, "monitor_pid", i->monitor_pid);
        gs(g, "config");
        xl_record_emit(g, i->domid, i->uuid);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return xl_fail("generating JSON failed");
    }
    fwrite(buf, 1, len, stdout);
    if (len && buf[len - 1] != '\n')
        putchar('\n');
    yajl_gen_free(g);
    return XL_OK;
}

int cmd_list(int argc, char **argv)
{
    bool json = false;
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+lh")) != -1) {
        switch (opt) {
        case 'l': json = true; break;
        case 'h': printf("usage: xl list [-l] [DOMAIN...]\n"); return XL_OK;
        default: return xl_usage("list", "unknown option '-%c'", optopt);
        }
    }
    hv_t *hv;
    if (xl_host_open(&hv) != XL_OK)
        return XL_FAIL;
    hv_domain_info_t *v = NULL;
    size_t n = 0;
    int ret = xl_domain_infos(hv, argv + optind, argc - optind, &v, &n);
    if (ret == XL_OK) {
        if (json)
            ret = print_json(v, n);
        else
            print_table(v, n);
    }
    free(v);
    hv_close(hv);
    if (fflush(stdout) != 0 && ret == XL_OK)
        ret = xl_fail("writing the output failed");
    return ret;
}
