/* SPDX-License-Identifier: MIT */
/*
 * Constants the assembly files need. Plain #defines only: <hv/abi.h> holds C
 * declarations an assembler cannot read. start.c checks every value here
 * against <hv/abi.h> with static assertions.
 */
#ifndef HVRT_ASM_H
#define HVRT_ASM_H

#define HVRT_TRAP_STRIDE   16     /* HV_TRAP_STRIDE */
#define HVRT_TRAP_VECTORS  32     /* HV_TRAP_VECTORS */
#define HVRT_PORT_VCPU_DOWN 0x507 /* HV_HC_PORT(HV_HC_VCPU_DOWN) */
#define HVRT_ELFNOTE_TRAP_ENTRY 1 /* HV_ELFNOTE_TRAP_ENTRY */

/* struct hvrt_vcpu_boot (smp.c): the record a secondary vCPU starts from. */
#define HVRT_VCPU_BOOT_FN      0
#define HVRT_VCPU_BOOT_ARG     8
#define HVRT_VCPU_BOOT_RUNNING 16
#define HVRT_VCPU_BOOT_SIZE    32

#endif
