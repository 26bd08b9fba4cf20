/* SPDX-License-Identifier: MIT */
/*
 * Guest time. The TSC is not virtualised here, so the guest reads the host
 * TSC and scales it with the pvclock record in its shared info page; libhv
 * keeps that record in step with CLOCK_MONOTONIC (minus a per-domain offset,
 * which is what save/restore moves so guest time never jumps back).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <x86intrin.h>

#include "internal.h"

#define NSEC_PER_SEC 1000000000ull

uint64_t clock_host_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static volatile struct hv_pvclock *record(struct hv_domain *d)
{
    return &((volatile struct hv_shared_info *)(d->mem.base + HV_GPA_SHARED_INFO))
                ->clock;
}

/* The formula of abi.h, as the guest evaluates it. */
static uint64_t scale(uint64_t tsc, uint64_t tsc_base, uint64_t ns_base,
                      uint32_t mul, int8_t shift)
{
    uint64_t delta = tsc - tsc_base;

    if (tsc < tsc_base)
        return ns_base;
    delta = shift >= 0 ? delta << shift : delta >> -shift;
    return ns_base + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

/* Guest time by the last published record (0 if none), with clock_lock held. */
static uint64_t record_now(struct hv_domain *d, uint64_t tsc)
{
    const struct hv_pvclock *r = &d->clock_pub;

    return r->mul ? scale(tsc, r->tsc_base, r->ns_base, r->mul, r->shift) : 0;
}

uint64_t clock_guest_ns(struct hv_domain *d)
{
    return clock_host_ns() - (uint64_t)d->clock_offset_ns;
}

int clock_init(struct hv_domain *d)
{
    long khz = ioctl(d->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);

    if (khz <= 0)
        return hv_error(d->hv, khz < 0 ? -errno : -ENOTSUP,
                        "domain %u: KVM_GET_TSC_KHZ: %s", d->domid,
                        khz < 0 ? strerror(errno) : "no TSC frequency");
    d->tsc_khz = (uint64_t)khz;
    d->clock_offset_ns = (int64_t)clock_host_ns();
    return 0;
}

/*
 * Rewrites the record from a fresh (TSC, CLOCK_MONOTONIC) pair. The TSC rate
 * KVM reports and CLOCK_MONOTONIC's NTP-slewed rate differ by some ppm, so a
 * new record may start slightly before where the old one had got to: it then
 * starts where the old one was, so guest time never goes backwards.
 */
void clock_publish(struct hv_domain *d)
{
    volatile struct hv_pvclock *r = record(d);
    uint64_t tps = d->tsc_khz * 1000;
    int8_t shift = 0;

    while (NSEC_PER_SEC >= (tps << shift))
        shift++;
    uint32_t mul = (uint32_t)(((unsigned __int128)NSEC_PER_SEC << 32) / (tps << shift));

    pthread_mutex_lock(&d->clock_lock);
    uint64_t t0 = __rdtsc();
    uint64_t mono = clock_host_ns();
    uint64_t t1 = __rdtsc();
    uint64_t tsc = t0 + (t1 - t0) / 2;
    uint64_t ns = mono - (uint64_t)d->clock_offset_ns;
    uint64_t old = record_now(d, tsc);
    if (old > ns)
        ns = old;
    d->clock_pub = (struct hv_pvclock){
        .mul = mul, .tsc_base = tsc, .ns_base = ns, .shift = shift,
        .wall_offset_ns = (int64_t)(realtime_ns() - mono),
    };

    uint32_t v = r->version;
    __atomic_store_n(&r->version, v | 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    r->tsc_base = tsc;
    r->ns_base = ns;
    r->mul = mul;
    r->shift = shift;
    r->wall_offset_ns = d->clock_pub.wall_offset_ns;
    __atomic_store_n(&r->version, (v | 1) + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&d->clock_lock);
}

HV_EXPORT int hv_domain_clock_get(hv_domain_t *dom, hv_clock_t *clock)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    struct kvm_clock_data kc = {0};
    hv_clock_t c = {.size = sizeof(c)};

    if (!dom || !clock || clock->size == 0)
        return -EINVAL;
    if (ioctl(dom->vm_fd, KVM_GET_CLOCK, &kc) < 0)
        return hv_error(dom->hv, -errno, "domain %u: KVM_GET_CLOCK: %s",
                        dom->domid, strerror(errno));
    /* What the guest could have read last counts, not only the host's view. */
    pthread_mutex_lock(&dom->clock_lock);
    uint64_t ns = clock_guest_ns(dom);
    uint64_t seen = record_now(dom, __rdtsc());
    pthread_mutex_unlock(&dom->clock_lock);
    c.guest_ns = seen > ns ? seen : ns;
    c.kvm_clock_ns = kc.clock;
    struct_out(clock, &c, sizeof(c));
    return 0;
}

HV_EXPORT int hv_domain_clock_set(hv_domain_t *dom, const hv_clock_t *user)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    hv_clock_t c, *clock = &c;

    if (!dom || !user)
        return -EINVAL;
    int err = struct_in(&c, sizeof(c), user, sizeof(c));
    if (err < 0)
        return hv_error(dom->hv, err, "hv_domain_clock_set: bad size %zu", user->size);
    /* Held throughout, so a concurrent start sees the old clock or the new. */
    pthread_mutex_lock(&dom->lock);
    struct kvm_clock_data kc = {.clock = clock->kvm_clock_ns};
    if (dom->state != HV_DOMAIN_CREATED)
        err = hv_error(dom->hv, -EBUSY,
                       "domain %u: the clock can be set only before start",
                       dom->domid);
    else if (ioctl(dom->vm_fd, KVM_SET_CLOCK, &kc) < 0)
        err = hv_error(dom->hv, -errno, "domain %u: KVM_SET_CLOCK: %s",
                       dom->domid, strerror(errno));
    if (!err) {
        pthread_mutex_lock(&dom->clock_lock);
        dom->clock_offset_ns = (int64_t)(clock_host_ns() - clock->guest_ns);
        /* Records of this host before the restore are void: the next one
         * starts from the restored time. */
        dom->clock_pub.mul = 0;
        pthread_mutex_unlock(&dom->clock_lock);
    }
    pthread_mutex_unlock(&dom->lock);
    return err;
}
