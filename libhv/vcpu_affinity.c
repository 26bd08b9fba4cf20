/* SPDX-License-Identifier: MIT */
/* vCPU thread affinity. STUB. */
#include <errno.h>

#include "internal.h"

int vcpu_affinity_apply(struct hv_vcpu *v) { (void)v; return 0; }
void vcpu_affinity_free(struct hv_vcpu *v) { (void)v; }

HV_EXPORT int hv_vcpu_affinity_set(hv_domain_t *dom, uint32_t vcpu, const uint32_t *cpus, size_t ncpus)
{ (void)dom; (void)vcpu; (void)cpus; (void)ncpus; return -ENOSYS; }
HV_EXPORT int hv_vcpu_affinity_get(hv_domain_t *dom, uint32_t vcpu, uint32_t *cpus, size_t max)
{ (void)dom; (void)vcpu; (void)cpus; (void)max; return -ENOSYS; }
