/* SPDX-License-Identifier: MIT */
/* The smallest guest: one line, exit code 0. */
#include <hvrt.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("hello from libhv guest\n");
    return 0;
}
