/* SPDX-License-Identifier: MIT */
/*
 * The trap table given to SET_TRAP_ENTRY: vector v (0..31) enters at
 * hvrt_trap_table + v * 16, at CPL3 on the interrupted stack, with the CPU
 * frame SS, RSP, RFLAGS, CS, RIP and, for vectors 8, 10-14, 17, 21, 29 and
 * 30, an error code. Each stub makes the frame uniform (pushes 0 where the
 * CPU pushed no error code), pushes its vector and jumps to the common code,
 * which passes the frame to hvrt_trap (trap.c). `.org` makes the assembler
 * fail if a stub outgrows its 16 bytes.
 */
#include "asm.h"

    .text
    .balign HVRT_TRAP_STRIDE
    .globl hvrt_trap_table
    .type hvrt_trap_table, @function
hvrt_trap_table:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .org hvrt_trap_table + \vec * HVRT_TRAP_STRIDE, 0xcc
    .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    /* the CPU pushed an error code */
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp hvrt_trap_common
    .endr
    .org hvrt_trap_table + HVRT_TRAP_VECTORS * HVRT_TRAP_STRIDE, 0xcc
    .size hvrt_trap_table, . - hvrt_trap_table

/*
 * The same table, named to the builder (HV_ELFNOTE_TRAP_ENTRY): it installs
 * it before the first instruction runs, so booting needs no SET_TRAP_ENTRY.
 */
    .pushsection .note.libhv, "a", @note
    .balign 4
    .long 2f - 1f               /* namesz */
    .long 4f - 3f               /* descsz */
    .long HVRT_ELFNOTE_TRAP_ENTRY
1:  .asciz "libhv"
2:  .balign 4
3:  .quad hvrt_trap_table
4:  .balign 4
    .popsection

/* RSP -> vector, error code, RIP, CS, RFLAGS, RSP, SS (struct hvrt_trap_frame). */
    .type hvrt_trap_common, @function
hvrt_trap_common:
    cld
    mov %rsp, %rdi
    and $-16, %rsp
    xor %ebp, %ebp
    call hvrt_trap
    ud2
    .size hvrt_trap_common, . - hvrt_trap_common

    .section .note.GNU-stack, "", @progbits
