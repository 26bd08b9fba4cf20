/* SPDX-License-Identifier: MIT */
/* The generic hypercall wrapper and SHUTDOWN. */
#include "hypercall.h"
#include "rt.h"

int64_t hv_hypercall(uint32_t nr, void *arg)
{
    if (nr > HV_HC_VENDOR_LAST)
        return -HV_ENOSYS; /* the port would be a device doorbell */
    return hvrt_hc(nr, (uint64_t)(uintptr_t)arg);
}

void hv_shutdown(uint32_t reason, uint32_t code)
{
    struct hv_hc_shutdown s = { .reason = reason, .code = code };

    hvrt_hc_ptr(HV_HC_SHUTDOWN, &s);
    /* Only an invalid reason gets here. A crash cannot be refused. */
    s.reason = HV_SHUTDOWN_CRASH;
    hvrt_hc_ptr(HV_HC_SHUTDOWN, &s);
    /* No hlt at CPL3: block in the host for good. */
    for (;;) {
        struct hv_hc_poll p = { .deadline_ns = HV_POLL_FOREVER, .mask = 0 };
        hvrt_hc_ptr(HV_HC_POLL, &p);
    }
}
