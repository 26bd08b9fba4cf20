/* SPDX-License-Identifier: MIT */
#include "balloon_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hv_domain_t *bu_domain(struct tu_env *env, const char *cmdline, uint64_t mem_mb,
                       uint64_t maxmem_mb, uint32_t vcpus, uint32_t vcpus_online,
                       struct tu_console **con)
{
    hv_domain_config_t cfg = {0};
    hv_domain_t *dom = NULL;
    char name[64];

    tu_domain_name(name, sizeof(name), "balloon");
    cfg.size = sizeof(cfg);
    cfg.name = name;
    cfg.memory_mb = mem_mb;
    cfg.maxmem_mb = maxmem_mb;
    cfg.vcpus = vcpus;
    cfg.vcpus_online = vcpus_online;
    int rc = hv_domain_create(env->hv, &cfg, &dom);
    if (rc < 0)
        fail_msg("hv_domain_create: %d: %s", rc, hv_last_error(env->hv));
    struct tu_console *c = tu_env_adopt(env, dom);
    char *path = tu_guest_path("balloon");
    hvg_build_options_t o = {0};
    o.size = sizeof(o);
    o.kernel = path;
    o.cmdline = cmdline;
    rc = hvg_build(dom, &o);
    free(path);
    if (rc < 0)
        fail_msg("hvg_build: %d: %s", rc, hv_last_error(env->hv));
    if (con)
        *con = c;
    return dom;
}

void bu_wait_state(struct tu_console *con, uint64_t pages, uint32_t vcpus)
{
    char want[96];

    snprintf(want, sizeof(want), "balloon: pages=%llu vcpus=%u\n",
             (unsigned long long)pages, vcpus);
    tu_check(tu_console_wait(con, want, tu_timeout_ms()) == 0, con, "no \"%.*s\"",
             (int)strlen(want) - 1, want);
}
