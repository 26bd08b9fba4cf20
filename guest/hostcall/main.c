/* SPDX-License-Identifier: MIT */
/* A vendor host function: the host adds two numbers for the guest. */
#include <hvrt.h>

#include "hostcall_abi.h"

int main(int argc, char **argv)
{
    struct hostcall_add args = { .a = 2, .b = 3 };

    (void)argc;
    (void)argv;
    int64_t r = hv_hypercall(HOSTCALL_NR_ADD, &args);
    if (r < 0) {
        printf("hostcall: failed %ld\n", (long)r);
        return 1;
    }
    printf("hostcall: %ld + %ld = %ld\n", (long)args.a, (long)args.b, (long)r);
    return 0;
}
