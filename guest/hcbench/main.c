/* SPDX-License-Identifier: MIT */
/* hcbench [N]: N vendor hypercalls (HOSTCALL_NR_NOP) back to back. */
#include <hvrt.h>

#include "../hostcall/hostcall_abi.h"

int main(int argc, char **argv)
{
    uint64_t n = hv_arg_u64(argc, argv, 1, 100000);

    for (uint64_t i = 0; i < n; i++) {
        int64_t r = hv_hypercall(HOSTCALL_NR_NOP, NULL);
        if (r < 0) {
            printf("hcbench: failed %ld\n", (long)r);
            return 1;
        }
    }
    printf("hcbench: done %lu\n", (unsigned long)n);
    return 0;
}
