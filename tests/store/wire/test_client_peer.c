/* SPDX-License-Identifier: MIT */
/*
 * The client (libhvstore/client.c) against a scripted peer on a real unix
 * socket: the exact bytes it sends for each request, and how it copes with
 * what a daemon may send back: replies cut at any byte, watch events
 * before and after a reply in the same read, ERROR replies with and
 * without a message, a closed connection, an impossible frame, a
 * directory listing that changes between DIRECTORY_PART pieces.
 *
 * The peer runs in a thread and is driven by the client's requests (it
 * blocks reading them) or by a semaphore the test posts; nothing sleeps.
 * Assertions in the peer are recorded and checked by the test thread
 * (cmocka's may only run there).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "proto.h"

struct peer;
typedef void (*script_fn)(struct peer *p);

struct peer {
    char dir[64];
    char sock[128];
    int lfd, fd;
    pthread_t thr;
    script_fn script;
    sem_t go;          /* the test lets the script go on */
    sem_t ready;       /* the script tells the test it got somewhere */
    char failed[256];  /* the peer's first failed check */
    struct client *c;
};

#define PCHECK(p, cond)                                                              \
    do {                                                                             \
        if (!(cond)) {                                                               \
            if (!(p)->failed[0])                                                     \
                snprintf((p)->failed, sizeof((p)->failed), "%s:%d: %s", __FILE__,    \
                         __LINE__, #cond);                                           \
            return;                                                                  \
        }                                                                            \
    } while (0)

struct msg {
    struct xs_header hdr;
    char payload[HVS_PAYLOAD_MAX + 1];
};

static bool read_full(int fd, void *buf, size_t len)
{
    char *b = buf;
    while (len) {
        ssize_t n = read(fd, b, len);
        if (n <= 0)
            return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

static bool peer_recv(struct peer *p, struct msg *m)
{
    if (!read_full(p->fd, &m->hdr, XS_HEADER_SIZE) || m->hdr.len > HVS_PAYLOAD_MAX)
        return false;
    if (!read_full(p->fd, m->payload, m->hdr.len))
        return false;
    m->payload[m->hdr.len] = '\0';
    return true;
}

static size_t put_msg(char *out, uint32_t type, uint32_t req, uint32_t tx, const void *pl,
                      uint32_t len)
{
    xs_header_put(out, type, req, tx, len);
    memcpy(out + XS_HEADER_SIZE, pl, len);
    return XS_HEADER_SIZE + len;
}

static void peer_send_raw(struct peer *p, const void *buf, size_t len)
{
    const char *b = buf;
    while (len) {
        ssize_t n = send(p->fd, b, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        b += n;
        len -= (size_t)n;
    }
}

static void peer_send(struct peer *p, uint32_t type, uint32_t req, uint32_t tx, const void *pl,
                      uint32_t len)
{
    char buf[XS_HEADER_SIZE + HVS_PAYLOAD_MAX];
    peer_send_raw(p, buf, put_msg(buf, type, req, tx, pl, len));
}

/* Reads one request, checks its type and exact payload, answers "OK". */
static bool expect(struct peer *p, struct msg *m, uint32_t type, const void *pl, uint32_t len)
{
    if (!peer_recv(p, m) || m->hdr.type != type || m->hdr.len != len ||
        memcmp(m->payload, pl, len) != 0) {
        if (!p->failed[0])
            snprintf(p->failed, sizeof(p->failed), "expected %s (%u bytes), got %s (%u bytes)",
                     xs_type_name(type), len, xs_type_name(m->hdr.type), m->hdr.len);
        return false;
    }
    return true;
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;

    p->fd = accept(p->lfd, NULL, NULL);
    if (p->fd >= 0) {
        p->script(p);
        close(p->fd);
    } else {
        snprintf(p->failed, sizeof(p->failed), "accept: %s", strerror(errno));
    }
    return NULL;
}

static struct peer *peer_start(script_fn script)
{
    struct peer *p = calloc(1, sizeof(*p));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char err[256];

    assert_non_null(p);
    strcpy(p->dir, "/tmp/hvs-wire-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->sock, sizeof(p->sock), "%s/sock", p->dir);
    strcpy(sa.sun_path, p->sock);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(p->lfd >= 0);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(p->lfd, 1), 0);
    p->script = script;
    sem_init(&p->go, 0, 0);
    sem_init(&p->ready, 0, 0);
    assert_int_equal(pthread_create(&p->thr, NULL, peer_main, p), 0);
    int rc = client_connect(&p->c, p->sock, err, sizeof(err));
    if (rc < 0)
        fail_msg("client_connect: %s", err);
    return p;
}

/* Closes the client, waits for the script, asserts it had no complaint. */
static void peer_finish(struct peer *p)
{
    client_close(p->c);
    pthread_join(p->thr, NULL);
    close(p->lfd);
    unlink(p->sock);
    rmdir(p->dir);
    sem_destroy(&p->go);
    sem_destroy(&p->ready);
    char failed[sizeof(p->failed)];
    strcpy(failed, p->failed);
    free(p);
    if (failed[0])
        fail_msg("peer: %s", failed);
}

/* Is the client's watch fd readable right now? */
static bool watch_fd_ready(struct client *c)
{
    struct pollfd pfd = {.fd = client_watch_fd(c), .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

/* ---- Requests on the wire ------------------------------------------------------ */

static void script_requests(struct peer *p)
{
    struct msg m;
    uint32_t last = 0;

#define NEXT(type, lit)                                                          \
    do {                                                                         \
        if (!expect(p, &m, type, lit, sizeof(lit) - 1))                          \
            return;                                                              \
        PCHECK(p, m.hdr.req_id > last);                                          \
        last = m.hdr.req_id;                                                     \
    } while (0)

    NEXT(XS_WRITE, "/a/b\0val\0ue");
    PCHECK(p, m.hdr.tx_id == 0);
    peer_send(p, XS_WRITE, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_WRITE, "/a/e\0");
    PCHECK(p, m.hdr.tx_id == 7);
    peer_send(p, XS_WRITE, m.hdr.req_id, 7, "OK", 3);
    NEXT(XS_MKDIR, "/m\0");
    peer_send(p, XS_MKDIR, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_RM, "rel/x\0");
    peer_send(p, XS_RM, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_WATCH, "/w\0tok\0");
    peer_send(p, XS_WATCH, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_HV_WATCH_DEPTH, "/w\0tok2\0" "2\0");
    peer_send(p, XS_HV_WATCH_DEPTH, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_UNWATCH, "/w\0tok\0");
    peer_send(p, XS_UNWATCH, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_SET_PERMS, "/p\0n0\0r5\0b7\0");
    peer_send(p, XS_SET_PERMS, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_TRANSACTION_START, "\0");
    PCHECK(p, m.hdr.tx_id == 0);
    peer_send(p, XS_TRANSACTION_START, m.hdr.req_id, 0, "17", 3);
    NEXT(XS_TRANSACTION_END, "T\0");
    PCHECK(p, m.hdr.tx_id == 17);
    peer_send(p, XS_TRANSACTION_END, m.hdr.req_id, 17, "OK", 3);
    NEXT(XS_TRANSACTION_END, "F\0");
    PCHECK(p, m.hdr.tx_id == 18);
    peer_send(p, XS_TRANSACTION_END, m.hdr.req_id, 18, "OK", 3);
    NEXT(XS_INTRODUCE, "5\0" "0\0" "0\0");
    peer_send(p, XS_INTRODUCE, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_RELEASE, "5\0");
    peer_send(p, XS_RELEASE, m.hdr.req_id, 0, "OK", 3);
    NEXT(XS_HV_ACT_AS, "4294967295\0");
    peer_send(p, XS_HV_ACT_AS, m.hdr.req_id, 0, "OK", 3);
#undef NEXT
}

static void test_requests(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_requests);
    struct client *c = p->c;
    uint32_t tx = 0;
    const hvs_perm_t perms[] = {{0, HVS_PERM_NONE}, {5, HVS_PERM_READ}, {7, HVS_PERM_BOTH}};

    assert_int_equal(client_write(c, 0, "/a/b", "val\0ue", 6), 0);
    assert_int_equal(client_write(c, 7, "/a/e", NULL, 0), 0);
    assert_int_equal(client_mkdir(c, 0, "/m"), 0);
    assert_int_equal(client_rm(c, 0, "rel/x"), 0);
    assert_int_equal(client_watch(c, "/w", "tok", HVS_DEPTH_ANY), 0);
    assert_int_equal(client_watch(c, "/w", "tok2", 2), 0);
    assert_int_equal(client_unwatch(c, "/w", "tok"), 0);
    assert_int_equal(client_perms_set(c, 0, "/p", perms, 3), 0);
    assert_int_equal(client_tx_begin(c, &tx), 0);
    assert_int_equal(tx, 17);
    assert_int_equal(client_tx_end(c, 17, true), 0);
    assert_int_equal(client_tx_end(c, 18, false), 0);
    assert_int_equal(client_domain_introduce(c, 5), 0);
    assert_int_equal(client_domain_release(c, 5), 0);
    assert_int_equal(client_act_as(c, UINT32_MAX), 0);
    peer_finish(p);
}

/* Refused before anything is sent: the peer sees only the request after. */
static void script_limits(struct peer *p)
{
    struct msg m;
    static char want[HVS_PAYLOAD_MAX];

    want[0] = '/';
    want[1] = 'v';
    want[2] = '\0';
    memset(want + 3, 'x', sizeof(want) - 3);
    if (!expect(p, &m, XS_WRITE, want, sizeof(want)))
        return;
    peer_send(p, XS_WRITE, m.hdr.req_id, 0, "OK", 3);
    if (!expect(p, &m, XS_MKDIR, "/after\0", 7))
        return;
    peer_send(p, XS_MKDIR, m.hdr.req_id, 0, "OK", 3);
}

static void test_limits(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_limits);
    struct client *c = p->c;
    static char value[HVS_PAYLOAD_MAX + 1];
    static char path[HVS_PATH_MAX + 2];

    memset(value, 'x', sizeof(value));
    /* "/v\0" + 4093 bytes: exactly the limit. */
    assert_int_equal(client_write(c, 0, "/v", value, HVS_PAYLOAD_MAX - 3), 0);
    /* One byte more: refused, with a message, never truncated. */
    assert_int_equal(client_write(c, 0, "/v", value, HVS_PAYLOAD_MAX - 2), -E2BIG);
    const char *e = client_error(c);
    assert_non_null(strstr(e, "WRITE /v"));
    assert_non_null(strstr(e, "4094 bytes"));
    assert_int_equal(client_write(c, 0, "/v", value, sizeof(value)), -E2BIG);

    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(client_read(c, 0, path, &(char *){NULL}, NULL), -EINVAL);
    assert_int_equal(client_mkdir(c, 0, ""), -EINVAL);
    assert_int_equal(client_mkdir(c, 0, NULL), -EINVAL);
    assert_int_equal(client_watch(c, "/w", "t", -2), -EINVAL);
    assert_int_equal(client_perms_set(c, 0, "/p", NULL, 0), -EINVAL);
    const hvs_perm_t bad = {1, 9};
    assert_int_equal(client_perms_set(c, 0, "/p", &bad, 1), -EINVAL);
    /* Other requests are bounded too: a long token, many permissions. */
    char *token = malloc(HVS_PAYLOAD_MAX);
    assert_non_null(token);
    memset(token, 't', HVS_PAYLOAD_MAX - 1);
    token[HVS_PAYLOAD_MAX - 1] = '\0';
    assert_int_equal(client_watch(c, "/w", token, HVS_DEPTH_ANY), -E2BIG);
    assert_non_null(strstr(client_error(c), "WATCH /w"));
    free(token);
    static hvs_perm_t many[400];
    for (unsigned i = 0; i < 400; i++)
        many[i] = (hvs_perm_t){UINT32_MAX - i, HVS_PERM_BOTH};
    assert_int_equal(client_perms_set(c, 0, "/p", many, 400), -E2BIG);
    assert_int_equal(client_mkdir(c, 0, "/after"), 0);
    peer_finish(p);
}

/* ---- Replies ---------------------------------------------------------------------- */

static void script_replies(struct peer *p)
{
    struct msg m;

    if (!expect(p, &m, XS_READ, "/r\0", 3))
        return;
    peer_send(p, XS_READ, m.hdr.req_id, 0, "va\0lue", 6);
    if (!expect(p, &m, XS_READ, "/empty\0", 7))
        return;
    peer_send(p, XS_READ, m.hdr.req_id, 0, "", 0);
    if (!expect(p, &m, XS_DIRECTORY, "/d\0", 3))
        return;
    peer_send(p, XS_DIRECTORY, m.hdr.req_id, 0, "a\0bb\0c\0", 7);
    if (!expect(p, &m, XS_DIRECTORY, "/leaf\0", 6))
        return;
    peer_send(p, XS_DIRECTORY, m.hdr.req_id, 0, "", 0);
    if (!expect(p, &m, XS_GET_PERMS, "/p\0", 3))
        return;
    peer_send(p, XS_GET_PERMS, m.hdr.req_id, 0, "w3\0r5\0n0\0", 9);
    if (!expect(p, &m, XS_IS_DOMAIN_INTRODUCED, "3\0", 2))
        return;
    peer_send(p, XS_IS_DOMAIN_INTRODUCED, m.hdr.req_id, 0, "T", 2);
    if (!expect(p, &m, XS_IS_DOMAIN_INTRODUCED, "4\0", 2))
        return;
    peer_send(p, XS_IS_DOMAIN_INTRODUCED, m.hdr.req_id, 0, "F", 2);
    if (!expect(p, &m, XS_GET_DOMAIN_PATH, "3\0", 2))
        return;
    peer_send(p, XS_GET_DOMAIN_PATH, m.hdr.req_id, 0, "/local/domain/3", 16);
    /* Malformed answers. */
    if (!expect(p, &m, XS_TRANSACTION_START, "\0", 1))
        return;
    peer_send(p, XS_TRANSACTION_START, m.hdr.req_id, 0, "12x", 4);
    if (!expect(p, &m, XS_GET_PERMS, "/p\0", 3))
        return;
    peer_send(p, XS_GET_PERMS, m.hdr.req_id, 0, "q3\0", 3);
    if (!expect(p, &m, XS_DIRECTORY, "/d\0", 3))
        return;
    peer_send(p, XS_DIRECTORY, m.hdr.req_id, 0, "a\0b", 3);
    if (!expect(p, &m, XS_IS_DOMAIN_INTRODUCED, "3\0", 2))
        return;
    peer_send(p, XS_IS_DOMAIN_INTRODUCED, m.hdr.req_id, 0, "maybe", 6);
    /* The wrong type for the request. */
    if (!expect(p, &m, XS_MKDIR, "/m\0", 3))
        return;
    peer_send(p, XS_RM, m.hdr.req_id, 0, "OK", 3);
}

static void test_replies(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_replies);
    struct client *c = p->c;
    char *v, *buf;
    size_t len;
    hvs_perm_t *perms;

    assert_int_equal(client_read(c, 0, "/r", &v, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(v, "va\0lue", 7); /* and a NUL after it */
    free(v);
    assert_int_equal(client_read(c, 0, "/empty", &v, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(client_directory(c, 0, "/d", &buf, &len), 3);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "a\0bb\0c\0", 7);
    free(buf);
    assert_int_equal(client_directory(c, 0, "/leaf", &buf, &len), 0);
    assert_int_equal(len, 0);
    free(buf);
    assert_int_equal(client_perms_get(c, 0, "/p", &perms), 3);
    assert_int_equal(perms[0].domid, 3);
    assert_int_equal(perms[0].perm, HVS_PERM_WRITE);
    assert_int_equal(perms[1].domid, 5);
    assert_int_equal(perms[1].perm, HVS_PERM_READ);
    assert_int_equal(perms[2].perm, HVS_PERM_NONE);
    free(perms);
    assert_int_equal(client_domain_introduced(c, 3), 1);
    assert_int_equal(client_domain_introduced(c, 4), 0);
    assert_int_equal(client_domain_path(c, 3, &v), 0);
    assert_string_equal(v, "/local/domain/3");
    free(v);

    uint32_t tx = 99;
    assert_int_equal(client_tx_begin(c, &tx), -EIO);
    assert_int_equal(tx, 99);
    assert_non_null(strstr(client_error(c), "TRANSACTION_START"));
    assert_int_equal(client_perms_get(c, 0, "/p", &perms), -EIO);
    assert_null(perms);
    assert_int_equal(client_directory(c, 0, "/d", &buf, &len), -EIO);
    assert_null(buf);
    assert_int_equal(client_domain_introduced(c, 3), -EIO);
    assert_int_equal(client_mkdir(c, 0, "/m"), -EIO);
    assert_non_null(strstr(client_error(c), "answered with RM"));
    peer_finish(p);
}

static void script_errors(struct peer *p)
{
    struct msg m;

    if (!expect(p, &m, XS_READ, "/a/b\0", 5))
        return;
    peer_send(p, XS_ERROR, m.hdr.req_id, 0, "ENOENT", 7);
    if (!expect(p, &m, XS_WRITE, "/q\0v", 4))
        return;
    static const char quota[] = "EDQUOT\0domain 5: quota 'nodes' (1000) reached";
    peer_send(p, XS_ERROR, m.hdr.req_id, 0, quota, sizeof(quota));
    if (!expect(p, &m, XS_INTRODUCE, "5\0" "0\0" "0\0", 6))
        return;
    peer_send(p, XS_ERROR, m.hdr.req_id, 0, "EEXIST\0", 8); /* empty message */
    if (!expect(p, &m, XS_MKDIR, "/x\0", 3))
        return;
    peer_send(p, XS_ERROR, m.hdr.req_id, 0, "EWHATEVER", 10);
    if (!expect(p, &m, XS_TRANSACTION_END, "T\0", 2))
        return;
    peer_send(p, XS_ERROR, m.hdr.req_id, 3, "EAGAIN", 7);
    /* An errno name without its NUL still counts. */
    if (!expect(p, &m, XS_RM, "/x\0", 3))
        return;
    peer_send(p, XS_ERROR, m.hdr.req_id, 0, "EACCES", 6);
}

static void test_errors(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_errors);
    struct client *c = p->c;
    char *v = (char *)"sentinel";

    assert_int_equal(client_read(c, 0, "/a/b", &v, NULL), -ENOENT);
    assert_null(v);
    assert_string_equal(client_error(c), "READ /a/b: ENOENT");
    assert_int_equal(client_write(c, 0, "/q", "v", 1), -EDQUOT);
    assert_string_equal(client_error(c), "domain 5: quota 'nodes' (1000) reached");
    assert_int_equal(client_domain_introduce(c, 5), -EEXIST);
    assert_string_equal(client_error(c), "INTRODUCE 5: EEXIST");
    assert_int_equal(client_mkdir(c, 0, "/x"), -EINVAL);
    assert_int_equal(client_tx_end(c, 3, true), -EAGAIN);
    assert_string_equal(client_error(c), "TRANSACTION_END 3: EAGAIN");
    assert_int_equal(client_rm(c, 0, "/x"), -EACCES);
    peer_finish(p);
}

/* Messages are per thread: another thread's failure does not replace ours. */
static void script_threads(struct peer *p)
{
    struct msg m;

    for (int i = 0; i < 2; i++) {
        if (!peer_recv(p, &m))
            return;
        peer_send(p, XS_ERROR, m.hdr.req_id, 0, i ? "EACCES\0two" : "ENOENT\0one", 11);
    }
}

static void *other_thread(void *arg)
{
    struct client *c = arg;
    static char msg[64];

    if (client_rm(c, 0, "/other") == -EACCES)
        snprintf(msg, sizeof(msg), "%s", client_error(c));
    return msg;
}

static void test_error_per_thread(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_threads);
    struct client *c = p->c;
    pthread_t t;
    void *other;

    assert_int_equal(client_mkdir(c, 0, "/mine"), -ENOENT);
    assert_int_equal(pthread_create(&t, NULL, other_thread, c), 0);
    pthread_join(t, &other);
    assert_string_equal(other, "two");
    assert_string_equal(client_error(c), "one");
    peer_finish(p);
}

/* ---- Framing and events -------------------------------------------------------------- */

/* The reply dribbles in one byte per send, after a watch event. */
static void script_dribble(struct peer *p)
{
    struct msg m;
    char buf[256];
    size_t n = 0;

    if (!expect(p, &m, XS_READ, "/r\0", 3))
        return;
    n += put_msg(buf + n, XS_WATCH_EVENT, 0, 0, "/w/x\0tok\0", 9);
    n += put_msg(buf + n, XS_READ, m.hdr.req_id, 0, "hello", 5);
    for (size_t i = 0; i < n; i++)
        peer_send_raw(p, buf + i, 1);
}

static void test_dribble(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_dribble);
    struct client *c = p->c;
    char *v;
    size_t len;

    assert_false(watch_fd_ready(c));
    assert_int_equal(client_read(c, 0, "/r", &v, &len), 0);
    assert_int_equal(len, 5);
    assert_string_equal(v, "hello");
    free(v);
    /* The event read while waiting is queued, and the fd says so. */
    assert_true(watch_fd_ready(c));
    struct store_event *ev = client_events_take(c);
    assert_non_null(ev);
    assert_string_equal(ev->path, "/w/x");
    assert_string_equal(ev->token, "tok");
    assert_null(ev->next);
    free(ev->path);
    free(ev->token);
    free(ev);
    peer_finish(p);
}

/*
 * Events that arrive in the same read as the reply, after it: the socket
 * is drained by then, so only the client's own queue can make the watch
 * fd readable.
 */
static void script_after_reply(struct peer *p)
{
    struct msg m;
    char buf[256];
    size_t n = 0;

    if (!expect(p, &m, XS_MKDIR, "/m\0", 3))
        return;
    n += put_msg(buf + n, XS_MKDIR, m.hdr.req_id, 0, "OK", 3);
    n += put_msg(buf + n, XS_WATCH_EVENT, 0, 0, "/m\0t1\0", 6);
    n += put_msg(buf + n, XS_WATCH_EVENT, 0, 0, "/m\0t2\0", 6);
    peer_send_raw(p, buf, n);
    /* Stay connected: an EOF would make the watch fd readable anyway. */
    sem_wait(&p->go);
}

static void test_events_after_reply(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_after_reply);
    struct client *c = p->c;

    /* The peer sent reply and events in one send, so the client's read
     * for the reply had them all. */
    assert_int_equal(client_mkdir(c, 0, "/m"), 0);
    assert_true(watch_fd_ready(c));
    struct store_event *ev = client_events_take(c);
    assert_non_null(ev);
    assert_non_null(ev->next);
    assert_string_equal(ev->token, "t1");
    assert_string_equal(ev->next->token, "t2");
    assert_null(ev->next->next);
    for (struct store_event *e = ev, *next; e; e = next) {
        next = e->next;
        free(e->path);
        free(e->token);
        free(e);
    }
    assert_false(watch_fd_ready(c));
    sem_post(&p->go);
    peer_finish(p);
}

/* An event cut in two between client_events_take calls. */
static void script_split_event(struct peer *p)
{
    char buf[64];
    size_t n = put_msg(buf, XS_WATCH_EVENT, 0, 0, "/local/domain/1\0tok\0", 20);

    peer_send_raw(p, buf, 10);
    sem_post(&p->ready);
    sem_wait(&p->go);
    peer_send_raw(p, buf + 10, n - 10 - 3);
    sem_post(&p->ready);
    sem_wait(&p->go);
    /* The rest, then a malformed event (one argument), then a good one. */
    peer_send_raw(p, buf + n - 3, 3);
    peer_send(p, XS_WATCH_EVENT, 0, 0, "/only-path\0", 11);
    peer_send(p, XS_WATCH_EVENT, 0, 0, "/b\0t\0", 5);
    sem_post(&p->ready);
    sem_wait(&p->go);
}

static void test_split_event(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_split_event);
    struct client *c = p->c;

    sem_wait(&p->ready);
    assert_true(watch_fd_ready(c));
    assert_null(client_events_take(c));
    /* Bytes taken into the client's buffer: nothing to report. */
    assert_false(watch_fd_ready(c));
    sem_post(&p->go);
    sem_wait(&p->ready);
    assert_null(client_events_take(c));
    sem_post(&p->go);
    sem_wait(&p->ready);
    struct store_event *ev = client_events_take(c);
    assert_non_null(ev);
    assert_string_equal(ev->path, "/local/domain/1");
    assert_string_equal(ev->token, "tok");
    assert_non_null(ev->next);
    assert_string_equal(ev->next->path, "/b");
    assert_null(ev->next->next);
    free(ev->next->path);
    free(ev->next->token);
    free(ev->next);
    free(ev->path);
    free(ev->token);
    free(ev);
    assert_false(watch_fd_ready(c));
    sem_post(&p->go);
    peer_finish(p);
}

/* ---- A dead or broken daemon ----------------------------------------------------------- */

static void script_close(struct peer *p)
{
    struct msg m;

    if (!expect(p, &m, XS_READ, "/r\0", 3))
        return;
    /* Half a reply, then gone. */
    char buf[64];
    size_t n = put_msg(buf, XS_READ, m.hdr.req_id, 0, "value", 5);
    peer_send_raw(p, buf, n - 2);
}

static void test_closed(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_close);
    struct client *c = p->c;
    char *v;

    assert_int_equal(client_read(c, 0, "/r", &v, NULL), -ENOTCONN);
    assert_non_null(strstr(client_error(c), "closed the connection"));
    assert_non_null(strstr(client_error(c), p->sock));
    assert_int_equal(client_mkdir(c, 0, "/m"), -ENOTCONN);
    assert_non_null(strstr(client_error(c), "MKDIR /m"));
    assert_non_null(strstr(client_error(c), "lost"));
    assert_null(client_events_take(c));
    peer_finish(p);
}

static void script_oversized(struct peer *p)
{
    struct msg m;

    if (!expect(p, &m, XS_READ, "/r\0", 3))
        return;
    char hdr[XS_HEADER_SIZE];
    xs_header_put(hdr, XS_READ, m.hdr.req_id, 0, 0xffffffffu);
    peer_send_raw(p, hdr, sizeof(hdr));
    /* The client must hang up rather than wait for 4 GiB. */
    char b;
    PCHECK(p, read(p->fd, &b, 1) == 0);
}

static void test_oversized_frame(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_oversized);
    struct client *c = p->c;
    char *v;

    assert_int_equal(client_read(c, 0, "/r", &v, NULL), -EIO);
    assert_non_null(strstr(client_error(c), "malformed"));
    assert_int_equal(client_mkdir(c, 0, "/m"), -ENOTCONN);
    peer_finish(p);
}

/* ---- DIRECTORY_PART -------------------------------------------------------------------- */

static void script_dir_parts(struct peer *p)
{
    struct msg m;

    if (!expect(p, &m, XS_DIRECTORY, "/big\0", 5))
        return;
    peer_send(p, XS_ERROR, m.hdr.req_id, 0, "E2BIG", 6);
    if (!expect(p, &m, XS_DIRECTORY_PART, "/big\0" "0\0", 7))
        return;
    peer_send(p, XS_DIRECTORY_PART, m.hdr.req_id, 0, "5\0aa\0bb\0", 8);
    /* The directory changed: generation 6 from now on. */
    if (!expect(p, &m, XS_DIRECTORY_PART, "/big\0" "6\0", 7))
        return;
    peer_send(p, XS_DIRECTORY_PART, m.hdr.req_id, 0, "6\0zz\0", 5);
    if (!expect(p, &m, XS_DIRECTORY_PART, "/big\0" "0\0", 7))
        return;
    peer_send(p, XS_DIRECTORY_PART, m.hdr.req_id, 0, "6\0aa\0", 5);
    if (!expect(p, &m, XS_DIRECTORY_PART, "/big\0" "3\0", 7))
        return;
    peer_send(p, XS_DIRECTORY_PART, m.hdr.req_id, 0, "6\0cc\0dd\0", 8);
    if (!expect(p, &m, XS_DIRECTORY_PART, "/big\0" "9\0", 7))
        return;
    peer_send(p, XS_DIRECTORY_PART, m.hdr.req_id, 0, "6\0ee\0\0", 6);

    /* One piece on its own, the last one of an empty listing. */
    if (!expect(p, &m, XS_DIRECTORY_PART, "/e\0" "0\0", 5))
        return;
    peer_send(p, XS_DIRECTORY_PART, m.hdr.req_id, 0, "18446744073709551615\0\0", 22);

    /* A piece that neither advances nor ends would loop for ever. */
    if (!expect(p, &m, XS_DIRECTORY, "/stuck\0", 7))
        return;
    peer_send(p, XS_ERROR, m.hdr.req_id, 0, "E2BIG", 6);
    if (!expect(p, &m, XS_DIRECTORY_PART, "/stuck\0" "0\0", 9))
        return;
    peer_send(p, XS_DIRECTORY_PART, m.hdr.req_id, 0, "1\0", 2);
}

static void test_directory_parts(void **state)
{
    (void)state;
    struct peer *p = peer_start(script_dir_parts);
    struct client *c = p->c;
    char *buf;
    size_t len;
    uint64_t gen;
    int done = 5;

    assert_int_equal(client_directory(c, 0, "/big", &buf, &len), 4);
    assert_int_equal(len, 12);
    assert_memory_equal(buf, "aa\0cc\0dd\0ee\0", 12);
    free(buf);
    assert_int_equal(client_directory_part(c, 0, "/e", 0, &buf, &len, &gen, &done), 0);
    assert_int_equal(len, 0);
    assert_int_equal(done, 1);
    assert_true(gen == UINT64_MAX);
    free(buf);
    assert_int_equal(client_directory(c, 0, "/stuck", &buf, &len), -EIO);
    assert_null(buf);
    peer_finish(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_per_thread),
        cmocka_unit_test(test_dribble),
        cmocka_unit_test(test_events_after_reply),
        cmocka_unit_test(test_split_event),
        cmocka_unit_test(test_closed),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_directory_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
