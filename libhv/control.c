/* SPDX-License-Identifier: MIT */
/*
 * The monitor's control socket (docs/control-protocol.md): accepts clients,
 * checks their uid, and runs their requests against the local domain. All
 * of it runs on the domain's service thread, so connections need no locks;
 * other threads reach it only through service_post.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control_msg.h"
#include "internal.h"

/* A client that stops reading is dropped once this much is queued for it. */
#define OUT_MAX (1u << 20)
/* Replies holding fds cost the monitor an fd each until sent: past this many
 * queued for a client, its requests wait unread until it takes its replies. */
#define OUT_FDS_MAX 16u
#define IN_CHUNK 16384u
/* At most one "cannot accept" line per this many ms (not a rate of work). */
#define ACCEPT_LOG_MS 10000u

/* console_reader.c: detaches the reader (service thread, or once it ended). */

struct out {
    struct out *next;
    size_t len, off;
    int fds[CM_FDS_MAX];
    unsigned nfds;
    unsigned char data[];
};

struct conn {
    struct conn *next;
    int fd;
    uid_t uid;
    bool hello_done;
    bool closing;             /* flush what is queued, then close */
    uint32_t events;          /* what epoll watches for it */
    unsigned char *in;
    size_t in_len, in_cap;
    struct out *out, **out_tail;
    size_t out_bytes;
    unsigned out_fds;         /* fds in the queued replies */
};

struct control {
    struct control *next;     /* in d->control (one per domain) */
    struct hv_domain *d;
    int listen_fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct conn *conns;
    int spare_fd;             /* given up to turn a client away at EMFILE */
    bool accept_paused;       /* accept failed: the listener waits for a close */
    uint64_t accept_log_ms;   /* when accept trouble was last logged */
    unsigned accept_unlogged; /* failures since */
    bool exit_sent;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopped;
};


static struct control *ctl_get(struct hv_domain *d)
{
    pthread_mutex_lock(&d->ext_lock);
    struct control *c = d->control;
    while (c && c->d != d)
        c = c->next;
    pthread_mutex_unlock(&d->ext_lock);
    return c;
}

static void ctl_unlink(struct control *c)
{
    pthread_mutex_lock(&c->d->ext_lock);
    for (struct control **p = &c->d->control; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pthread_mutex_unlock(&c->d->ext_lock);
}

/* ---- Connections ----------------------------------------------------------- */

static void out_free(struct out *o)
{
    for (unsigned i = 0; i < o->nfds; i++)
        close(o->fds[i]);
    free(o);
}

static void conn_close(struct control *c, struct conn *k)
{
    for (struct conn **p = &c->conns; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    service_del(c->d, k->fd);
    close(k->fd);
    while (k->out) {
        struct out *o = k->out;
        k->out = o->next;
        out_free(o);
    }
    free(k->in);
    free(k);
    /* An fd came free: accepting may work again. */
    if (c->accept_paused && c->listen_fd >= 0 &&
        service_mod(c->d, c->listen_fd, EPOLLIN) == 0)
        c->accept_paused = false;
}

static bool conn_full(const struct conn *k)
{
    return k->out_fds >= OUT_FDS_MAX;
}

/* A closing connection reads nothing more, so its input must not wake us;
 * nor does a full one's until its replies drain. */
static void conn_events(struct control *c, struct conn *k)
{
    uint32_t ev = (k->closing || conn_full(k) ? 0 : EPOLLIN) | (k->out ? EPOLLOUT : 0);
    if (ev != k->events && service_mod(c->d, k->fd, ev) == 0)
        k->events = ev;
}

/* Sends what the socket takes now. -1: the connection is gone (freed). */
static int conn_flush(struct control *c, struct conn *k)
{
    while (k->out) {
        struct out *o = k->out;
        struct iovec iov = {.iov_base = o->data + o->off, .iov_len = o->len - o->off};
        union {
            char buf[CMSG_SPACE(sizeof(int) * CM_FDS_MAX)];
            struct cmsghdr align;
        } cbuf;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (o->off == 0 && o->nfds) {
            /* The fds ride on the frame's first byte (the spec's rule). */
            memset(&cbuf, 0, sizeof(cbuf));
            mh.msg_control = cbuf.buf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * o->nfds);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * o->nfds);
            memcpy(CMSG_DATA(cm), o->fds, sizeof(int) * o->nfds);
        }
        ssize_t n = sendmsg(k->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            conn_close(c, k);
            return -1;
        }
        if (o->off == 0 && o->nfds) {
            for (unsigned i = 0; i < o->nfds; i++)
                close(o->fds[i]);
            k->out_fds -= o->nfds;
            o->nfds = 0;
        }
        o->off += (size_t)n;
        k->out_bytes -= (size_t)n;
        if (o->off == o->len) {
            k->out = o->next;
            if (!k->out)
                k->out_tail = &k->out;
            free(o);
        }
    }
    if (!k->out && k->closing) {
        conn_close(c, k);
        return -1;
    }
    conn_events(c, k);
    return 0;
}

/*
 * Queues a frame (taking json and the fds, which are closed on failure).
 * -1: the connection was dropped (its reader is too far behind, or no memory).
 */
static int conn_send(struct control *c, struct conn *k, char *json, const int *fds,
                     unsigned nfds)
{
    size_t len = json ? strlen(json) : 0;
    struct out *o = NULL;
    if (json && len >= 1 && len <= CM_FRAME_MAX && k->out_bytes + len <= OUT_MAX)
        o = malloc(sizeof(*o) + CM_FRAME_HEADER + len);
    if (!o) {
        free(json);
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        hv_log(c->d->hv, HV_LOG_WARN, "domain %u: control client dropped: %s", c->d->domid,
               json && len <= CM_FRAME_MAX ? "it does not read its replies"
                                           : "a message could not be built");
        conn_close(c, k);
        return -1;
    }
    o->next = NULL;
    o->off = 0;
    o->len = (size_t)cm_frame_encode(o->data, CM_FRAME_HEADER + len, json, len);
    o->nfds = nfds;
    for (unsigned i = 0; i < nfds; i++)
        o->fds[i] = fds[i];
    free(json);
    *k->out_tail = o;
    k->out_tail = &o->next;
    k->out_bytes += o->len;
    k->out_fds += nfds;
    return conn_flush(c, k);
}

/* ---- Requests -------------------------------------------------------------------- */

struct result {
    struct json_object *obj;  /* the reply's result */
    int fd;                   /* -1, or one fd to pass */
};

static int arg_u64(struct json_object *args, const char *key, uint64_t max, bool required,
                   uint64_t *v, char *msg, size_t msglen)
{
    struct json_object *o;
    if (!json_object_object_get_ex(args, key, &o)) {
        if (!required)
            return 0;
        snprintf(msg, msglen, "args: \"%s\" is missing", key);
        return -EINVAL;
    }
    int64_t x = json_object_get_int64(o);
    if (!json_object_is_type(o, json_type_int) || x < 0 || (uint64_t)x > max) {
        snprintf(msg, msglen, "args: \"%s\" is not an integer 0 to %llu", key,
                 (unsigned long long)max);
        return -EINVAL;
    }
    *v = (uint64_t)x;
    return 0;
}

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
    json_object_object_add(o, key, json_object_new_uint64(v));
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v));
}

static const char *const state_names[] = {"created", "running", "paused", "shutdown"};
static const char *const reason_names[] = {"none", "poweroff", "reboot", "crash",
                                           "destroyed"};

static int op_info(struct hv_domain *d, struct result *r)
{
    hv_domain_info_t i = {.size = sizeof(i)};
    int err = hv_domain_info(d, &i);
    if (err < 0)
        return err;
    char uuid[37];
    snprintf(uuid, sizeof(uuid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             i.uuid[0], i.uuid[1], i.uuid[2], i.uuid[3], i.uuid[4], i.uuid[5], i.uuid[6],
             i.uuid[7], i.uuid[8], i.uuid[9], i.uuid[10], i.uuid[11], i.uuid[12], i.uuid[13],
             i.uuid[14], i.uuid[15]);
    struct json_object *o = r->obj;
    put_u64(o, "domid", i.domid);
    put_str(o, "name", i.name);
    put_str(o, "uuid", uuid);
    put_str(o, "state", (unsigned)i.state < 4 ? state_names[i.state] : "shutdown");
    put_u64(o, "memory_bytes", i.memory_bytes);
    put_u64(o, "memory_target_bytes", i.memory_target_bytes);
    put_u64(o, "memory_max_bytes", i.memory_max_bytes);
    put_u64(o, "memory_actual_bytes", i.memory_actual_bytes);
    put_u64(o, "vcpus", i.vcpus);
    put_u64(o, "vcpus_online", i.vcpus_online);
    put_u64(o, "vcpus_target", i.vcpus_target);
    put_u64(o, "cpu_time_ns", i.cpu_time_ns);
    put_str(o, "exit_reason", (unsigned)i.exit_reason < 5 ? reason_names[i.exit_reason] : "none");
    put_u64(o, "exit_code", i.exit_code);
    put_u64(o, "monitor_pid", (uint64_t)i.monitor_pid);
    put_u64(o, "start_time_ns", i.start_time_ns);
    return 0;
}

static int op_shutdown(struct hv_domain *d, struct json_object *args, char *msg, size_t msglen)
{
    struct json_object *o;
    uint32_t reason = HV_SHUTDOWN_POWEROFF;
    if (json_object_object_get_ex(args, "reason", &o)) {
        const char *s = json_object_is_type(o, json_type_string) ? json_object_get_string(o)
                                                                 : "";
        if (!strcmp(s, "poweroff"))
            reason = HV_SHUTDOWN_POWEROFF;
        else if (!strcmp(s, "reboot"))
            reason = HV_SHUTDOWN_REBOOT;
        else {
            snprintf(msg, msglen, "args: \"reason\" is not \"poweroff\" or \"reboot\"");
            return -EINVAL;
        }
    }
    return hv_domain_shutdown(d, reason);
}

/*
 * The service thread cannot destroy the domain (destroying joins this very
 * thread), so it ends the domain and its monitor, waiting on the exit,
 * destroys it. The exit names the destroy only if the destroy caused it:
 * a guest that ended first keeps its own reason (docs/control-protocol.md).
 */
static int op_destroy(struct control *c)
{
    struct hv_domain *d = c->d;
    pthread_mutex_lock(&d->lock);
    bool exited = d->state == HV_DOMAIN_SHUTDOWN;
    pthread_mutex_unlock(&d->lock);
    if (!exited) {
        hv_exit_t e = {.size = sizeof(e), .reason = HV_EXIT_DESTROYED};
        domain_exit(d, &e);
    } else {
        /* A kept domain (on_crash=preserve): its monitor counts each signal
         * of exit_fd after the exit as a destroy. */
        uint64_t one = 1;
        if (write(d->exit_fd, &one, sizeof(one)) < 0)
            hv_log(d->hv, HV_LOG_WARN, "domain %u: exit eventfd: %s", d->domid,
                   strerror(errno));
    }
    return 0;
}

static int op_vcpu_info(struct hv_domain *d, struct json_object *args, struct result *r,
                        char *msg, size_t msglen)
{
    uint64_t vcpu;
    int err = arg_u64(args, "vcpu", UINT32_MAX, true, &vcpu, msg, msglen);
    if (err < 0)
        return err;
    hv_vcpu_info_t i = {.size = sizeof(i)};
    if ((err = hv_vcpu_info(d, (uint32_t)vcpu, &i)) < 0)
        return err;
    put_u64(r->obj, "vcpu", i.vcpu);
    json_object_object_add(r->obj, "online", json_object_new_boolean(i.online != 0));
    put_u64(r->obj, "cpu_time_ns", i.cpu_time_ns);
    json_object_object_add(r->obj, "host_cpu", json_object_new_int(i.host_cpu));
    return 0;
}

static int op_affinity_set(struct hv_domain *d, struct json_object *args, char *msg,
                           size_t msglen)
{
    uint64_t vcpu;
    struct json_object *arr;
    int err = arg_u64(args, "vcpu", UINT32_MAX, true, &vcpu, msg, msglen);
    if (err < 0)
        return err;
    if (!json_object_object_get_ex(args, "cpus", &arr) ||
        !json_object_is_type(arr, json_type_array) ||
        json_object_array_length(arr) > HV_MAX_HOST_CPUS) {
        snprintf(msg, msglen, "args: \"cpus\" is not an array of at most %d CPUs",
                 HV_MAX_HOST_CPUS);
        return -EINVAL;
    }
    size_t n = json_object_array_length(arr);
    uint32_t cpus[HV_MAX_HOST_CPUS];
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i);
        int64_t x = json_object_get_int64(e);
        if (!json_object_is_type(e, json_type_int) || x < 0 || x > UINT32_MAX) {
            snprintf(msg, msglen, "args: \"cpus\"[%zu] is not a uint32", i);
            return -EINVAL;
        }
        cpus[i] = (uint32_t)x;
    }
    return hv_vcpu_affinity_set(d, (uint32_t)vcpu, cpus, n);
}

static int op_affinity_get(struct hv_domain *d, struct json_object *args, struct result *r,
                           char *msg, size_t msglen)
{
    uint64_t vcpu;
    int err = arg_u64(args, "vcpu", UINT32_MAX, true, &vcpu, msg, msglen);
    if (err < 0)
        return err;
    uint32_t cpus[HV_MAX_HOST_CPUS];
    int n = hv_vcpu_affinity_get(d, (uint32_t)vcpu, cpus, HV_MAX_HOST_CPUS);
    if (n < 0)
        return n;
    struct json_object *arr = json_object_new_array();
    for (int i = 0; i < n && i < HV_MAX_HOST_CPUS; i++)
        json_object_array_add(arr, json_object_new_uint64(cpus[i]));
    json_object_object_add(r->obj, "cpus", arr);
    return 0;
}

/* The bitmap goes in a sealed memfd: it is 32 KiB per GiB of RAM. */
static int op_dirty_fetch(struct hv_domain *d, struct result *r)
{
    size_t bytes = hv_domain_dirty_log_size(d);
    int fd = memfd_create("hv-dirty-bitmap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return hv_error(d->hv, -errno, "domain %u: dirty bitmap memfd: %s", d->domid,
                        strerror(errno));
    void *p = MAP_FAILED;
    long pages;
    if (ftruncate(fd, (off_t)bytes) < 0 ||
        (p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        pages = hv_error(d->hv, -errno, "domain %u: dirty bitmap memfd: %s", d->domid,
                         strerror(errno));
        goto out;
    }
    pages = hv_domain_dirty_log_fetch(d, p, bytes);
    munmap(p, bytes);
    if (pages >= 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
                                                 F_SEAL_SEAL) < 0)
        pages = hv_error(d->hv, -errno, "domain %u: sealing the dirty bitmap: %s",
                         d->domid, strerror(errno));
out:
    if (pages < 0) {
        close(fd);
        return (int)pages;
    }
    put_u64(r->obj, "pages", (uint64_t)pages);
    put_u64(r->obj, "bitmap_bytes", bytes);
    r->fd = fd;
    return 0;
}

static int op_memory_map(struct hv_domain *d, struct json_object *args, struct result *r,
                         char *msg, size_t msglen)
{
    struct json_object *o;
    bool writable = false;
    if (json_object_object_get_ex(args, "writable", &o)) {
        if (!json_object_is_type(o, json_type_boolean)) {
            snprintf(msg, msglen, "args: \"writable\" is not a boolean");
            return -EINVAL;
        }
        writable = json_object_get_boolean(o);
    }
    uint64_t size;
    int err = hv_domain_memory_open(d, writable ? HV_MAP_READ | HV_MAP_WRITE : HV_MAP_READ,
                                    &r->fd, &size);
    if (err < 0)
        return err;
    put_u64(r->obj, "size", size);
    return 0;
}

/* Runs one request; 0 or -errno with msg set (else hv_last_error's). */
static int dispatch(struct control *c, const struct cm_request *q, struct result *r,
                    char *msg, size_t msglen)
{
    struct hv_domain *d = c->d;
    struct json_object *a = q->args;
    uint64_t v = 0;
    int err;

    switch (q->op) {
    case CM_OP_INFO:
        return op_info(d, r);
    case CM_OP_PAUSE:
        return hv_domain_pause(d);
    case CM_OP_UNPAUSE:
        return hv_domain_unpause(d);
    case CM_OP_SHUTDOWN:
        return op_shutdown(d, a, msg, msglen);
    case CM_OP_DESTROY:
        return op_destroy(c);
    case CM_OP_VCPU_INFO:
        return op_vcpu_info(d, a, r, msg, msglen);
    case CM_OP_VCPU_AFFINITY:
        return op_affinity_set(d, a, msg, msglen);
    case CM_OP_VCPU_AFFINITY_GET:
        return op_affinity_get(d, a, r, msg, msglen);
    case CM_OP_VCPUS_SET:
        if ((err = arg_u64(a, "online", UINT32_MAX, true, &v, msg, msglen)) < 0)
            return err;
        return hv_domain_vcpus_set(d, (uint32_t)v);
    case CM_OP_MEMORY_TARGET:
        if ((err = arg_u64(a, "bytes", INT64_MAX, true, &v, msg, msglen)) < 0)
            return err;
        return hv_domain_memory_target_set(d, v);
    case CM_OP_MEMORY_MAX:
        if ((err = arg_u64(a, "bytes", INT64_MAX, true, &v, msg, msglen)) < 0)
            return err;
        return hv_domain_memory_max_set(d, v);
    case CM_OP_DIRTY_LOG_START:
        if ((err = hv_domain_dirty_log_start(d)) < 0)
            return err;
        put_u64(r->obj, "bitmap_bytes", hv_domain_dirty_log_size(d));
        return 0;
    case CM_OP_DIRTY_LOG_FETCH:
        return op_dirty_fetch(d, r);
    case CM_OP_DIRTY_LOG_STOP:
        return hv_domain_dirty_log_stop(d);
    case CM_OP_MEMORY_MAP:
        return op_memory_map(d, a, r, msg, msglen);
    case CM_OP_CONSOLE_ATTACH:
        return console_reader_open(d, &r->fd);
    default:
        snprintf(msg, msglen, "domain %u: unknown op \"%s\"", d->domid, q->op_name);
        return -ENOSYS;
    }
}

static int handle_request(struct control *c, struct conn *k, const struct cm_request *q)
{
    struct hv_domain *d = c->d;
    struct result r = {.obj = json_object_new_object(), .fd = -1};
    char msg[512] = "";
    if (!r.obj)
        return conn_send(c, k, cm_build_reply_error(q->id, -ENOMEM, "out of memory"), NULL, 0);
    /* A message is fresh if the call changed it (the error slot is per thread). */
    char before[512];
    snprintf(before, sizeof(before), "%s", hv_last_error(d->hv));
    int err = q->fds ? (snprintf(msg, sizeof(msg), "requests carry no fds"), -EINVAL)
                     : dispatch(c, q, &r, msg, sizeof(msg));
    char *json;
    if (err < 0) {
        const char *last = hv_last_error(d->hv);
        if (!*msg)
            snprintf(msg, sizeof(msg), "%s", strcmp(last, before) ? last : strerror(-err));
        json = cm_build_reply_error(q->id, err, msg);
        if (r.fd >= 0)
            close(r.fd);
        r.fd = -1;
    } else {
        json = cm_build_reply_ok(q->id, r.obj, r.fd >= 0 ? 1 : 0);
    }
    json_object_put(r.obj);
    return conn_send(c, k, json, r.fd >= 0 ? &r.fd : NULL, r.fd >= 0 ? 1 : 0);
}

/* A request that did not parse: its id, if one can be read, for the error reply. */
static bool salvage_id(const char *json, size_t len, uint32_t *id)
{
    struct json_tokener *tok = json_tokener_new_ex(CM_JSON_DEPTH + 1);
    if (!tok)
        return false;
    struct json_object *root = json_tokener_parse_ex(tok, json, (int)len), *o;
    json_tokener_free(tok);
    bool ok = false;
    if (root && json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "id", &o) && json_object_is_type(o, json_type_int)) {
        int64_t x = json_object_get_int64(o);
        if (x >= 0 && x <= UINT32_MAX) {
            *id = (uint32_t)x;
            ok = true;
        }
    }
    json_object_put(root);
    return ok;
}

/* One frame; -1 when the connection is gone. */
static int handle_frame(struct control *c, struct conn *k, const char *json, size_t len)
{
    char err[256];
    if (!k->hello_done) {
        struct cm_hello h;
        int rc = cm_parse_hello(json, len, &h, err, sizeof(err));
        if (rc < 0) {
            k->closing = true;
            return conn_send(c, k, cm_build_reply_error(0, -EPROTO, err), NULL, 0);
        }
        cm_hello_free(&h);
        k->hello_done = true;
        return 0;
    }
    struct cm_request q;
    int rc = cm_parse_request(json, len, &q, err, sizeof(err));
    if (rc < 0) {
        uint32_t id;
        if (!salvage_id(json, len, &id)) {
            conn_close(c, k);
            return -1;
        }
        return conn_send(c, k, cm_build_reply_error(id, rc, err), NULL, 0);
    }
    rc = handle_request(c, k, &q);
    cm_request_free(&q);
    return rc;
}

/* Handles the complete frames buffered, while replies may queue. -1: gone. */
static int conn_frames(struct control *c, struct conn *k)
{
    size_t off = 0;
    while (!k->closing && !conn_full(k)) {
        const char *json;
        uint32_t len;
        size_t used;
        int dec = cm_frame_decode(k->in + off, k->in_len - off, &json, &len, &used);
        if (dec < 0) {
            conn_close(c, k);
            return -1;
        }
        if (dec == 0)
            break;
        if (handle_frame(c, k, json, len) < 0)
            return -1;
        off += used;
    }
    memmove(k->in, k->in + off, k->in_len - off);
    k->in_len -= off;
    return 0;
}

static void conn_read(struct control *c, struct conn *k)
{
    /* A bounded turn: epoll is level-triggered, so a busy client yields to
     * the others and comes back. */
    for (int turn = 0; turn < 16 && !k->closing && !conn_full(k); turn++) {
        if (k->in_cap - k->in_len < IN_CHUNK) {
            size_t cap = k->in_cap ? k->in_cap * 2 : IN_CHUNK * 2;
            unsigned char *n = cap <= 4 * (CM_FRAME_MAX + CM_FRAME_HEADER)
                                   ? realloc(k->in, cap) : NULL;
            if (!n) {
                conn_close(c, k);
                return;
            }
            k->in = n;
            k->in_cap = cap;
        }
        union {
            char buf[CMSG_SPACE(sizeof(int) * CM_FDS_MAX)];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {.iov_base = k->in + k->in_len, .iov_len = k->in_cap - k->in_len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                            .msg_controllen = sizeof(cbuf.buf)};
        ssize_t n = recvmsg(k->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            /* The kernel left mh's control part as it was: cbuf is garbage. */
            if (errno == EAGAIN || errno == EINTR)
                break;
            conn_close(c, k);
            return;
        }
        bool fds = false;
        if (mh.msg_controllen >= sizeof(struct cmsghdr))
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                    int *p = (int *)CMSG_DATA(cm);
                    for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                        close(p[i]);
                    fds = true;
                }
        if (n == 0 || fds || (mh.msg_flags & MSG_CTRUNC)) {
            /* EOF, or fds no request may carry: the stream is over. */
            conn_close(c, k);
            return;
        }
        k->in_len += (size_t)n;
        if (conn_frames(c, k) < 0)
            return;
    }
    conn_events(c, k);
}

static void on_conn(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    struct control *c = opaque;
    struct conn *k = c->conns;
    (void)d;
    while (k && k->fd != fd)
        k = k->next;
    if (!k)
        return;
    if (events & EPOLLOUT) {
        bool was_full = conn_full(k);
        if (conn_flush(c, k) < 0)
            return;
        /* Requests that waited for the replies to drain. */
        if (was_full && !conn_full(k) && conn_frames(c, k) < 0)
            return;
        conn_events(c, k);
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) && !k->closing && !conn_full(k))
        conn_read(c, k);
    else if (events & (EPOLLHUP | EPOLLERR))
        conn_close(c, k);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Accept trouble repeats while clients keep trying: said once in a while. */
static void accept_log(struct control *c, const char *what, int err)
{
    uint64_t now = mono_ms();
    c->accept_unlogged++;
    if (c->accept_log_ms && now - c->accept_log_ms < ACCEPT_LOG_MS)
        return;
    hv_log(c->d->hv, HV_LOG_WARN, "domain %u: control socket %s: %s: %s (%u time%s since "
           "the last such message)", c->d->domid, c->path, what, strerror(err),
           c->accept_unlogged, c->accept_unlogged == 1 ? "" : "s");
    c->accept_log_ms = now ? now : 1;
    c->accept_unlogged = 0;
}

/*
 * Out of fds: the pending client is taken with the spare fd and closed at
 * once (it sees EOF without a hello), so the backlog drains instead of
 * keeping the listener readable, which a level-triggered loop would spin on.
 * false: that did not work either; stop listening until a connection closes.
 */
static bool turn_away(struct control *c)
{
    if (c->spare_fd < 0)
        return false;
    close(c->spare_fd);
    c->spare_fd = -1;
    int s = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (s >= 0)
        close(s);
    c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return s >= 0 && c->spare_fd >= 0;
}

static void on_accept(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    struct control *c = opaque;
    (void)events;
    for (int i = 0; i < 64; i++) {
        int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) {
            int e = errno;
            if (e == EAGAIN || e == EINTR || e == ECONNABORTED)
                return;
            if ((e == EMFILE || e == ENFILE) && turn_away(c)) {
                accept_log(c, "a client was turned away", e);
                continue;
            }
            accept_log(c, "not accepting clients until one disconnects", e);
            if (service_mod(d, fd, 0) == 0)
                c->accept_paused = true;
            return;
        }
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
            hv_log(d->hv, HV_LOG_WARN, "domain %u: control client refused: its credentials: "
                   "%s", d->domid, strerror(errno));
            close(s);
            continue;
        }
        if (cred.uid != geteuid() && cred.uid != 0) {
            hv_log(d->hv, HV_LOG_WARN, "domain %u: control client refused: uid %u is "
                   "neither the monitor's nor root", d->domid, (unsigned)cred.uid);
            close(s);
            continue;
        }
        struct conn *k = calloc(1, sizeof(*k));
        if (!k) {
            close(s);
            continue;
        }
        k->fd = s;
        k->uid = cred.uid;
        k->out_tail = &k->out;
        k->events = EPOLLIN;
        if (service_add(d, s, EPOLLIN, on_conn, c) < 0) {
            close(s);
            free(k);
            continue;
        }
        k->next = c->conns;
        c->conns = k;
        static const char *const features[] = {
            "info", "pause", "unpause", "shutdown", "destroy", "vcpu-info",
            "vcpu-affinity", "vcpu-affinity-get", "vcpus-set", "memory-target",
            "memory-max", "dirty-log-start", "dirty-log-fetch", "dirty-log-stop",
            "memory-map", "console-attach"};
        conn_send(c, k, cm_build_hello(features, sizeof(features) / sizeof(features[0])),
                  NULL, 0);
    }
}

/* ---- Events ------------------------------------------------------------------------ */

static void broadcast(struct control *c, const char *event, struct json_object *body)
{
    for (struct conn *k = c->conns, *next; k; k = next) {
        next = k->next;
        if (!k->closing)
            conn_send(c, k, cm_build_event(event, body, 0), NULL, 0);
    }
}

static void send_exit(struct control *c)
{
    struct hv_domain *d = c->d;
    if (c->exit_sent)
        return;
    c->exit_sent = true;
    pthread_mutex_lock(&d->lock);
    hv_exit_t e = d->exit;
    bool exited = d->state == HV_DOMAIN_SHUTDOWN;
    pthread_mutex_unlock(&d->lock);
    struct json_object *body = json_object_new_object();
    /* Not exited: the domain is being destroyed under it (hv_domain_destroy).
     * A destroy that ended it left HV_EXIT_DESTROYED in d->exit. */
    const char *reason = !exited ? "destroyed"
                         : (unsigned)e.reason < 5 ? reason_names[e.reason] : "crash";
    put_str(body, "reason", reason);
    put_u64(body, "code", exited ? e.code : 0);
    broadcast(c, "exit", body);
    json_object_put(body);
}

static void post_event(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    const char *name = opaque;
    (void)fd;
    (void)events;
    /* post_stop unlinked it (on this thread) before control_stop could free it. */
    struct control *c = ctl_get(d);
    if (!c)
        return;
    if (!strcmp(name, "exit"))
        send_exit(c);
    else
        broadcast(c, name, NULL);
}

void control_event(struct hv_domain *d, const char *event)
{
    /* Static names only: nothing to free if the post runs at service_stop. */
    static const char *const known[] = {"exit", "paused", "unpaused"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(event, known[i])) {
            /* Under the table lock: while c is linked, control_stop has not
             * returned, so service_stop has not freed d->svc. */
            pthread_mutex_lock(&d->ext_lock);
            struct control *c = d->control;
            while (c && c->d != d)
                c = c->next;
            if (c)
                service_post(d, post_event, (void *)known[i]);
            pthread_mutex_unlock(&d->ext_lock);
            return;
        }
}

/* ---- Start and stop ---------------------------------------------------------------- */

/* A socket file nobody answers on is a dead monitor's: only then unlink it. */
static int bind_socket(struct control *c, const struct sockaddr_un *sa)
{
    struct hv_domain *d = c->d;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (bind(c->listen_fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
            return 0;
        if (errno != EADDRINUSE || attempt)
            break;
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            break;
        int rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
        int cerr = errno;
        close(probe);
        if (rc == 0 || cerr != ECONNREFUSED) {
            errno = EADDRINUSE;
            break;
        }
        unlink(sa->sun_path);
    }
    return hv_error(d->hv, -errno, "domain %u: control socket %s: %s", d->domid, c->path,
                    strerror(errno));
}

static int mkdir_p(hv_t *hv, const char *path)
{
    char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char saved = *p;
            *p = 0;
            if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return hv_error(hv, -errno, "cannot create %s: %s", buf, strerror(errno));
            if (!saved)
                return 0;
            *p = saved;
        }
    }
}

/*
 * Clients find the domain by this directory's entries, so whoever can write
 * it can put their own socket in our place: only we or root may.
 */
static int dir_trusted(hv_t *hv, uint32_t domid, const char *dir, bool sticky_ok)
{
    struct stat st;
    if (lstat(dir, &st) < 0)
        return hv_error(hv, -errno, "domain %u: control socket directory %s: %s", domid, dir,
                        strerror(errno));
    const char *why = !S_ISDIR(st.st_mode) ? "is not a directory (a symlink?)"
                      : st.st_uid != geteuid() && st.st_uid != 0
                          ? "is owned by another user"
                      : (st.st_mode & 022) && !(sticky_ok && (st.st_mode & S_ISVTX))
                          ? "is writable by group or others" : NULL;
    if (why)
        return hv_error(hv, -EPERM, "domain %u: control socket directory %s %s: refusing "
                        "to serve from it (it must be ours or root's, mode 0700 or 0755)",
                        domid, dir, why);
    return 0;
}

int control_start(struct hv_domain *d)
{
    struct control *c = calloc(1, sizeof(*c));
    if (!c)
        return hv_error(d->hv, -ENOMEM, "domain %u: out of memory", d->domid);
    c->d = d;
    c->listen_fd = -1;
    c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&c->stop_lock, NULL);
    pthread_cond_init(&c->stop_cond, NULL);
    int err = registry_socket_path(d->hv, d->domid, c->path, sizeof(c->path));
    if (err < 0)
        goto fail;
    char dir[sizeof(c->path)];
    snprintf(dir, sizeof(dir), "%s/domains", d->hv->run_dir);
    /* The run directory may be a shared sticky one (/tmp): nobody else can
     * then rename our domains/ away. */
    if ((err = mkdir_p(d->hv, dir)) < 0 ||
        (err = dir_trusted(d->hv, d->domid, d->hv->run_dir, true)) < 0 ||
        (err = dir_trusted(d->hv, d->domid, dir, false)) < 0)
        goto fail;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->listen_fd < 0) {
        err = hv_error(d->hv, -errno, "domain %u: control socket: %s", d->domid,
                       strerror(errno));
        goto fail;
    }
    /* Until the chmod the 0700 directory keeps others out. */
    if ((err = bind_socket(c, &sa)) < 0)
        goto fail;
    if (chmod(c->path, 0600) < 0 || listen(c->listen_fd, 128) < 0) {
        err = hv_error(d->hv, -errno, "domain %u: control socket %s: %s", d->domid, c->path,
                       strerror(errno));
        unlink(c->path);
        goto fail;
    }
    pthread_mutex_lock(&d->ext_lock);
    c->next = d->control;
    d->control = c;
    pthread_mutex_unlock(&d->ext_lock);
    if ((err = service_add(d, c->listen_fd, EPOLLIN, on_accept, c)) < 0) {
        ctl_unlink(c);
        unlink(c->path);
        goto fail;
    }
    return 0;
fail:
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->spare_fd >= 0)
        close(c->spare_fd);
    pthread_mutex_destroy(&c->stop_lock);
    pthread_cond_destroy(&c->stop_cond);
    free(c);
    return err;
}

/* On the service thread (or after it ended): tell, close, unlink. */
static void stop_now(struct control *c)
{
    struct hv_domain *d = c->d;
    send_exit(c);
    /* Best effort: what the sockets take now, without waiting for slow readers. */
    while (c->conns)
        conn_close(c, c->conns);
    console_reader_stop(d);
    service_del(d, c->listen_fd);
    close(c->listen_fd);
    c->listen_fd = -1;
    if (c->spare_fd >= 0)
        close(c->spare_fd);
    c->spare_fd = -1;
    unlink(c->path);
    /* Posts queued behind this one then find nothing to use. */
    ctl_unlink(c);
}

static void post_stop(struct hv_domain *d, int fd, uint32_t events, void *opaque)
{
    struct control *c = opaque;
    (void)d;
    (void)fd;
    (void)events;
    stop_now(c);
    /* c may be freed once this is seen. */
    pthread_mutex_lock(&c->stop_lock);
    c->stopped = true;
    pthread_cond_broadcast(&c->stop_cond);
    pthread_mutex_unlock(&c->stop_lock);
}

void control_stop(struct hv_domain *d)
{
    struct control *c = ctl_get(d);
    if (!c)
        return;
    /* On the service thread; or here once it has ended (the post is then
     * refused, and that thread touches nothing of ours any more). */
    if (service_post(d, post_stop, c) < 0) {
        stop_now(c);
    } else {
        pthread_mutex_lock(&c->stop_lock);
        while (!c->stopped)
            pthread_cond_wait(&c->stop_cond, &c->stop_lock);
        pthread_mutex_unlock(&c->stop_lock);
    }
    pthread_mutex_destroy(&c->stop_lock);
    pthread_cond_destroy(&c->stop_cond);
    free(c);
}
