/* SPDX-License-Identifier: MIT */
/*
 * Dirty page log: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, so that fetching the log
 * and re-protecting the pages are one explicit step (GET then CLEAR) that
 * callers can place right before they copy the pages.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"

static uint64_t npages(const struct hv_domain *d)
{
    return d->mem.size / HV_PAGE_SIZE;
}

HV_EXPORT size_t hv_domain_dirty_log_size(const hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_dirty_log_size(dom);
    return dom ? (size_t)((npages(dom) + 63) / 64 * 8) : 0;
}

HV_EXPORT int hv_domain_dirty_log_start(hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_dirty_log_start(dom);
    int err = 0;

    if (!dom)
        return -EINVAL;
    pthread_mutex_lock(&dom->lock);
    if (dom->dirty_logging)
        goto out;
    if (!dom->manual_dirty_protect) {
        struct kvm_enable_cap cap = {
            .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
            .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE},
        };
        if (ioctl(dom->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
            err = hv_error(dom->hv, -errno, "domain %u: enabling manual dirty "
                           "log protection: %s", dom->domid, strerror(errno));
            goto out;
        }
        dom->manual_dirty_protect = true;
    }
    if ((err = kvm_set_memslot(dom, KVM_MEM_LOG_DIRTY_PAGES)) == 0)
        dom->dirty_logging = true;
out:
    pthread_mutex_unlock(&dom->lock);
    return err;
}

HV_EXPORT long hv_domain_dirty_log_fetch(hv_domain_t *dom, uint64_t *bitmap,
                                         size_t bitmap_bytes)
{
    if (dom && dom->remote)
        return remote_dirty_log_fetch(dom, bitmap, bitmap_bytes);
    long err = 0;

    if (!dom || !bitmap)
        return -EINVAL;
    if (bitmap_bytes < hv_domain_dirty_log_size(dom))
        return hv_error(dom->hv, -ENOSPC, "domain %u: dirty bitmap of %zu bytes, "
                        "need %zu", dom->domid, bitmap_bytes,
                        hv_domain_dirty_log_size(dom));
    pthread_mutex_lock(&dom->lock);
    if (!dom->dirty_logging) {
        err = hv_error(dom->hv, -EINVAL, "domain %u: dirty log not started",
                       dom->domid);
        goto out;
    }
    struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};
    if (ioctl(dom->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
        err = hv_error(dom->hv, -errno, "domain %u: KVM_GET_DIRTY_LOG: %s",
                       dom->domid, strerror(errno));
        goto out;
    }
    struct kvm_clear_dirty_log clear = {
        .slot = 0, .first_page = 0, .num_pages = (uint32_t)npages(dom),
        .dirty_bitmap = bitmap,
    };
    if (ioctl(dom->vm_fd, KVM_CLEAR_DIRTY_LOG, &clear) < 0) {
        err = hv_error(dom->hv, -errno, "domain %u: KVM_CLEAR_DIRTY_LOG: %s",
                       dom->domid, strerror(errno));
        goto out;
    }
    balloon_dirty_merge(dom, bitmap);
    for (size_t i = 0; i < hv_domain_dirty_log_size(dom) / 8; i++)
        err += __builtin_popcountll(bitmap[i]);
out:
    pthread_mutex_unlock(&dom->lock);
    return err;
}

HV_EXPORT int hv_domain_dirty_log_stop(hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_dirty_log_stop(dom);
    int err = 0;

    if (!dom)
        return -EINVAL;
    pthread_mutex_lock(&dom->lock);
    if (dom->dirty_logging && (err = kvm_set_memslot(dom, 0)) == 0)
        dom->dirty_logging = false;
    pthread_mutex_unlock(&dom->lock);
    return err;
}
