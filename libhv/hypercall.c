/* SPDX-License-Identifier: MIT */
/*
 * Hypercall dispatch. Arguments were decoded and bounds-checked by
 * hc_decode; the result goes back in RAX through the synced registers, so a
 * hypercall costs one exit and no extra ioctl.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "hypercall_decode.h"
#include "internal.h"

static void set_result(struct hv_vcpu *v, int64_t rax)
{
    v->run->s.regs.regs.rax = (uint64_t)rax;
    v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

static int64_t do_shutdown(struct hv_vcpu *v, const struct hv_hc_shutdown *a)
{
    hv_exit_t e = {.size = sizeof(e), .vcpu = v->id, .code = a->code,
                   .rip = v->run->s.regs.regs.rip};

    e.reason = a->reason == HV_SHUTDOWN_POWEROFF ? HV_EXIT_POWEROFF
               : a->reason == HV_SHUTDOWN_REBOOT ? HV_EXIT_REBOOT
                                                 : HV_EXIT_CRASH;
    if (e.reason == HV_EXIT_CRASH)
        e.vector = HV_CRASH_GUEST;
    domain_exit(v->dom, &e);
    return 0;
}

static int64_t do_crash(struct hv_vcpu *v, const struct hv_hc_crash *a)
{
    struct hv_domain *d = v->dom;
    struct kvm_sregs sregs;
    hv_exit_t e = {.size = sizeof(e), .reason = HV_EXIT_CRASH, .vcpu = v->id,
                   .vector = a->vector, .error_code = a->error_code, .rip = a->rip};

    /* A CPL3 handler cannot read CR2; it still holds the faulting address. */
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0)
        e.cr2 = sregs.cr2;
    hv_log(d->hv, HV_LOG_ERROR,
           "domain %u vCPU %u crashed: vector %u error 0x%llx rip 0x%llx "
           "rsp 0x%llx cr2 0x%llx", d->domid, v->id, a->vector,
           (unsigned long long)a->error_code, (unsigned long long)a->rip,
           (unsigned long long)a->rsp, (unsigned long long)e.cr2);
    domain_exit(d, &e);
    return 0;
}

static int64_t do_vcpu_up(struct hv_vcpu *v, const struct hv_hc_vcpu_up *a)
{
    struct hv_domain *d = v->dom;
    struct hv_vcpu *t = &d->vcpus[a->vcpu];
    int64_t ret = 0;

    pthread_mutex_lock(&d->lock);
    if (t->state == VCPU_RUNNING || t->state == VCPU_PARKED) {
        ret = -HV_EALREADY;
    } else if ((atomic_load(&d->req) & REQ_STOP) || t->state == VCPU_EXITED ||
               entry_apply(t, a->rip, a->rsp, a->arg) < 0) {
        ret = -HV_EBUSY;
    } else {
        t->state = VCPU_RUNNING;
        if (t->thread_started)
            pthread_cond_broadcast(&d->cond); /* it waits in vcpu_wait */
        else if (vcpu_launch(t) < 0) {
            t->state = VCPU_DOWN;
            ret = -HV_EBUSY;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return ret;
}

static void do_vcpu_down(struct hv_vcpu *v)
{
    struct hv_domain *d = v->dom;

    pthread_mutex_lock(&d->lock);
    v->state = VCPU_DOWN;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    /* Parks until a VCPU_UP gives it a new entry; its registers are then
     * the new entry state, so RAX needs no result. */
    vcpu_wait(v, false);
}

static int64_t do_wallclock(struct hv_domain *d, struct hv_hc_wallclock *out)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t mono = clock_guest_ns(d);
    struct hv_hc_wallclock r = {
        .wall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
        .mono_ns = mono,
    };
    memcpy(out, &r, sizeof(r));
    return 0;
}

static int64_t do_poll(struct hv_vcpu *v, struct hc_call *c)
{
    struct hv_hc_poll *a = &c->args.poll;
    uint64_t ready = 0;

    if (events_poll(v, a->deadline_ns, a->mask, &ready))
        return 0; /* stopping: the guest will not see it */
    /* After sleeping the guest reads its clock at once: refresh the record
     * so that reading is not behind the deadline the host just honoured. */
    if (a->deadline_ns)
        clock_publish(v->dom);
    memcpy((char *)c->out + offsetof(struct hv_hc_poll, ready), &ready, sizeof(ready));
    return 0;
}

static int64_t do_vendor(struct hv_vcpu *v, uint32_t nr, uint64_t arg_gpa)
{
    struct hostcall *h = &v->dom->hostcalls[nr - HV_HC_VENDOR_FIRST];

    if (!h->fn)
        return -HV_ENOSYS;
    return h->fn(h->opaque, v->dom, v->id, arg_gpa);
}

void hypercall_dispatch(struct hv_vcpu *v, uint16_t port)
{
    struct hv_domain *d = v->dom;
    uint32_t nr = port - HV_HC_BASE;
    uint64_t arg_gpa = v->run->s.regs.regs.rdi;
    struct hc_call c;
    int64_t ret;

    if (nr >= HV_HC_VENDOR_FIRST) {
        set_result(v, do_vendor(v, nr, arg_gpa));
        return;
    }
    /* balloon.c decodes its own arguments, through hc_decode as well. */
    if (nr == HV_HC_MEMORY_RELEASE || nr == HV_HC_MEMORY_RECLAIM) {
        set_result(v, balloon_hypercall(v, nr, arg_gpa));
        return;
    }
    ret = hc_decode(&d->mem, nr, arg_gpa, d->nr_vcpus, &c);
    if (ret == 0) {
        switch (nr) {
        case HV_HC_CONSOLE_WRITE:
            console_put(d, c.data, c.args.console_write.len);
            ret = (int64_t)c.args.console_write.len;
            break;
        case HV_HC_SHUTDOWN:
            ret = do_shutdown(v, &c.args.shutdown);
            break;
        case HV_HC_POLL:
            ret = do_poll(v, &c);
            break;
        case HV_HC_WALLCLOCK:
            ret = do_wallclock(d, c.out);
            break;
        case HV_HC_VCPU_UP:
            ret = do_vcpu_up(v, &c.args.vcpu_up);
            break;
        case HV_HC_SET_TRAP_ENTRY:
            trap_install(d, c.args.set_trap_entry.rip);
            break;
        case HV_HC_CRASH:
            ret = do_crash(v, &c.args.crash);
            break;
        case HV_HC_VCPU_DOWN:
            /* The boot vCPU stays: with it parked nothing could end the
             * domain from inside. */
            if (v->id == 0) {
                ret = -HV_EINVAL;
                break;
            }
            do_vcpu_down(v);
            return;
        }
    }
    set_result(v, ret);
}
