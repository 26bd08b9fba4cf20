/* SPDX-License-Identifier: MIT */
/*
 * Entry points: _start (the boot vCPU) and hvrt_vcpu_entry (secondary vCPUs
 * started by hv_vcpu_start). Both run at CPL3 with paging on and RAM
 * identity-mapped (docs/guest-abi.md).
 */
#include "asm.h"

    .section .text.hvrt_entry, "ax", @progbits

/*
 * RDI = gpa of struct hv_start_info, RSP = start_info->stack_top.
 * Clears .bss (the loader zeroes it too; this keeps a reboot-in-place or a
 * loader that only copies file bytes honest), then enters C.
 */
    .globl _start
    .type _start, @function
_start:
    mov %rdi, %rbx
    lea __bss_start(%rip), %rdi
    lea __bss_end(%rip), %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    cld
    rep stosb
    mov %rbx, %rdi
    xor %ebp, %ebp
    and $-16, %rsp
    call hvrt_start
    ud2
    .size _start, . - _start

/*
 * A secondary vCPU. RDI = struct hvrt_vcpu_boot * (smp.c), RSP = the same
 * address, 16-byte aligned, at the top of the vCPU's own stack.
 * Calls fn(arg); then clears the runtime's "running" flag and issues
 * VCPU_DOWN without touching the stack again, so hv_vcpu_start may reuse
 * the stack as soon as it sees the flag clear.
 */
    .text
    .globl hvrt_vcpu_entry
    .type hvrt_vcpu_entry, @function
hvrt_vcpu_entry:
    and $-16, %rsp
    xor %ebp, %ebp
    mov HVRT_VCPU_BOOT_RUNNING(%rdi), %rbx
    mov HVRT_VCPU_BOOT_FN(%rdi), %rax
    mov HVRT_VCPU_BOOT_ARG(%rdi), %rdi
    call *%rax
    movl $0, (%rbx)
    xor %edi, %edi
    mov $HVRT_PORT_VCPU_DOWN, %edx
    outb %al, %dx
    call hvrt_vcpu_down_failed
    ud2
    .size hvrt_vcpu_entry, . - hvrt_vcpu_entry

    .section .note.GNU-stack, "", @progbits
