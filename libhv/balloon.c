/* SPDX-License-Identifier: MIT */
/*
 * Memory and vCPU targets (xl mem-set, mem-max, vcpu-set) and the pages the
 * guest gives back. The host only asks: the targets go into shared info with
 * an event, and the guest runtime honours them with MEMORY_RELEASE/RECLAIM
 * and VCPU_UP/VCPU_DOWN. Released pages are punched out of the RAM memfd, so
 * the host really gets them back; a bitmap records which pages are out, so
 * that a page given back twice is counted once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "hypercall_decode.h"
#include "internal.h"

struct balloon {
    uint64_t *released; /* a bit per 4 KiB page of RAM */
    /* Pages released since the last dirty-log fetch: a punched page now reads
     * as zero, a change KVM's log never sees (allocated while logging). */
    uint64_t *punched;
    uint64_t npages;
};

static volatile struct hv_shared_info *shared(struct hv_domain *d)
{
    return (volatile struct hv_shared_info *)(d->mem.base + HV_GPA_SHARED_INFO);
}

int balloon_init(struct hv_domain *d, uint64_t target_bytes, uint32_t vcpus_online)
{
    struct balloon *b = calloc(1, sizeof(*b));
    uint64_t npages = d->mem.size / HV_PAGE_SIZE;

    if (b)
        b->released = calloc((npages + 63) / 64, sizeof(uint64_t));
    if (!b || !b->released) {
        free(b);
        return hv_error(d->hv, -ENOMEM, "domain %u: out of memory", d->domid);
    }
    b->npages = npages;
    d->balloon = b;
    d->mem_max = d->mem.size;
    d->mem_target = target_bytes < d->mem.size ? target_bytes : d->mem.size;
    d->vcpus_target = vcpus_online;
    return 0;
}

void balloon_fini(struct hv_domain *d)
{
    if (d->balloon) {
        free(d->balloon->released);
        free(d->balloon->punched);
    }
    free(d->balloon);
    d->balloon = NULL;
}

/* With d->lock held, once the domain has started (shared info is set up). */
static void publish_memory(struct hv_domain *d)
{
    shared(d)->mem_target_pages = d->mem_target / HV_PAGE_SIZE;
    events_set(d, HV_EVT_MEMORY);
}

static void publish_vcpus(struct hv_domain *d)
{
    shared(d)->vcpus_target = d->vcpus_target;
    events_set(d, HV_EVT_VCPUS);
}

/*
 * At start, with d->lock held. The events are raised only when the guest
 * has something to do: a target below its RAM, or fewer vCPUs than it has
 * (a guest is otherwise free to use its vCPUs as it likes until the host
 * asks for a count).
 */
void balloon_publish(struct hv_domain *d)
{
    volatile struct hv_shared_info *si = shared(d);

    si->mem_target_pages = d->mem_target / HV_PAGE_SIZE;
    si->vcpus_target = d->vcpus_target;
    if (d->mem_target < d->mem.size - d->mem_released)
        events_set(d, HV_EVT_MEMORY);
    if (d->vcpus_target < d->nr_vcpus)
        events_set(d, HV_EVT_VCPUS);
}

static bool started(const struct hv_domain *d)
{
    return d->state == HV_DOMAIN_RUNNING || d->state == HV_DOMAIN_PAUSED;
}

/*
 * The lowest target worth asking for: the ABI's minimum RAM, or the loaded
 * image (the builder's start info, which the guest cannot write) if larger.
 */
static uint64_t target_floor(struct hv_domain *d)
{
    const struct hv_start_info *si =
        guest_mem_ptr(&d->mem, HV_GPA_START_INFO, sizeof(*si), GUEST_ACCESS_HOST);
    uint64_t floor = HV_MIN_MEMORY;

    if (si && si->magic == HV_START_MAGIC && si->image_end <= d->mem.size) {
        uint64_t end = (si->image_end + HV_PAGE_SIZE - 1) & ~(HV_PAGE_SIZE - 1);
        if (end > floor)
            floor = end;
    }
    return floor;
}

static int check_dead(struct hv_domain *d, const char *what)
{
    if (d->state == HV_DOMAIN_SHUTDOWN)
        return hv_error(d->hv, -ESRCH, "domain %u: cannot set the %s of a domain that "
                        "has shut down", d->domid, what);
    return 0;
}

HV_EXPORT int hv_domain_memory_target_set(hv_domain_t *dom, uint64_t bytes)
{
    if (dom && dom->remote)
        return remote_memory_target_set(dom, bytes);
    if (!dom)
        return -EINVAL;
    int err;
    uint64_t target = bytes & ~(HV_PAGE_SIZE - 1);
    uint64_t floor = target_floor(dom);

    pthread_mutex_lock(&dom->lock);
    if ((err = check_dead(dom, "memory target")) < 0)
        goto out;
    if (target > dom->mem_max) {
        err = hv_error(dom->hv, -EINVAL, "domain %u: memory target %llu KiB is above its "
                       "maximum of %llu KiB (raise it with mem-max first)", dom->domid,
                       (unsigned long long)(bytes >> 10),
                       (unsigned long long)(dom->mem_max >> 10));
        goto out;
    }
    if (target < floor) {
        err = hv_error(dom->hv, -EINVAL, "domain %u: memory target %llu KiB is below "
                       "the %llu KiB the domain needs at least", dom->domid,
                       (unsigned long long)(bytes >> 10), (unsigned long long)(floor >> 10));
        goto out;
    }
    dom->mem_target = target;
    if (started(dom))
        publish_memory(dom);
out:
    pthread_mutex_unlock(&dom->lock);
    if (!err)
        registry_update(dom);
    return err;
}

HV_EXPORT int hv_domain_memory_max_set(hv_domain_t *dom, uint64_t bytes)
{
    if (dom && dom->remote)
        return remote_memory_max_set(dom, bytes);
    if (!dom)
        return -EINVAL;
    int err;
    uint64_t max = bytes & ~(HV_PAGE_SIZE - 1);
    uint64_t floor = target_floor(dom);

    pthread_mutex_lock(&dom->lock);
    if ((err = check_dead(dom, "memory maximum")) < 0)
        goto out;
    if (max > dom->mem.size || max < floor) {
        err = hv_error(dom->hv, -EINVAL, "domain %u: memory maximum %llu KiB must be from "
                       "%llu KiB to its RAM, %llu KiB (the RAM is fixed at creation: "
                       "maxmem)", dom->domid, (unsigned long long)(bytes >> 10),
                       (unsigned long long)(floor >> 10),
                       (unsigned long long)(dom->mem.size >> 10));
        goto out;
    }
    dom->mem_max = max;
    if (dom->mem_target > max) {
        dom->mem_target = max;
        if (started(dom))
            publish_memory(dom);
    }
out:
    pthread_mutex_unlock(&dom->lock);
    if (!err)
        registry_update(dom);
    return err;
}

HV_EXPORT int hv_domain_vcpus_set(hv_domain_t *dom, uint32_t online)
{
    if (dom && dom->remote)
        return remote_vcpus_set(dom, online);
    if (!dom)
        return -EINVAL;
    int err;

    if (online < 1 || online > dom->nr_vcpus)
        return hv_error(dom->hv, -EINVAL, "domain %u: %u vCPUs online: it has 1 to %u",
                        dom->domid, online, dom->nr_vcpus);
    pthread_mutex_lock(&dom->lock);
    if ((err = check_dead(dom, "vCPU count")) == 0) {
        dom->vcpus_target = online;
        if (started(dom))
            publish_vcpus(dom);
    }
    pthread_mutex_unlock(&dom->lock);
    return err;
}

void balloon_dirty_merge(struct hv_domain *d, uint64_t *bitmap)
{
    struct balloon *b = d->balloon;
    if (!b || !b->punched)
        return;
    for (uint64_t w = 0; w < (b->npages + 63) / 64; w++) {
        bitmap[w] |= b->punched[w];
        b->punched[w] = 0;
    }
}

/* With d->lock held: flips the pages' bits to `out`; returns how many flipped. */
static uint64_t mark(struct balloon *b, uint64_t first, uint64_t n, bool out)
{
    uint64_t flipped = 0;

    for (uint64_t p = first; p < first + n;) {
        uint64_t word = p / 64, bit = p % 64;
        uint64_t take = 64 - bit < first + n - p ? 64 - bit : first + n - p;
        uint64_t mask = (take == 64 ? ~0ull : ((1ull << take) - 1)) << bit;
        uint64_t change = (out ? ~b->released[word] : b->released[word]) & mask;
        flipped += (uint64_t)__builtin_popcountll(change);
        b->released[word] ^= change;
        p += take;
    }
    return flipped;
}

int64_t balloon_hypercall(struct hv_vcpu *v, uint32_t nr, uint64_t arg_gpa)
{
    struct hv_domain *d = v->dom;
    struct hc_call c;
    int64_t ret = hc_decode(&d->mem, nr, arg_gpa, d->nr_vcpus, &c);

    if (ret < 0)
        return ret;
    uint64_t gpa = c.args.memory.gpa, npages = c.args.memory.npages;
    if (npages == 0)
        return 0;
    bool release = nr == HV_HC_MEMORY_RELEASE;
    /* Outside the lock: punching a large range takes a while. The contents
     * are the guest's to lose; only the count needs the lock. */
    if (release && fallocate(d->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             (off_t)gpa, (off_t)(npages * HV_PAGE_SIZE)) < 0) {
        hv_log(d->hv, HV_LOG_WARN, "domain %u: freeing [0x%llx, +%llu pages): %s",
               d->domid, (unsigned long long)gpa, (unsigned long long)npages,
               strerror(errno));
        return -HV_EINVAL;
    }
    pthread_mutex_lock(&d->lock);
    struct balloon *b = d->balloon;
    if (release && d->dirty_logging) {
        if (!b->punched)
            b->punched = calloc((b->npages + 63) / 64, sizeof(uint64_t));
        for (uint64_t p = gpa / HV_PAGE_SIZE; b->punched && p < gpa / HV_PAGE_SIZE + npages; p++)
            b->punched[p / 64] |= 1ull << (p % 64);
        if (!b->punched)
            hv_log(d->hv, HV_LOG_ERROR, "domain %u: out of memory for the dirty log of "
                   "released pages: the next copy may miss them", d->domid);
    }
    uint64_t n = mark(b, gpa / HV_PAGE_SIZE, npages, release);
    if (release)
        d->mem_released += n * HV_PAGE_SIZE;
    else
        d->mem_released -= n * HV_PAGE_SIZE;
    pthread_mutex_unlock(&d->lock);
    return (int64_t)n;
}
