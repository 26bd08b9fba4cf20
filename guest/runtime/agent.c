/* SPDX-License-Identifier: MIT */
/*
 * The guest agent: values the guest publishes about itself in its store
 * subtree, as XenSource Tools do. For now data/uptime.
 */
#include "rt.h"

#define NS_PER_S 1000000000ull

static int busy;          /* the tick runs on one vCPU at a time, not nested */
static bool written;
static uint64_t last_ns;

void hvrt_agent_tick(void)
{
    if (!hv_store_present() || __atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
        return;
    uint64_t now = hv_monotonic_ns();
    if (!written || now - last_ns >= NS_PER_S) {
        char buf[24];
        int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(now / NS_PER_S));
        /* Busy or full: the next tick tries again. */
        if (hvrt_store_post_write("data/uptime", buf, (size_t)n) == 0) {
            written = true;
            last_ns = now;
        }
    }
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
}
