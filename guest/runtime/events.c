/* SPDX-License-Identifier: MIT */
/* Events and sleeping: the POLL hypercall. */
#include "balloon.h"
#include "hypercall.h"
#include "rt.h"

#define EVT_SHUTDOWN (1ull << HV_EVT_SHUTDOWN)

/* The host asked for a shutdown (HV_EVT_SHUTDOWN): obey. */
static HVRT_NORETURN void shutdown_requested(void)
{
    uint32_t reason = hvrt_shared->shutdown_request;

    if (reason > HV_SHUTDOWN_CRASH)
        reason = HV_SHUTDOWN_POWEROFF;
    hv_shutdown(reason, 0);
}

/* A guest without the agent (agent.c) links this one. */
__attribute__((weak)) void hvrt_agent_tick(void)
{
}

/* How often a sleeping guest with a store wakes to refresh its agent's values. */
#define AGENT_PERIOD_NS 1000000000ull

uint64_t hv_poll(uint64_t deadline_ns, uint64_t mask)
{
    for (;;) {
        uint64_t own = hvrt_targets_mask();
        struct hv_hc_poll p = {
            .deadline_ns = deadline_ns,
            .mask = mask | EVT_SHUTDOWN | own,
            .ready = 0,
        };
        /* With a store, sleep at most an agent period, so data/uptime stays
         * fresh however long the caller sleeps; the caller still wakes only
         * for its events or its deadline. */
        bool capped = false;
        if (deadline_ns && hv_store_present()) {
            uint64_t next = hv_monotonic_ns() + AGENT_PERIOD_NS;
            if (next < deadline_ns) {
                p.deadline_ns = next;
                capped = true;
            }
        }
        if (deadline_ns)
            hvrt_agent_tick();
        if (hvrt_hc_ptr(HV_HC_POLL, &p) < 0)
            hv_shutdown(HV_SHUTDOWN_CRASH, 0); /* the struct is valid: a broken host */
        if (p.ready & EVT_SHUTDOWN)
            shutdown_requested();
        /* Also with nothing ready: work another vCPU left may be waiting. */
        hvrt_targets_event(p.ready & own);
        uint64_t ready = p.ready & mask & ~own;
        if (ready || !capped)
            return ready;
    }
}

void hv_sleep_ns(uint64_t ns)
{
    uint64_t now = hv_monotonic_ns();
    uint64_t deadline = now + ns < now ? HV_POLL_FOREVER : now + ns;

    /* The host may wake early (a timer's granularity): wait again. */
    while (now < deadline) {
        hv_poll(deadline, 0);
        now = hv_monotonic_ns();
    }
}

void hv_sleep_ms(uint64_t ms)
{
    hv_sleep_ns(ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u);
}
