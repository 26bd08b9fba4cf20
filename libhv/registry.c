/* SPDX-License-Identifier: MIT */
/* The host registry in the store (docs/host-control.md). STUB. */
#include <errno.h>
#include <stdio.h>

#include "internal.h"

bool registry_enabled(hv_t *hv) { (void)hv; return false; }
int registry_claim(struct hv_domain *d) { (void)d; return -ENOSYS; }
void registry_update(struct hv_domain *d) { (void)d; }
void registry_release(struct hv_domain *d) { (void)d; }
int registry_lookup(hv_t *hv, const char *name, uint32_t *domid) { (void)hv; (void)name; (void)domid; return -ENOSYS; }
int registry_list(hv_t *hv, uint32_t **domids, size_t *n) { (void)hv; (void)domids; (void)n; return -ENOSYS; }
int registry_store_open(hv_t *hv, uint32_t domid, hvs_t **out) { (void)hv; (void)domid; (void)out; return -ENOSYS; }
void registry_close(hv_t *hv) { (void)hv; }
int registry_socket_path(hv_t *hv, uint32_t domid, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/domains/%u.sock", hv->run_dir, domid);
    if (n < 0 || (size_t)n >= len)
        return hv_error(hv, -ENAMETOOLONG, "run dir %s: socket path of domain %u is too long",
                        hv->run_dir, domid);
    return 0;
}

HV_EXPORT int hv_domain_lookup(hv_t *hv, const char *name, uint32_t *domid)
{
    if (!hv || !name || !domid)
        return -EINVAL;
    return registry_lookup(hv, name, domid);
}
