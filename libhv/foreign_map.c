/* SPDX-License-Identifier: MIT */
/*
 * Foreign mapping (libxc's xc_map_foreign_*): a domain's RAM as an fd, from
 * its own process or over its control socket. Read-only is advisory: the fd
 * is opened O_RDONLY, so mmap and write through it fail, but its holder can
 * reopen the memfd writable through /proc/self/fd/N (a memfd's mode is
 * 0777). Only the monitor's uid and root get the fd at all, and they could
 * ptrace the monitor anyway: it guards against mistakes, not against them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static int local_open(struct hv_domain *d, int flags, int *fd, uint64_t *size)
{
    int nfd;
    if (flags & HV_MAP_WRITE) {
        nfd = fcntl(d->mem_fd, F_DUPFD_CLOEXEC, 0);
    } else {
        /* A new open file description: a dup would share the O_RDWR one. */
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", d->mem_fd);
        nfd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (nfd < 0)
        return hv_error(d->hv, -errno, "domain %u: opening its RAM memfd%s: %s", d->domid,
                        flags & HV_MAP_WRITE ? "" : " read-only", strerror(errno));
    *fd = nfd;
    if (size)
        *size = d->mem.size;
    return 0;
}

HV_EXPORT int hv_domain_memory_open(hv_domain_t *dom, int flags, int *fd, uint64_t *size)
{
    if (!dom || !fd)
        return -EINVAL;
    if (!(flags & HV_MAP_READ) || (flags & ~(HV_MAP_READ | HV_MAP_WRITE)))
        return hv_error(dom->hv, -EINVAL, "domain %u: memory open flags 0x%x: use HV_MAP_READ, "
                        "optionally with HV_MAP_WRITE", dom->domid, (unsigned)flags);
    if (dom->remote)
        return remote_memory_open(dom, flags, fd, size);
    return local_open(dom, flags, fd, size);
}

HV_EXPORT int hv_domain_foreign_map(hv_domain_t *dom, int flags, void **addr, uint64_t *size)
{
    if (!dom || !addr || !size)
        return -EINVAL;
    int fd;
    uint64_t bytes;
    int err = hv_domain_memory_open(dom, flags, &fd, &bytes);
    if (err < 0)
        return err;
    int prot = PROT_READ | (flags & HV_MAP_WRITE ? PROT_WRITE : 0);
    void *p = mmap(NULL, bytes, prot, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return hv_error(dom->hv, -e, "domain %u: mapping its %llu MiB of RAM: %s", dom->domid,
                        (unsigned long long)(bytes >> 20), strerror(e));
    *addr = p;
    *size = bytes;
    return 0;
}
