/* SPDX-License-Identifier: MIT */
/* Boot: check the start info, install the trap table, run main. */
#include <stddef.h>

#include "asm.h"
#include "hypercall.h"
#include "rt.h"

_Static_assert(HVRT_TRAP_STRIDE == HV_TRAP_STRIDE, "asm.h: trap stride");
_Static_assert(HVRT_TRAP_VECTORS == HV_TRAP_VECTORS, "asm.h: trap vectors");
_Static_assert(HVRT_PORT_VCPU_DOWN == HV_HC_PORT(HV_HC_VCPU_DOWN), "asm.h: port");
_Static_assert(HVRT_ELFNOTE_TRAP_ENTRY == HV_ELFNOTE_TRAP_ENTRY, "asm.h: note type");

const struct hv_start_info *hvrt_si;
volatile struct hv_shared_info *hvrt_shared;

/* At most one argument per two bytes of command line, plus argv[0] and NULL. */
/* Small, so argv shares a page with the rest of the runtime's data: every
 * page touched at boot costs a shadow page fault on our hosts. */
#define MAX_ARGS 128
static char cmdline[HV_CMDLINE_MAX];
static char *argv[MAX_ARGS + 1];

static bool start_info_ok(uint64_t gpa)
{
    const struct hv_start_info *si = (const void *)(uintptr_t)gpa;

    if (gpa < HV_PAGE_SIZE || (gpa & (HV_PAGE_SIZE - 1)) != 0)
        return false;
    if (si->magic != HV_START_MAGIC || si->version != HV_ABI_VERSION)
        return false;
    /* Version 1 hosts fill at least everything before the device table. */
    if (si->size < offsetof(struct hv_start_info, devices))
        return false;
    if (si->mem_size < HV_MIN_MEMORY || gpa >= si->mem_size)
        return false;
    if (si->shared_info < HV_PAGE_SIZE || (si->shared_info & 7) != 0 ||
        si->shared_info > si->mem_size - sizeof(struct hv_shared_info))
        return false;
    return true;
}

void hvrt_start(uint64_t start_info_gpa)
{
    if (!start_info_ok(start_info_gpa))
        hv_shutdown(HV_SHUTDOWN_CRASH, 0); /* nothing else can be done */
    hvrt_si = (const void *)(uintptr_t)start_info_gpa;
    hvrt_shared = (volatile void *)(uintptr_t)hvrt_si->shared_info;

    /*
     * The builder installs the table our ELF note names and says so in the
     * start info; otherwise ask. A host without HV_FEAT_TRAP_ENTRY answers
     * -HV_ENOSYS and a fault then ends the domain the CPU's way (a triple
     * fault).
     */
    if (hvrt_si->size < offsetof(struct hv_start_info, trap_entry) + 8 ||
        hvrt_si->trap_entry != (uint64_t)(uintptr_t)hvrt_trap_table)
        hv_trap_install();
    hvrt_alloc_init(hvrt_si);

    memcpy(cmdline, hvrt_si->cmdline, sizeof(cmdline));
    cmdline[sizeof(cmdline) - 1] = '\0';
    static char arg0[] = "guest";
    argv[0] = arg0;
    int words = hvrt_cmdline_split(cmdline, argv + 1, MAX_ARGS - 1);
    if (words < 0) {
        printf("guest: more than %d arguments on the command line\n", MAX_ARGS - 1);
        hv_shutdown(HV_SHUTDOWN_CRASH, 0);
    }
    int argc = 1 + words;
    argv[argc] = NULL;

    hvrt_agent_tick(); /* data/uptime at boot; nothing without a store device */
    int ret = main(argc, argv);
    hv_shutdown(HV_SHUTDOWN_POWEROFF, (uint32_t)ret);
}

const struct hv_start_info *hv_start_info(void)
{
    return hvrt_si;
}

volatile struct hv_shared_info *hv_shared_info(void)
{
    return hvrt_shared;
}

uint32_t hv_nr_vcpus(void)
{
    return hvrt_si->nr_vcpus;
}
