/* SPDX-License-Identifier: MIT */
/* vCPU threads: one per vCPU, each looping on KVM_RUN. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "internal.h"

_Thread_local struct hv_vcpu *hv_current_vcpu;

/* KVM_RUN may take the kick signal; the rest of the time it waits blocked. */
static int set_run_sigmask(struct hv_vcpu *v)
{
    enum { KERNEL_SIGSET = 8 }; /* the kernel's sigset_t: 64 signals */
    union {
        struct kvm_signal_mask hdr;
        uint8_t bytes[sizeof(struct kvm_signal_mask) + KERNEL_SIGSET];
    } m;
    sigset_t cur;

    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    sigdelset(&cur, v->dom->hv->kick_signal);
    m.hdr.len = KERNEL_SIGSET;
    memcpy(m.hdr.sigset, &cur, KERNEL_SIGSET);
    if (ioctl(v->fd, KVM_SET_SIGNAL_MASK, &m) < 0)
        return -errno;
    return 0;
}

/*
 * KVM_RUN returns EINTR while the kick is pending but leaves it pending: it
 * is blocked again once KVM_RUN returns. Take it, or every later KVM_RUN
 * would return EINTR at once.
 */
static void consume_kick(struct hv_vcpu *v)
{
    static const struct timespec zero = {0, 0};
    sigset_t kick;

    sigemptyset(&kick);
    sigaddset(&kick, v->dom->hv->kick_signal);
    while (sigtimedwait(&kick, NULL, &zero) > 0)
        ;
}

/*
 * After an I/O exit, KVM finishes the instruction (advances RIP, applies the
 * synced RAX) only on the next KVM_RUN. A paused vCPU must not be left half
 * way: its saved state would re-execute the hypercall. immediate_exit makes
 * KVM finish the instruction and return without running guest code.
 */
static void settle(struct hv_vcpu *v)
{
    if (!v->io_pending)
        return;
    v->run->immediate_exit = 1;
    for (int i = 0; i < 4 && ioctl(v->fd, KVM_RUN, 0) == 0; i++)
        ; /* returns EINTR once the instruction is done */
    consume_kick(v);
    v->run->immediate_exit = 0;
    v->io_pending = false;
}

/*
 * Waits while the domain is paused or this vCPU is down. Returns true when
 * the thread must end. settle_io is false inside POLL, which is left
 * unfinished on purpose: after a restore the guest simply polls again.
 */
bool vcpu_wait(struct hv_vcpu *v, bool settle_io)
{
    struct hv_domain *d = v->dom;
    bool stop = false;

    if (settle_io && (atomic_load(&d->req) & REQ_PAUSE))
        settle(v);

    pthread_mutex_lock(&d->lock);
    for (;;) {
        unsigned req = atomic_load(&d->req);
        if (req & REQ_STOP) {
            stop = true;
            break;
        }
        if (req & REQ_PAUSE) {
            if (v->state == VCPU_RUNNING) {
                v->state = VCPU_PARKED;
                pthread_cond_broadcast(&d->cond);
            }
        } else if (v->state == VCPU_PARKED) {
            v->state = VCPU_RUNNING;
        }
        if (v->state == VCPU_RUNNING)
            break;
        pthread_cond_wait(&d->cond, &d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return stop;
}

static void crash_host(struct hv_vcpu *v, const char *what, uint64_t detail)
{
    hv_exit_t e = {.size = sizeof(e), .reason = HV_EXIT_CRASH, .vcpu = v->id,
                   .vector = HV_CRASH_HOST, .error_code = detail,
                   .rip = v->run->s.regs.regs.rip};

    hv_log(v->dom->hv, HV_LOG_ERROR, "domain %u vCPU %u: %s (0x%llx) at rip 0x%llx",
           v->dom->domid, v->id, what, (unsigned long long)detail,
           (unsigned long long)e.rip);
    domain_exit(v->dom, &e);
}

static void triple_fault(struct hv_vcpu *v)
{
    struct kvm_sregs sregs;
    hv_exit_t e = {.size = sizeof(e), .reason = HV_EXIT_CRASH, .vcpu = v->id,
                   .vector = HV_CRASH_TRIPLE_FAULT,
                   .rip = v->run->s.regs.regs.rip};

    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0)
        e.cr2 = sregs.cr2;
    hv_log(v->dom->hv, HV_LOG_ERROR,
           "domain %u vCPU %u: triple fault at rip 0x%llx cr2 0x%llx (no trap entry?)",
           v->dom->domid, v->id, (unsigned long long)e.rip,
           (unsigned long long)e.cr2);
    domain_exit(v->dom, &e);
}

/* Returns false when the domain cannot go on. */
static bool handle_exit(struct hv_vcpu *v)
{
    struct kvm_run *run = v->run;

    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port >= HV_HC_BASE &&
            run->io.port <= HV_HC_BASE + HV_HC_VENDOR_LAST) {
            hypercall_dispatch(v, run->io.port);
            return true;
        }
        crash_host(v, "I/O to a port with no hypercall", run->io.port);
        return false;
    case KVM_EXIT_INTR:
        return true;
    case KVM_EXIT_SHUTDOWN:
        triple_fault(v);
        return false;
    case KVM_EXIT_MMIO:
        crash_host(v, "access outside RAM", run->mmio.phys_addr);
        return false;
    case KVM_EXIT_FAIL_ENTRY:
        crash_host(v, "KVM could not enter the guest",
                   run->fail_entry.hardware_entry_failure_reason);
        return false;
    case KVM_EXIT_INTERNAL_ERROR:
        crash_host(v, "KVM internal error", run->internal.suberror);
        return false;
    default:
        crash_host(v, "unexpected KVM exit", run->exit_reason);
        return false;
    }
}

static void *vcpu_thread(void *arg)
{
    struct hv_vcpu *v = arg;
    struct hv_domain *d = v->dom;
    int err;

    hv_current_vcpu = v;
    /* "hv<domid>/v<vcpu>" in top -H, ps -L and /proc/<pid>/task/<tid>/comm. */
    char name[16];
    snprintf(name, sizeof(name), "hv%u/v%u", d->domid, v->id);
    pthread_setname_np(pthread_self(), name);
    vcpu_affinity_apply(v);
    if ((err = set_run_sigmask(v)) < 0) {
        hv_log(d->hv, HV_LOG_ERROR, "domain %u vCPU %u: KVM_SET_SIGNAL_MASK: %s",
               d->domid, v->id, strerror(-err));
        crash_host(v, "cannot set the vCPU signal mask", (uint64_t)-err);
        goto out;
    }
    for (;;) {
        if (atomic_load_explicit(&d->req, memory_order_acquire) && vcpu_wait(v, true))
            break;
        v->io_pending = false;
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR) {
                consume_kick(v);
                continue;
            }
            if (errno == EAGAIN)
                continue;
            crash_host(v, "KVM_RUN failed", (uint64_t)errno);
            break;
        }
        v->io_pending = v->run->exit_reason == KVM_EXIT_IO;
        if (!handle_exit(v))
            break;
    }
out:;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    pthread_mutex_lock(&d->lock);
    v->cpu_time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    v->state = VCPU_EXITED;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* Starts v's thread; called with d->lock held and v->state set to RUNNING. */
int vcpu_launch(struct hv_vcpu *v)
{
    struct hv_domain *d = v->dom;
    sigset_t block, old;

    /* The thread starts with the kick signal blocked, so a kick is never
     * handled outside KVM_RUN or POLL. */
    sigemptyset(&block);
    sigaddset(&block, d->hv->kick_signal);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int err = pthread_create(&v->thread, NULL, vcpu_thread, v);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return hv_error(d->hv, -err, "domain %u: vCPU %u thread: %s", d->domid,
                        v->id, strerror(err));
    v->thread_started = true;
    return 0;
}

/* With d->lock held. */
void vcpu_cpu_time(struct hv_vcpu *v, uint64_t *ns)
{
    clockid_t cid;
    struct timespec ts;

    *ns = v->cpu_time_ns;
    if (v->thread_started && v->state != VCPU_EXITED &&
        pthread_getcpuclockid(v->thread, &cid) == 0 &&
        clock_gettime(cid, &ts) == 0)
        *ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
