/* SPDX-License-Identifier: MIT */
/* Vendor host functions: hypercalls in the range the ABI reserves for them. */
#include <errno.h>

#include "internal.h"

HV_EXPORT int hv_domain_hostcall_register(hv_domain_t *dom, uint32_t nr,
                                          hv_hostcall_fn fn, void *opaque)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    int err = 0;

    if (!dom)
        return -EINVAL;
    if (nr < HV_HC_VENDOR_FIRST || nr > HV_HC_VENDOR_LAST)
        return hv_error(dom->hv, -EINVAL,
                        "domain %u: hostcall number 0x%x is outside the vendor "
                        "range 0x%x-0x%x", dom->domid, nr, HV_HC_VENDOR_FIRST,
                        HV_HC_VENDOR_LAST);
    pthread_mutex_lock(&dom->lock);
    /* vCPU threads read the table without a lock: it is fixed once running. */
    if (dom->state != HV_DOMAIN_CREATED) {
        err = hv_error(dom->hv, -EBUSY, "domain %u: register hostcalls before "
                       "hv_domain_start", dom->domid);
    } else {
        dom->hostcalls[nr - HV_HC_VENDOR_FIRST].fn = fn;
        dom->hostcalls[nr - HV_HC_VENDOR_FIRST].opaque = opaque;
    }
    pthread_mutex_unlock(&dom->lock);
    return err;
}
