/* SPDX-License-Identifier: MIT */
/*
 * The guest's store device: one shared page of two byte rings
 * (struct hv_store_ring), a doorbell bound to an eventfd, an event bit.
 * The service thread moves xenstore messages between the ring and the relay
 * (store_relay.c), which executes them as the guest's domid.
 *
 * The page is the guest's to scribble on at any time: the host keeps its
 * own copies of the indices it owns (req_cons, rsp_prod) and never reads
 * them back, reads each guest-owned index once per decision, and copies
 * bytes out of the ring before parsing them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "store_relay.h"

/* Replies and events waiting for room in rsp: past this the guest's
 * requests are not read (nor its watch events taken) until it consumes. */
#define OUT_SOFT_LIMIT (64u << 10)
/* Never more than this, whatever a burst of watch events adds. */
#define OUT_HARD_LIMIT (1u << 20)

struct store_ring {
    struct hv_domain *d;
    struct hv_store_ring *ring; /* in guest RAM */
    int evfd;                   /* the doorbell */
    int watch_fd;               /* hvs_watch_fd(h), owned by h */
    hvs_t *h;
    struct relay *relay;
    uint8_t event_bit;
    uint32_t doorbell_len;      /* as bound: 0 (any width) or 1 */
    bool doorbell_bound;
    bool broken;                /* the guest broke the protocol: not served */
    bool watch_paused;
    bool dropped;               /* an event was dropped (logged once) */
    bool notify;                /* indices moved: raise the event */
    uint32_t req_cons;          /* ours: never read back from the page */
    uint32_t rsp_prod;
    uint8_t in[RELAY_HDR_SIZE + RELAY_PAYLOAD_MAX]; /* the request being assembled */
    uint32_t in_len;
    uint8_t *out;               /* queued output: out[out_head .. out_len) */
    size_t out_head, out_len, out_cap;
};

static void ring_broken(struct store_ring *s, const char *why, unsigned long long a,
                        unsigned long long b)
{
    if (s->broken)
        return;
    s->broken = true;
    hv_log(s->d->hv, HV_LOG_WARN,
           "domain %u: store ring: %s (%llu, %llu); the guest's store ring is no longer served",
           s->d->domid, why, a, b);
    service_del(s->d, s->evfd);
    service_del(s->d, s->watch_fd);
}

static size_t out_pending(const struct store_ring *s)
{
    return s->out_len - s->out_head;
}

/* relay_out_fn: queue a message for the guest. */
static void queue_msg(void *opaque, const struct relay_hdr *hdr, const void *payload)
{
    struct store_ring *s = opaque;
    size_t need = RELAY_HDR_SIZE + hdr->len;

    if (out_pending(s) + need > OUT_HARD_LIMIT) {
        if (!s->dropped)
            hv_log(s->d->hv, HV_LOG_WARN,
                   "domain %u: store ring: the guest does not read its ring; "
                   "dropping messages for it", s->d->domid);
        s->dropped = true;
        return;
    }
    if (s->out_head && s->out_len + need > s->out_cap) {
        memmove(s->out, s->out + s->out_head, out_pending(s));
        s->out_len -= s->out_head;
        s->out_head = 0;
    }
    if (s->out_len + need > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 8192;
        while (cap < s->out_len + need)
            cap *= 2;
        uint8_t *p = realloc(s->out, cap);
        if (!p) {
            hv_log(s->d->hv, HV_LOG_ERROR, "domain %u: store ring: out of memory",
                   s->d->domid);
            return;
        }
        s->out = p;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, hdr, RELAY_HDR_SIZE);
    if (hdr->len)
        memcpy(s->out + s->out_len + RELAY_HDR_SIZE, payload, hdr->len);
    s->out_len += need;
}

/* Moves queued output into rsp, as far as the guest left room. */
static void flush_out(struct store_ring *s)
{
    if (s->broken || !out_pending(s))
        return;
    uint32_t cons = __atomic_load_n(&s->ring->rsp_cons, __ATOMIC_ACQUIRE);
    uint32_t used = s->rsp_prod - cons;
    if (used > HV_STORE_RING_SIZE)
        return ring_broken(s, "rsp_cons is out of range", cons, s->rsp_prod);
    size_t n = HV_STORE_RING_SIZE - used;
    if (n > out_pending(s))
        n = out_pending(s);
    for (size_t done = 0; done < n;) {
        uint32_t at = (s->rsp_prod + (uint32_t)done) % HV_STORE_RING_SIZE;
        size_t chunk = HV_STORE_RING_SIZE - at;
        if (chunk > n - done)
            chunk = n - done;
        memcpy(&s->ring->rsp[at], s->out + s->out_head + done, chunk);
        done += chunk;
    }
    if (!n)
        return;
    s->out_head += n;
    if (s->out_head == s->out_len)
        s->out_head = s->out_len = 0;
    s->rsp_prod += (uint32_t)n;
    __atomic_store_n(&s->ring->rsp_prod, s->rsp_prod, __ATOMIC_RELEASE);
    s->notify = true;
}

/*
 * Takes request bytes from req towards the message being assembled and runs
 * it once complete. Returns false when there is nothing more to take.
 */
static bool take_request(struct store_ring *s)
{
    uint32_t prod = __atomic_load_n(&s->ring->req_prod, __ATOMIC_ACQUIRE);
    uint32_t avail = prod - s->req_cons;
    if (avail > HV_STORE_RING_SIZE) {
        ring_broken(s, "req_prod is out of range", prod, s->req_cons);
        return false;
    }
    if (!avail)
        return false;
    struct relay_hdr hdr;
    uint32_t want = RELAY_HDR_SIZE - s->in_len;
    if (s->in_len >= RELAY_HDR_SIZE) {
        memcpy(&hdr, s->in, sizeof(hdr));
        want = RELAY_HDR_SIZE + hdr.len - s->in_len;
    }
    uint32_t n = avail < want ? avail : want;
    for (uint32_t done = 0; done < n;) {
        uint32_t at = (s->req_cons + done) % HV_STORE_RING_SIZE;
        uint32_t chunk = HV_STORE_RING_SIZE - at;
        if (chunk > n - done)
            chunk = n - done;
        memcpy(s->in + s->in_len + done, &s->ring->req[at], chunk);
        done += chunk;
    }
    s->in_len += n;
    s->req_cons += n;
    __atomic_store_n(&s->ring->req_cons, s->req_cons, __ATOMIC_RELEASE);
    s->notify = true;

    if (s->in_len < RELAY_HDR_SIZE)
        return true;
    memcpy(&hdr, s->in, sizeof(hdr));
    if (hdr.len > RELAY_PAYLOAD_MAX) {
        /* The stream cannot be resynchronised. */
        ring_broken(s, "request longer than the protocol allows (type, length)", hdr.type,
                    hdr.len);
        return false;
    }
    if (s->in_len < RELAY_HDR_SIZE + hdr.len)
        return true;
    s->in_len = 0;
    relay_request(s->relay, &hdr, (const char *)s->in + RELAY_HDR_SIZE);
    flush_out(s);
    return true;
}

/*
 * A guest that keeps its ring full must not keep the service thread (and so
 * its control socket and console) to itself: after PUMP_BUDGET steps we go
 * back to epoll, with the doorbell re-armed.
 */
#define PUMP_BUDGET 32

static void pump(struct store_ring *s)
{
    unsigned budget = PUMP_BUDGET;

    flush_out(s);
    while (!s->broken && out_pending(s) < OUT_SOFT_LIMIT && budget && take_request(s)) {
        budget--;
        /* Watch events the store sent during that round trip wait in the
         * client: move them now into our capped queue. */
        if (hvs_dispatch(s->h) < 0)
            hv_log(s->d->hv, HV_LOG_WARN, "domain %u: store ring: watch events: %s",
                   s->d->domid, hvs_last_error(s->h));
    }
    if (!budget && !s->broken) {
        uint64_t one = 1;
        if (write(s->evfd, &one, sizeof(one)) < 0)
            hv_log(s->d->hv, HV_LOG_WARN, "domain %u: store ring: re-arm: %s", s->d->domid,
                   strerror(errno));
    }
    flush_out(s);
    if (s->watch_paused && !s->broken && out_pending(s) < OUT_SOFT_LIMIT &&
        service_mod(s->d, s->watch_fd, EPOLLIN) == 0)
        s->watch_paused = false;
    if (s->notify) {
        s->notify = false;
        events_set(s->d, s->event_bit);
    }
}

static void on_doorbell(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    (void)d;
    (void)events;
    struct store_ring *s = opaque;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        hv_log(s->d->hv, HV_LOG_WARN, "domain %u: store ring doorbell: %s", s->d->domid,
               strerror(errno));
    pump(s);
}

static void on_watch_fd(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    (void)events;
    struct store_ring *s = opaque;
    if (s->broken)
        return;
    if (out_pending(s) >= OUT_SOFT_LIMIT) {
        /* Level-triggered: stop listening until the guest makes room. */
        if (service_mod(d, fd, 0) == 0)
            s->watch_paused = true;
        return;
    }
    int n = hvs_dispatch(s->h);
    if (n < 0) {
        hv_log(d->hv, HV_LOG_WARN, "domain %u: store ring: watch events: %s", d->domid,
               hvs_last_error(s->h));
        service_del(d, fd);
        return;
    }
    pump(s);
}

static int bind_doorbell(struct store_ring *s, uint16_t port)
{
    struct hv_domain *d = s->d;
    struct kvm_ioeventfd io = {.addr = port, .len = 0, .fd = s->evfd,
                               .flags = KVM_IOEVENTFD_FLAG_PIO};
    /* Length 0 matches an `out` of any width; kernels without
     * KVM_CAP_IOEVENTFD_ANY_LENGTH take byte writes only. */
    if (ioctl(d->vm_fd, KVM_IOEVENTFD, &io) == 0)
        return 0;
    if (errno == EINVAL) {
        io.len = 1;
        if (ioctl(d->vm_fd, KVM_IOEVENTFD, &io) == 0) {
            s->doorbell_len = 1;
            return 0;
        }
    }
    return hv_error(d->hv, -errno, "domain %u: store ring: ioeventfd on port 0x%x: %s",
                    d->domid, port, strerror(errno));
}

int store_ring_init(struct hv_domain *d)
{
    if (d->nr_devices >= HV_MAX_DEVICES)
        return hv_error(d->hv, -ENOSPC, "domain %u: store ring: the device table is full",
                        d->domid);
    struct store_ring *s = calloc(1, sizeof(*s));
    if (!s)
        return hv_error(d->hv, -ENOMEM, "domain %u: out of memory", d->domid);
    s->d = d;
    s->evfd = s->watch_fd = -1;
    d->store_ring = s;

    /* The only device with a ring so far: the first ring page, doorbell
     * and device event bit are its own. */
    const uint64_t ring_gpa = HV_GPA_RINGS;
    const uint16_t port = HV_DOORBELL_FIRST;
    s->event_bit = HV_EVT_DEVICE_FIRST;
    s->ring = guest_mem_ptr(&d->mem, ring_gpa, HV_PAGE_SIZE, GUEST_ACCESS_WRITE);
    if (!s->ring)
        return hv_error(d->hv, -EINVAL, "domain %u: store ring: gpa 0x%llx is not RAM",
                        d->domid, (unsigned long long)ring_gpa);
    memset(s->ring, 0, HV_PAGE_SIZE);

    int err;
    s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->evfd < 0)
        return hv_error(d->hv, -errno, "domain %u: store ring: eventfd: %s", d->domid,
                        strerror(errno));
    if ((err = bind_doorbell(s, port)) < 0)
        return err;
    s->doorbell_bound = true;
    if ((err = registry_store_open(d->hv, d->domid, &s->h)) < 0)
        return err;
    s->watch_fd = hvs_watch_fd(s->h);
    if ((err = relay_new(s->h, queue_msg, s, &s->relay)) < 0)
        return hv_error(d->hv, err, "domain %u: out of memory", d->domid);
    if ((err = service_add(d, s->evfd, EPOLLIN, on_doorbell, s)) < 0 ||
        (err = service_add(d, s->watch_fd, EPOLLIN, on_watch_fd, s)) < 0)
        return err;

    d->devices[d->nr_devices++] = (struct hv_device_desc){
        .type = HV_DEV_STORE,
        .id = 0,
        .ring_gpa = ring_gpa,
        .ring_pages = 1,
        .doorbell_port = port,
        .event_bit = s->event_bit,
    };
    return 0;
}

void store_ring_fini(struct hv_domain *d)
{
    struct store_ring *s = d->store_ring;
    if (!s)
        return;
    if (s->evfd >= 0) {
        service_del(d, s->evfd);
        struct kvm_ioeventfd io = {.addr = HV_DOORBELL_FIRST, .len = s->doorbell_len,
                                   .fd = s->evfd,
                                   .flags = KVM_IOEVENTFD_FLAG_PIO |
                                            KVM_IOEVENTFD_FLAG_DEASSIGN};
        if (s->doorbell_bound && ioctl(d->vm_fd, KVM_IOEVENTFD, &io) < 0)
            hv_log(d->hv, HV_LOG_WARN, "domain %u: store ring: unbinding the doorbell: %s",
                   d->domid, strerror(errno));
        close(s->evfd);
    }
    if (s->watch_fd >= 0)
        service_del(d, s->watch_fd);
    relay_free(s->relay);
    hvs_close(s->h); /* removes the guest's watches */
    free(s->out);
    free(s);
    d->store_ring = NULL;
}
