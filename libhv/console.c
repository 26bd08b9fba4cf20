/* SPDX-License-Identifier: MIT */
/* Console output: a history ring for readers and a callback for live output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int console_init(struct hv_domain *d)
{
    d->console = malloc(HV_CONSOLE_HISTORY);
    return d->console ? 0 : -ENOMEM;
}

void console_fini(struct hv_domain *d)
{
    free(d->console);
    d->console = NULL;
}

void console_put(struct hv_domain *d, const char *data, size_t len)
{
    /* The guest's bytes are in shared memory: copy them once, then hand the
     * same copy to the ring and the callback. */
    char local[HV_CONSOLE_WRITE_MAX];

    if (len > sizeof(local))
        len = sizeof(local); /* hc_decode already refused longer writes */
    memcpy(local, data, len);

    /* Callbacks run one at a time, in the order their bytes entered the
     * history, but not under the history lock: a callback may read it. */
    pthread_mutex_lock(&d->console_cb_lock);
    pthread_mutex_lock(&d->console_lock);
    for (size_t done = 0; done < len;) {
        size_t at = d->console_written % HV_CONSOLE_HISTORY;
        size_t n = HV_CONSOLE_HISTORY - at;
        if (n > len - done)
            n = len - done;
        memcpy(d->console + at, local + done, n);
        d->console_written += n;
        done += n;
    }
    hv_console_fn fn = d->console_fn;
    void *opaque = d->console_opaque;
    pthread_mutex_unlock(&d->console_lock);
    if (fn)
        fn(opaque, d, local, len);
    pthread_mutex_unlock(&d->console_cb_lock);
    console_reader_kick(d);
}

HV_EXPORT int hv_domain_console_set_callback(hv_domain_t *dom, hv_console_fn fn,
                                             void *opaque)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    if (!dom)
        return -EINVAL;
    /* Taking the callback lock waits out a callback in progress, so the old
     * opaque is free to go once this returns; a callback replacing itself
     * already holds it. */
    bool own = hv_current_vcpu && hv_current_vcpu->dom == dom;
    if (!own)
        pthread_mutex_lock(&dom->console_cb_lock);
    pthread_mutex_lock(&dom->console_lock);
    dom->console_fn = fn;
    dom->console_opaque = opaque;
    pthread_mutex_unlock(&dom->console_lock);
    if (!own)
        pthread_mutex_unlock(&dom->console_cb_lock);
    return 0;
}

HV_EXPORT long hv_domain_console_read(hv_domain_t *dom, uint64_t *pos, void *buf,
                                      size_t len)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    if (!dom || !pos || (!buf && len))
        return -EINVAL;
    pthread_mutex_lock(&dom->console_lock);
    uint64_t end = dom->console_written;
    uint64_t oldest = end > HV_CONSOLE_HISTORY ? end - HV_CONSOLE_HISTORY : 0;
    uint64_t p = *pos < oldest ? oldest : *pos > end ? end : *pos;
    size_t n = end - p < len ? (size_t)(end - p) : len;
    for (size_t done = 0; done < n;) {
        size_t at = (p + done) % HV_CONSOLE_HISTORY;
        size_t chunk = HV_CONSOLE_HISTORY - at;
        if (chunk > n - done)
            chunk = n - done;
        memcpy((char *)buf + done, dom->console + at, chunk);
        done += chunk;
    }
    pthread_mutex_unlock(&dom->console_lock);
    *pos = p + n;
    return (long)n;
}
