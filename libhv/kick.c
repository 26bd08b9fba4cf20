/* SPDX-License-Identifier: MIT */
/*
 * Interrupting vCPU threads. A vCPU thread keeps the kick signal blocked
 * except inside KVM_RUN (KVM_SET_SIGNAL_MASK) and inside the ppoll of a POLL
 * hypercall, so a kick sent at any moment either interrupts the one blocking
 * call or stays pending until the thread enters it, which then returns EINTR
 * at once: no wakeup is lost. ppoll delivers the signal to the handler, which
 * has nothing to do; KVM_RUN leaves it pending and the thread takes it with
 * sigtimedwait.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "internal.h"

static void kick_handler(int sig)
{
    (void)sig;
}

int kick_install(hv_t *hv)
{
    struct sigaction old, sa;

    if (sigaction(hv->kick_signal, NULL, &old) < 0)
        return hv_error(hv, -errno, "kick signal %d: %s", hv->kick_signal,
                        strerror(errno));
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == kick_handler)
        return 0;
    if ((old.sa_flags & SA_SIGINFO) ||
        (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
        return hv_error(hv, -EBUSY,
                        "signal %d already has a handler; choose another with "
                        "hv_options_t.kick_signal", hv->kick_signal);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(hv->kick_signal, &sa, NULL) < 0)
        return hv_error(hv, -errno, "kick signal %d: %s", hv->kick_signal,
                        strerror(errno));
    return 0;
}

static void kick_vcpu(struct hv_vcpu *v)
{
    if (v->thread_started && v->state != VCPU_EXITED)
        pthread_kill(v->thread, v->dom->hv->kick_signal);
}

void kick_all(struct hv_domain *d)
{
    for (uint32_t i = 0; i < d->nr_vcpus; i++)
        kick_vcpu(&d->vcpus[i]);
}
