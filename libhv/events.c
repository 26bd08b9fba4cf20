/* SPDX-License-Identifier: MIT */
/*
 * Event bits in the shared info page, and POLL: the vCPU blocks in the host
 * until an event it waits for is pending or its deadline passes. This is how
 * an idle guest sleeps: there are no interrupts and no hlt.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static uint64_t *pending(struct hv_domain *d)
{
    return &((struct hv_shared_info *)(d->mem.base + HV_GPA_SHARED_INFO))->evt_pending;
}

void events_set(struct hv_domain *d, unsigned bit)
{
    uint64_t one = 1;

    __atomic_fetch_or(pending(d), 1ull << bit, __ATOMIC_SEQ_CST);
    /* Every vCPU may be the one waiting: wake them all (a write is cheap). */
    for (uint32_t i = 0; i < d->nr_vcpus; i++)
        if (write(d->vcpus[i].wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            hv_log(d->hv, HV_LOG_WARN, "domain %u: wake eventfd: %m", d->domid);
}

uint64_t events_take(struct hv_domain *d, uint64_t mask)
{
    if (!mask)
        return 0;
    return __atomic_fetch_and(pending(d), ~mask, __ATOMIC_SEQ_CST) & mask;
}

/*
 * Returns 0 with *ready set when an event or the deadline ends the wait, or
 * 1 when the vCPU must stop. A pause interrupts the wait and parks the vCPU;
 * after unpause the wait goes on to the same deadline.
 */
int events_poll(struct hv_vcpu *v, uint64_t deadline_ns, uint64_t mask,
                uint64_t *ready)
{
    struct hv_domain *d = v->dom;
    sigset_t during;
    uint64_t drain;

    pthread_sigmask(SIG_SETMASK, NULL, &during);
    sigdelset(&during, d->hv->kick_signal);
    for (;;) {
        /* Drain first, then look: an event set after the look also wrote
         * the eventfd, so ppoll returns at once for it. */
        if (read(v->wake_fd, &drain, sizeof(drain)) < 0 && errno != EAGAIN)
            hv_log(d->hv, HV_LOG_WARN, "domain %u: wake eventfd: %m", d->domid);
        if ((*ready = events_take(d, mask)))
            return 0;
        uint64_t now = clock_guest_ns(d);
        if (deadline_ns <= now)
            return 0;
        struct timespec ts, *tsp = NULL;
        if (deadline_ns != HV_POLL_FOREVER) {
            uint64_t left = deadline_ns - now;
            ts.tv_sec = (time_t)(left / 1000000000ull);
            ts.tv_nsec = (long)(left % 1000000000ull);
            tsp = &ts;
        }
        struct pollfd pfd = {.fd = v->wake_fd, .events = POLLIN};
        int r = ppoll(&pfd, 1, tsp, &during);
        if (r < 0 && errno == EINTR &&
            atomic_load_explicit(&d->req, memory_order_acquire) && vcpu_wait(v, false))
            return 1;
    }
}

HV_EXPORT int hv_domain_event_raise(hv_domain_t *dom, unsigned bit)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    if (!dom)
        return -EINVAL;
    if (bit >= 64)
        return hv_error(dom->hv, -EINVAL, "domain %u: event bit %u is not 0-63",
                        dom->domid, bit);
    events_set(dom, bit);
    return 0;
}
