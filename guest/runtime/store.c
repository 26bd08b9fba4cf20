/* SPDX-License-Identifier: MIT */
/*
 * The store client: xenstore messages over the HV_DEV_STORE ring
 * (docs/guest-abi.md "Store ring"). One request at a time under a spinlock;
 * watch events that arrive meanwhile are kept for hv_store_wait_watch.
 */
#include "rt.h"

#define XS_HDR 16u
#define XS_PAYLOAD_MAX 4096u
#define XS_WATCH_EVENT 15u
#define XS_ERROR 16u
#define XS_READ 2u
#define XS_DIRECTORY 1u
#define XS_WATCH 4u
#define XS_UNWATCH 5u
#define XS_WRITE 11u
#define XS_MKDIR 12u
#define XS_RM 13u

/* Only guards against a host that stopped answering. */
#define STORE_TIMEOUT_NS (30ull * 1000000000ull)
/* A waiter wakes at least this often: another vCPU's call may have taken
 * the event that was meant to wake it. */
#define WATCH_SLICE_NS (100ull * 1000000ull)
#define EVQ_SIZE 4096u

struct xs_hdr {
    uint32_t type, req_id, tx_id, len;
};

static struct {
    int probed;                       /* 1 once the device table was read */
    volatile struct hv_store_ring *ring;
    uint16_t port;
    uint64_t mask;
    bool broken;                      /* a request was cut short: stream lost */
    bool host_waits;                  /* rsp was full: tell the host we read */
    uint32_t req_prod, rsp_cons;      /* ours */
    uint32_t next_req;
    uint32_t in_len;
    uint32_t evq_len;
} st;
/*
 * Allocated when a store device is found: every guest links this file (the
 * agent runs at boot), and pages of .bss cost every guest's build and boot.
 */
static struct store_bufs {
    uint8_t in[XS_HDR + XS_PAYLOAD_MAX]; /* the message being assembled */
    uint8_t evq[EVQ_SIZE];               /* [u16 len][path\0token\0]... */
} *bufs;
static int lock_word;

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
            hv_cpu_relax();
}

static bool trylock(void)
{
    return !__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE);
}

static void unlock(void)
{
    __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

static void probe(void)
{
    const struct hv_start_info *si = hvrt_si;
    uint32_t n = si->nr_devices < HV_MAX_DEVICES ? si->nr_devices : HV_MAX_DEVICES;
    if (si->size < __builtin_offsetof(struct hv_start_info, devices) +
                       n * sizeof(struct hv_device_desc))
        n = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct hv_device_desc *dv = &si->devices[i];
        if (dv->type != HV_DEV_STORE || dv->ring_pages < 1 || (dv->ring_gpa & 4095) ||
            dv->ring_gpa < HV_GPA_RINGS || dv->ring_gpa > si->mem_size - HV_PAGE_SIZE ||
            dv->doorbell_port < HV_DOORBELL_FIRST || dv->doorbell_port > HV_DOORBELL_LAST ||
            dv->event_bit < HV_EVT_DEVICE_FIRST || dv->event_bit > 63)
            continue;
        bufs = hv_alloc_pages((sizeof(*bufs) + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
        if (!bufs)
            break; /* no memory for the client: as if there were no store */
        st.ring = (volatile struct hv_store_ring *)(uintptr_t)dv->ring_gpa;
        st.port = dv->doorbell_port;
        st.mask = 1ull << dv->event_bit;
        break;
    }
}

bool hv_store_present(void)
{
    if (!__atomic_load_n(&st.probed, __ATOMIC_ACQUIRE)) {
        lock();
        if (!st.probed) {
            probe();
            __atomic_store_n(&st.probed, 1, __ATOMIC_RELEASE);
        }
        unlock();
    }
    return st.ring != NULL;
}

static void doorbell(void)
{
    __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(st.port) : "memory");
}

static void queue_event(const uint8_t *p, uint32_t len)
{
    /* Full: the event is dropped. A watcher reads the state anyway, and
     * the queue only fills when nobody waits for events. */
    if (len > 0xffff || st.evq_len + 2 + len > EVQ_SIZE)
        return;
    bufs->evq[st.evq_len] = (uint8_t)len;
    bufs->evq[st.evq_len + 1] = (uint8_t)(len >> 8);
    memcpy(bufs->evq + st.evq_len + 2, p, len);
    st.evq_len += 2 + len;
}

/* The stream cannot be trusted any more: every later call fails. */
static int host_broke(void)
{
    st.broken = true;
    return -HV_EIO;
}

/*
 * Takes rsp bytes until a message other than a watch event is complete in
 * bufs->in (returns 1), or no bytes are left (0), or the host broke the ring
 * (-HV_EIO). Watch events are queued on the way.
 */
static int take_message(void)
{
    for (;;) {
        uint32_t prod = __atomic_load_n(&st.ring->rsp_prod, __ATOMIC_ACQUIRE);
        uint32_t avail = prod - st.rsp_cons;
        if (avail > HV_STORE_RING_SIZE)
            return host_broke();
        if (avail == HV_STORE_RING_SIZE)
            st.host_waits = true;
        if (!avail)
            return 0;
        struct xs_hdr h;
        uint32_t want = XS_HDR - st.in_len;
        if (st.in_len >= XS_HDR) {
            memcpy(&h, bufs->in, sizeof(h));
            want = XS_HDR + h.len - st.in_len;
        }
        uint32_t n = avail < want ? avail : want;
        for (uint32_t i = 0; i < n; i++)
            bufs->in[st.in_len + i] = (uint8_t)st.ring->rsp[(st.rsp_cons + i) % HV_STORE_RING_SIZE];
        st.in_len += n;
        st.rsp_cons += n;
        __atomic_store_n(&st.ring->rsp_cons, st.rsp_cons, __ATOMIC_RELEASE);
        if (st.in_len < XS_HDR)
            continue;
        memcpy(&h, bufs->in, sizeof(h));
        if (h.len > XS_PAYLOAD_MAX)
            return host_broke();
        if (st.in_len < XS_HDR + h.len)
            continue;
        st.in_len = 0;
        if (h.type == XS_WATCH_EVENT) {
            queue_event(bufs->in + XS_HDR, h.len);
            continue;
        }
        return 1;
    }
}

/* After reading: the host may hold more output for a ring that was full. */
static void read_done(void)
{
    if (st.host_waits) {
        st.host_waits = false;
        doorbell();
    }
}

/* Reads everything pending, dropping replies nobody waits for. */
static int drain(void)
{
    int r;
    while ((r = take_message()) > 0) {
    }
    read_done();
    return r;
}

/* Blocks until the store's event or the deadline: false at the deadline. */
static bool wait_event(uint64_t deadline)
{
    if (hv_monotonic_ns() >= deadline)
        return false;
    hv_poll(deadline, st.mask);
    return true;
}

static int put_bytes(const void *data, uint32_t len, uint64_t deadline)
{
    const uint8_t *p = data;
    while (len) {
        uint32_t cons = __atomic_load_n(&st.ring->req_cons, __ATOMIC_ACQUIRE);
        uint32_t used = st.req_prod - cons;
        if (used > HV_STORE_RING_SIZE)
            return -HV_EIO;
        uint32_t n = HV_STORE_RING_SIZE - used;
        if (!n) {
            doorbell();
            /* The host may wait for room in rsp before it reads on. */
            if (drain() < 0)
                return -HV_EIO;
            if (!wait_event(deadline))
                return -HV_ETIMEDOUT;
            continue;
        }
        if (n > len)
            n = len;
        for (uint32_t i = 0; i < n; i++)
            st.ring->req[(st.req_prod + i) % HV_STORE_RING_SIZE] = (char)p[i];
        st.req_prod += n;
        __atomic_store_n(&st.ring->req_prod, st.req_prod, __ATOMIC_RELEASE);
        p += n;
        len -= n;
    }
    return 0;
}

static uint32_t new_req_id(void)
{
    if (!++st.next_req)
        st.next_req = 1;
    return st.next_req;
}

static const struct {
    const char *name;
    int err;
} err_names[] = {
    {"EINVAL", HV_EINVAL}, {"EACCES", HV_EACCES}, {"EEXIST", HV_EEXIST},
    {"EISDIR", HV_EISDIR}, {"ENOENT", HV_ENOENT}, {"ENOMEM", HV_ENOMEM},
    {"ENOSPC", HV_ENOSPC}, {"EIO", HV_EIO},       {"ENOTEMPTY", HV_ENOTEMPTY},
    {"ENOSYS", HV_ENOSYS}, {"EROFS", HV_EROFS},   {"EBUSY", HV_EBUSY},
    {"EAGAIN", HV_EAGAIN}, {"EISCONN", HV_EISCONN}, {"E2BIG", HV_E2BIG},
    {"EPERM", HV_EPERM},   {"EDQUOT", HV_EDQUOT}, {"ENOTCONN", HV_ENOTCONN},
};

static int err_from_name(const uint8_t *p, uint32_t len)
{
    uint32_t n = 0;
    while (n < len && p[n])
        n++;
    for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
        if (strlen(err_names[i].name) == n && !memcmp(err_names[i].name, p, n))
            return -err_names[i].err;
    return -HV_EINVAL; /* as libxenstore does with names it does not know */
}

const char *hv_store_strerror(int err)
{
    if (err == -HV_ETIMEDOUT)
        return "ETIMEDOUT";
    if (err == -HV_ERANGE)
        return "ERANGE";
    if (err == -HV_ENODEV)
        return "ENODEV";
    for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
        if (-err_names[i].err == err)
            return err_names[i].name;
    return err >= 0 ? "OK" : "E?";
}

/* Sends one request (payload: a then b); with the lock held. */
static int send_request(uint32_t type, uint32_t tx_id, uint32_t req_id, const void *a,
                        size_t alen, const void *b, size_t blen, uint64_t deadline)
{
    if (alen > XS_PAYLOAD_MAX || blen > XS_PAYLOAD_MAX - alen)
        return -HV_E2BIG;
    struct xs_hdr h = {.type = type, .req_id = req_id, .tx_id = tx_id,
                       .len = (uint32_t)(alen + blen)};
    int err;
    if ((err = put_bytes(&h, XS_HDR, deadline)) < 0 ||
        (err = put_bytes(a, (uint32_t)alen, deadline)) < 0 ||
        (err = put_bytes(b, (uint32_t)blen, deadline)) < 0) {
        st.broken = true; /* part of a message is in the ring */
        return err;
    }
    doorbell();
    return 0;
}

static int64_t call(uint32_t type, uint32_t tx_id, const void *a, size_t alen, const void *b,
                    size_t blen, void *reply, size_t replymax, uint32_t *rtype)
{
    if (!hv_store_present())
        return -HV_ENODEV;
    uint64_t deadline = hv_monotonic_ns() + STORE_TIMEOUT_NS;
    lock();
    if (st.broken) {
        unlock();
        return -HV_EIO;
    }
    uint32_t id = new_req_id();
    int64_t ret = send_request(type, tx_id, id, a, alen, b, blen, deadline);
    while (ret == 0) {
        int r = take_message();
        if (r < 0) {
            ret = r;
            break;
        }
        if (r == 1) {
            struct xs_hdr h;
            memcpy(&h, bufs->in, sizeof(h));
            if (h.req_id != id)
                continue; /* a stale reply (a post, or a call that timed out) */
            const uint8_t *p = bufs->in + XS_HDR;
            if (h.type == XS_ERROR) {
                ret = err_from_name(p, h.len);
            } else if (h.len > replymax) {
                ret = -HV_ERANGE;
            } else {
                if (h.len)
                    memcpy(reply, p, h.len);
                ret = h.len;
            }
            if (rtype)
                *rtype = h.type;
            break;
        }
        read_done();
        /* In slices: another vCPU waiting for a watch event may take the
         * event bit of our reply, which is in the ring all the same. */
        uint64_t now = hv_monotonic_ns();
        if (!wait_event(now < deadline && deadline - now > WATCH_SLICE_NS
                            ? now + WATCH_SLICE_NS : deadline)) {
            ret = -HV_ETIMEDOUT;
            break;
        }
    }
    read_done();
    unlock();
    return ret;
}

int64_t hv_store_request(uint32_t type, uint32_t tx_id, const void *payload, size_t len,
                         void *reply, size_t replymax, uint32_t *reply_type)
{
    return call(type, tx_id, payload, len, NULL, 0, reply, replymax, reply_type);
}

static int path_call(uint32_t type, const char *path, const void *b, size_t blen)
{
    char ok[8];
    int64_t r = call(type, 0, path, strlen(path) + 1, b, blen, ok, sizeof(ok), NULL);
    return r < 0 ? (int)r : 0;
}

int hv_store_read(const char *path, char *buf, size_t buflen)
{
    int64_t r = call(XS_READ, 0, path, strlen(path) + 1, NULL, 0, buf, buflen, NULL);
    if (r >= 0 && (size_t)r < buflen)
        buf[r] = '\0';
    return (int)r;
}

int hv_store_write(const char *path, const void *data, size_t len)
{
    return path_call(XS_WRITE, path, data, len);
}

int hv_store_mkdir(const char *path)
{
    return path_call(XS_MKDIR, path, NULL, 0);
}

int hv_store_rm(const char *path)
{
    return path_call(XS_RM, path, NULL, 0);
}

int hv_store_directory(const char *path, char *buf, size_t buflen)
{
    return (int)call(XS_DIRECTORY, 0, path, strlen(path) + 1, NULL, 0, buf, buflen, NULL);
}

static int watch_call(uint32_t type, const char *path, const char *token)
{
    return path_call(type, path, token, strlen(token) + 1);
}

int hv_store_watch(const char *path, const char *token)
{
    return watch_call(XS_WATCH, path, token);
}

int hv_store_unwatch(const char *path, const char *token)
{
    return watch_call(XS_UNWATCH, path, token);
}

/* Copies the string at p (within end) into out; false if it does not fit. */
static bool copy_str(const uint8_t **p, const uint8_t *end, char *out, size_t outlen)
{
    size_t n = 0;
    while (*p + n < end && (*p)[n])
        n++;
    if (*p + n >= end || n >= outlen)
        return false;
    memcpy(out, *p, n + 1);
    *p += n + 1;
    return true;
}

/* Pops the oldest queued event; with the lock held. 1, 0 (none) or -HV_ERANGE. */
static int pop_event(char *path, size_t pathlen, char *token, size_t tokenlen)
{
    if (!st.evq_len)
        return 0;
    uint32_t len = bufs->evq[0] | (uint32_t)bufs->evq[1] << 8;
    const uint8_t *p = bufs->evq + 2, *end = p + len;
    int r = copy_str(&p, end, path, pathlen) && copy_str(&p, end, token, tokenlen)
                ? 1 : -HV_ERANGE;
    memmove(bufs->evq, bufs->evq + 2 + len, st.evq_len - 2 - len);
    st.evq_len -= 2 + len;
    return r;
}

int hv_store_wait_watch(char *path, size_t pathlen, char *token, size_t tokenlen,
                        uint64_t deadline_ns)
{
    if (!hv_store_present())
        return -HV_ENODEV;
    for (;;) {
        lock();
        int r = st.broken ? -HV_EIO : drain();
        if (r >= 0)
            r = pop_event(path, pathlen, token, tokenlen);
        unlock();
        if (r != 0)
            return r < 0 ? r : 0;
        uint64_t now = hv_monotonic_ns();
        if (now >= deadline_ns)
            return -HV_ETIMEDOUT;
        hv_poll(deadline_ns - now > WATCH_SLICE_NS ? now + WATCH_SLICE_NS : deadline_ns,
                st.mask);
    }
}

int hvrt_store_post_write(const char *path, const void *data, size_t len)
{
    if (!hv_store_present())
        return -HV_ENODEV;
    size_t plen = strlen(path) + 1;
    if (plen > XS_PAYLOAD_MAX || len > XS_PAYLOAD_MAX - plen)
        return -HV_E2BIG;
    if (!trylock())
        return -HV_EBUSY;
    int r = st.broken ? -HV_EIO : drain();
    if (r >= 0) {
        uint32_t cons = __atomic_load_n(&st.ring->req_cons, __ATOMIC_ACQUIRE);
        uint32_t used = st.req_prod - cons;
        /* Only whole messages: a post never waits for room. */
        if (used > HV_STORE_RING_SIZE || HV_STORE_RING_SIZE - used < XS_HDR + plen + len)
            r = used > HV_STORE_RING_SIZE ? -HV_EIO : -HV_EAGAIN;
        else
            r = send_request(XS_WRITE, 0, new_req_id(), path, plen, data, len, 0);
    }
    unlock();
    return r;
}
