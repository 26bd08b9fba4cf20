/* SPDX-License-Identifier: MIT */
/* The KVM objects of a domain: the VM, its memory slot, its vCPUs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int kvm_create_vm(hv_t *hv, int *vm_fd)
{
    int fd;

    /* No in-kernel irqchip: guests take events through POLL, and the full
     * irqchip alone makes VM destruction cost ~15 ms here. */
    do
        fd = ioctl(hv->kvm_fd, KVM_CREATE_VM, 0);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return hv_error(hv, -errno, "KVM_CREATE_VM: %s", strerror(errno));
    *vm_fd = fd;
    return 0;
}

int kvm_set_memslot(struct hv_domain *d, uint32_t flags)
{
    struct kvm_userspace_memory_region r = {
        .slot = 0,
        .flags = flags,
        .guest_phys_addr = 0,
        .memory_size = d->mem.size,
        .userspace_addr = (uintptr_t)d->mem.base,
    };

    if (ioctl(d->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        return hv_error(d->hv, -errno, "domain %u: KVM_SET_USER_MEMORY_REGION: %s",
                        d->domid, strerror(errno));
    d->slot_flags = flags;
    return 0;
}

int kvm_create_vcpu(struct hv_domain *d, struct hv_vcpu *v)
{
    v->fd = ioctl(d->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->id);
    if (v->fd < 0)
        return hv_error(d->hv, -errno, "domain %u: KVM_CREATE_VCPU %u: %s",
                        d->domid, v->id, strerror(errno));
    v->run = mmap(NULL, d->hv->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                  v->fd, 0);
    if (v->run == MAP_FAILED) {
        int err = -errno;
        v->run = NULL;
        return hv_error(d->hv, err, "domain %u: mmap of vCPU %u: %s", d->domid,
                        v->id, strerror(-err));
    }
    /* Registers arrive with every exit at no extra cost (KVM_CAP_SYNC_REGS),
     * so a hypercall needs no KVM_GET_REGS. */
    v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    return 0;
}

/*
 * KVM lists MSRs that a given vCPU model cannot always read back; keep only
 * those KVM_GET_MSRS accepts, so a saved state restores in full.
 */
static int probe_msrs(hv_t *hv, struct hv_vcpu *v, struct kvm_msr_list **out)
{
    struct kvm_msr_list probe = {.nmsrs = 0};
    int err = 0;

    if (ioctl(hv->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return hv_error(hv, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
    struct kvm_msr_list *all =
        calloc(1, sizeof(*all) + probe.nmsrs * sizeof(all->indices[0]));
    struct kvm_msr_list *good =
        calloc(1, sizeof(*good) + probe.nmsrs * sizeof(good->indices[0]));
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } one;
    if (!all || !good) {
        err = -ENOMEM;
        goto out;
    }
    all->nmsrs = probe.nmsrs;
    if (ioctl(hv->kvm_fd, KVM_GET_MSR_INDEX_LIST, all) < 0) {
        err = hv_error(hv, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
        goto out;
    }
    for (uint32_t i = 0; i < all->nmsrs; i++) {
        memset(&one, 0, sizeof(one));
        one.hdr.nmsrs = 1;
        one.e.index = all->indices[i];
        if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
            good->indices[good->nmsrs++] = all->indices[i];
    }
    *out = good;
    good = NULL;
out:
    free(all);
    free(good);
    return err;
}

int kvm_msr_list(hv_t *hv, struct hv_vcpu *v, const struct kvm_msr_list **out)
{
    int err = 0;

    pthread_mutex_lock(&hv->lock);
    if (!hv->msrs)
        err = probe_msrs(hv, v, &hv->msrs);
    *out = hv->msrs;
    pthread_mutex_unlock(&hv->lock);
    return err;
}
