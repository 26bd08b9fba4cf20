/* SPDX-License-Identifier: MIT */
/*
 * SET_TRAP_ENTRY: points IDT vectors 0-31 at the guest's CPL3 stubs. They
 * must be trap gates with DPL3 and the user code selector: an interrupt gate
 * would clear IF, which a CPL3 iretq cannot set again.
 */
#include <errno.h>
#include <string.h>

#include "hypercall_decode.h"

#include "internal.h"

#define GATE_TRAP_DPL3 0xEFu /* present, DPL3, 64-bit trap gate */

void trap_install(struct hv_domain *d, uint64_t rip)
{
    uint8_t *idt = d->mem.base + HV_GPA_IDT;

    for (unsigned v = 0; v < HV_TRAP_VECTORS; v++) {
        uint64_t target = rip + (uint64_t)v * HV_TRAP_STRIDE;
        uint8_t gate[16] = {
            (uint8_t)target, (uint8_t)(target >> 8),
            HV_SEL_USER_CS, 0,
            0, GATE_TRAP_DPL3,
            (uint8_t)(target >> 16), (uint8_t)(target >> 24),
            (uint8_t)(target >> 32), (uint8_t)(target >> 40),
            (uint8_t)(target >> 48), (uint8_t)(target >> 56),
        };
        memcpy(idt + v * sizeof(gate), gate, sizeof(gate));
    }
}

HV_EXPORT int hv_domain_trap_entry_set(hv_domain_t *dom, uint64_t rip)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    int err = 0;

    if (!dom)
        return -EINVAL;
    if (!hc_trap_table_ok(&dom->mem, rip))
        return hv_error(dom->hv, -EINVAL, "domain %u: trap table at 0x%llx is not "
                        "%u bytes of guest RAM", dom->domid, (unsigned long long)rip,
                        HV_TRAP_STRIDE * HV_TRAP_VECTORS);
    pthread_mutex_lock(&dom->lock);
    if (dom->state == HV_DOMAIN_CREATED)
        trap_install(dom, rip);
    else
        err = hv_error(dom->hv, -EBUSY, "domain %u: set the trap entry before "
                       "start (a running guest uses SET_TRAP_ENTRY)", dom->domid);
    pthread_mutex_unlock(&dom->lock);
    return err;
}
