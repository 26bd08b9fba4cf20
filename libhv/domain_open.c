/* SPDX-License-Identifier: MIT */
/* Finding domains host-wide: hv_domain_open, _close, _list. STUB. */
#include <errno.h>

#include "internal.h"

HV_EXPORT int hv_domain_open(hv_t *hv, uint32_t domid, hv_domain_t **out)
{
    if (!hv || !out)
        return -EINVAL;
    return remote_open(hv, domid, out);
}

HV_EXPORT void hv_domain_close(hv_domain_t *dom)
{
    if (dom && dom->remote)
        remote_close(dom);
}

HV_EXPORT int hv_domain_is_remote(const hv_domain_t *dom)
{
    return dom && dom->remote ? 1 : 0;
}

HV_EXPORT long hv_domain_list(hv_t *hv, hv_domain_info_t *infos, size_t max)
{
    (void)hv; (void)infos; (void)max;
    return -ENOSYS;
}
