/* SPDX-License-Identifier: MIT */
/*
 * counter [interval_ms] [busy]: prints `count=N mono=NS` once per interval,
 * forever. Idle, it sleeps in POLL; busy, it increments `spin` in memory
 * between lines (for dirty logging and migration under load). The line
 * number lives in memory so a restored domain continues from N + 1.
 */
#include <hvrt.h>

static volatile uint64_t spin;
static volatile uint64_t line;

int main(int argc, char **argv)
{
    uint64_t interval = hv_arg_u64(argc, argv, 1, 100);
    bool busy = false;

    for (int i = 1; i < argc; i++)
        busy = busy || strcmp(argv[i], "busy") == 0;

    if (interval == 0 || interval > UINT64_MAX / 1000000u)
        interval = 100;
    interval *= 1000000u;

    printf("counter: addr=0x%lx\n", (unsigned long)(uintptr_t)&spin);

    uint64_t next = hv_monotonic_ns() + interval;
    for (;;) {
        uint64_t now = hv_monotonic_ns();
        if (busy) {
            while (now < next) {
                for (int i = 0; i < 256; i++)
                    spin = spin + 1;
                now = hv_monotonic_ns();
            }
        } else {
            while (now < next) {
                hv_poll(next, 0);
                now = hv_monotonic_ns();
            }
        }
        line = line + 1;
        printf("count=%lu mono=%lu\n", (unsigned long)line,
               (unsigned long)hv_monotonic_ns());
        if (busy)
            hv_poll(0, 0); /* a pending shutdown request ends the domain */
        next += interval;
        /* Paused or restored much later: no burst of catch-up lines. */
        if (next <= now)
            next = now + interval;
    }
}
