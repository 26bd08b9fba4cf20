/* SPDX-License-Identifier: MIT */
/*
 * Remote handles against monitors that are not what they should be: fake
 * monitors (forked children of this test) that sit on a domain's socket and
 * answer wrongly, stop accepting, or run as another uid. The client must
 * neither hang, nor trust them, nor take its own lost connection for a
 * crashed domain. A real hvstored gives hv_domain_list its registry.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hv/hvstore.h"
#include "testutil.h"

static struct tu_host host;
static const char *dir = host.dir, *run = host.run;
static char domains[300];
static hv_t *hv;

/* ---- Fixture ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    tu_require_kvm(); /* hv_open needs it */
    if (tu_host_start(&host, "hostile") < 0)
        return -1;
    snprintf(domains, sizeof(domains), "%s/domains", run);
    mkdir(domains, 0700);
    hv = tu_open();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (hv)
        tu_close(hv);
    tu_host_stop(&host);
    return 0;
}

/* ---- A fake monitor ------------------------------------------------------------------ */

enum scenario {
    S_PLAIN,        /* answers like a monitor */
    S_NO_ACCEPT,    /* listens, never accepts */
    S_STRAY_FD,     /* its second info reply carries an fd it does not announce */
    S_BIG_MAP,      /* memory-map: announces 1 GiB, gives a 4 KiB memfd */
    S_FIFO_DIRTY,   /* dirty-log-fetch: gives a FIFO */
    S_UNSOLICITED,  /* after the first info reply, a reply to nothing */
};

static void sock_path(uint32_t id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%u.sock", domains, id);
}

static bool put_all(int s, const void *buf, size_t len)
{
    for (const char *p = buf; len;) {
        ssize_t n = send(s, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* A frame, with fd riding on its first byte when fd >= 0. */
static bool put_frame(int s, const char *json, int fd)
{
    size_t n = strlen(json);
    char *buf = malloc(4 + n);
    buf[0] = (char)(n >> 24);
    buf[1] = (char)(n >> 16);
    buf[2] = (char)(n >> 8);
    buf[3] = (char)n;
    memcpy(buf + 4, json, n);
    bool ok;
    if (fd < 0) {
        ok = put_all(s, buf, 4 + n);
    } else {
        union {
            char b[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } cbuf;
        memset(&cbuf, 0, sizeof(cbuf));
        struct iovec iov = {.iov_base = buf, .iov_len = 4 + n};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
                            .msg_controllen = sizeof(cbuf.b)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        ok = sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)(4 + n);
    }
    free(buf);
    return ok;
}

static bool get_all(int s, void *buf, size_t len)
{
    for (char *p = buf; len;) {
        ssize_t n = read(s, p, len);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static int memfd_of(size_t bytes)
{
    int fd = memfd_create("hostile", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) < 0)
        _exit(5);
    return fd;
}

static void serve(int c, uint32_t id, enum scenario sc)
{
    put_frame(c, "{\"hv\":\"control\",\"version\":1}", -1);
    int infos = 0, fifo[2] = {-1, -1};
    for (;;) {
        unsigned char h[4];
        if (!get_all(c, h, 4))
            return;
        uint32_t n = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
        char *j = calloc(1, n + 1);
        if (!j || !get_all(c, j, n))
            return;
        const char *ip = strstr(j, "\"id\":");
        unsigned long rid = ip ? strtoul(ip + 5, NULL, 10) : 0;
        char reply[512];
        int fd = -1;
        if (!ip) {
            free(j);
            continue; /* the client's hello */
        }
        if (strstr(j, "\"op\":\"info\"")) {
            infos++;
            snprintf(reply, sizeof(reply),
                     "{\"id\":%lu,\"ok\":true,\"result\":{\"domid\":%u,\"name\":\"fake\","
                     "\"state\":\"running\",\"memory_bytes\":16777216,\"vcpus\":1}}", rid, id);
            if (sc == S_STRAY_FD && infos == 2)
                fd = memfd_of(4096);
        } else if (sc == S_BIG_MAP && strstr(j, "\"op\":\"memory-map\"")) {
            snprintf(reply, sizeof(reply), "{\"id\":%lu,\"ok\":true,\"result\":"
                     "{\"size\":1073741824},\"fds\":1}", rid);
            int m = memfd_of(4096);
            char p[64];
            snprintf(p, sizeof(p), "/proc/self/fd/%d", m);
            fd = open(p, O_RDONLY | O_CLOEXEC);
        } else if (sc == S_FIFO_DIRTY && strstr(j, "\"op\":\"dirty-log-fetch\"")) {
            snprintf(reply, sizeof(reply), "{\"id\":%lu,\"ok\":true,\"result\":{\"pages\":0,"
                     "\"bitmap_bytes\":512},\"fds\":1}", rid);
            if (pipe(fifo) < 0)
                _exit(6);
            fd = fifo[0]; /* fifo[1] stays open: a read would wait for ever */
        } else {
            snprintf(reply, sizeof(reply), "{\"id\":%lu,\"ok\":true,\"result\":{}}", rid);
        }
        free(j);
        if (!put_frame(c, reply, fd))
            return;
        if (sc == S_UNSOLICITED && infos == 1)
            put_frame(c, "{\"id\":999,\"ok\":true,\"result\":{}}", -1);
    }
}

/* A fake monitor for domain id, listening when this returns; as uid if not 0. */
static pid_t fake_start(uint32_t id, enum scenario sc, uid_t uid, int backlog)
{
    char path[400];
    sock_path(id, path, sizeof(path));
    unlink(path);
    int ready[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        /* The credentials a client sees are those of whoever calls listen(). */
        if (uid && (setgid(uid) < 0 || setuid(uid) < 0))
            _exit(2);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", path);
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, backlog) < 0)
            _exit(3);
        if (write(ready[1], "r", 1) != 1)
            _exit(4);
        if (sc == S_NO_ACCEPT)
            for (;;)
                pause();
        int c = accept(l, NULL, NULL);
        if (c >= 0)
            serve(c, id, sc);
        _exit(0);
    }
    close(ready[1]);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    close(ready[0]);
    return pid;
}

static void fake_stop(pid_t pid, uint32_t id)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char path[400];
    sock_path(id, path, sizeof(path));
    unlink(path);
}

static hv_domain_t *open_fake(uint32_t id)
{
    hv_domain_t *d = NULL;
    int rc = hv_domain_open(hv, id, &d);
    tu_check(rc == 0, NULL, "hv_domain_open(%u): %d %s", id, rc, hv_last_error(hv));
    return d;
}

/* ---- Tests -------------------------------------------------------------------------- */

struct lister {
    long n;
    hv_domain_info_t infos[8];
};

static void *list_thread(void *arg)
{
    struct lister *l = arg;
    l->infos[0].size = sizeof(l->infos[0]);
    l->n = hv_domain_list(hv, l->infos, 8);
    return NULL;
}

/*
 * Finding 2: a monitor whose backlog is full (stuck, or flooded) made
 * hv_domain_list wait in a blocking connect for ever. Now it is left out.
 */
static void test_list_full_backlog(void **state)
{
    (void)state;
    const uint32_t id = 4001;
    hvs_t *h;
    assert_int_equal(hvs_open(&h, getenv("HV_STORE"), NULL), 0);
    char key[64];
    snprintf(key, sizeof(key), "/local/domain/%u/name", id);
    assert_int_equal(hvs_write(h, HVS_TX_NONE, key, "fake", 4), 0);
    pid_t fake = fake_start(id, S_NO_ACCEPT, 0, 0);

    /* Fill its backlog: pending connects until the next would have to wait. */
    char path[400];
    sock_path(id, path, sizeof(path));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", path);
    int fill[64], nfill = 0;
    bool full = false;
    while (!full && nfill < 64) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(s >= 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            assert_int_equal(errno, EAGAIN);
            full = true;
            close(s);
        } else {
            fill[nfill++] = s;
        }
    }
    assert_true(full);

    struct lister l = {.n = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, list_thread, &l), 0);
    struct timespec guard;
    clock_gettime(CLOCK_REALTIME, &guard);
    guard.tv_sec += tu_timeout_ms() / 1000;
    int joined = pthread_timedjoin_np(t, NULL, &guard);
    /* Stuck or not, the fake goes: that also frees a stuck connect. */
    fake_stop(fake, id);
    if (joined != 0)
        pthread_join(t, NULL);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    snprintf(key, sizeof(key), "/local/domain/%u", id);
    hvs_rm(h, HVS_TX_NONE, key);
    hvs_close(h);
    tu_check(joined == 0, NULL, "hv_domain_list hung on a full backlog");
    assert_true(l.n >= 0);
    for (long i = 0; i < l.n && i < 8; i++)
        assert_int_not_equal(l.infos[i].domid, id);
}

/*
 * Finding 3, the client's side: whoever can write the socket directory can
 * sit on a domain's socket. A monitor of another uid (not root) is refused,
 * so it never gets our requests nor gives us its memory as the guest's.
 */
static void test_other_uid_monitor(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* it takes a second uid */
    const uint32_t id = 4002;
    assert_int_equal(chmod(dir, 0711), 0);
    assert_int_equal(chmod(run, 0711), 0);
    assert_int_equal(chmod(domains, 01777), 0);
    pid_t fake = fake_start(id, S_PLAIN, 65534, 8);
    hv_domain_t *d = NULL;
    int rc = hv_domain_open(hv, id, &d);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", hv_last_error(hv));
    if (rc == 0)
        hv_domain_close(d);
    fake_stop(fake, id);
    chmod(domains, 0700);
    chmod(run, 0700);
    chmod(dir, 0700);
    tu_check(rc == -EACCES, NULL, "open of a uid 65534 monitor: %d %s", rc, msg);
    tu_check(strstr(msg, "uid 65534") != NULL, NULL, "message: %s", msg);
}

/*
 * Finding 11: an fd on a frame that announces none was kept and handed to a
 * later reply that announced one. It is a protocol error at once.
 */
static void test_stray_fd(void **state)
{
    (void)state;
    const uint32_t id = 4003;
    pid_t fake = fake_start(id, S_STRAY_FD, 0, 8);
    hv_domain_t *d = open_fake(id);
    hv_domain_info_t i = {.size = sizeof(i)};
    int rc = hv_domain_info(d, &i);
    tu_check(rc == -EPROTO, NULL, "an info reply with a stray fd: %d %s", rc,
             hv_last_error(hv));
    hv_domain_close(d);
    fake_stop(fake, id);
}

/* Finding 11: a memory-map fd smaller than the size announced would SIGBUS. */
static void test_short_memory(void **state)
{
    (void)state;
    const uint32_t id = 4004;
    pid_t fake = fake_start(id, S_BIG_MAP, 0, 8);
    hv_domain_t *d = open_fake(id);
    void *addr = NULL;
    uint64_t size = 0;
    int rc = hv_domain_foreign_map(d, HV_MAP_READ, &addr, &size);
    if (rc == 0)
        munmap(addr, size); /* untouched: touching it is the SIGBUS */
    tu_check(rc == -EPROTO, NULL, "a 4 KiB memfd announced as 1 GiB: %d %s", rc,
             hv_last_error(hv));
    hv_domain_close(d);
    fake_stop(fake, id);
}

/* Finding 11: a dirty bitmap must come as a memory file, not a FIFO. */
static void test_fifo_bitmap(void **state)
{
    (void)state;
    const uint32_t id = 4005;
    pid_t fake = fake_start(id, S_FIFO_DIRTY, 0, 8);
    hv_domain_t *d = open_fake(id);
    size_t bytes = hv_domain_dirty_log_size(d);
    assert_int_equal(bytes, 512);
    uint64_t *bitmap = calloc(1, bytes);
    long rc = hv_domain_dirty_log_fetch(d, bitmap, bytes);
    tu_check(rc == -EPROTO, NULL, "a FIFO as the dirty bitmap: %ld %s", rc,
             hv_last_error(hv));
    free(bitmap);
    hv_domain_close(d);
    fake_stop(fake, id);
}

/*
 * Finding 10: when this side gave up on the connection (here: a protocol
 * error) hv_domain_wait reported the domain crashed. Only a real EOF (the
 * monitor died) means that.
 */
static void test_wait_after_broken_connection(void **state)
{
    (void)state;
    const uint32_t id = 4006;
    pid_t fake = fake_start(id, S_UNSOLICITED, 0, 8);
    hv_domain_t *d = open_fake(id);
    hv_exit_t e = {.size = sizeof(e)};
    int rc = hv_domain_wait(d, &e, tu_timeout_ms());
    tu_check(rc == -EPROTO, NULL, "wait over a reply to nothing: %d %s", rc,
             hv_last_error(hv));
    e = (hv_exit_t){.size = sizeof(e)};
    rc = hv_domain_wait(d, &e, 0);
    tu_check(rc == -ENOTCONN, NULL, "wait after the connection broke: %d (exit reason %u) %s",
             rc, (unsigned)e.reason, hv_last_error(hv));
    hv_domain_close(d);
    fake_stop(fake, id);

    /* A monitor that dies: that is a crash (HV_CRASH_HOST). */
    fake = fake_start(id, S_PLAIN, 0, 8);
    d = open_fake(id);
    fake_stop(fake, id);
    e = (hv_exit_t){.size = sizeof(e)};
    assert_int_equal(hv_domain_wait(d, &e, tu_timeout_ms()), 0);
    assert_int_equal(e.reason, HV_EXIT_CRASH);
    assert_int_equal(e.vector, HV_CRASH_HOST);
    hv_domain_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_full_backlog),
        cmocka_unit_test(test_other_uid_monitor),
        cmocka_unit_test(test_stray_fd),
        cmocka_unit_test(test_short_memory),
        cmocka_unit_test(test_fifo_bitmap),
        cmocka_unit_test(test_wait_after_broken_connection),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
