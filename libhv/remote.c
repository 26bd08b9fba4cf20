/* SPDX-License-Identifier: MIT */
/* Remote domain handles: proxies over a domain's control socket. STUB. */
#include <errno.h>

#include "internal.h"

int remote_open(hv_t *hv, uint32_t domid, struct hv_domain **out)
{
    (void)domid; (void)out;
    return hv_error(hv, -ENOSYS, "remote handles: not yet");
}
void remote_close(struct hv_domain *d) { (void)d; }
int remote_refuse(struct hv_domain *d, const char *call)
{
    return hv_error(d->hv, -EREMOTE, "domain %u lives in another process: %s needs its "
                    "local handle", d->domid, call);
}
int remote_pause(struct hv_domain *d) { (void)d; return -ENOSYS; }
int remote_unpause(struct hv_domain *d) { (void)d; return -ENOSYS; }
int remote_shutdown(struct hv_domain *d, uint32_t reason) { (void)d; (void)reason; return -ENOSYS; }
int remote_destroy(struct hv_domain *d) { (void)d; return -ENOSYS; }
int remote_wait(struct hv_domain *d, hv_exit_t *e, int t) { (void)d; (void)e; (void)t; return -ENOSYS; }
int remote_info(struct hv_domain *d, hv_domain_info_t *i) { (void)d; (void)i; return -ENOSYS; }
int remote_vcpu_info(struct hv_domain *d, uint32_t v, hv_vcpu_info_t *i) { (void)d; (void)v; (void)i; return -ENOSYS; }
int remote_vcpu_affinity_set(struct hv_domain *d, uint32_t v, const uint32_t *c, size_t n) { (void)d; (void)v; (void)c; (void)n; return -ENOSYS; }
int remote_vcpu_affinity_get(struct hv_domain *d, uint32_t v, uint32_t *c, size_t n) { (void)d; (void)v; (void)c; (void)n; return -ENOSYS; }
int remote_vcpus_set(struct hv_domain *d, uint32_t n) { (void)d; (void)n; return -ENOSYS; }
int remote_memory_target_set(struct hv_domain *d, uint64_t b) { (void)d; (void)b; return -ENOSYS; }
int remote_memory_max_set(struct hv_domain *d, uint64_t b) { (void)d; (void)b; return -ENOSYS; }
int remote_memory_open(struct hv_domain *d, int f, int *fd, uint64_t *s) { (void)d; (void)f; (void)fd; (void)s; return -ENOSYS; }
int remote_console_open(struct hv_domain *d, int *fd) { (void)d; (void)fd; return -ENOSYS; }
size_t remote_dirty_log_size(const struct hv_domain *d) { (void)d; return 0; }
int remote_dirty_log_start(struct hv_domain *d) { (void)d; return -ENOSYS; }
long remote_dirty_log_fetch(struct hv_domain *d, uint64_t *b, size_t n) { (void)d; (void)b; (void)n; return -ENOSYS; }
int remote_dirty_log_stop(struct hv_domain *d) { (void)d; return -ENOSYS; }
long remote_info_many(hv_t *hv, const uint32_t *ids, size_t n, hv_domain_info_t *infos,
                      size_t stride, size_t max)
{ (void)hv; (void)ids; (void)n; (void)infos; (void)stride; (void)max; return -ENOSYS; }
