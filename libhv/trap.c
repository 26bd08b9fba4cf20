/* SPDX-License-Identifier: MIT */
/*
 * SET_TRAP_ENTRY: points IDT vectors 0-31 at the guest's CPL3 stubs. They
 * must be trap gates with DPL3 and the user code selector: an interrupt gate
 * would clear IF, which a CPL3 iretq cannot set again.
 */
#include <string.h>

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
