/* SPDX-License-Identifier: MIT */
/* The console: CONSOLE_WRITE in chunks of at most HV_CONSOLE_WRITE_MAX. */
#include "hypercall.h"
#include "rt.h"

int64_t hv_console_write(const char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t n = len - done;
        if (n > HV_CONSOLE_WRITE_MAX)
            n = HV_CONSOLE_WRITE_MAX;
        struct hv_hc_console_write w = {
            .buf = (uint64_t)(uintptr_t)(buf + done),
            .len = n,
        };
        int64_t r = hvrt_hc_ptr(HV_HC_CONSOLE_WRITE, &w);
        if (r < 0)
            return r;
        done += n;
    }
    return (int64_t)done;
}
