/* SPDX-License-Identifier: MIT */
/* The start info page: everything the guest needs to boot, with no lookups. */
#include <errno.h>
#include <string.h>

#include "internal.h"

int hvg_cmdline_check(hv_t *hv, const char *cmdline)
{
    size_t len = cmdline ? strlen(cmdline) : 0;
    /* A truncated command line would boot a guest with other options. */
    if (len > HV_CMDLINE_MAX - 1)
        return hv_error(hv, -E2BIG, "command line is %zu bytes long, at most "
                        "%u are allowed", len, HV_CMDLINE_MAX - 1);
    return 0;
}

void hvg_write_start_info(uint8_t *low, const hv_domain_info_t *info,
                          const struct hvg_elf_layout *image,
                          const char *cmdline,
                          const struct hv_device_desc *devs, uint32_t ndevs)
{
    struct hv_start_info si = {
        .magic = HV_START_MAGIC,
        .version = HV_ABI_VERSION,
        .size = sizeof(si),
        .nr_vcpus = info->vcpus,
        .features = HV_FEAT_SMP | HV_FEAT_TRAP_ENTRY | HV_FEAT_PVCLOCK | HV_FEAT_BALLOON |
                    HV_FEAT_VCPU_TARGET,
        .mem_size = info->memory_bytes,
        .shared_info = HV_GPA_SHARED_INFO,
        .image_start = image->image_start,
        .image_end = image->image_end,
        .stack_top = info->memory_bytes,
        .domid = info->domid,
        .nr_devices = ndevs,
        .trap_entry = image->trap_entry,
    };
    memcpy(si.uuid, info->uuid, sizeof(si.uuid));
    memcpy(si.devices, devs, ndevs * sizeof(devs[0]));
    if (cmdline)
        memcpy(si.cmdline, cmdline, strlen(cmdline) + 1);

    uint8_t *page = hvg_low_at(low, HV_GPA_START_INFO);
    memset(page, 0, HV_PAGE_SIZE);
    memcpy(page, &si, sizeof(si));

    /* libhv writes the clock and the targets when the domain starts. */
    memset(hvg_low_at(low, HV_GPA_SHARED_INFO), 0, HV_PAGE_SIZE);
}
