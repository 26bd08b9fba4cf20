/* SPDX-License-Identifier: MIT */
/*
 * The client side of the wire protocol: hvstored over a unix stream socket.
 *
 * One request at a time per connection (c->lock): the caller's thread sends
 * and then reads until the reply with its req_id arrives. Watch events can
 * arrive at any moment, before or after that reply, so every read goes
 * through one decoder that queues events and hands the reply back. Whatever
 * complete messages a read brought in are all decoded before the lock is
 * released: an event left undecoded in c->rx would never wake a poller,
 * since the socket it came from is already drained.
 */
#include "client.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errslot.h"
#include "proto.h"

/* Reads per client_events_take: a flooding daemon cannot hold the caller
 * for ever, and level-triggered epoll reports what is left. */
#define TAKE_READS 64
/* DIRECTORY_PART restarts before giving up on a directory that keeps
 * changing under us. */
#define DIR_RESTARTS 100

struct client {
    pthread_mutex_t lock; /* the socket, rx, req ids and the event queue */
    int fd;               /* -1 once the connection is lost */
    int epfd;
    int evfd; /* readable while events are queued */
    uint32_t next_req;
    char *sock_path;
    struct store_event *ev_head, *ev_tail;
    size_t rxlen;
    unsigned char rx[XS_HEADER_SIZE + HVS_PAYLOAD_MAX];

    struct errslots errs;
};

/* A reply, NUL-terminated after len bytes for the string parsers. */
struct reply {
    uint32_t type;
    uint32_t len;
    char payload[HVS_PAYLOAD_MAX + 1];
};

/* A request payload being built; `want` keeps counting past the limit so
 * the message can say how big the request would have been. */
struct req {
    uint32_t type;
    uint32_t tx;
    size_t want;
    size_t len;
    char data[HVS_PAYLOAD_MAX];
};

/* ---- Errors ---------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(struct client *c, int err, const char *fmt,
                                                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    errslots_vset(&c->errs, fmt, ap);
    va_end(ap);
    return err;
}

const char *client_error(struct client *c)
{
    return c ? errslots_get(&c->errs) : "";
}

/* ---- Events ------------------------------------------------------------------ */

static void events_free(struct store_event *ev)
{
    while (ev) {
        struct store_event *next = ev->next;
        free(ev->path);
        free(ev->token);
        free(ev);
        ev = next;
    }
}

static void wake(struct client *c)
{
    uint64_t one = 1;

    /* Only fails when the counter would overflow: it is readable anyway. */
    if (write(c->evfd, &one, sizeof(one)) < 0) {
    }
}

/* A WATCH_EVENT ("path\0token\0"); a malformed one is dropped, as there is
 * nobody to report it to and the stream itself is still in step. */
static void queue_event(struct client *c, const char *payload, uint32_t len)
{
    const char *args[2];

    if (xs_split(payload, len, 2, false, args, NULL) < 0)
        return;
    struct store_event *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return;
    ev->path = strdup(args[0]);
    ev->token = strdup(args[1]);
    if (!ev->path || !ev->token) {
        events_free(ev);
        return;
    }
    if (c->ev_tail)
        c->ev_tail->next = ev;
    else
        c->ev_head = ev;
    c->ev_tail = ev;
    wake(c);
}

/* ---- The connection ------------------------------------------------------------ */

static void conn_lost(struct client *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->rxlen = 0;
    /* Wake pollers: the socket they waited on is gone from the epoll set. */
    wake(c);
}

/*
 * Decodes every complete message in c->rx: events are queued, the reply to
 * `want` (0: none expected) goes to *r. 1 if the reply came, 0 if not,
 * -EIO if the stream is beyond repair (the connection is then dropped).
 */
static int drain_rx(struct client *c, uint32_t want, struct reply *r)
{
    size_t off = 0;
    int found = 0;

    for (;;) {
        struct xs_msg m;
        size_t used;
        int rc = xs_decode(c->rx + off, c->rxlen - off, &m, &used);
        if (rc < 0) {
            conn_lost(c);
            return -EIO;
        }
        if (rc == 0)
            break;
        if (m.hdr.type == XS_WATCH_EVENT) {
            queue_event(c, m.payload, m.hdr.len);
        } else if (want && !found && m.hdr.req_id == want) {
            r->type = m.hdr.type;
            r->len = m.hdr.len;
            memcpy(r->payload, m.payload, m.hdr.len);
            r->payload[m.hdr.len] = '\0';
            found = 1;
        }
        /* Anything else answers nothing we asked: ignore it. */
        off += used;
    }
    if (off) {
        memmove(c->rx, c->rx + off, c->rxlen - off);
        c->rxlen -= off;
    }
    return found;
}

/* One read into c->rx. >0 bytes read, 0 nothing (non-blocking only),
 * -ENOTCONN if the connection is gone. */
static int read_some(struct client *c, bool block)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rx + c->rxlen, sizeof(c->rx) - c->rxlen,
                         block ? 0 : MSG_DONTWAIT);
        if (n > 0) {
            c->rxlen += (size_t)n;
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && !block && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        conn_lost(c);
        return -ENOTCONN;
    }
}

static int send_all(struct client *c, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            conn_lost(c);
            return -ENOTCONN;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void req_init(struct req *q, uint32_t type, uint32_t tx)
{
    q->type = type;
    q->tx = tx;
    q->want = 0;
    q->len = 0;
}

static void req_put(struct req *q, const void *p, size_t n)
{
    q->want += n;
    if (q->want <= sizeof(q->data)) {
        if (n)
            memcpy(q->data + q->len, p, n);
        q->len += n;
    }
}

static void req_str(struct req *q, const char *s)
{
    req_put(q, s, strlen(s) + 1);
}

static void req_u32(struct req *q, uint32_t v)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "%" PRIu32, v);
    req_str(q, buf);
}

/* The reply's errno, with the daemon's message or one naming the request. */
static int error_reply(struct client *c, const struct reply *r, uint32_t type, const char *what)
{
    size_t name_len = strnlen(r->payload, r->len);
    int err = xs_errno_from_name(r->payload, name_len);

    if (name_len + 1 < r->len && r->payload[name_len + 1] != '\0')
        return fail(c, -err, "%s", r->payload + name_len + 1);
    return fail(c, -err, "%s%s%s: %s", xs_type_name(type), *what ? " " : "", what,
                xs_errno_name(err));
}

/* Sends q and waits for its reply; ERROR replies become -errno. `what`
 * names the object for messages (a path, a domid). Caller holds c->lock. */
static int transact(struct client *c, struct req *q, const char *what, struct reply *r)
{
    const char *op = xs_type_name(q->type);
    const char *sep = *what ? " " : "";
    unsigned char msg[XS_HEADER_SIZE + HVS_PAYLOAD_MAX];

    if (q->want > HVS_PAYLOAD_MAX)
        return fail(c, -E2BIG, "%s%s%s: request of %zu bytes is over the wire limit of %d bytes",
                    op, sep, what, q->want, HVS_PAYLOAD_MAX);
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "%s%s%s: not connected to hvstored (%s): the connection was lost",
                    op, sep, what, c->sock_path);
    uint32_t req_id = c->next_req++;
    if (c->next_req == 0)
        c->next_req = 1; /* 0 is what watch events carry */
    xs_header_put(msg, q->type, req_id, q->tx, (uint32_t)q->len);
    memcpy(msg + XS_HEADER_SIZE, q->data, q->len);
    if (send_all(c, msg, XS_HEADER_SIZE + q->len) < 0)
        return fail(c, -ENOTCONN, "%s%s%s: hvstored closed the connection (%s)", op, sep, what,
                    c->sock_path);
    for (;;) {
        int rc = drain_rx(c, req_id, r);
        if (rc < 0)
            return fail(c, -EIO, "%s%s%s: malformed message from hvstored (%s); disconnected", op,
                        sep, what, c->sock_path);
        if (rc > 0)
            break;
        if (read_some(c, true) < 0)
            return fail(c, -ENOTCONN, "%s%s%s: hvstored closed the connection (%s)", op, sep, what,
                        c->sock_path);
    }
    if (r->type == XS_ERROR)
        return error_reply(c, r, q->type, what);
    if (r->type != q->type)
        return fail(c, -EIO, "%s%s%s: hvstored answered with %s", op, sep, what,
                    xs_type_name(r->type));
    return 0;
}

static int request(struct client *c, struct req *q, const char *what, struct reply *r)
{
    pthread_mutex_lock(&c->lock);
    int rc = transact(c, q, what, r);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int bad_reply(struct client *c, uint32_t type, const char *what)
{
    return fail(c, -EIO, "%s %s: malformed reply from hvstored", xs_type_name(type), what);
}

/* The reply as one string, with or without its NUL; NULL if it holds more. */
static const char *reply_string(const struct reply *r)
{
    size_t n = strlen(r->payload);

    if (n == r->len || (n + 1 == r->len))
        return r->payload;
    return NULL;
}

static int check_path(struct client *c, uint32_t type, const char *path)
{
    if (!path)
        return fail(c, -EINVAL, "%s: no path", xs_type_name(type));
    size_t n = strlen(path);
    if (n == 0 || n > HVS_PATH_MAX)
        return fail(c, -EINVAL, "%s: path of %zu bytes (1 to %d accepted)", xs_type_name(type), n,
                    HVS_PATH_MAX);
    return 0;
}

/* A request whose only argument is the path and whose reply is OK. */
static int path_op(struct client *c, uint32_t type, uint32_t tx, const char *path)
{
    struct req q;
    struct reply r;
    int rc = check_path(c, type, path);

    if (rc < 0)
        return rc;
    req_init(&q, type, tx);
    req_str(&q, path);
    return request(c, &q, path, &r);
}

/* A request whose only argument is a domid; *r gets the reply. */
static int domid_op(struct client *c, uint32_t type, uint32_t domid, struct reply *r)
{
    struct req q;
    char what[24];

    snprintf(what, sizeof(what), "%" PRIu32, domid);
    req_init(&q, type, HVS_TX_NONE);
    req_u32(&q, domid);
    return request(c, &q, what, r);
}

/* ---- Lifecycle ----------------------------------------------------------------- */

int client_connect(struct client **out, const char *socket_path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct client *c;
    int rc;

    *out = NULL;
    if (!socket_path || !*socket_path || strlen(socket_path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "hvstored socket path '%s' must be 1 to %zu bytes",
                 socket_path ? socket_path : "(null)", sizeof(sa.sun_path) - 1);
        return -EINVAL;
    }
    memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
    c = calloc(1, sizeof(*c));
    if (!c || !(c->sock_path = strdup(socket_path))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->fd = c->epfd = c->evfd = -1;
    c->next_req = 1;
    pthread_mutex_init(&c->lock, NULL);
    errslots_init(&c->errs);

    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    while ((rc = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EINTR) {
    }
    if (rc < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot connect to hvstored at '%s': %s", socket_path,
                 strerror(errno));
        goto fail;
    }
    c->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (c->evfd < 0 || c->epfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "eventfd/epoll: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0 ||
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->evfd, &ev) < 0) {
        rc = -errno;
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    *out = c;
    return 0;

fail:
    client_close(c);
    return rc;
}

void client_close(struct client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (c->epfd >= 0)
        close(c->epfd);
    if (c->evfd >= 0)
        close(c->evfd);
    events_free(c->ev_head);
    pthread_mutex_destroy(&c->lock);
    errslots_free(&c->errs);
    free(c->sock_path);
    free(c);
}

int client_watch_fd(struct client *c)
{
    return c->epfd;
}

struct store_event *client_events_take(struct client *c)
{
    struct store_event *ev;
    uint64_t count;

    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < TAKE_READS && c->fd >= 0; i++) {
        if (read_some(c, false) <= 0)
            break;
        /* A broken stream is dropped by drain_rx; events before it stand. */
        if (drain_rx(c, 0, NULL) < 0)
            break;
    }
    ev = c->ev_head;
    c->ev_head = c->ev_tail = NULL;
    /* Emptied the queue: make the eventfd quiet again (EAGAIN if it was). */
    if (read(c->evfd, &count, sizeof(count)) < 0) {
    }
    pthread_mutex_unlock(&c->lock);
    return ev;
}

/* ---- Operations ----------------------------------------------------------------- */

int client_act_as(struct client *c, uint32_t domid)
{
    struct reply r;

    return domid_op(c, XS_HV_ACT_AS, domid, &r);
}

int client_read(struct client *c, uint32_t tx, const char *path, char **value, size_t *len)
{
    struct req q;
    struct reply r;
    int rc = check_path(c, XS_READ, path);

    *value = NULL;
    if (rc < 0)
        return rc;
    req_init(&q, XS_READ, tx);
    req_str(&q, path);
    rc = request(c, &q, path, &r);
    if (rc < 0)
        return rc;
    char *v = malloc((size_t)r.len + 1);
    if (!v)
        return fail(c, -ENOMEM, "READ %s: out of memory", path);
    memcpy(v, r.payload, (size_t)r.len + 1); /* with the NUL after it */
    *value = v;
    if (len)
        *len = r.len;
    return 0;
}

int client_write(struct client *c, uint32_t tx, const char *path, const void *value, size_t len)
{
    struct req q;
    struct reply r;
    int rc = check_path(c, XS_WRITE, path);

    if (rc < 0)
        return rc;
    if (!value && len)
        return fail(c, -EINVAL, "WRITE %s: no value", path);
    req_init(&q, XS_WRITE, tx);
    req_str(&q, path);
    req_put(&q, value, len);
    if (q.want > HVS_PAYLOAD_MAX)
        return fail(c, -E2BIG,
                    "WRITE %s: value of %zu bytes does not fit the %d-byte wire limit "
                    "(at most %zu bytes with this path)",
                    path, len, HVS_PAYLOAD_MAX, (size_t)HVS_PAYLOAD_MAX - (strlen(path) + 1));
    return request(c, &q, path, &r);
}

int client_mkdir(struct client *c, uint32_t tx, const char *path)
{
    return path_op(c, XS_MKDIR, tx, path);
}

int client_rm(struct client *c, uint32_t tx, const char *path)
{
    return path_op(c, XS_RM, tx, path);
}

/* Parses decimal digits spanning the whole string into a uint64_t. */
static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int dup_names(struct client *c, uint32_t type, const char *path, const char *names,
                     size_t len, char **buf, size_t *outlen)
{
    char *b = malloc(len ? len : 1);

    if (!b)
        return fail(c, -ENOMEM, "%s %s: out of memory", xs_type_name(type), path);
    if (len)
        memcpy(b, names, len);
    *buf = b;
    *outlen = len;
    return 0;
}

/* One DIRECTORY_PART; caller holds c->lock. Returns the count of names. */
static int dir_part_locked(struct client *c, uint32_t tx, const char *path, uint32_t offset,
                           char **buf, size_t *len, uint64_t *gen, int *done)
{
    struct req q;
    struct reply r;
    int rc;

    req_init(&q, XS_DIRECTORY_PART, tx);
    req_str(&q, path);
    req_u32(&q, offset);
    rc = transact(c, &q, path, &r);
    if (rc < 0)
        return rc;
    /* "<gen>\0" then names, each with its NUL, then "\0" once complete. */
    size_t gen_len = strnlen(r.payload, r.len);
    if (gen_len == r.len || parse_u64(r.payload, gen) < 0)
        return bad_reply(c, XS_DIRECTORY_PART, path);
    const char *names = r.payload + gen_len + 1;
    uint32_t names_len = r.len - (uint32_t)gen_len - 1;
    int count = xs_count_strings(names, names_len);
    if (count <= 0)
        return bad_reply(c, XS_DIRECTORY_PART, path);
    *done = names_len == 1 || names[names_len - 2] == '\0';
    if (*done) {
        names_len--; /* the empty string that ends the listing */
        count--;
    }
    rc = dup_names(c, XS_DIRECTORY_PART, path, names, names_len, buf, len);
    return rc < 0 ? rc : count;
}

int client_directory_part(struct client *c, uint32_t tx, const char *path, uint32_t offset,
                          char **buf, size_t *len, uint64_t *gen, int *done)
{
    int rc = check_path(c, XS_DIRECTORY_PART, path);

    *buf = NULL;
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->lock);
    rc = dir_part_locked(c, tx, path, offset, buf, len, gen, done);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* The whole listing in pieces, started again whenever its generation
 * changes between pieces (a piece from another version could repeat or
 * miss names). Caller holds c->lock. */
static int dir_parts_locked(struct client *c, uint32_t tx, const char *path, char **buf,
                            size_t *len)
{
    char *all = NULL;
    size_t all_len = 0;
    uint64_t first_gen = 0;
    int total = 0, restarts = 0;

    for (;;) {
        char *piece;
        size_t piece_len;
        uint64_t gen;
        int done;
        if (all_len > UINT32_MAX) {
            free(all);
            return bad_reply(c, XS_DIRECTORY_PART, path);
        }
        int n = dir_part_locked(c, tx, path, (uint32_t)all_len, &piece, &piece_len, &gen, &done);
        if (n < 0) {
            free(all);
            return n;
        }
        if (all_len && gen != first_gen) {
            free(piece);
            free(all);
            all = NULL;
            all_len = 0;
            total = 0;
            if (++restarts > DIR_RESTARTS)
                return fail(c, -EAGAIN, "DIRECTORY %s: changed %d times while being listed",
                            path, DIR_RESTARTS);
            continue;
        }
        first_gen = gen;
        if (!done && piece_len == 0) {
            /* No progress and no end: the daemon would make us loop. */
            free(piece);
            free(all);
            return bad_reply(c, XS_DIRECTORY_PART, path);
        }
        char *grown = realloc(all, all_len + piece_len + 1);
        if (!grown) {
            free(piece);
            free(all);
            return fail(c, -ENOMEM, "DIRECTORY %s: out of memory", path);
        }
        all = grown;
        memcpy(all + all_len, piece, piece_len);
        all_len += piece_len;
        total += n;
        free(piece);
        if (done)
            break;
    }
    *buf = all;
    *len = all_len;
    return total;
}

int client_directory(struct client *c, uint32_t tx, const char *path, char **buf, size_t *len)
{
    struct req q;
    struct reply r;
    int rc = check_path(c, XS_DIRECTORY, path);

    *buf = NULL;
    if (rc < 0)
        return rc;
    req_init(&q, XS_DIRECTORY, tx);
    req_str(&q, path);
    pthread_mutex_lock(&c->lock);
    rc = transact(c, &q, path, &r);
    if (rc == -E2BIG)
        rc = dir_parts_locked(c, tx, path, buf, len);
    else if (rc == 0) {
        int count = xs_count_strings(r.payload, r.len);
        if (count < 0)
            rc = bad_reply(c, XS_DIRECTORY, path);
        else
            rc = dup_names(c, XS_DIRECTORY, path, r.payload, r.len, buf, len);
        if (rc == 0)
            rc = count;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int client_perms_get(struct client *c, uint32_t tx, const char *path, hvs_perm_t **perms)
{
    struct req q;
    struct reply r;
    int rc = check_path(c, XS_GET_PERMS, path);

    *perms = NULL;
    if (rc < 0)
        return rc;
    req_init(&q, XS_GET_PERMS, tx);
    req_str(&q, path);
    rc = request(c, &q, path, &r);
    if (rc < 0)
        return rc;
    int count = xs_count_strings(r.payload, r.len);
    if (count < 1)
        return bad_reply(c, XS_GET_PERMS, path);
    hvs_perm_t *p = calloc((size_t)count, sizeof(*p));
    if (!p)
        return fail(c, -ENOMEM, "GET_PERMS %s: out of memory", path);
    const char *s = r.payload;
    for (int i = 0; i < count; i++, s += strlen(s) + 1) {
        if (hvs_perm_parse(s, &p[i]) < 0) {
            free(p);
            return bad_reply(c, XS_GET_PERMS, path);
        }
    }
    *perms = p;
    return count;
}

int client_perms_set(struct client *c, uint32_t tx, const char *path, const hvs_perm_t *perms,
                     unsigned count)
{
    struct req q;
    struct reply r;
    int rc = check_path(c, XS_SET_PERMS, path);

    if (rc < 0)
        return rc;
    if (!perms || count == 0)
        return fail(c, -EINVAL, "SET_PERMS %s: no permissions (the owner's entry is needed)",
                    path);
    req_init(&q, XS_SET_PERMS, tx);
    req_str(&q, path);
    for (unsigned i = 0; i < count && q.want <= HVS_PAYLOAD_MAX; i++) {
        char buf[24];
        if (hvs_perm_format(&perms[i], buf, sizeof(buf)) < 0)
            return fail(c, -EINVAL, "SET_PERMS %s: entry %u (domid %" PRIu32 ", perm %" PRIu32
                        ") is not a permission", path, i, perms[i].domid, perms[i].perm);
        req_str(&q, buf);
    }
    return request(c, &q, path, &r);
}

int client_watch(struct client *c, const char *path, const char *token, int depth)
{
    uint32_t type = depth == HVS_DEPTH_ANY ? XS_WATCH : XS_HV_WATCH_DEPTH;
    struct req q;
    struct reply r;
    int rc = check_path(c, type, path);

    if (rc < 0)
        return rc;
    if (!token)
        return fail(c, -EINVAL, "WATCH %s: no token", path);
    if (depth < HVS_DEPTH_ANY)
        return fail(c, -EINVAL, "WATCH %s: depth %d (0 or more, or HVS_DEPTH_ANY)", path, depth);
    req_init(&q, type, HVS_TX_NONE);
    req_str(&q, path);
    req_str(&q, token);
    if (type == XS_HV_WATCH_DEPTH)
        req_u32(&q, (uint32_t)depth);
    return request(c, &q, path, &r);
}

int client_unwatch(struct client *c, const char *path, const char *token)
{
    struct req q;
    struct reply r;
    int rc = check_path(c, XS_UNWATCH, path);

    if (rc < 0)
        return rc;
    if (!token)
        return fail(c, -EINVAL, "UNWATCH %s: no token", path);
    req_init(&q, XS_UNWATCH, HVS_TX_NONE);
    req_str(&q, path);
    req_str(&q, token);
    return request(c, &q, path, &r);
}

int client_tx_begin(struct client *c, uint32_t *tx)
{
    struct req q;
    struct reply r;
    const char *s;
    uint32_t id;

    req_init(&q, XS_TRANSACTION_START, HVS_TX_NONE);
    req_str(&q, ""); /* one empty argument, as libxenstore sends */
    int rc = request(c, &q, "", &r);
    if (rc < 0)
        return rc;
    if (!(s = reply_string(&r)) || xs_parse_u32(s, &id) < 0 || id == HVS_TX_NONE)
        return bad_reply(c, XS_TRANSACTION_START, "");
    *tx = id;
    return 0;
}

int client_tx_end(struct client *c, uint32_t tx, bool commit)
{
    struct req q;
    struct reply r;
    char what[24];

    snprintf(what, sizeof(what), "%" PRIu32, tx);
    req_init(&q, XS_TRANSACTION_END, tx);
    req_str(&q, commit ? "T" : "F");
    return request(c, &q, what, &r);
}

int client_domain_introduce(struct client *c, uint32_t domid)
{
    struct req q;
    struct reply r;
    char what[24];

    snprintf(what, sizeof(what), "%" PRIu32, domid);
    req_init(&q, XS_INTRODUCE, HVS_TX_NONE);
    req_u32(&q, domid);
    /* No ring page or event channel here: the monitor relays the ring. */
    req_str(&q, "0");
    req_str(&q, "0");
    return request(c, &q, what, &r);
}

int client_domain_own(struct client *c, uint32_t domid, const char *const *paths, size_t n)
{
    struct req q;
    struct reply r;
    char what[24];

    snprintf(what, sizeof(what), "%" PRIu32, domid);
    req_init(&q, XS_HV_OWN, HVS_TX_NONE);
    req_u32(&q, domid);
    for (size_t i = 0; i < n; i++) {
        if (!paths[i])
            return fail(c, -EINVAL, "HV_OWN %s: path %zu is NULL", what, i);
        req_str(&q, paths[i]);
    }
    return request(c, &q, what, &r);
}

int client_domain_disown(struct client *c, uint32_t domid)
{
    struct reply r;

    return domid_op(c, XS_HV_DISOWN, domid, &r);
}

int client_domain_release(struct client *c, uint32_t domid)
{
    struct reply r;

    return domid_op(c, XS_RELEASE, domid, &r);
}

int client_domain_introduced(struct client *c, uint32_t domid)
{
    struct reply r;
    const char *s;
    char what[24];
    int rc = domid_op(c, XS_IS_DOMAIN_INTRODUCED, domid, &r);

    if (rc < 0)
        return rc;
    s = reply_string(&r);
    if (s && strcmp(s, "T") == 0)
        return 1;
    if (s && strcmp(s, "F") == 0)
        return 0;
    snprintf(what, sizeof(what), "%" PRIu32, domid);
    return bad_reply(c, XS_IS_DOMAIN_INTRODUCED, what);
}

int client_domain_path(struct client *c, uint32_t domid, char **path)
{
    struct reply r;
    const char *s;
    char what[24];
    int rc = domid_op(c, XS_GET_DOMAIN_PATH, domid, &r);

    *path = NULL;
    if (rc < 0)
        return rc;
    snprintf(what, sizeof(what), "%" PRIu32, domid);
    if (!(s = reply_string(&r)) || !*s)
        return bad_reply(c, XS_GET_DOMAIN_PATH, what);
    if (!(*path = strdup(s)))
        return fail(c, -ENOMEM, "GET_DOMAIN_PATH %s: out of memory", what);
    return 0;
}
