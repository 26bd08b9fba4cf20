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

int kvm_set_cpuid(hv_t *hv, int vcpu_fd)
{
    int n = 128, err = 0;
    struct kvm_cpuid2 *c;

    for (;;) {
        c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
        if (!c)
            return -ENOMEM;
        c->nent = (uint32_t)n;
        if (ioctl(hv->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            break;
        err = -errno;
        free(c);
        if (err != -E2BIG || n >= 4096)
            return err;
        n *= 2;
    }
    err = ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
    free(c);
    return err;
}

/* Reads MSR index from a vCPU and writes the same value back. */
static bool msr_round_trips(int vcpu_fd, uint32_t index)
{
    union {
        struct kvm_msrs hdr;
        uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    } one;

    memset(&one, 0, sizeof(one));
    one.hdr.nmsrs = 1;
    one.hdr.entries[0].index = index;
    return ioctl(vcpu_fd, KVM_GET_MSRS, &one) == 1 &&
           ioctl(vcpu_fd, KVM_SET_MSRS, &one) == 1;
}

/*
 * KVM's index list names MSRs that a vCPU cannot always take back (the KVM
 * paravirtual ones need CPUID bits a libhv guest never gets). A saved state
 * must restore in full, so keep only the MSRs that round-trip on a scratch
 * vCPU set up as a restore target is: with KVM_SET_CPUID2.
 */
static int probe_msrs(hv_t *hv, struct kvm_msr_list **out)
{
    struct kvm_msr_list probe = {.nmsrs = 0}, *all = NULL, *good = NULL;
    int vm = -1, vcpu = -1, err = 0;

    if (ioctl(hv->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return hv_error(hv, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
    all = calloc(1, sizeof(*all) + probe.nmsrs * sizeof(all->indices[0]));
    good = calloc(1, sizeof(*good) + probe.nmsrs * sizeof(good->indices[0]));
    if (!all || !good) {
        err = -ENOMEM;
        goto out;
    }
    all->nmsrs = probe.nmsrs;
    if (ioctl(hv->kvm_fd, KVM_GET_MSR_INDEX_LIST, all) < 0) {
        err = hv_error(hv, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
        goto out;
    }
    if ((err = kvm_create_vm(hv, &vm)) < 0)
        goto out;
    vcpu = ioctl(vm, KVM_CREATE_VCPU, 0ul);
    if (vcpu < 0 || (err = kvm_set_cpuid(hv, vcpu)) < 0) {
        err = hv_error(hv, vcpu < 0 ? -errno : err, "probing MSRs: scratch vCPU: %s",
                       strerror(vcpu < 0 ? errno : -err));
        goto out;
    }
    for (uint32_t i = 0; i < all->nmsrs; i++)
        if (msr_round_trips(vcpu, all->indices[i]))
            good->indices[good->nmsrs++] = all->indices[i];
    *out = good;
    good = NULL;
out:
    if (vcpu >= 0)
        close(vcpu);
    if (vm >= 0)
        close(vm);
    free(all);
    free(good);
    return err;
}

int kvm_msr_list(hv_t *hv, const struct kvm_msr_list **out)
{
    int err = 0;

    pthread_mutex_lock(&hv->lock);
    if (!hv->msrs)
        err = probe_msrs(hv, &hv->msrs);
    *out = hv->msrs;
    pthread_mutex_unlock(&hv->lock);
    return err;
}
