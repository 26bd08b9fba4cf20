/* SPDX-License-Identifier: MIT */
/*
 * Reads an unmapped address: page 0 by default (the host must see #PF,
 * vector 14, CR2 0), or the address given as the first argument, so a test
 * can tell a CR2 really read from the vCPU from one that is merely zero.
 */
#include <hvrt.h>

int main(int argc, char **argv)
{
    uint64_t addr = hv_arg_u64(argc, argv, 1, 0);
    volatile int *p = (volatile int *)(uintptr_t)addr;

    if (addr)
        printf("fault: touching 0x%lx\n", (unsigned long)addr);
    else
        printf("fault: touching page 0\n");
    __asm__ volatile("" : "+r"(p)); /* hide the NULL from the optimiser */
    return *p;
}
