/* SPDX-License-Identifier: MIT */
/*
 * The store ring from the guest's side (tests/guest_store). argv[1] picks a
 * mode:
 *   basic OTHER   own subtree, watches, a transaction, what it may not do
 *                 (OTHER: another domain's domid), data/uptime until the
 *                 host writes data/stop
 *   garbage       random request types and payloads, then a normal write
 *   quick         one write, one read
 *   hostile-prod, hostile-len, hostile-rsp
 *                 break the ring on purpose (the host must stop serving it
 *                 and nothing else)
 *   flood         a watch with a big token on data, then writes under data
 *                 forever without reading a reply or an event (rsp_cons is
 *                 just moved up); "storetest: flood N" every 10000 requests
 * Results are console lines "storetest: ...".
 */
#include <hvrt.h>

#define XS_TRANSACTION_START 6u
#define XS_TRANSACTION_END 7u
#define XS_INTRODUCE 8u
#define XS_RELEASE 9u
#define XS_GET_DOMAIN_PATH 10u
#define XS_WRITE 11u
#define XS_HV_ACT_AS 128u

static const char *err(int r)
{
    return hv_store_strerror(r);
}

static void show_read(const char *label, const char *path)
{
    char buf[256];
    int r = hv_store_read(path, buf, sizeof(buf) - 1);
    printf("storetest: %s = %s\n", label, r >= 0 ? buf : err(r));
}

/* Names of a listing, sorted, joined by ','. */
static void show_dir(const char *path)
{
    char buf[512], *names[16];
    int r = hv_store_directory(path, buf, sizeof(buf));
    if (r < 0) {
        printf("storetest: dir %s = %s\n", path, err(r));
        return;
    }
    int n = 0;
    for (int off = 0; off < r && n < 16; off += (int)strlen(buf + off) + 1)
        names[n++] = buf + off;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    char out[512];
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", names[i]);
    printf("storetest: dir %s = %s\n", path, out);
}

static int64_t raw(uint32_t type, uint32_t tx, const char *payload, size_t len, char *reply,
                   size_t max)
{
    return hv_store_request(type, tx, payload, len, reply, max, NULL);
}

static void transaction(void)
{
    char id[32], ok[8];
    int64_t r = raw(XS_TRANSACTION_START, 0, "", 1, id, sizeof(id) - 1);
    if (r < 0) {
        printf("storetest: tx start = %s\n", err((int)r));
        return;
    }
    id[r] = '\0';
    uint64_t tx;
    if (hv_parse_u64(id, &tx) < 0) {
        printf("storetest: tx id '%s' is not a number\n", id);
        return;
    }
    static const char w[] = "data/tx\0in-tx";
    r = raw(XS_WRITE, (uint32_t)tx, w, sizeof(w) - 1, ok, sizeof(ok));
    int64_t e = raw(XS_TRANSACTION_END, (uint32_t)tx, "T", 2, ok, sizeof(ok));
    printf("storetest: tx write = %s, commit = %s\n", err((int)(r < 0 ? r : 0)),
           err((int)(e < 0 ? e : 0)));
    /* A transaction id the relay never gave out. */
    r = raw(XS_WRITE, 0x7777, w, sizeof(w) - 1, ok, sizeof(ok));
    printf("storetest: bogus tx = %s\n", err((int)(r < 0 ? r : 0)));
}

/* Waits for an event on path (others are ignored); 0 or the error. */
static int wait_for(const char *path, uint64_t deadline)
{
    char p[256], t[64];
    for (;;) {
        int r = hv_store_wait_watch(p, sizeof(p), t, sizeof(t), deadline);
        if (r < 0)
            return r;
        if (!strcmp(p, path))
            return 0;
    }
}

static int basic(uint32_t other)
{
    char path[128], buf[256];
    uint32_t me = hv_start_info()->domid;

    printf("storetest: domid %u\n", me);
    int n = snprintf(buf, sizeof(buf), "hello-%u", me);
    printf("storetest: write data/test = %s\n", err(hv_store_write("data/test", buf, (size_t)n)));
    show_read("read data/test", "data/test");
    hv_store_write("data/dir/a", "1", 1);
    hv_store_write("data/dir/b", "2", 1);
    show_dir("data/dir");
    printf("storetest: rm data/dir/a = %s\n", err(hv_store_rm("data/dir/a")));
    show_dir("data/dir");
    show_read("read name", "name");

    snprintf(path, sizeof(path), "/local/domain/%u/name", other);
    show_read("other name", path);
    snprintf(path, sizeof(path), "/local/domain/%u/data/x", other);
    printf("storetest: other write = %s\n", err(hv_store_write(path, "x", 1)));
    snprintf(path, sizeof(path), "/local/domain/%u/data", other);
    show_dir(path);
    printf("storetest: root write = %s\n", err(hv_store_write("/evil", "x", 1)));

    n = snprintf(buf, sizeof(buf), "%u", other) + 1;
    int64_t r = raw(XS_INTRODUCE, 0, "77\0" "0\0" "0", 7, buf, sizeof(buf));
    printf("storetest: introduce = %s\n", err((int)(r < 0 ? r : 0)));
    r = raw(XS_RELEASE, 0, buf, (size_t)n, buf, sizeof(buf));
    printf("storetest: release = %s\n", err((int)(r < 0 ? r : 0)));
    r = raw(XS_HV_ACT_AS, 0, "0", 2, buf, sizeof(buf));
    printf("storetest: act_as = %s\n", err((int)(r < 0 ? r : 0)));
    r = raw(200, 0, "", 0, buf, sizeof(buf));
    printf("storetest: type 200 = %s\n", err((int)(r < 0 ? r : 0)));
    n = snprintf(path, sizeof(path), "%u", me) + 1;
    r = raw(XS_GET_DOMAIN_PATH, 0, path, (size_t)n, buf, sizeof(buf) - 1);
    printf("storetest: domain path = %s\n", r > 0 ? buf : err((int)r));
    transaction();

    printf("storetest: watch = %s\n", err(hv_store_watch("data/ping", "ping-tok")));
    char p[128], t[64];
    r = hv_store_wait_watch(p, sizeof(p), t, sizeof(t), hv_monotonic_ns() + 30000000000ull);
    printf("storetest: watch fired %s %s\n", r == 0 ? p : err((int)r), r == 0 ? t : "");
    printf("storetest: waiting for ping\n");
    for (;;) {
        if ((r = wait_for("data/ping", hv_monotonic_ns() + 60000000000ull)) < 0) {
            printf("storetest: ping wait = %s\n", err((int)r));
            return 1;
        }
        if (hv_store_read("data/ping", buf, sizeof(buf) - 1) > 0)
            break;
    }
    printf("storetest: ping = %s\n", buf);
    hv_store_unwatch("data/ping", "ping-tok");

    /* Until the host says stop: tick the agent, which writes data/uptime. */
    hv_store_watch("data/stop", "stop");
    for (;;) {
        hvrt_agent_tick();
        wait_for("data/stop", hv_monotonic_ns() + 200000000ull);
        if (hv_store_read("data/stop", buf, sizeof(buf) - 1) >= 0)
            break;
    }
    printf("storetest: done\n");
    return 0;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int garbage(void)
{
    static char payload[4200], reply[4200];
    int errors = 0;
    for (int i = 0; i < 300; i++) {
        uint32_t type = (uint32_t)(next_rand() % 40);
        if (i % 7 == 0)
            type = (uint32_t)(next_rand() % 256);
        size_t len = (size_t)(next_rand() % 300);
        if (i % 50 == 0)
            len = 4096;
        for (size_t k = 0; k < len; k++) {
            uint64_t v = next_rand() % 4;
            payload[k] = v == 0 ? '\0' : v == 1 ? '/' : (char)('a' + next_rand() % 26);
        }
        int64_t r = hv_store_request(type, (uint32_t)(next_rand() % 3), payload, len, reply,
                                     sizeof(reply), NULL);
        if (r == -HV_ETIMEDOUT || r == -HV_EIO) {
            printf("storetest: garbage request %d (type %u): %s\n", i, type, err((int)r));
            return 1;
        }
        errors += r < 0;
    }
    printf("storetest: garbage errors %d\n", errors);
    printf("storetest: after garbage write = %s\n", err(hv_store_write("data/after", "ok", 2)));
    show_read("after garbage read", "data/after");
    return 0;
}

static volatile struct hv_store_ring *ring_of(uint16_t *port)
{
    const struct hv_start_info *si = hv_start_info();
    for (uint32_t i = 0; i < si->nr_devices && i < HV_MAX_DEVICES; i++)
        if (si->devices[i].type == HV_DEV_STORE) {
            *port = si->devices[i].doorbell_port;
            return (volatile struct hv_store_ring *)(uintptr_t)si->devices[i].ring_gpa;
        }
    return 0;
}

static void ring_doorbell(uint16_t port)
{
    __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(port) : "memory");
}

static int hostile(const char *how)
{
    /* One good request first: the ring works until broken. */
    printf("storetest: before = %s\n", err(hv_store_write("data/before", "1", 1)));
    uint16_t port = 0;
    volatile struct hv_store_ring *ring = ring_of(&port);
    if (!ring)
        return 3;
    if (!strcmp(how, "hostile-prod")) {
        ring->req_prod = ring->req_cons + 0x40000000u;
    } else if (!strcmp(how, "hostile-len")) {
        uint32_t hdr[4] = {2, 99, 0, 5000}, prod = ring->req_prod;
        for (unsigned i = 0; i < sizeof(hdr); i++)
            ring->req[(prod + i) % HV_STORE_RING_SIZE] = ((const char *)hdr)[i];
        ring->req_prod = prod + sizeof(hdr);
    } else if (!strcmp(how, "hostile-rsp")) {
        /* A request whose reply finds rsp_cons ahead of rsp_prod. */
        static const char msg[] = "data/before";
        uint32_t hdr[4] = {2, 98, 0, sizeof(msg)}, prod = ring->req_prod;
        for (unsigned i = 0; i < sizeof(hdr); i++)
            ring->req[(prod + i) % HV_STORE_RING_SIZE] = ((const char *)hdr)[i];
        for (unsigned i = 0; i < sizeof(msg); i++)
            ring->req[(prod + sizeof(hdr) + i) % HV_STORE_RING_SIZE] = msg[i];
        ring->rsp_cons = ring->rsp_prod + 0x80000000u;
        ring->req_prod = prod + sizeof(hdr) + sizeof(msg);
    } else {
        printf("storetest: unknown mode %s\n", how);
        return 2;
    }
    ring_doorbell(port);
    printf("storetest: hostile sent\n");
    return 0;
}

/* Appends n request bytes to req, ringing whenever it is full; replies and
 * events are dropped unread to keep rsp empty. */
static void flood_put(volatile struct hv_store_ring *ring, uint16_t port, const char *c,
                      uint32_t n)
{
    while (n) {
        uint32_t prod = ring->req_prod;
        uint32_t cons = __atomic_load_n(&ring->req_cons, __ATOMIC_ACQUIRE);
        uint32_t room = HV_STORE_RING_SIZE - (prod - cons);
        __atomic_store_n(&ring->rsp_cons, __atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE),
                         __ATOMIC_RELEASE);
        if (!room) {
            ring_doorbell(port);
            continue;
        }
        uint32_t k = room < n ? room : n;
        for (uint32_t i = 0; i < k; i++)
            ring->req[(prod + i) % HV_STORE_RING_SIZE] = c[i];
        __atomic_store_n(&ring->req_prod, prod + k, __ATOMIC_RELEASE);
        c += k;
        n -= k;
        ring_doorbell(port);
    }
}

/* Each write fires the big-token watch: the host gets far more event bytes
 * than the guest will ever take, and a ring that never runs dry. */
static int flood(void)
{
    static char tok[3000];
    memset(tok, 'A', sizeof(tok) - 1);
    printf("storetest: flood watch = %s\n", err(hv_store_watch("data", tok)));
    uint16_t port = 0;
    volatile struct hv_store_ring *ring = ring_of(&port);
    if (!ring)
        return 3;
    static const char payload[] = "data/x\0v";
    uint32_t hdr[4] = {XS_WRITE, 1, 0, sizeof(payload) - 1};
    static char msg[sizeof(hdr) + sizeof(payload) - 1];
    memcpy(msg, hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), payload, sizeof(payload) - 1);
    printf("storetest: flood go\n");
    for (uint32_t n = 1;; n++) {
        flood_put(ring, port, msg, sizeof(msg));
        if (n % 10000 == 0)
            printf("storetest: flood %u\n", n);
    }
}

/*
 * race: vCPU 1 waits for watch events in a loop while vCPU 0 reads; both
 * wait on the one store event bit, so vCPU 1 often takes the bit of vCPU 0's
 * reply. A read must still finish at once (it waits in slices), not at its
 * 30 s deadline.
 */
static volatile int race_stop;

static void race_waiter(void *arg)
{
    (void)arg;
    char p[128], t[64];
    while (!race_stop)
        hv_store_wait_watch(p, sizeof(p), t, sizeof(t), hv_monotonic_ns() + 500000000ull);
}

static int race(void)
{
    char buf[64];
    int fails = 0;

    if (hv_store_write("data/r", "1", 1) < 0 || hv_vcpu_start(1, race_waiter, 0) < 0) {
        printf("storetest: race setup failed\n");
        return 1;
    }
    for (int i = 0; i < 2000; i++)
        fails += hv_store_read("data/r", buf, sizeof(buf) - 1) != 1;
    race_stop = 1;
    printf("storetest: race done fails=%d\n", fails);
    return 0;
}

int main(int argc, char **argv)
{
    if (!hv_store_present()) {
        printf("storetest: no store device\n");
        return 3;
    }
    hvrt_agent_tick();
    const char *mode = argc > 1 ? argv[1] : "basic";
    if (!strcmp(mode, "basic"))
        return basic((uint32_t)hv_arg_u64(argc, argv, 2, 0));
    if (!strcmp(mode, "garbage"))
        return garbage();
    if (!strcmp(mode, "quick")) {
        printf("storetest: quick write = %s\n", err(hv_store_write("data/q", "1", 1)));
        show_read("quick read", "data/q");
        return 0;
    }
    if (!strcmp(mode, "race"))
        return race();
    if (!strcmp(mode, "flood"))
        return flood();
    return hostile(mode);
}
