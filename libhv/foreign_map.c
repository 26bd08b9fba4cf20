/* SPDX-License-Identifier: MIT */
/* Foreign mapping: any domain's RAM as an fd, local or remote. STUB. */
#include <errno.h>

#include "internal.h"

HV_EXPORT int hv_domain_memory_open(hv_domain_t *dom, int flags, int *fd, uint64_t *size)
{
    (void)dom; (void)flags; (void)fd; (void)size;
    return -ENOSYS;
}

HV_EXPORT int hv_domain_foreign_map(hv_domain_t *dom, int flags, void **addr, uint64_t *size)
{
    (void)dom; (void)flags; (void)addr; (void)size;
    return -ENOSYS;
}
