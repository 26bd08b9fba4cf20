/* SPDX-License-Identifier: MIT */
/*
 * hvg_build: everything is validated and mapped first, then written, so a
 * refused build leaves guest RAM untouched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hvguest.h"
#include "internal.h"
#include "../libhv/struct_io.h"

static int check_domain(hv_t *hv, const hv_domain_info_t *di)
{
    if (di->state != HV_DOMAIN_CREATED)
        return hv_error(hv, -EBUSY, "domain %u: cannot build a domain that "
                        "has already been started", di->domid);
    /* The page tables map RAM in 2 MiB pages and have HV_MAX_PDS PDs. */
    if (di->memory_bytes % HV_LARGE_PAGE_SIZE)
        return hv_error(hv, -EINVAL, "domain %u: memory size %llu bytes is "
                        "not a multiple of 2 MiB", di->domid,
                        (unsigned long long)di->memory_bytes);
    if (di->memory_bytes < HV_MIN_MEMORY || di->memory_bytes > HV_MAX_MEMORY)
        return hv_error(hv, -EINVAL, "domain %u: memory size %llu MiB is "
                        "outside %llu..%llu MiB", di->domid,
                        (unsigned long long)(di->memory_bytes >> 20),
                        (unsigned long long)(HV_MIN_MEMORY >> 20),
                        (unsigned long long)(HV_MAX_MEMORY >> 20));
    if (di->vcpus == 0)
        return hv_error(hv, -EINVAL, "domain %u has no vCPU", di->domid);
    return 0;
}

/* Writes the low memory, segments and boot vCPU of a validated build. */
static int commit(hv_domain_t *dom, const hv_domain_info_t *di,
                  const struct hvg_elf_plan *plan, const void *image,
                  uint8_t *low, const char *cmdline)
{
    hvg_elf_commit(plan, image);
    hvg_write_descriptors(low);
    hvg_write_page_tables(low, di->memory_bytes);
    struct hv_device_desc devs[HV_MAX_DEVICES];
    int ndev = hv_domain_devices(dom, devs, HV_MAX_DEVICES);
    if (ndev < 0)
        return ndev;
    hvg_write_start_info(low, di, &plan->layout, cmdline, devs,
                         (uint32_t)(ndev < (int)HV_MAX_DEVICES ? ndev : (int)HV_MAX_DEVICES));
    /* The image named its trap table: install it now and spare the guest
     * the SET_TRAP_ENTRY exit at boot (the start info tells it so). */
    if (plan->layout.trap_entry) {
        int r = hv_domain_trap_entry_set(dom, plan->layout.trap_entry);
        if (r < 0)
            return r;
    }

    hv_vcpu_entry_t entry = {
        .size = sizeof(entry),
        .rip = plan->layout.entry,
        .rsp = di->memory_bytes, /* the start info's stack_top */
        .rdi = HV_GPA_START_INFO,
    };
    return hv_vcpu_set_entry(dom, 0, &entry);
}

int hvg_build(hv_domain_t *dom, const hvg_build_options_t *user)
{
    hvg_build_options_t o, *opts = &o;

    if (!dom)
        return -EINVAL;
    hv_t *hv = hv_domain_host(dom);
    if (!user || struct_in(&o, sizeof(o), user, sizeof(o)) < 0)
        return hv_error(hv, -EINVAL, "hvg_build: options missing, their size "
                        "field not set, or fields this libhvguest does not know set");

    hv_domain_info_t di = { .size = sizeof(di) };
    int r = hv_domain_info(dom, &di);
    if (r < 0)
        return r;
    if ((r = check_domain(hv, &di)) < 0 ||
        (r = hvg_cmdline_check(hv, opts->cmdline)) < 0)
        return r;

    const void *image = opts->image;
    size_t len = opts->image_len;
    const char *name = "kernel image";
    void *file = NULL;
    if (opts->kernel) {
        if ((r = hvg_read_file(hv, opts->kernel, &file, &len)) < 0)
            return r;
        image = file;
        name = opts->kernel;
    } else if (!image) {
        return hv_error(hv, -EINVAL, "hvg_build: no kernel path or image");
    }

    /* The plan is a few KiB: keep it off the caller's stack. */
    struct hvg_elf_plan *plan = malloc(sizeof(*plan));
    void *low = NULL;
    if (!plan) {
        r = hv_error(hv, -ENOMEM, "hvg_build: out of memory");
        goto out;
    }
    if ((r = hvg_elf_prepare(dom, image, len, name, di.memory_bytes, plan)) < 0)
        goto out;
    r = hv_domain_memory_map(dom, HVG_LOW_BASE, HVG_LOW_END - HVG_LOW_BASE, &low);
    if (r < 0) {
        r = hv_error(hv, r, "domain %u: cannot map the builder area",
                     di.domid);
        goto out;
    }
    r = commit(dom, &di, plan, image, low, opts->cmdline);
out:
    free(plan);
    free(file);
    return r;
}
