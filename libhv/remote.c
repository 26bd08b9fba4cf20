/* SPDX-License-Identifier: MIT */
/*
 * Remote domain handles: proxies over a domain's control socket
 * (docs/control-protocol.md). One connection per handle; calls from several
 * threads take turns on it (one request in flight), so a reply is always
 * the answer to the request of the thread that reads it. Events that arrive
 * meanwhile are remembered: "exit" makes the handle's domain shut down.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <json-c/json.h>

#include "control_msg.h"
#include "internal.h"

/* Guards against a monitor that hangs; never a statement about speed. */
#define REPLY_TIMEOUT_MS 30000
#define LIST_TIMEOUT_MS 5000
#define FD_GROUPS 16u

/* ---- Wire (shared by handles and the list fan-out) ----------------------------------- */

/*
 * The fds one recvmsg brought, with the stream bytes it read. The monitor
 * sends a frame's fds with its first byte, and the kernel ends a read right
 * after the bytes that carried fds: so they belong to the last frame that
 * starts within [from, to) (docs/control-protocol.md).
 */
struct fd_group {
    uint64_t from, to;
    unsigned n;
    int fds[CM_FDS_MAX];
};

struct wire {
    int fd;
    unsigned char *in;
    size_t in_len, in_cap;
    uint64_t pos;             /* stream offset of in[0] */
    struct fd_group grp[FD_GROUPS];
    unsigned ngrp;
};

struct remote {
    struct wire w;            /* w.fd stays open until remote_free */
    int wake_fd;              /* eventfd, set once exited or dead: wakes waiters */
    pthread_mutex_t lock;     /* one caller on the connection at a time */
    uint32_t next_id;
    bool hello_seen;
    bool dead;                /* the connection is over (shut down) */
    bool eof;                 /* ... because the monitor closed it */
    bool exited;
    hv_exit_t exit;
    uint32_t nr_vcpus;
    uint64_t mem_bytes;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A poll timeout for a deadline (UINT64_MAX: none); long waits just loop. */
static int poll_ms(uint64_t deadline)
{
    uint64_t now = now_ms();
    if (now >= deadline)
        return 0;
    return deadline - now > 3600000u ? 3600000 : (int)(deadline - now);
}

static void wire_fds_clear(struct wire *w)
{
    for (unsigned g = 0; g < w->ngrp; g++)
        for (unsigned i = 0; i < w->grp[g].n; i++)
            close(w->grp[g].fds[i]);
    w->ngrp = 0;
}

/*
 * One recvmsg into the buffer. 1: got bytes; 0: EOF; -EAGAIN; -errno.
 * -EPROTO: fds that do not fit (the stream is lost).
 */
static int wire_recv(struct wire *w)
{
    if (w->in_cap - w->in_len < 4096) {
        size_t cap = w->in_cap ? w->in_cap * 2 : 16384;
        if (cap > 4 * (CM_FRAME_MAX + CM_FRAME_HEADER))
            return -EPROTO;
        unsigned char *n = realloc(w->in, cap);
        if (!n)
            return -ENOMEM;
        w->in = n;
        w->in_cap = cap;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int) * CM_FDS_MAX)];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {.iov_base = w->in + w->in_len, .iov_len = w->in_cap - w->in_len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                        .msg_controllen = sizeof(cbuf.buf)};
    ssize_t n = recvmsg(w->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
    int err = 0;
    struct fd_group g = {.from = w->pos + w->in_len, .to = w->pos + w->in_len + (size_t)n};
    if (mh.msg_controllen >= sizeof(struct cmsghdr))
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                continue;
            int *p = (int *)CMSG_DATA(cm);
            size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                if (g.n < CM_FDS_MAX)
                    g.fds[g.n++] = p[i];
                else {
                    close(p[i]);
                    err = -EPROTO;
                }
            }
        }
    if ((mh.msg_flags & MSG_CTRUNC) || (g.n && (n == 0 || w->ngrp == FD_GROUPS)))
        err = -EPROTO;
    if (err) {
        for (unsigned i = 0; i < g.n; i++)
            close(g.fds[i]);
        return err;
    }
    if (g.n)
        w->grp[w->ngrp++] = g;
    if (n == 0)
        return 0;
    w->in_len += (size_t)n;
    return 1;
}

/*
 * The fds of the frame at stream bytes [start, end), which announces want:
 * into fds (or closed when fds is NULL). -EPROTO when what came differs:
 * fds in the middle of a frame, or not the number announced.
 */
static int wire_claim(struct wire *w, uint64_t start, uint64_t end, unsigned want, int *fds)
{
    unsigned got = 0;
    bool bad = false, claimed = false;
    /* Decided once every byte of the group's read is in frames up to this one. */
    while (w->ngrp && w->grp[0].to <= end) {
        struct fd_group g = w->grp[0];
        memmove(w->grp, w->grp + 1, --w->ngrp * sizeof(w->grp[0]));
        bool mine = !claimed && g.from <= start;
        for (unsigned i = 0; i < g.n; i++) {
            if (mine && fds && got < want)
                fds[got] = g.fds[i];
            else
                close(g.fds[i]);
            got += mine;
        }
        bad = bad || !mine;
        claimed = claimed || mine;
    }
    if (!bad && got == want)
        return 0;
    for (unsigned i = 0; fds && i < got && i < want; i++)
        close(fds[i]);
    return -EPROTO;
}

/*
 * A complete frame at the buffer's start: 1 with a malloc'd copy and its
 * stream bytes [*start, *end); 0; -EPROTO.
 */
static int wire_take(struct wire *w, char **json, size_t *len, uint64_t *start,
                     uint64_t *end)
{
    const char *j;
    uint32_t n;
    size_t used;
    int rc = cm_frame_decode(w->in, w->in_len, &j, &n, &used);
    if (rc <= 0)
        return rc < 0 ? -EPROTO : 0;
    *json = malloc(n);
    if (!*json)
        return -ENOMEM;
    memcpy(*json, j, n);
    *len = n;
    memmove(w->in, w->in + used, w->in_len - used);
    w->in_len -= used;
    *start = w->pos;
    w->pos += used;
    *end = w->pos;
    return 1;
}

/* Frames a JSON text (freed) into out; false on failure. */
static bool frame_append(char *json, unsigned char *out, size_t cap, size_t *len)
{
    if (!json)
        return false;
    int n = cm_frame_encode(out + *len, cap - *len, json, strlen(json));
    free(json);
    if (n < 0)
        return false;
    *len += (size_t)n;
    return true;
}

static int send_all(int fd, const unsigned char *buf, size_t len, uint64_t deadline)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -errno;
            if (now_ms() >= deadline)
                return -ETIMEDOUT;
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, poll_ms(deadline));
            continue;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static const char *const hello_features[] = {
    "info", "pause", "unpause", "shutdown", "destroy", "vcpu-info", "vcpu-affinity",
    "vcpu-affinity-get", "vcpus-set", "memory-target", "memory-max", "dirty-log-start",
    "dirty-log-fetch", "dirty-log-stop", "memory-map", "console-attach"};

/* ---- Connecting ---------------------------------------------------------------------------- */

/*
 * A socket connected to domid's monitor, non-blocking, or -errno with a
 * message. A full backlog (a stuck or busy monitor) is waited out until
 * deadline, 0 for not at all: connect then blocks at most SO_SNDTIMEO.
 * The socket is trusted only if its listener is us or root: anyone who
 * could write the socket directory could otherwise pose as the monitor and
 * be handed our requests, or give us its own memory as the guest's.
 */
static int dial(hv_t *hv, uint32_t domid, uint64_t deadline, bool quiet)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int err = registry_socket_path(hv, domid, sa.sun_path, sizeof(sa.sun_path));
    if (err < 0)
        return err;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return quiet ? -errno : hv_error(hv, -errno, "domain %u: socket: %s", domid,
                                         strerror(errno));
    int rc;
    do {
        uint64_t now = now_ms();
        uint64_t left = deadline > now ? deadline - now : 0;
        struct timeval tv = {.tv_sec = (time_t)(left / 1000),
                             .tv_usec = (suseconds_t)(left % 1000) * 1000};
        if (!left)
            tv.tv_usec = 1; /* 0 would mean "forever" */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    } while (rc < 0 && (errno == EINTR || (errno == EAGAIN && now_ms() < deadline)));
    if (rc < 0) {
        err = errno == EAGAIN ? -ETIMEDOUT : -errno;
        close(fd);
        if (quiet)
            return err;
        if (err == -ENOENT)
            return hv_error(hv, -ENOENT, "no domain %u", domid);
        if (err == -ECONNREFUSED)
            return hv_error(hv, -ECONNREFUSED, "domain %u: its monitor is gone", domid);
        if (err == -ETIMEDOUT)
            return hv_error(hv, -ETIMEDOUT, "domain %u: its monitor takes no connection "
                            "(its backlog stayed full for %d s)", domid,
                            REPLY_TIMEOUT_MS / 1000);
        return hv_error(hv, err, "domain %u: connecting to %s: %s", domid, sa.sun_path,
                        strerror(-err));
    }
    struct timeval none = {0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
        err = -errno;
        close(fd);
        return quiet ? err : hv_error(hv, err, "domain %u: who serves %s: %s", domid,
                                      sa.sun_path, strerror(-err));
    }
    if (cred.uid != geteuid() && cred.uid != 0) {
        close(fd);
        if (quiet)
            hv_log(hv, HV_LOG_WARN, "domain %u: %s is served by uid %u, neither ours nor "
                   "root: ignored", domid, sa.sun_path, (unsigned)cred.uid);
        return quiet ? -EACCES : hv_error(hv, -EACCES, "domain %u: %s is served by uid %u "
                                          "(pid %d), neither ours nor root: not trusting it",
                                          domid, sa.sun_path, (unsigned)cred.uid,
                                          (int)cred.pid);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* ---- Handles -------------------------------------------------------------------------------- */

/* Exited or dead: both for good, so the eventfd is never reset. */
static void wake_waiters(struct remote *r)
{
    uint64_t one = 1;
    if (r->wake_fd >= 0 && write(r->wake_fd, &one, sizeof(one)) < 0)
        (void)0; /* only a full counter fails: it is set anyway */
}

/*
 * The connection is over. Shut down, not closed: a waiter may be polling
 * the fd without the lock, and the number must not be reused under it.
 */
static void broken(struct remote *r)
{
    if (r->w.fd >= 0 && !r->dead)
        shutdown(r->w.fd, SHUT_RDWR);
    r->dead = true;
    wire_fds_clear(&r->w);
    r->w.in_len = 0;
    wake_waiters(r);
}

static void take_event(struct hv_domain *d, const struct cm_event *e)
{
    struct remote *r = d->remote;
    if (strcmp(e->name, "exit") || r->exited)
        return;
    struct json_object *o;
    const char *reason = json_object_object_get_ex(e->body, "reason", &o) &&
                                 json_object_is_type(o, json_type_string)
                             ? json_object_get_string(o) : "";
    hv_exit_t x = {.size = sizeof(x), .reason = HV_EXIT_CRASH, .vector = HV_CRASH_HOST};
    if (!strcmp(reason, "poweroff"))
        x = (hv_exit_t){.size = sizeof(x), .reason = HV_EXIT_POWEROFF};
    else if (!strcmp(reason, "reboot"))
        x = (hv_exit_t){.size = sizeof(x), .reason = HV_EXIT_REBOOT};
    else if (!strcmp(reason, "destroyed"))
        x = (hv_exit_t){.size = sizeof(x), .reason = HV_EXIT_DESTROYED};
    if (json_object_object_get_ex(e->body, "code", &o) && json_object_is_type(o, json_type_int))
        x.code = (uint32_t)json_object_get_int64(o);
    r->exit = x;
    r->exited = true;
    wake_waiters(r);
}

/*
 * Reads and handles frames until want_id's reply (out, fds claimed into
 * *fd), or EOF/deadline when want_id is 0. With r->lock held. A deadline
 * already passed still takes what the socket has now, without waiting.
 * 1: the reply; 0: EOF (or the deadline with want_id 0); -errno.
 */
static int pump(struct hv_domain *d, uint32_t want_id, struct cm_reply *out, int *fd,
                uint64_t deadline)
{
    struct remote *r = d->remote;
    char err[256];
    for (;;) {
        char *json;
        size_t len;
        uint64_t start, end;
        int rc = wire_take(&r->w, &json, &len, &start, &end);
        if (rc < 0)
            goto proto;
        if (rc == 0) {
            if (r->dead)
                return 0;
            struct pollfd p = {.fd = r->w.fd, .events = POLLIN};
            int pr = poll(&p, 1, poll_ms(deadline));
            if (pr < 0 && errno != EINTR)
                return -errno;
            if (pr == 0 && now_ms() >= deadline)
                return want_id ? -ETIMEDOUT : 0;
            if (pr <= 0)
                continue;
            rc = wire_recv(&r->w);
            if (rc == 0 || rc == -ECONNRESET) {
                r->eof = true;
                broken(r);
                return 0;
            }
            if (rc == -EPROTO) {
                snprintf(err, sizeof(err), "bad file descriptors from the monitor");
                goto proto_msg;
            }
            if (rc < 0 && rc != -EAGAIN)
                return rc;
            continue;
        }
        if (!r->hello_seen) {
            struct cm_hello h;
            if (wire_claim(&r->w, start, end, 0, NULL) < 0) {
                free(json);
                snprintf(err, sizeof(err), "file descriptors with its hello");
                goto proto_msg;
            }
            rc = cm_parse_hello(json, len, &h, err, sizeof(err));
            if (rc < 0) {
                /* A refused hello comes as an error reply with id 0. */
                struct cm_reply rep;
                if (cm_parse_reply(json, len, &rep, NULL, 0) == 0 && !rep.ok)
                    snprintf(err, sizeof(err), "%s", rep.message);
                cm_reply_free(&rep);
                free(json);
                goto proto_msg;
            }
            cm_hello_free(&h);
            free(json);
            r->hello_seen = true;
            continue;
        }
        struct cm_incoming in;
        rc = cm_parse_incoming(json, len, &in, err, sizeof(err));
        free(json);
        if (rc < 0) {
            wire_claim(&r->w, start, end, 0, NULL);
            goto proto_msg;
        }
        unsigned nfds = in.kind == CM_KIND_EVENT ? in.u.event.fds : in.u.reply.fds;
        bool mine = in.kind == CM_KIND_REPLY && want_id && in.u.reply.id == want_id;
        /* Only one fd is ever ours: a reply's, to a request that takes one. */
        int got[CM_FDS_MAX];
        if (wire_claim(&r->w, start, end, nfds, got) < 0) {
            cm_incoming_free(&in);
            snprintf(err, sizeof(err), "a frame whose file descriptors are not the %u it "
                     "announces", nfds);
            goto proto_msg;
        }
        if (in.kind == CM_KIND_EVENT || !mine || nfds > 1 || (nfds == 1 && !fd)) {
            for (unsigned i = 0; i < nfds; i++)
                close(got[i]); /* events carry none we know of */
            if (in.kind == CM_KIND_EVENT) {
                take_event(d, &in.u.event);
                cm_incoming_free(&in);
                continue;
            }
            snprintf(err, sizeof(err), "%s", !mine ? "a reply to no pending request"
                                                   : "a reply with fds it should not have");
            cm_incoming_free(&in);
            goto proto_msg;
        }
        if (nfds == 1)
            *fd = got[0];
        *out = in.u.reply;
        return 1;
    }
proto:
    snprintf(err, sizeof(err), "a malformed frame");
proto_msg:
    broken(r);
    return hv_error(d->hv, -EPROTO, "domain %u: control protocol: %s", d->domid, err);
}

/*
 * One request (args consumed); result: a new reference when wanted. With
 * fd: the reply's one fd, if it carries one (else -1).
 */
static int rpc(struct hv_domain *d, enum cm_op op, struct json_object *args,
               struct json_object **result, int *fd)
{
    struct remote *r = d->remote;
    int err;
    if (result)
        *result = NULL;
    if (fd)
        *fd = -1;
    unsigned char *buf = NULL;
    pthread_mutex_lock(&r->lock);
    if (r->dead) {
        err = r->eof && r->exited ? hv_error(d->hv, -ESRCH, "domain %u is gone", d->domid)
              : r->eof ? hv_error(d->hv, -ESRCH, "domain %u: its monitor is gone", d->domid)
                       : hv_error(d->hv, -ENOTCONN, "domain %u: the connection to its "
                                  "monitor was lost", d->domid);
        goto out;
    }
    uint32_t id = ++r->next_id ? r->next_id : ++r->next_id;
    char *json = cm_build_request(id, op, args, 0);
    size_t len = 0, cap = json ? CM_FRAME_HEADER + strlen(json) : 0;
    if (json)
        buf = malloc(cap);
    if (!buf)
        free(json);
    if (!buf || !frame_append(json, buf, cap, &len)) {
        err = hv_error(d->hv, -ENOMEM, "domain %u: building a %s request", d->domid,
                       cm_op_name(op));
        goto out;
    }
    uint64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
    if ((err = send_all(r->w.fd, buf, len, deadline)) < 0) {
        r->eof = err == -EPIPE || err == -ECONNRESET;
        broken(r);
        err = hv_error(d->hv, -ESRCH, "domain %u: its monitor is gone (%s)", d->domid,
                       strerror(-err));
        goto out;
    }
    struct cm_reply rep;
    err = pump(d, id, &rep, fd, deadline);
    if (err == 0)
        err = hv_error(d->hv, -ESRCH, "domain %u: its monitor closed the connection during "
                       "%s", d->domid, cm_op_name(op));
    else if (err == -ETIMEDOUT) {
        broken(r);
        err = hv_error(d->hv, -ETIMEDOUT, "domain %u: no reply to %s in %d s", d->domid,
                       cm_op_name(op), REPLY_TIMEOUT_MS / 1000);
    }
    if (err < 0)
        goto out;
    if (!rep.ok) {
        err = *rep.message ? hv_error(d->hv, -rep.err, "%s", rep.message)
                           : hv_error(d->hv, -rep.err, "domain %u: %s: %s", d->domid,
                                      cm_op_name(op), strerror(rep.err));
        if (fd && *fd >= 0) {
            close(*fd);
            *fd = -1;
        }
    } else {
        err = 0;
        if (result)
            *result = json_object_get(rep.result);
    }
    cm_reply_free(&rep);
out:
    pthread_mutex_unlock(&r->lock);
    free(buf);
    json_object_put(args);
    return err;
}

static uint64_t res_u64(struct json_object *res, const char *key)
{
    struct json_object *o;
    if (!json_object_object_get_ex(res, key, &o) || !json_object_is_type(o, json_type_int))
        return 0;
    int64_t v = json_object_get_int64(o);
    return v < 0 ? 0 : (uint64_t)v;
}

static const char *res_str(struct json_object *res, const char *key)
{
    struct json_object *o;
    if (!json_object_object_get_ex(res, key, &o) || !json_object_is_type(o, json_type_string))
        return "";
    return json_object_get_string(o);
}

static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static void info_from(struct json_object *res, hv_domain_info_t *i)
{
    static const char *const states[] = {"created", "running", "paused", "shutdown"};
    static const char *const reasons[] = {"none", "poweroff", "reboot", "crash", "destroyed"};
    memset(i, 0, sizeof(*i));
    i->size = sizeof(*i);
    i->domid = (uint32_t)res_u64(res, "domid");
    snprintf(i->name, sizeof(i->name), "%s", res_str(res, "name"));
    uuid_t u;
    if (uuid_parse(res_str(res, "uuid"), u) == 0)
        memcpy(i->uuid, u, 16);
    int s = name_index(res_str(res, "state"), states, 4);
    i->state = s < 0 ? HV_DOMAIN_SHUTDOWN : (hv_domain_state_t)s;
    i->memory_bytes = res_u64(res, "memory_bytes");
    i->memory_target_bytes = res_u64(res, "memory_target_bytes");
    i->memory_max_bytes = res_u64(res, "memory_max_bytes");
    i->memory_actual_bytes = res_u64(res, "memory_actual_bytes");
    i->vcpus = (uint32_t)res_u64(res, "vcpus");
    i->vcpus_online = (uint32_t)res_u64(res, "vcpus_online");
    i->vcpus_target = (uint32_t)res_u64(res, "vcpus_target");
    i->cpu_time_ns = res_u64(res, "cpu_time_ns");
    int x = name_index(res_str(res, "exit_reason"), reasons, 5);
    i->exit_reason = x < 0 ? HV_EXIT_NONE : (hv_exit_reason_t)x;
    i->exit_code = (uint32_t)res_u64(res, "exit_code");
    i->monitor_pid = (int32_t)res_u64(res, "monitor_pid");
    i->start_time_ns = res_u64(res, "start_time_ns");
}

static void remote_free(struct hv_domain *d)
{
    struct remote *r = d->remote;
    wire_fds_clear(&r->w);
    if (r->w.fd >= 0)
        close(r->w.fd);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    free(r->w.in);
    pthread_mutex_destroy(&r->lock);
    free(r);
    free(d);
}

int remote_open(hv_t *hv, uint32_t domid, struct hv_domain **out)
{
    *out = NULL;
    struct hv_domain *d = calloc(1, sizeof(*d));
    struct remote *r = calloc(1, sizeof(*r));
    if (!d || !r) {
        free(d);
        free(r);
        return hv_error(hv, -ENOMEM, "domain %u: out of memory", domid);
    }
    d->hv = hv;
    d->domid = domid;
    d->remote = r;
    d->vm_fd = d->mem_fd = d->exit_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->w.fd = dial(hv, domid, now_ms() + REPLY_TIMEOUT_MS, false);
    if (r->w.fd < 0 || r->wake_fd < 0) {
        int err = r->w.fd < 0 ? r->w.fd : hv_error(hv, -errno, "domain %u: eventfd: %s",
                                                    domid, strerror(errno));
        if (r->w.fd < 0)
            r->w.fd = -1;
        remote_free(d);
        return err;
    }
    /* Our hello; the info request goes right behind it (the spec allows it). */
    unsigned char buf[CM_FRAME_HEADER + 1024];
    size_t len = 0;
    int err = 0;
    if (!frame_append(cm_build_hello(hello_features, sizeof(hello_features) /
                                                         sizeof(hello_features[0])),
                      buf, sizeof(buf), &len) ||
        (err = send_all(r->w.fd, buf, len, now_ms() + REPLY_TIMEOUT_MS)) < 0) {
        err = hv_error(hv, err ? err : -ENOMEM, "domain %u: control hello: %s", domid,
                       strerror(err ? -err : ENOMEM));
        remote_free(d);
        return err;
    }
    struct json_object *res;
    if ((err = rpc(d, CM_OP_INFO, NULL, &res, NULL)) < 0) {
        if (!r->hello_seen && r->eof)
            err = hv_error(hv, -EACCES, "domain %u: its monitor closed the connection "
                           "without a hello (it takes only its own uid and root)", domid);
        remote_free(d);
        return err;
    }
    hv_domain_info_t i;
    info_from(res, &i);
    json_object_put(res);
    if (i.domid != domid) {
        remote_free(d);
        return hv_error(hv, -EPROTO, "domain %u: its socket answers for domain %u", domid,
                        i.domid);
    }
    memcpy(d->name, i.name, sizeof(d->name));
    memcpy(d->uuid, i.uuid, sizeof(d->uuid));
    r->nr_vcpus = i.vcpus;
    r->mem_bytes = i.memory_bytes;
    if (i.state == HV_DOMAIN_SHUTDOWN) {
        r->exited = true;
        r->exit = (hv_exit_t){.size = sizeof(hv_exit_t), .reason = i.exit_reason,
                              .code = i.exit_code};
    }
    *out = d;
    return 0;
}

void remote_close(struct hv_domain *d)
{
    remote_free(d);
}

int remote_refuse(struct hv_domain *d, const char *call)
{
    return hv_error(d->hv, -EREMOTE, "domain %u lives in another process: %s needs its "
                    "local handle", d->domid, call);
}

int remote_pause(struct hv_domain *d)
{
    return rpc(d, CM_OP_PAUSE, NULL, NULL, NULL);
}

int remote_unpause(struct hv_domain *d)
{
    return rpc(d, CM_OP_UNPAUSE, NULL, NULL, NULL);
}

int remote_shutdown(struct hv_domain *d, uint32_t reason)
{
    if (reason != HV_SHUTDOWN_POWEROFF && reason != HV_SHUTDOWN_REBOOT)
        return hv_error(d->hv, -EINVAL, "domain %u: shutdown reason %u: a remote handle asks "
                        "for poweroff or reboot", d->domid, reason);
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "reason", json_object_new_string(
                                            reason == HV_SHUTDOWN_REBOOT ? "reboot" : "poweroff"));
    return rpc(d, CM_OP_SHUTDOWN, a, NULL, NULL);
}

/*
 * Waits without the lock, so other threads' calls on the handle are not
 * held up: the lock is taken only to read what came. Whichever thread
 * reads the exit (or loses the connection) sets the eventfd for the rest.
 */
int remote_wait(struct hv_domain *d, hv_exit_t *exit_info, int timeout_ms)
{
    struct remote *r = d->remote;
    if (exit_info && exit_info->size == 0)
        return -EINVAL;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        /* What the socket has now (a passed deadline: no waiting). */
        int err = r->exited || r->dead ? 0 : pump(d, 0, NULL, NULL, 0);
        if (!r->exited && r->eof) {
            /* The monitor went without a word: the domain went with it. */
            r->exited = true;
            r->exit = (hv_exit_t){.size = sizeof(hv_exit_t), .reason = HV_EXIT_CRASH,
                                  .vector = HV_CRASH_HOST};
        }
        if (r->exited) {
            if (exit_info) {
                hv_exit_t e = r->exit;
                struct_out(exit_info, &e, sizeof(e));
            }
            pthread_mutex_unlock(&r->lock);
            return 0;
        }
        if (err == 0 && r->dead)
            /* Our side of the connection broke (a timeout, a protocol
             * error): that says nothing about the domain. */
            err = hv_error(d->hv, -ENOTCONN, "domain %u: the connection to its monitor was "
                           "lost; its state is unknown", d->domid);
        pthread_mutex_unlock(&r->lock);
        if (err < 0)
            return err;
        if (now_ms() >= deadline)
            return -ETIMEDOUT;
        struct pollfd p[2] = {{.fd = r->w.fd, .events = POLLIN},
                              {.fd = r->wake_fd, .events = POLLIN}};
        if (poll(p, 2, poll_ms(deadline)) < 0 && errno != EINTR)
            return hv_error(d->hv, -errno, "domain %u: waiting: %s", d->domid,
                            strerror(errno));
    }
}

int remote_destroy(struct hv_domain *d)
{
    struct remote *r = d->remote;
    int err = rpc(d, CM_OP_DESTROY, NULL, NULL, NULL);
    if (err == 0) {
        /* Done when the monitor has the domain destroyed: it closes the socket. */
        pthread_mutex_lock(&r->lock);
        uint64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
        while (!r->dead && err == 0 && now_ms() < deadline)
            err = pump(d, 0, NULL, NULL, deadline);
        if (err == 0 && !r->dead)
            err = hv_error(d->hv, -ETIMEDOUT, "domain %u: its monitor did not destroy it "
                           "in %d s", d->domid, REPLY_TIMEOUT_MS / 1000);
        pthread_mutex_unlock(&r->lock);
    }
    remote_free(d);
    return err;
}

int remote_info(struct hv_domain *d, hv_domain_info_t *info)
{
    if (!info || info->size == 0)
        return -EINVAL;
    struct json_object *res;
    int err = rpc(d, CM_OP_INFO, NULL, &res, NULL);
    if (err < 0)
        return err;
    hv_domain_info_t i;
    info_from(res, &i);
    json_object_put(res);
    struct_out(info, &i, sizeof(i));
    return 0;
}

static struct json_object *vcpu_args(uint32_t vcpu)
{
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "vcpu", json_object_new_uint64(vcpu));
    return a;
}

int remote_vcpu_info(struct hv_domain *d, uint32_t vcpu, hv_vcpu_info_t *info)
{
    if (!info || info->size == 0)
        return -EINVAL;
    struct json_object *res, *o;
    int err = rpc(d, CM_OP_VCPU_INFO, vcpu_args(vcpu), &res, NULL);
    if (err < 0)
        return err;
    hv_vcpu_info_t i = {.size = sizeof(i)};
    i.vcpu = (uint32_t)res_u64(res, "vcpu");
    i.online = json_object_object_get_ex(res, "online", &o) && json_object_get_boolean(o);
    i.cpu_time_ns = res_u64(res, "cpu_time_ns");
    i.host_cpu = json_object_object_get_ex(res, "host_cpu", &o) ? json_object_get_int(o) : -1;
    json_object_put(res);
    struct_out(info, &i, sizeof(i));
    return 0;
}

int remote_vcpu_affinity_set(struct hv_domain *d, uint32_t vcpu, const uint32_t *cpus,
                             size_t ncpus)
{
    if (ncpus && !cpus)
        return -EINVAL;
    /* Checked and deduplicated here, as the local call would: the request
     * then stays small, and the monitor's limit on the list's length is
     * about distinct CPUs. */
    uint64_t seen[HV_MAX_HOST_CPUS / 64] = {0};
    for (size_t i = 0; i < ncpus; i++)
        if (cpus[i] >= HV_MAX_HOST_CPUS)
            return hv_error(d->hv, -EINVAL, "domain %u vCPU %u: host CPU %u is not an "
                            "online CPU below %d", d->domid, vcpu, cpus[i], HV_MAX_HOST_CPUS);
    struct json_object *a = vcpu_args(vcpu), *arr = json_object_new_array();
    for (size_t i = 0; i < ncpus; i++) {
        if (seen[cpus[i] / 64] & (1ull << (cpus[i] % 64)))
            continue;
        seen[cpus[i] / 64] |= 1ull << (cpus[i] % 64);
        json_object_array_add(arr, json_object_new_uint64(cpus[i]));
    }
    json_object_object_add(a, "cpus", arr);
    return rpc(d, CM_OP_VCPU_AFFINITY, a, NULL, NULL);
}

int remote_vcpu_affinity_get(struct hv_domain *d, uint32_t vcpu, uint32_t *cpus, size_t max)
{
    if (max && !cpus)
        return -EINVAL;
    struct json_object *res, *arr;
    int err = rpc(d, CM_OP_VCPU_AFFINITY_GET, vcpu_args(vcpu), &res, NULL);
    if (err < 0)
        return err;
    size_t n = 0;
    if (json_object_object_get_ex(res, "cpus", &arr) && json_object_is_type(arr, json_type_array))
        n = json_object_array_length(arr);
    if (n > HV_MAX_HOST_CPUS)
        n = HV_MAX_HOST_CPUS;
    for (size_t i = 0; i < n && i < max; i++)
        cpus[i] = (uint32_t)json_object_get_int64(json_object_array_get_idx(arr, i));
    json_object_put(res);
    return (int)n;
}

int remote_vcpus_set(struct hv_domain *d, uint32_t online)
{
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "online", json_object_new_uint64(online));
    return rpc(d, CM_OP_VCPUS_SET, a, NULL, NULL);
}

static int bytes_op(struct hv_domain *d, enum cm_op op, uint64_t bytes)
{
    if (bytes > INT64_MAX)
        return hv_error(d->hv, -EINVAL, "domain %u: %llu bytes is too many", d->domid,
                        (unsigned long long)bytes);
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "bytes", json_object_new_uint64(bytes));
    return rpc(d, op, a, NULL, NULL);
}

int remote_memory_target_set(struct hv_domain *d, uint64_t bytes)
{
    return bytes_op(d, CM_OP_MEMORY_TARGET, bytes);
}

int remote_memory_max_set(struct hv_domain *d, uint64_t bytes)
{
    return bytes_op(d, CM_OP_MEMORY_MAX, bytes);
}

int remote_memory_open(struct hv_domain *d, int flags, int *fd, uint64_t *size)
{
    struct json_object *a = json_object_new_object(), *res;
    json_object_object_add(a, "writable", json_object_new_boolean((flags & HV_MAP_WRITE) != 0));
    int err = rpc(d, CM_OP_MEMORY_MAP, a, &res, fd);
    if (err < 0)
        return err;
    uint64_t sz = res_u64(res, "size");
    json_object_put(res);
    int mode = *fd >= 0 ? fcntl(*fd, F_GETFL) & O_ACCMODE : -1;
    if (*fd < 0 || (!(flags & HV_MAP_WRITE) && mode != O_RDONLY)) {
        /* Read-only as asked: the fd handed on is at least not writable
         * itself (advisory: see hv_domain_memory_open). */
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return hv_error(d->hv, -EPROTO, "domain %u: memory-map reply without a %s fd",
                        d->domid, flags & HV_MAP_WRITE ? "" : "read-only");
    }
    /* Mapping more than the file holds would fault (SIGBUS) on first touch. */
    struct stat st;
    if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode) || sz == 0 ||
        (uint64_t)st.st_size < sz) {
        close(*fd);
        *fd = -1;
        return hv_error(d->hv, -EPROTO, "domain %u: memory-map reply: its fd is not a "
                        "memory file of the %llu bytes it announces", d->domid,
                        (unsigned long long)sz);
    }
    if (size)
        *size = sz;
    return 0;
}

int remote_console_open(struct hv_domain *d, int *fd)
{
    int err = rpc(d, CM_OP_CONSOLE_ATTACH, NULL, NULL, fd);
    if (err == 0 && *fd < 0)
        return hv_error(d->hv, -EPROTO, "domain %u: console-attach reply without an fd",
                        d->domid);
    return err;
}

size_t remote_dirty_log_size(const struct hv_domain *d)
{
    return (size_t)((d->remote->mem_bytes / HV_PAGE_SIZE + 63) / 64 * 8);
}

int remote_dirty_log_start(struct hv_domain *d)
{
    return rpc(d, CM_OP_DIRTY_LOG_START, NULL, NULL, NULL);
}

long remote_dirty_log_fetch(struct hv_domain *d, uint64_t *bitmap, size_t bytes)
{
    if (!bitmap)
        return -EINVAL;
    size_t need = remote_dirty_log_size(d);
    if (bytes < need)
        return hv_error(d->hv, -ENOSPC, "domain %u: dirty bitmap of %zu bytes, need %zu",
                        d->domid, bytes, need);
    struct json_object *res;
    int fd;
    int err = rpc(d, CM_OP_DIRTY_LOG_FETCH, NULL, &res, &fd);
    if (err < 0)
        return err;
    long pages = (long)res_u64(res, "pages");
    json_object_put(res);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size < need) {
        /* Reading anything else (a FIFO, a device) could block forever. */
        if (fd >= 0)
            close(fd);
        return hv_error(d->hv, -EPROTO, "domain %u: dirty-log-fetch reply without a memory "
                        "file of %zu bytes", d->domid, need);
    }
    size_t done = 0;
    while (done < need) {
        ssize_t n = pread(fd, (char *)bitmap + done, need - done, (off_t)done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            pages = hv_error(d->hv, n < 0 ? -errno : -EPROTO, "domain %u: reading the dirty "
                             "bitmap: %s", d->domid, n < 0 ? strerror(errno) : "short");
            break;
        }
        done += (size_t)n;
    }
    close(fd);
    return pages;
}

int remote_dirty_log_stop(struct hv_domain *d)
{
    return rpc(d, CM_OP_DIRTY_LOG_STOP, NULL, NULL, NULL);
}

/* ---- The list fan-out ------------------------------------------------------------------ */

struct probe {
    struct wire w;
    bool hello_seen, done, ok;
    hv_domain_info_t info;
};

/* Handles what probe p has buffered: false when it is finished (either way). */
static bool probe_frames(struct probe *p)
{
    for (;;) {
        char *json;
        size_t len;
        uint64_t start, end;
        int rc = wire_take(&p->w, &json, &len, &start, &end);
        if (rc <= 0)
            return rc == 0;
        /* None of these frames carries fds we want. */
        if (wire_claim(&p->w, start, end, 0, NULL) < 0) {
            free(json);
            return false;
        }
        if (!p->hello_seen) {
            struct cm_hello h;
            rc = cm_parse_hello(json, len, &h, NULL, 0);
            free(json);
            cm_hello_free(&h);
            if (rc < 0)
                return false;
            p->hello_seen = true;
            continue;
        }
        struct cm_incoming in;
        rc = cm_parse_incoming(json, len, &in, NULL, 0);
        free(json);
        if (rc < 0)
            return false;
        if (in.kind == CM_KIND_REPLY) {
            if (in.u.reply.id == 1 && in.u.reply.ok) {
                info_from(in.u.reply.result, &p->info);
                p->ok = true;
            }
            cm_incoming_free(&in);
            return false;
        }
        cm_incoming_free(&in); /* an event: not what we asked */
    }
}

/* One batch (at most as many sockets as poll handles well). */
static void probe_batch(hv_t *hv, const uint32_t *domids, size_t n, struct probe *probes)
{
    struct pollfd *pfd = calloc(n, sizeof(*pfd));
    size_t *map = calloc(n, sizeof(*map));
    unsigned char hello[CM_FRAME_HEADER * 2 + 1024];
    size_t hlen = 0;
    if (!pfd || !map ||
        !frame_append(cm_build_hello(hello_features, sizeof(hello_features) /
                                                         sizeof(hello_features[0])),
                      hello, sizeof(hello), &hlen) ||
        !frame_append(cm_build_request(1, CM_OP_INFO, NULL, 0), hello, sizeof(hello), &hlen)) {
        hv_log(hv, HV_LOG_WARN, "listing domains: out of memory");
        free(pfd);
        free(map);
        return;
    }
    /* Connect and send everything first: the monitors then work in parallel. */
    for (size_t i = 0; i < n; i++) {
        struct probe *p = &probes[i];
        /* Not waiting on a full backlog: a stuck monitor answers nothing. */
        p->w.fd = dial(hv, domids[i], 0, true);
        if (p->w.fd < 0) {
            if (p->w.fd == -ETIMEDOUT)
                hv_log(hv, HV_LOG_INFO, "listing domains: domain %u takes no connection",
                       domids[i]);
            continue; /* gone meanwhile (ENOENT, ECONNREFUSED) */
        }
        ssize_t s = send(p->w.fd, hello, hlen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (s != (ssize_t)hlen) {
            close(p->w.fd);
            p->w.fd = -1;
        }
    }
    uint64_t deadline = now_ms() + LIST_TIMEOUT_MS;
    for (;;) {
        size_t np = 0;
        for (size_t i = 0; i < n; i++)
            if (probes[i].w.fd >= 0 && !probes[i].done) {
                pfd[np] = (struct pollfd){.fd = probes[i].w.fd, .events = POLLIN};
                map[np++] = i;
            }
        uint64_t now = now_ms();
        if (!np || now >= deadline)
            break;
        int rc = poll(pfd, np, (int)(deadline - now));
        if (rc < 0 && errno != EINTR)
            break;
        for (size_t k = 0; rc > 0 && k < np; k++) {
            if (!pfd[k].revents)
                continue;
            struct probe *p = &probes[map[k]];
            for (;;) {
                int r = wire_recv(&p->w);
                if (r == -EAGAIN)
                    break;
                if (r <= 0 || !probe_frames(p)) {
                    p->done = true;
                    break;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct probe *p = &probes[i];
        if (p->w.fd >= 0) {
            if (!p->ok)
                hv_log(hv, HV_LOG_INFO, "listing domains: domain %u did not answer",
                       domids[i]);
            close(p->w.fd);
        }
        wire_fds_clear(&p->w);
        free(p->w.in);
    }
    free(pfd);
    free(map);
}

long remote_info_many(hv_t *hv, const uint32_t *domids, size_t n, hv_domain_info_t *infos,
                      size_t stride, size_t max)
{
    enum { BATCH = 256 };
    struct probe *probes = calloc(BATCH, sizeof(*probes));
    if (!probes)
        return hv_error(hv, -ENOMEM, "listing domains: out of memory");
    long count = 0;
    for (size_t at = 0; at < n; at += BATCH) {
        size_t k = n - at < BATCH ? n - at : BATCH;
        memset(probes, 0, k * sizeof(*probes));
        probe_batch(hv, domids + at, k, probes);
        for (size_t i = 0; i < k; i++) {
            if (!probes[i].ok)
                continue;
            if ((size_t)count < max) {
                hv_domain_info_t *dst = (hv_domain_info_t *)((char *)infos +
                                                             (size_t)count * stride);
                dst->size = stride;
                struct_out(dst, &probes[i].info, sizeof(probes[i].info));
            }
            count++;
        }
    }
    free(probes);
    return count;
}
