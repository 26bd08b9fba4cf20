/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: one memfd mapped MAP_SHARED and registered as KVM slot 0, so
 * that foreign mappings, dirty logging, lazy restore and clones all share it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int memory_create(struct hv_domain *d, uint64_t bytes)
{
    char name[32];

    snprintf(name, sizeof(name), "hv-dom%u-ram", d->domid);
    d->mem_fd = memfd_create(name, MFD_CLOEXEC);
    if (d->mem_fd < 0)
        return hv_error(d->hv, -errno, "domain %u: memfd_create: %s", d->domid,
                        strerror(errno));
    if (ftruncate(d->mem_fd, (off_t)bytes) < 0)
        return hv_error(d->hv, -errno, "domain %u: %llu bytes of RAM: %s",
                        d->domid, (unsigned long long)bytes, strerror(errno));
    /* MAP_NORESERVE: RAM is committed page by page as the guest touches it. */
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                   d->mem_fd, 0);
    if (p == MAP_FAILED)
        return hv_error(d->hv, -errno, "domain %u: mmap of %llu bytes of RAM: %s",
                        d->domid, (unsigned long long)bytes, strerror(errno));
    d->mem.base = p;
    d->mem.size = bytes;
    return kvm_set_memslot(d, 0);
}

void memory_destroy(struct hv_domain *d)
{
    if (d->mem.base)
        munmap(d->mem.base, d->mem.size);
    if (d->mem_fd >= 0)
        close(d->mem_fd);
    d->mem.base = NULL;
    d->mem_fd = -1;
}

HV_EXPORT int hv_domain_memory_map(hv_domain_t *dom, uint64_t gpa, uint64_t len,
                                   void **ptr)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    if (!dom || !ptr)
        return -EINVAL;
    void *p = guest_mem_ptr(&dom->mem, gpa, len, GUEST_ACCESS_HOST);
    if (!p)
        return hv_error(dom->hv, -EFAULT,
                        "domain %u: [0x%llx, +0x%llx) is not inside its %llu MiB of RAM",
                        dom->domid, (unsigned long long)gpa, (unsigned long long)len,
                        (unsigned long long)(dom->mem.size >> 20));
    *ptr = p;
    return 0;
}

/*
 * Copies between guest RAM and buf. On the guest's behalf (access READ or
 * WRITE) a refusal is silent: the guest chose the address, and must not be
 * able to flood the logger.
 */
static int copy(hv_domain_t *dom, uint64_t gpa, void *buf, size_t len, bool to_guest,
                enum guest_access access)
{
    void *p = NULL;
    int err;

    if (!dom || (!buf && len))
        return -EINVAL;
    if (access == GUEST_ACCESS_HOST) {
        if ((err = hv_domain_memory_map(dom, gpa, len, &p)) < 0)
            return err;
    } else if (!(p = guest_mem_ptr(&dom->mem, gpa, len, access))) {
        return -EFAULT;
    }
    if (len)
        memcpy(to_guest ? p : buf, to_guest ? buf : p, len);
    return 0;
}

HV_EXPORT int hv_domain_memory_read(hv_domain_t *dom, uint64_t gpa, void *buf,
                                    size_t len)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    return copy(dom, gpa, buf, len, false, GUEST_ACCESS_HOST);
}

HV_EXPORT int hv_domain_memory_write(hv_domain_t *dom, uint64_t gpa,
                                     const void *buf, size_t len)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    return copy(dom, gpa, (void *)buf, len, true, GUEST_ACCESS_HOST);
}

HV_EXPORT int hv_domain_guest_read(hv_domain_t *dom, uint64_t gpa, void *buf,
                                   size_t len)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    return copy(dom, gpa, buf, len, false, GUEST_ACCESS_READ);
}

HV_EXPORT int hv_domain_guest_write(hv_domain_t *dom, uint64_t gpa,
                                    const void *buf, size_t len)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    return copy(dom, gpa, (void *)buf, len, true, GUEST_ACCESS_WRITE);
}

HV_EXPORT int hv_domain_memory_fd(hv_domain_t *dom, int *fd, uint64_t *size)
{
    if (dom && dom->remote)
        return remote_memory_open(dom, HV_MAP_READ | HV_MAP_WRITE, fd, size);
    if (!dom || !fd)
        return -EINVAL;
    int nfd = fcntl(dom->mem_fd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0)
        return hv_error(dom->hv, -errno, "domain %u: dup of the RAM memfd: %s",
                        dom->domid, strerror(errno));
    *fd = nfd;
    if (size)
        *size = dom->mem.size;
    return 0;
}
