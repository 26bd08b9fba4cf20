/* SPDX-License-Identifier: MIT */
/* Memory and vCPU targets the guest runtime honours. STUB. */
#include <errno.h>

#include "internal.h"

int balloon_init(struct hv_domain *d, uint64_t target_bytes, uint32_t vcpus_online)
{
    d->mem_max = d->mem.size;
    d->mem_target = target_bytes;
    d->vcpus_target = vcpus_online;
    return 0;
}
int64_t balloon_hypercall(struct hv_vcpu *v, uint32_t nr, uint64_t arg_gpa) { (void)v; (void)nr; (void)arg_gpa; return -HV_ENOSYS; }

HV_EXPORT int hv_domain_vcpus_set(hv_domain_t *dom, uint32_t online) { (void)dom; (void)online; return -ENOSYS; }
HV_EXPORT int hv_domain_memory_target_set(hv_domain_t *dom, uint64_t bytes) { (void)dom; (void)bytes; return -ENOSYS; }
HV_EXPORT int hv_domain_memory_max_set(hv_domain_t *dom, uint64_t bytes) { (void)dom; (void)bytes; return -ENOSYS; }
void balloon_publish(struct hv_domain *d) { (void)d; }
