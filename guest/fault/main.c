/* SPDX-License-Identifier: MIT */
/* Reads page 0, which is never mapped: the host must see a #PF (vector 14, CR2 0). */
#include <hvrt.h>

int main(int argc, char **argv)
{
    volatile int *p = NULL;

    (void)argc;
    (void)argv;
    printf("fault: touching page 0\n");
    __asm__ volatile("" : "+r"(p)); /* hide the NULL from the optimiser */
    return *p;
}
