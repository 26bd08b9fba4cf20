/* SPDX-License-Identifier: MIT */
/*
 * Finding domains host-wide: hv_domain_open, _close, _list. A domain this
 * process runs is always reached through its local handle; the others
 * through their monitors' control sockets (remote.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* With hv->lock held. */
static struct hv_domain *find_local(hv_t *hv, uint32_t domid)
{
    for (struct hv_domain *d = hv->domains; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

HV_EXPORT int hv_domain_open(hv_t *hv, uint32_t domid, hv_domain_t **out)
{
    if (!hv || !out)
        return -EINVAL;
    *out = NULL;
    pthread_mutex_lock(&hv->lock);
    struct hv_domain *d = find_local(hv, domid);
    pthread_mutex_unlock(&hv->lock);
    if (d) {
        *out = d;
        return 0;
    }
    if (!hv->store_uri)
        return hv_error(hv, -ENOENT, "no domain %u (without a host registry, HV_STORE=none, "
                        "only this process's domains can be opened)", domid);
    if (domid < 1 || domid > 32751)
        return hv_error(hv, -ENOENT, "no domain %u (domids are 1 to 32751)", domid);
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

static int by_domid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The domids of this process's domains, sorted (malloc'd). */
static int local_ids(hv_t *hv, uint32_t **ids, size_t *n)
{
    pthread_mutex_lock(&hv->lock);
    size_t count = 0;
    for (struct hv_domain *d = hv->domains; d; d = d->next)
        count++;
    uint32_t *v = malloc((count ? count : 1) * sizeof(*v));
    if (v) {
        count = 0;
        for (struct hv_domain *d = hv->domains; d; d = d->next)
            v[count++] = d->domid;
    }
    pthread_mutex_unlock(&hv->lock);
    if (!v)
        return hv_error(hv, -ENOMEM, "listing domains: out of memory");
    qsort(v, count, sizeof(*v), by_domid);
    *ids = v;
    *n = count;
    return 0;
}

static int local_info(hv_t *hv, uint32_t domid, hv_domain_info_t *info)
{
    /* Under hv->lock: hv_domain_destroy unlinks before it frees. */
    pthread_mutex_lock(&hv->lock);
    struct hv_domain *d = find_local(hv, domid);
    int err = d ? hv_domain_info(d, info) : -ENOENT;
    pthread_mutex_unlock(&hv->lock);
    return err;
}

HV_EXPORT long hv_domain_list(hv_t *hv, hv_domain_info_t *infos, size_t max)
{
    if (!hv || (max && (!infos || infos->size == 0)))
        return -EINVAL;
    size_t stride = max ? infos->size : sizeof(hv_domain_info_t);
    uint32_t *ids = NULL;
    size_t n = 0;
    int err = hv->store_uri ? registry_list(hv, &ids, &n) : local_ids(hv, &ids, &n);
    if (err < 0)
        return err;

    /* Every info first (remote ones concurrently), then copied out in order. */
    hv_domain_info_t *all = calloc(n ? n : 1, sizeof(*all));
    uint32_t *remote_ids = malloc((n ? n : 1) * sizeof(*remote_ids));
    hv_domain_info_t *remote = calloc(n ? n : 1, sizeof(*remote));
    long count = 0;
    if (!all || !remote_ids || !remote) {
        count = hv_error(hv, -ENOMEM, "listing domains: out of memory");
        goto out;
    }
    size_t nremote = 0;
    for (size_t i = 0; i < n; i++) {
        /* domid stays 0 (no domain has it) unless the info is here. */
        all[i].size = sizeof(all[i]);
        if (local_info(hv, ids[i], &all[i]) < 0) {
            all[i].domid = 0;
            remote_ids[nremote++] = ids[i];
        }
    }
    for (size_t i = 0; i < nremote; i++)
        remote[i].size = sizeof(remote[i]);
    long got = nremote ? remote_info_many(hv, remote_ids, nremote, remote, sizeof(*remote),
                                          nremote) : 0;
    if (got < 0) {
        count = got;
        goto out;
    }
    /* Merge: both lists are in domid order. */
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        hv_domain_info_t *src = NULL;
        if (all[i].domid) {
            src = &all[i];
        } else if (r < (size_t)got && remote[r].domid == ids[i]) {
            src = &remote[r++];
        }
        if (!src)
            continue; /* gone meanwhile */
        if ((size_t)count < max) {
            hv_domain_info_t *dst = (hv_domain_info_t *)((char *)infos + (size_t)count * stride);
            dst->size = stride;
            struct_out(dst, src, sizeof(*src));
        }
        count++;
    }
out:
    free(all);
    free(remote);
    free(remote_ids);
    free(ids);
    return count;
}
