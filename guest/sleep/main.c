/* SPDX-License-Identifier: MIT */
/* sleep [ms]: sleeps in the host and reports how long it took. */
#include <hvrt.h>

int main(int argc, char **argv)
{
    uint64_t ms = hv_arg_u64(argc, argv, 1, 100);
    uint64_t t0 = hv_monotonic_ns();

    hv_sleep_ms(ms);
    uint64_t t1 = hv_monotonic_ns();
    printf("slept ms=%lu ns=%lu\n", (unsigned long)ms, (unsigned long)(t1 - t0));
    return 0;
}
