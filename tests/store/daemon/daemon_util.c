/* SPDX-License-Identifier: MIT */
#include "daemon_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The wire header, as the daemon reads it (host byte order). */
struct hdr {
    uint32_t type, req_id, tx_id, len;
};

static char exe_path[4096];

void du_set_exe(int argc, char **argv)
{
    const char *root = getenv("HV_BUILD_ROOT");

    if (argc > 1)
        snprintf(exe_path, sizeof(exe_path), "%s", argv[1]);
    else
        snprintf(exe_path, sizeof(exe_path), "%s/libhvstore/hvstored/hvstored",
                 root ? root : ".");
    /* Our own writes to a dropped connection must not kill the test. */
    signal(SIGPIPE, SIG_IGN);
}

const char *du_exe(void)
{
    return exe_path;
}

void du_init(struct du_daemon *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "/tmp/hvstored-test-XXXXXX");
    if (!mkdtemp(d->dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    snprintf(d->sock, sizeof(d->sock), "%s/sock", d->dir);
    snprintf(d->uri, sizeof(d->uri), "unix:%s", d->sock);
    snprintf(d->data, sizeof(d->data), "%s/data", d->dir);
}

static void print_log(struct du_daemon *d)
{
    char path[160], line[1024];

    snprintf(path, sizeof(path), "%s/daemon.log", d->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fprintf(stderr, "--- %s\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

/* Reads the first line of fd (the daemon's stdout), with the hang guard. */
static int read_line(int fd, char *buf, size_t len)
{
    size_t used = 0;

    while (used + 1 < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, DU_TIMEOUT_MS);
        if (n == 0)
            return -ETIMEDOUT;
        if (n < 0 && errno == EINTR)
            continue;
        ssize_t r = read(fd, buf + used, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (buf[used] == '\n')
            break;
        used++;
    }
    buf[used] = '\0';
    return (int)used;
}

int du_start(struct du_daemon *d)
{
    const char *argv[DU_MAX_ARGS + 8];
    unsigned n = 0;
    char logpath[160];
    int p[2];

    argv[n++] = exe_path;
    argv[n++] = "--foreground";
    argv[n++] = "--socket";
    argv[n++] = d->sock;
    argv[n++] = "--data-dir";
    argv[n++] = d->data;
    for (unsigned i = 0; i < d->nargs; i++)
        argv[n++] = d->args[i];
    argv[n] = NULL;

    /* The daemon's log goes to a file in the temp dir, shown on failure. */
    snprintf(logpath, sizeof(logpath), "%s/daemon.log", d->dir);
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
        fprintf(stderr, "du_start: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls: the test may have threads. The
         * daemon must cope with SIGPIPE itself: not our SIG_IGN. */
        signal(SIGPIPE, SIG_DFL);
        /* A test killed by its timeout takes its daemon with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (d->fsize_limit) {
            struct rlimit rl = {d->fsize_limit, d->fsize_limit};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        dup2(p[1], STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        execv(exe_path, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    close(logfd);
    d->pid = pid;

    char line[512], want[300];
    int rc = read_line(p[0], line, sizeof(line));
    close(p[0]);
    snprintf(want, sizeof(want), "hvstored: ready on %s", d->sock);
    if (rc < 0 || strcmp(line, want) != 0) {
        fprintf(stderr, "hvstored %s did not report ready (got '%s'%s)\n", exe_path, line,
                rc == -ETIMEDOUT ? ", timed out" : "");
        du_kill(d, SIGKILL);
        print_log(d);
        return -1;
    }
    return 0;
}

void du_start_ok(struct du_daemon *d)
{
    if (du_start(d) < 0)
        fail_msg("hvstored did not start");
}

int du_kill(struct du_daemon *d, int sig)
{
    int status = 0;

    if (!d->pid)
        return 0;
    kill(d->pid, sig);
    while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR) {
    }
    d->pid = 0;
    return status;
}

bool du_alive(struct du_daemon *d)
{
    int status;

    if (!d->pid)
        return false;
    pid_t r = waitpid(d->pid, &status, WNOHANG);
    if (r == d->pid) {
        fprintf(stderr, "hvstored died: status 0x%x\n", status);
        d->pid = 0;
        print_log(d);
        return false;
    }
    return true;
}

void du_stop_ok(struct du_daemon *d)
{
    struct stat st;

    assert_true(du_alive(d));
    int status = du_kill(d, SIGTERM);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("hvstored did not exit cleanly on SIGTERM: status 0x%x", status);
    assert_int_equal(stat(d->sock, &st), -1);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void du_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int du_teardown(struct du_daemon *d)
{
    int rc = 0;

    if (d->pid) {
        int status = du_kill(d, SIGTERM);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "hvstored did not exit cleanly on SIGTERM: status 0x%x\n", status);
            print_log(d);
            rc = -1;
        }
    }
    du_fini(d);
    return rc;
}

void du_fini(struct du_daemon *d)
{
    du_kill(d, SIGKILL);
    if (d->dir[0])
        du_rmtree(d->dir);
    d->dir[0] = '\0';
}

hvs_t *du_open(struct du_daemon *d, uint32_t domid)
{
    hvs_t *h = NULL;
    int rc = hvs_open(&h, d->uri, NULL);

    if (rc < 0)
        fail_msg("hvs_open(%s): %d %s", d->uri, rc, hvs_open_error());
    if (domid) {
        rc = hvs_act_as(h, domid);
        if (rc < 0)
            fail_msg("hvs_act_as(%u): %d %s", domid, rc, hvs_last_error(h));
    }
    return h;
}

/* ---- Raw wire clients ------------------------------------------------------ */

int du_connect(struct du_daemon *d)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_true(strlen(d->sock) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, d->sock, strlen(d->sock) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail_msg("connect %s: %s", d->sock, strerror(errno));
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_msg("send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

void du_send_raw(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id, uint32_t len,
                 const void *payload, size_t plen)
{
    char buf[sizeof(struct hdr) + HVS_PAYLOAD_MAX + 64];
    struct hdr h = {type, req_id, tx_id, len};

    assert_true(plen <= sizeof(buf) - sizeof(h));
    memcpy(buf, &h, sizeof(h));
    if (plen)
        memcpy(buf + sizeof(h), payload, plen);
    /* One send: the daemon sees the whole message in one read. */
    send_all(fd, buf, sizeof(h) + plen);
}

void du_send(int fd, uint32_t type, uint32_t req_id, const void *payload, size_t len)
{
    du_send_raw(fd, type, req_id, 0, (uint32_t)len, payload, len);
}

/* 1: all len bytes; 0: EOF or reset before any; asserts otherwise. */
static int recv_exact(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, DU_TIMEOUT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            fail_msg("no reply from hvstored within %d ms", DU_TIMEOUT_MS);
        ssize_t r = recv(fd, (char *)buf + got, len - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != ECONNRESET)
            fail_msg("recv: %s", strerror(errno));
        if (r <= 0) {
            if (got)
                fail_msg("connection closed inside a message (%zu of %zu bytes)", got, len);
            return 0;
        }
        got += (size_t)r;
    }
    return 1;
}

int du_recv(int fd, struct du_msg *m)
{
    struct hdr h;

    if (!recv_exact(fd, &h, sizeof(h)))
        return 0;
    if (h.len > HVS_PAYLOAD_MAX)
        fail_msg("hvstored sent a message of %u bytes", h.len);
    m->type = h.type;
    m->req_id = h.req_id;
    m->tx_id = h.tx_id;
    m->len = h.len;
    if (h.len && !recv_exact(fd, m->payload, h.len))
        fail_msg("connection closed inside a message");
    m->payload[h.len] = '\0';
    return 1;
}

void du_expect_error(int fd, uint32_t req_id, const char *errname)
{
    struct du_msg m;

    if (!du_recv(fd, &m))
        fail_msg("connection closed; expected ERROR %s for req %u", errname, req_id);
    if (m.type != 16 /* XS_ERROR */ || m.req_id != req_id || strcmp(m.payload, errname) != 0)
        fail_msg("req %u: got type %u req %u '%s', expected ERROR %s", req_id, m.type, m.req_id,
                 m.payload, errname);
    /* Our extension: the message after the name. */
    size_t nl = strlen(m.payload);
    if (nl + 1 >= m.len || m.payload[m.len - 1] != '\0')
        fail_msg("ERROR %s without a NUL-terminated message", errname);
}

void du_call(int fd, uint32_t type, uint32_t req_id, const void *payload, size_t len,
             struct du_msg *reply)
{
    du_send(fd, type, req_id, payload, len);
    if (!du_recv(fd, reply))
        fail_msg("connection closed; expected a reply to req %u", req_id);
    if (reply->type != type || reply->req_id != req_id)
        fail_msg("req %u (type %u): got type %u req %u '%s'", req_id, type, reply->type,
                 reply->req_id, reply->payload);
}

int du_fixture_setup(void **state, const char *opt, const char *val)
{
    struct du_daemon *d = calloc(1, sizeof(*d));

    if (!d)
        return -1;
    du_init(d);
    if (opt) {
        d->args[d->nargs++] = opt;
        d->args[d->nargs++] = val;
    }
    du_start_ok(d);
    *state = d;
    return 0;
}

int du_fixture_teardown(void **state)
{
    struct du_daemon *d = *state;
    int rc = du_teardown(d);

    free(d);
    return rc;
}
