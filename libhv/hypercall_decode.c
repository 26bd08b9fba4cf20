/* SPDX-License-Identifier: MIT */
#include "hypercall_decode.h"

#include <string.h>

static const struct {
    uint32_t size;
    enum guest_access access; /* WRITE where the host writes outputs back */
} arg_layout[HV_HC_NR_CORE] = {
    [HV_HC_CONSOLE_WRITE] = {sizeof(struct hv_hc_console_write), GUEST_ACCESS_READ},
    [HV_HC_SHUTDOWN] = {sizeof(struct hv_hc_shutdown), GUEST_ACCESS_READ},
    [HV_HC_POLL] = {sizeof(struct hv_hc_poll), GUEST_ACCESS_WRITE},
    [HV_HC_WALLCLOCK] = {sizeof(struct hv_hc_wallclock), GUEST_ACCESS_WRITE},
    [HV_HC_VCPU_UP] = {sizeof(struct hv_hc_vcpu_up), GUEST_ACCESS_READ},
    [HV_HC_SET_TRAP_ENTRY] = {sizeof(struct hv_hc_set_trap_entry), GUEST_ACCESS_READ},
    [HV_HC_CRASH] = {sizeof(struct hv_hc_crash), GUEST_ACCESS_READ},
    [HV_HC_VCPU_DOWN] = {0, GUEST_ACCESS_READ},
    [HV_HC_MEMORY_RELEASE] = {sizeof(struct hv_hc_memory), GUEST_ACCESS_READ},
    [HV_HC_MEMORY_RECLAIM] = {sizeof(struct hv_hc_memory), GUEST_ACCESS_READ},
};

static int check_values(const struct hv_guest_mem *m, uint32_t nr_vcpus,
                        struct hc_call *c)
{
    union hc_args *a = &c->args;

    switch (c->nr) {
    case HV_HC_CONSOLE_WRITE:
        if (a->console_write.len > HV_CONSOLE_WRITE_MAX)
            return -HV_EINVAL;
        c->data = guest_mem_ptr(m, a->console_write.buf, a->console_write.len,
                                GUEST_ACCESS_READ);
        return c->data ? 0 : -HV_EFAULT;
    case HV_HC_SHUTDOWN:
        return a->shutdown.reason <= HV_SHUTDOWN_CRASH ? 0 : -HV_EINVAL;
    case HV_HC_VCPU_UP:
        if (a->vcpu_up.vcpu == 0 || a->vcpu_up.vcpu >= nr_vcpus)
            return -HV_EINVAL;
        if (!hc_canonical(a->vcpu_up.rip) || !hc_canonical(a->vcpu_up.rsp))
            return -HV_EINVAL;
        return 0;
    case HV_HC_SET_TRAP_ENTRY:
        return hc_trap_table_ok(m, a->set_trap_entry.rip) ? 0 : -HV_EINVAL;
    case HV_HC_MEMORY_RELEASE:
    case HV_HC_MEMORY_RECLAIM:
        return hc_memory_range_ok(m, a->memory.gpa, a->memory.npages);
    default:
        return 0;
    }
}

int hc_decode(const struct hv_guest_mem *m, uint32_t nr, uint64_t arg_gpa,
              uint32_t nr_vcpus, struct hc_call *call)
{
    memset(call, 0, sizeof(*call));
    call->nr = nr;
    call->arg_gpa = arg_gpa;
    if (nr >= HV_HC_NR_CORE)
        return -HV_ENOSYS;

    uint32_t size = arg_layout[nr].size;
    if (size) {
        void *p = guest_mem_ptr(m, arg_gpa, size, arg_layout[nr].access);
        if (!p)
            return -HV_EFAULT;
        memcpy(&call->args, p, size);
        if (arg_layout[nr].access == GUEST_ACCESS_WRITE)
            call->out = p;
    }
    return check_values(m, nr_vcpus, call);
}
