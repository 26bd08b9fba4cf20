/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "perms.h"

bool perms_allow(const hvs_perm_t *perms, unsigned n, uint32_t domid, unsigned want)
{
    if (domid == HVS_DOM0 || perms[0].domid == domid)
        return true;
    for (unsigned i = 1; i < n; i++)
        if (perms[i].domid == domid)
            return (perms[i].perm & want) == want;
    return (perms[0].perm & want) == want;
}

int perms_check(const hvs_perm_t *perms, unsigned n, const char **why)
{
    if (n == 0 || !perms) {
        *why = "a node needs at least its owner entry";
        return -EINVAL;
    }
    if (n > PERMS_MAX) {
        *why = "more than 64 permission entries";
        return -EINVAL;
    }
    for (unsigned i = 0; i < n; i++)
        if (perms[i].perm > HVS_PERM_BOTH) {
            *why = "permission bits other than n, r, w, b";
            return -EINVAL;
        }
    return 0;
}

HVS_EXPORT int hvs_perm_parse(const char *text, hvs_perm_t *out)
{
    uint32_t bits;
    uint64_t id = 0;

    if (!text || !out)
        return -EINVAL;
    switch (text[0]) {
    case 'n': bits = HVS_PERM_NONE; break;
    case 'r': bits = HVS_PERM_READ; break;
    case 'w': bits = HVS_PERM_WRITE; break;
    case 'b': bits = HVS_PERM_BOTH; break;
    default: return -EINVAL;
    }
    if (text[1] == '\0')
        return -EINVAL;
    for (const char *p = text + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        id = id * 10 + (uint64_t)(*p - '0');
        if (id > UINT32_MAX)
            return -EINVAL;
    }
    out->domid = (uint32_t)id;
    out->perm = bits;
    return 0;
}

HVS_EXPORT int hvs_perm_format(const hvs_perm_t *perm, char *buf, size_t buflen)
{
    static const char letters[] = "nrwb";

    if (!perm || !buf || perm->perm > HVS_PERM_BOTH)
        return -EINVAL;
    int n = snprintf(buf, buflen, "%c%u", letters[perm->perm], perm->domid);
    if (n < 0 || (size_t)n >= buflen)
        return -ENOSPC;
    return n;
}
