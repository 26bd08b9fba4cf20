/* SPDX-License-Identifier: MIT */
/* The ABI's entry state of a vCPU: long mode, CPL3, the builder's tables. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"

static void user_segment(struct kvm_segment *s, uint16_t selector, bool code)
{
    memset(s, 0, sizeof(*s));
    s->selector = selector;
    s->limit = 0xffffffff;
    s->type = code ? 11 : 3; /* execute/read accessed; read/write accessed */
    s->present = 1;
    s->dpl = 3;
    s->s = 1;
    s->l = code;
    s->db = !code;
    s->g = 1;
}

int entry_apply(struct hv_vcpu *v, uint64_t rip, uint64_t rsp, uint64_t rdi)
{
    struct hv_domain *d = v->dom;
    struct kvm_sregs sregs;
    struct kvm_regs regs;

    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
        return hv_error(d->hv, -errno, "domain %u vCPU %u: KVM_GET_SREGS: %s",
                        d->domid, v->id, strerror(errno));
    user_segment(&sregs.cs, HV_SEL_USER_CS, true);
    user_segment(&sregs.ds, HV_SEL_USER_DS, false);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;

    memset(&sregs.tr, 0, sizeof(sregs.tr));
    sregs.tr.selector = HV_SEL_TSS;
    sregs.tr.base = HV_GPA_TSS;
    sregs.tr.limit = HV_TSS_IOMAP_OFF + HV_TSS_IOMAP_BYTES;
    sregs.tr.type = 11; /* busy 64-bit TSS */
    sregs.tr.present = 1;

    sregs.gdt.base = HV_GPA_GDT;
    sregs.gdt.limit = HV_GDT_ENTRIES * 8 - 1;
    sregs.idt.base = HV_GPA_IDT;
    sregs.idt.limit = 256 * 16 - 1;
    sregs.cr0 = HV_ENTRY_CR0;
    sregs.cr3 = HV_GPA_PML4;
    sregs.cr4 = HV_ENTRY_CR4;
    sregs.efer = HV_ENTRY_EFER;
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
        return hv_error(d->hv, -errno, "domain %u vCPU %u: KVM_SET_SREGS: %s",
                        d->domid, v->id, strerror(errno));

    memset(&regs, 0, sizeof(regs));
    regs.rip = rip;
    regs.rsp = rsp;
    regs.rdi = rdi;
    regs.rflags = HV_ENTRY_RFLAGS;
    if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
        return hv_error(d->hv, -errno, "domain %u vCPU %u: KVM_SET_REGS: %s",
                        d->domid, v->id, strerror(errno));
    v->entry_set = true;
    return 0;
}

HV_EXPORT int hv_vcpu_set_entry(hv_domain_t *dom, uint32_t vcpu,
                                const hv_vcpu_entry_t *user)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    hv_vcpu_entry_t e, *entry = &e;
    int err;

    if (!dom || !user)
        return -EINVAL;
    if ((err = struct_in(&e, sizeof(e), user, sizeof(e))) < 0)
        return hv_error(dom->hv, err, "hv_vcpu_set_entry: bad size %zu", user->size);
    if (vcpu >= dom->nr_vcpus)
        return hv_error(dom->hv, -EINVAL, "domain %u has no vCPU %u (it has %u)",
                        dom->domid, vcpu, dom->nr_vcpus);
    pthread_mutex_lock(&dom->lock);
    err = dom->state == HV_DOMAIN_CREATED
                  ? entry_apply(&dom->vcpus[vcpu], entry->rip, entry->rsp, entry->rdi)
                  : hv_error(dom->hv, -EBUSY,
                             "domain %u: vCPU entry can be set only before start",
                             dom->domid);
    pthread_mutex_unlock(&dom->lock);
    return err;
}
