/* SPDX-License-Identifier: MIT */
/*
 * vCPU thread affinity (xl vcpu-pin). The set is kept per vCPU so that a
 * thread started later (VCPU_UP, hv_domain_start) gets it too; the thread's
 * kernel id is kept so that hv_vcpu_info can say where it last ran.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct vcpu_affinity {
    cpu_set_t *set;   /* CPU_ALLOC(HV_MAX_HOST_CPUS); NULL: all host CPUs */
    pid_t tid;        /* of its thread once started; 0 before */
};

#define SET_BYTES CPU_ALLOC_SIZE(HV_MAX_HOST_CPUS)

/* With d->lock held (or on a thread no one else can see yet). */
static struct vcpu_affinity *state_of(struct hv_vcpu *v)
{
    if (!v->affinity)
        v->affinity = calloc(1, sizeof(*v->affinity));
    return v->affinity;
}

/*
 * The host's online CPUs from sysfs ("0-3,6"); sysconf's count as a
 * fallback, which is right on machines without holes in their numbering.
 */
static void online_cpus(cpu_set_t *set)
{
    char buf[4096];
    size_t n = 0;
    FILE *f = fopen("/sys/devices/system/cpu/online", "re");

    CPU_ZERO_S(SET_BYTES, set);
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    const char *p = buf;
    bool any = false;
    while (*p >= '0' && *p <= '9') {
        char *end;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (*end == '-')
            hi = strtoul(end + 1, &end, 10);
        for (unsigned long c = lo; c <= hi && c < HV_MAX_HOST_CPUS; c++) {
            CPU_SET_S(c, SET_BYTES, set);
            any = true;
        }
        p = *end == ',' ? end + 1 : end;
    }
    if (!any) {
        long conf = sysconf(_SC_NPROCESSORS_ONLN);
        for (long c = 0; c < conf && c < HV_MAX_HOST_CPUS; c++)
            CPU_SET_S(c, SET_BYTES, set);
    }
}

int vcpu_affinity_apply(struct hv_vcpu *v)
{
    struct hv_domain *d = v->dom;
    int err = 0;

    pthread_mutex_lock(&d->lock);
    struct vcpu_affinity *a = state_of(v);
    if (a)
        a->tid = gettid();
    /* A new thread inherits its creator's CPU set (vCPU 0's pin when the
     * guest brings it up, or a pinned API thread's): an unpinned vCPU gets
     * the process's own set, as hv_open found it. */
    const cpu_set_t *set = a && a->set ? a->set : d->hv->cpus_default;
    if (set && sched_setaffinity(0, SET_BYTES, set) < 0)
        err = -errno;
    pthread_mutex_unlock(&d->lock);
    if (err)
        hv_log(d->hv, HV_LOG_WARN, "domain %u vCPU %u: cannot pin its thread: %s",
               d->domid, v->id, strerror(-err));
    return err;
}

void vcpu_affinity_free(struct hv_vcpu *v)
{
    if (!v->affinity)
        return;
    CPU_FREE(v->affinity->set);
    free(v->affinity);
    v->affinity = NULL;
}

/* With d->lock held: the thread's kernel id while it runs, else 0. */
static pid_t live_tid(struct hv_vcpu *v)
{
    if (!v->affinity || !v->thread_started || v->state == VCPU_EXITED)
        return 0;
    return v->affinity->tid;
}

int32_t vcpu_affinity_host_cpu(struct hv_vcpu *v)
{
    char path[64], buf[1024];
    pid_t tid = live_tid(v);

    if (!tid)
        return -1;
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Field 39 (processor); the command name (field 2) may hold spaces and
     * parentheses, so count from the last ')', which ends field 2. */
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 39; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return -1;
    long cpu = strtol(p + 1, NULL, 10);
    return cpu >= 0 && cpu < HV_MAX_HOST_CPUS ? (int32_t)cpu : -1;
}

static struct hv_vcpu *vcpu_of(hv_domain_t *dom, uint32_t vcpu, int *err)
{
    if (vcpu >= dom->nr_vcpus) {
        *err = hv_error(dom->hv, -EINVAL, "domain %u has no vCPU %u (it has %u)",
                        dom->domid, vcpu, dom->nr_vcpus);
        return NULL;
    }
    return &dom->vcpus[vcpu];
}

HV_EXPORT int hv_vcpu_affinity_set(hv_domain_t *dom, uint32_t vcpu, const uint32_t *cpus,
                                   size_t ncpus)
{
    if (dom && dom->remote)
        return remote_vcpu_affinity_set(dom, vcpu, cpus, ncpus);
    int err = 0;

    if (!dom || (ncpus && !cpus))
        return -EINVAL;
    struct hv_vcpu *v = vcpu_of(dom, vcpu, &err);
    if (!v)
        return err;
    cpu_set_t *online = CPU_ALLOC(HV_MAX_HOST_CPUS);
    cpu_set_t *set = CPU_ALLOC(HV_MAX_HOST_CPUS);
    if (!online || !set) {
        err = hv_error(dom->hv, -ENOMEM, "domain %u vCPU %u: out of memory", dom->domid,
                       vcpu);
        goto out;
    }
    online_cpus(online);
    CPU_ZERO_S(SET_BYTES, set);
    for (size_t i = 0; i < ncpus; i++) {
        if (cpus[i] >= HV_MAX_HOST_CPUS || !CPU_ISSET_S(cpus[i], SET_BYTES, online)) {
            err = hv_error(dom->hv, -EINVAL, "domain %u vCPU %u: host CPU %u is not an "
                           "online CPU of this host (it has %ld)", dom->domid, vcpu,
                           cpus[i], sysconf(_SC_NPROCESSORS_CONF));
            goto out;
        }
        CPU_SET_S(cpus[i], SET_BYTES, set);
    }

    pthread_mutex_lock(&dom->lock);
    struct vcpu_affinity *a = state_of(v);
    if (!a) {
        pthread_mutex_unlock(&dom->lock);
        err = hv_error(dom->hv, -ENOMEM, "domain %u vCPU %u: out of memory", dom->domid,
                       vcpu);
        goto out;
    }
    /* A running thread moves now; one not started yet takes it at its start. */
    if (live_tid(v)) {
        int e = pthread_setaffinity_np(v->thread, SET_BYTES, ncpus ? set : online);
        if (e && e != ESRCH) {
            pthread_mutex_unlock(&dom->lock);
            err = hv_error(dom->hv, -e, "domain %u vCPU %u: pinning its thread: %s",
                           dom->domid, vcpu, strerror(e));
            goto out;
        }
    }
    CPU_FREE(a->set);
    a->set = ncpus ? set : NULL;
    if (ncpus)
        set = NULL;
    pthread_mutex_unlock(&dom->lock);
out:
    CPU_FREE(online);
    CPU_FREE(set);
    return err;
}

HV_EXPORT int hv_vcpu_affinity_get(hv_domain_t *dom, uint32_t vcpu, uint32_t *cpus,
                                   size_t max)
{
    if (dom && dom->remote)
        return remote_vcpu_affinity_get(dom, vcpu, cpus, max);
    int err = 0;

    if (!dom || (max && !cpus))
        return -EINVAL;
    struct hv_vcpu *v = vcpu_of(dom, vcpu, &err);
    if (!v)
        return err;
    cpu_set_t *set = CPU_ALLOC(HV_MAX_HOST_CPUS);
    if (!set)
        return hv_error(dom->hv, -ENOMEM, "domain %u vCPU %u: out of memory", dom->domid,
                        vcpu);
    pthread_mutex_lock(&dom->lock);
    bool pinned = v->affinity && v->affinity->set;
    if (pinned)
        memcpy(set, v->affinity->set, SET_BYTES);
    pthread_mutex_unlock(&dom->lock);
    if (!pinned)
        online_cpus(set);
    int n = 0;
    for (uint32_t c = 0; c < HV_MAX_HOST_CPUS; c++)
        if (CPU_ISSET_S(c, SET_BYTES, set)) {
            if ((size_t)n < max)
                cpus[n] = c;
            n++;
        }
    CPU_FREE(set);
    return n;
}
