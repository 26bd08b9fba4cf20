/* SPDX-License-Identifier: MIT */
/* Console readers: history then live output on a stream socket. STUB. */
#include <errno.h>

#include "internal.h"

int console_reader_open(struct hv_domain *d, int *fd) { (void)d; (void)fd; return -ENOSYS; }
void console_reader_kick(struct hv_domain *d) { (void)d; }

HV_EXPORT int hv_domain_console_open(hv_domain_t *dom, int *fd)
{
    if (!dom || !fd)
        return -EINVAL;
    if (dom->remote)
        return remote_console_open(dom, fd);
    return console_reader_open(dom, fd);
}
