/* SPDX-License-Identifier: MIT */
/*
 * Remote domain handles over the monitor control socket: a real hvstored,
 * a monitor process (control_monitor) running the counter guest, and this
 * process reaching its domain by domid only.
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
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "testutil.h"

static struct tu_host host;
static const char *dir = host.dir, *run = host.run;
static pid_t monitor_pid = -1;
static int monitor_in = -1;    /* its stdin: closing it ends it */
static FILE *monitor_out;
static uint32_t domid;
static hv_t *hv;

/* ---- Fixture ---------------------------------------------------------------------- */

static pid_t spawn(char *const argv[], int *in, FILE **out)
{
    int pin[2], pout[2];
    if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    if (in)
        *in = pin[1];
    else
        close(pin[1]);
    *out = fdopen(pout[0], "r");
    return pid;
}

/* A further monitor of its own domain (counter guest), for tests that end it. */
struct mon {
    pid_t pid;
    int in;
    FILE *out;
    uint32_t domid;
};

static void mon_start(struct mon *m)
{
    char mon[512], line[256];
    snprintf(mon, sizeof(mon), "%s/tests/control/control_monitor", getenv("HV_BUILD_ROOT"));
    char *guest = tu_guest_path("counter");
    char *margv[] = {mon, guest, "20 busy", NULL};
    m->pid = spawn(margv, &m->in, &m->out);
    free(guest);
    tu_check(m->pid > 0 && m->out && fgets(line, sizeof(line), m->out) &&
                 sscanf(line, "domid %u", &m->domid) == 1,
             NULL, "a further monitor did not start");
}

/* Ends it (EOF on its stdin) and reaps it. */
static void mon_stop(struct mon *m)
{
    if (m->in >= 0)
        close(m->in);
    m->in = -1;
    if (m->pid > 0)
        waitpid(m->pid, NULL, 0);
    m->pid = -1;
    if (m->out)
        fclose(m->out);
    m->out = NULL;
}

static int group_setup(void **state)
{
    (void)state;
    tu_require_kvm();
    if (tu_host_start(&host, "control") < 0)
        return -1;

    char mon[512], line[256];
    snprintf(mon, sizeof(mon), "%s/tests/control/control_monitor", getenv("HV_BUILD_ROOT"));
    char *guest = tu_guest_path("counter");
    char *margv[] = {mon, guest, "20 busy", NULL};
    monitor_pid = spawn(margv, &monitor_in, &monitor_out);
    free(guest);
    if (!monitor_out || !fgets(line, sizeof(line), monitor_out) ||
        sscanf(line, "domid %u", &domid) != 1) {
        fprintf(stderr, "the monitor did not start\n");
        return -1;
    }
    hv = tu_open();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (hv)
        tu_close(hv);
    if (monitor_in >= 0)
        close(monitor_in);
    if (monitor_pid > 0)
        waitpid(monitor_pid, NULL, 0);
    if (monitor_out)
        fclose(monitor_out);
    tu_host_stop(&host);
    return 0;
}

static hv_domain_t *open_dom(void)
{
    hv_domain_t *d = NULL;
    int rc = hv_domain_open(hv, domid, &d);
    tu_check(rc == 0, NULL, "hv_domain_open(%u): %d %s", domid, rc, hv_last_error(hv));
    return d;
}

/* Reads the stream until text holds needle (or the hang guard). */
static bool stream_wait(int fd, char *text, size_t cap, size_t *len, const char *needle)
{
    while (!memmem(text, *len, needle, strlen(needle))) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, tu_timeout_ms()) <= 0 || *len + 1 >= cap)
            return false;
        ssize_t n = read(fd, text + *len, cap - 1 - *len);
        if (n <= 0)
            return false;
        *len += (size_t)n;
        text[*len] = 0;
    }
    return true;
}

/* The guest's spin counter's address, from its first console line. */
static uint64_t spin_addr(hv_domain_t *d)
{
    int fd;
    int rc = hv_domain_console_open(d, &fd);
    tu_check(rc == 0, NULL, "console_open: %d %s", rc, hv_last_error(hv));
    static char text[1 << 17];
    size_t len = 0;
    tu_check(stream_wait(fd, text, sizeof(text), &len, "count="), NULL, "no output: %s", text);
    close(fd);
    const char *a = strstr(text, "counter: addr=0x");
    tu_check(a != NULL, NULL, "no addr line: %s", text);
    return strtoull(a + strlen("counter: addr=0x"), NULL, 16);
}

/* ---- Tests -------------------------------------------------------------------------- */

static void test_open_info(void **state)
{
    (void)state;
    hv_domain_t *d = open_dom();
    assert_int_equal(hv_domain_is_remote(d), 1);
    assert_int_equal(hv_domain_id(d), domid);
    hv_domain_info_t i = tu_info(d);
    assert_int_equal(i.domid, domid);
    assert_int_equal(i.state, HV_DOMAIN_RUNNING);
    assert_int_equal(i.vcpus, 1);
    assert_int_equal(i.memory_bytes, 16ull << 20);
    assert_int_equal(i.monitor_pid, monitor_pid);
    char name[64];
    snprintf(name, sizeof(name), "ctl-%d", (int)monitor_pid);
    assert_string_equal(i.name, name);
    hv_vcpu_info_t v = tu_vcpu_info(d, 0);
    assert_int_equal(v.online, 1);
    /* An error crosses with its errno and the monitor's message. */
    hv_vcpu_info_t bad = {.size = sizeof(bad)};
    assert_int_equal(hv_vcpu_info(d, 7, &bad), -EINVAL);
    tu_check(strstr(hv_last_error(hv), "vCPU 7") != NULL, NULL, "message: %s",
             hv_last_error(hv));
    hv_domain_close(d);

    /* No such domain, and none without a registry. */
    hv_domain_t *x;
    assert_int_equal(hv_domain_open(hv, domid + 100, &x), -ENOENT);
}

static void test_list(void **state)
{
    (void)state;
    hv_domain_info_t infos[8] = {{.size = sizeof(hv_domain_info_t)}};
    long n = hv_domain_list(hv, infos, 8);
    tu_check(n >= 1, NULL, "hv_domain_list: %ld %s", n, hv_last_error(hv));
    bool found = false;
    for (long i = 0; i < n && i < 8; i++)
        found = found || (infos[i].domid == domid && infos[i].monitor_pid == monitor_pid);
    assert_true(found);
    assert_int_equal(hv_domain_list(hv, NULL, 0), n);
}

static void *info_loop(void *arg)
{
    hv_domain_t *d = arg;
    for (int i = 0; i < 200; i++) {
        hv_domain_info_t info = {.size = sizeof(info)};
        if (hv_domain_info(d, &info) < 0 || info.domid != domid)
            return (void *)1;
    }
    return NULL;
}

/* Threads share one handle's connection: each gets its own replies. */
static void test_threads(void **state)
{
    (void)state;
    hv_domain_t *d = open_dom();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, info_loop, d), 0);
    /* Events arrive between the replies meanwhile. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(hv_domain_pause(d), 0);
        assert_int_equal(hv_domain_unpause(d), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    hv_domain_close(d);
}

static void test_local_only(void **state)
{
    (void)state;
    hv_domain_t *d = open_dom();
    char buf[16];
    uint64_t pos = 0;
    void *p;
    hv_vcpu_entry_t e = {.size = sizeof(e)};
    assert_int_equal(hv_domain_start(d), -EREMOTE);
    assert_int_equal(hv_domain_console_read(d, &pos, buf, sizeof(buf)), -EREMOTE);
    assert_int_equal(hv_domain_memory_read(d, 0x100000, buf, sizeof(buf)), -EREMOTE);
    assert_int_equal(hv_domain_memory_map(d, 0x100000, 16, &p), -EREMOTE);
    assert_int_equal(hv_domain_exit_fd(d), -EREMOTE);
    assert_int_equal(hv_vcpu_set_entry(d, 0, &e), -EREMOTE);
    assert_int_equal(hv_domain_event_raise(d, 1), -EREMOTE);
    tu_check(strstr(hv_last_error(hv), "another process") != NULL, NULL, "message: %s",
             hv_last_error(hv));
    hv_domain_close(d);
}

static void test_foreign_map_and_pause(void **state)
{
    (void)state;
    hv_domain_t *d = open_dom();
    uint64_t addr = spin_addr(d);
    void *base;
    uint64_t size;
    int rc = hv_domain_foreign_map(d, HV_MAP_READ, &base, &size);
    tu_check(rc == 0, NULL, "foreign_map: %d %s", rc, hv_last_error(hv));
    assert_int_equal(size, 16ull << 20);
    assert_true(addr + 8 <= size);
    volatile uint64_t *spin = (volatile uint64_t *)((char *)base + addr);

    /* A read-only fd cannot become a writable mapping. */
    int fd;
    assert_int_equal(hv_domain_memory_open(d, HV_MAP_READ, &fd, &size), 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    errno = 0;
    assert_true(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
    assert_int_equal(errno, EACCES);
    close(fd);

    /* Paused: the guest's counter stands still (checked across a round trip
     * to the monitor and a dirty-log fetch, i.e. real time passing). */
    assert_int_equal(hv_domain_pause(d), 0);
    assert_int_equal(tu_info(d).state, HV_DOMAIN_PAUSED);
    uint64_t a = *spin;
    assert_int_equal(hv_domain_dirty_log_start(d), 0);
    size_t bytes = hv_domain_dirty_log_size(d);
    assert_int_equal(bytes, (16ull << 20) / 4096 / 8);
    uint64_t *bitmap = calloc(1, bytes);
    assert_true(hv_domain_dirty_log_fetch(d, bitmap, bytes) >= 0);
    long paused_pages = hv_domain_dirty_log_fetch(d, bitmap, bytes);
    assert_int_equal(paused_pages, 0);
    assert_int_equal(tu_info(d).state, HV_DOMAIN_PAUSED);
    assert_int_equal(*spin, a);

    /* Unpaused: it moves again (each look is a round trip to the monitor;
     * the loop ends on the change or the hang guard), and its page shows in
     * the dirty log. */
    assert_int_equal(hv_domain_unpause(d), 0);
    uint64_t until = tu_now_ns() + (uint64_t)tu_timeout_ms() * 1000000u;
    while (*spin == a && tu_now_ns() < until)
        assert_int_equal(tu_info(d).state, HV_DOMAIN_RUNNING);
    tu_check(*spin != a, NULL, "spin still %llu after unpause", (unsigned long long)a);
    long pages = hv_domain_dirty_log_fetch(d, bitmap, bytes);
    assert_true(pages > 0);
    assert_true(bitmap[(addr / 4096) / 64] & (1ull << ((addr / 4096) % 64)));
    assert_int_equal(hv_domain_dirty_log_stop(d), 0);
    free(bitmap);
    munmap(base, size);
    hv_domain_close(d);
}

static void test_console_one_reader(void **state)
{
    (void)state;
    hv_domain_t *d = open_dom();
    int fd, fd2;
    assert_int_equal(hv_domain_console_open(d, &fd), 0);
    assert_int_equal(hv_domain_console_open(d, &fd2), -EBUSY);
    static char text[1 << 17];
    size_t len = 0;
    assert_true(stream_wait(fd, text, sizeof(text), &len, "counter: addr="));
    /* Input is dropped, not an error. */
    assert_int_equal(write(fd, "x\n", 2), 2);
    assert_true(stream_wait(fd, text, sizeof(text), &len, "count="));
    close(fd);
    /* The monitor detaches at EOF; each info is a round trip through its
     * service thread, which handles the EOF in order. */
    int rc = -EBUSY;
    for (int i = 0; i < 1000 && rc == -EBUSY; i++) {
        tu_info(d);
        rc = hv_domain_console_open(d, &fd);
    }
    assert_int_equal(rc, 0);
    close(fd);
    hv_domain_close(d);
}

static int raw_connect_to(uint32_t id)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/domains/%u.sock", run, id);
    assert_true(n > 0 && (size_t)n < sizeof(sa.sun_path));
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return s;
}

static int raw_connect(void)
{
    return raw_connect_to(domid);
}

static void send_frame(int s, const char *json)
{
    uint32_t n = (uint32_t)strlen(json);
    unsigned char h[4] = {n >> 24, n >> 16, n >> 8, n};
    assert_int_equal(write(s, h, 4), 4);
    assert_int_equal(write(s, json, n), (ssize_t)n);
}

/* The next frame's JSON (NUL-terminated), or NULL at EOF. */
static char *read_frame(int s)
{
    unsigned char h[4];
    size_t got = 0;
    struct pollfd p = {.fd = s, .events = POLLIN};
    assert_int_equal(poll(&p, 1, tu_timeout_ms()), 1); /* the hang guard */
    while (got < 4) {
        ssize_t n = read(s, h + got, 4 - got);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    uint32_t len = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
    assert_true(len > 0 && len <= 65536);
    char *j = calloc(1, len + 1);
    for (got = 0; got < len;) {
        ssize_t n = read(s, j + got, len - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    return j;
}

static void test_malformed(void **state)
{
    (void)state;
    hv_domain_t *d = open_dom();

    /* A zero length: that connection is closed, no other. */
    int s = raw_connect();
    char *j = read_frame(s);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"hv\":\"control\""));
    free(j);
    assert_int_equal(write(s, "\0\0\0\0", 4), 4);
    assert_null(read_frame(s));
    close(s);

    /* A wrong hello gets the id-0 error, then EOF. */
    s = raw_connect();
    free(read_frame(s));
    send_frame(s, "{\"hv\":\"control\",\"version\":99}");
    j = read_frame(s);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"EPROTO\""));
    free(j);
    assert_null(read_frame(s));
    close(s);

    /* A bad request with a readable id is answered; the connection lives on. */
    s = raw_connect();
    free(read_frame(s));
    send_frame(s, "{\"hv\":\"control\",\"version\":1}");
    send_frame(s, "{\"id\":5,\"op\":\"info\",\"args\":[1]}");
    assert_non_null(j = read_frame(s));
    assert_non_null(strstr(j, "\"id\":5"));
    assert_non_null(strstr(j, "\"EINVAL\""));
    free(j);
    send_frame(s, "{\"id\":6,\"op\":\"no-such-op\"}");
    assert_non_null(j = read_frame(s));
    assert_non_null(strstr(j, "\"ENOSYS\""));
    free(j);
    send_frame(s, "{\"id\":7,\"op\":\"info\"}");
    assert_non_null(j = read_frame(s));
    assert_non_null(strstr(j, "\"ok\":true"));
    free(j);
    /* Not JSON, no id: closed. */
    send_frame(s, "{{{{");
    assert_null(read_frame(s));
    close(s);

    assert_int_equal(tu_info(d).state, HV_DOMAIN_RUNNING);
    hv_domain_close(d);
}

static void test_other_uid_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    /* Let uid 65534 reach the socket, so that only the monitor's check stands. */
    char ddir[300], sock[320];
    snprintf(ddir, sizeof(ddir), "%s/domains", run);
    snprintf(sock, sizeof(sock), "%s/%u.sock", ddir, domid);
    assert_int_equal(chmod(dir, 0711), 0);
    assert_int_equal(chmod(run, 0711), 0);
    assert_int_equal(chmod(ddir, 0711), 0);
    assert_int_equal(chmod(sock, 0666), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            _exit(3);
        char c;
        /* Refused: EOF without a hello. */
        _exit(read(s, &c, 1) == 0 ? 0 : 4);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    chmod(sock, 0600);
    chmod(ddir, 0700);
    chmod(run, 0700);
    chmod(dir, 0700);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_destroy(void **state)
{
    (void)state;
    hv_domain_t *d = open_dom();
    hv_domain_t *watcher = open_dom();
    assert_int_equal(hv_domain_destroy(d), 0);
    /* Another handle sees the exit, as "destroyed" (no vCPU ended it). */
    hv_exit_t e = {.size = sizeof(e)};
    assert_int_equal(hv_domain_wait(watcher, &e, tu_timeout_ms()), 0);
    assert_int_equal(e.reason, HV_EXIT_DESTROYED);
    hv_domain_info_t i = {.size = sizeof(i)};
    assert_int_equal(hv_domain_info(watcher, &i), -ESRCH);
    hv_domain_close(watcher);
    /* The monitor saw it and destroyed the domain. */
    char line[256];
    assert_non_null(fgets(line, sizeof(line), monitor_out));
    assert_string_equal(line, "exit reason=4 code=0 vcpu=0\n");
    assert_non_null(fgets(line, sizeof(line), monitor_out));
    assert_string_equal(line, "destroyed 0\n");
    int st;
    assert_int_equal(waitpid(monitor_pid, &st, 0), monitor_pid);
    monitor_pid = -1;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    hv_domain_t *x;
    int rc = hv_domain_open(hv, domid, &x);
    assert_true(rc == -ENOENT || rc == -ECONNREFUSED);
}


/* ---- Review findings ------------------------------------------------------------ */

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* One info round trip on a raw connection that has done its hello. */
static void raw_info(int s, uint32_t id)
{
    char req[64];
    snprintf(req, sizeof(req), "{\"id\":%u,\"op\":\"info\"}", id);
    send_frame(s, req);
    char *j = read_frame(s);
    assert_non_null(j);
    char want[32];
    snprintf(want, sizeof(want), "\"id\":%u,", id);
    tu_check(strstr(j, want) && strstr(j, "\"ok\":true"), NULL, "reply: %s", j);
    free(j);
}

/*
 * Finding 1: each memory-map reply holds one of the monitor's fds until it
 * is sent. A client that pipelines many and reads none made the monitor
 * hold one fd per request (to its fd limit). Now it reads no more of that
 * client's requests while 16 such replies wait, and resumes when they go.
 */
static void test_fd_flood(void **state)
{
    (void)state;
    enum { N = 600 };
    int base = count_fds(monitor_pid);
    assert_true(base > 0);
    int flood = raw_connect();
    free(read_frame(flood));
    send_frame(flood, "{\"hv\":\"control\",\"version\":1}");
    /* Equal-sized frames, all in the socket at once (22 KB: it takes them). */
    static char buf[N * 64];
    size_t len = 0;
    for (unsigned i = 0; i < N; i++) {
        char j[64];
        int n = snprintf(j, sizeof(j), "{\"id\":%u,\"op\":\"memory-map\"}", 1000001 + i);
        unsigned char h[4] = {0, 0, 0, (unsigned char)n};
        memcpy(buf + len, h, 4);
        memcpy(buf + len + 4, j, (size_t)n);
        len += 4 + (size_t)n;
    }
    assert_int_equal(send(flood, buf, len, MSG_DONTWAIT), (ssize_t)len);

    /* Round trips on another connection let the monitor get through what it
     * will take of the flood: until it read all of it, or held too much. */
    int other = raw_connect();
    free(read_frame(other));
    send_frame(other, "{\"hv\":\"control\",\"version\":1}");
    int held = 0;
    for (uint32_t i = 1; i <= 200; i++) {
        raw_info(other, i);
        held = count_fds(monitor_pid) - base;
        int unread = 0;
        assert_int_equal(ioctl(flood, SIOCOUTQ, &unread), 0);
        if (held > 64 || unread == 0)
            break;
    }
    tu_check(held <= 32, NULL, "the monitor holds %d more fds for one client", held);

    /* It was only waiting: every request gets its reply as they are read. */
    for (unsigned i = 0; i < N; i++) {
        char *j = read_frame(flood);
        tu_check(j != NULL, NULL, "reply %u of %d missing", i, N);
        char want[32];
        snprintf(want, sizeof(want), "\"id\":%u,", 1000001 + i);
        tu_check(strstr(j, want) && strstr(j, "\"ok\":true"), NULL, "reply %u: %s", i, j);
        free(j);
    }
    raw_info(other, 1000);
    close(flood);
    close(other);
    /* Its fds all went with the replies. */
    hv_domain_t *d = open_dom();
    tu_info(d);
    hv_domain_close(d);
    held = count_fds(monitor_pid) - base;
    tu_check(held <= 2, NULL, "the monitor still holds %d more fds", held);
}

/*
 * Finding 6 (the monitor parsed its stale control buffer after a recvmsg
 * that failed with EAGAIN, which every read turn ends with) has no test: what
 * the stale buffer holds depends on the compiler's stack layout (an earlier
 * sendmsg's SCM_RIGHTS header in the same stack slot made it close an fd it
 * had just passed on, or drop the client), so no client can make it happen
 * on purpose. conn_read now looks at the control data only after a read
 * that succeeded, and only as far as the kernel's msg_controllen says.
 */

struct waiter {
    hv_domain_t *d;
    _Atomic pid_t tid;
    int rc;
    hv_exit_t e;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->e.size = sizeof(w->e);
    w->tid = gettid();
    w->rc = hv_domain_wait(w->d, &w->e, -1);
    return NULL;
}

static void *info50(void *arg)
{
    hv_domain_t *d = arg;
    for (int i = 0; i < 50; i++) {
        hv_domain_info_t info = {.size = sizeof(info)};
        if (hv_domain_info(d, &info) < 0)
            return (void *)1;
    }
    return NULL;
}

/*
 * Finding 5: a thread in hv_domain_wait(-1) held the handle's lock but for
 * gaps another thread rarely won (glibc mutexes are unfair): its calls took
 * up to seconds each. Now 50 calls must all return while the wait goes on:
 * the domain's exit comes only after them (or after the hang guard). With
 * the old code they were slow, not stuck (here: 0.8 s for the first 10, then
 * the caller kept the lock in turn), so this cannot fail on time without a
 * timing assertion; it checks the new shape: calls run while a waiter
 * waits, and the waiter still gets the exit.
 */
static void test_wait_shares_handle(void **state)
{
    (void)state;
    struct mon m;
    mon_start(&m);
    hv_domain_t *d = NULL;
    assert_int_equal(hv_domain_open(hv, m.domid, &d), 0);
    struct waiter w = {.d = d, .rc = 1};
    pthread_t tw, ti;
    assert_int_equal(pthread_create(&tw, NULL, wait_thread, &w), 0);
    /* The infos start once the waiter sits in its poll (the state the bug
     * needs: it used to hold the lock there), seen in /proc; hang guard. */
    bool in_poll = false;
    for (uint64_t until = tu_now_ns() + (uint64_t)tu_timeout_ms() * 1000000u;
         !in_poll && tu_now_ns() < until;) {
        char path[64], sc[64] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)w.tid);
        FILE *f = w.tid ? fopen(path, "r") : NULL;
        if (f && fgets(sc, sizeof(sc), f)) {
            long nr = strtol(sc, NULL, 10);
            in_poll = nr == 7 || nr == 271; /* poll, ppoll */
        }
        if (f)
            fclose(f);
    }
    assert_true(in_poll);
    assert_int_equal(pthread_create(&ti, NULL, info50, d), 0);
    struct timespec guard;
    clock_gettime(CLOCK_REALTIME, &guard);
    guard.tv_sec += tu_timeout_ms() / 1000;
    void *rc = (void *)2;
    int joined = pthread_timedjoin_np(ti, &rc, &guard);
    /* Now the exit: through the monitor's own handle. */
    assert_int_equal(write(m.in, "s", 1), 1);
    if (joined != 0)
        pthread_join(ti, &rc);
    pthread_join(tw, NULL);
    tu_check(joined == 0, NULL, "50 infos did not return while another thread waited");
    assert_null(rc);
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.e.reason, HV_EXIT_POWEROFF);
    hv_domain_close(d);
    mon_stop(&m);
}

/* The monitor's thread blocked in epoll_wait: its service thread. */
static pid_t service_tid(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    pid_t found = -1;
    int count = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (e->d_name[0] == '.')
            continue;
        char sp[400], sc[64] = "";
        snprintf(sp, sizeof(sp), "%.64s/%.255s/syscall", path, e->d_name);
        FILE *f = fopen(sp, "r");
        if (f && fgets(sc, sizeof(sc), f)) {
            long nr = strtol(sc, NULL, 10);
            if (nr == 232 || nr == 281 || nr == 441) { /* epoll_wait, _pwait, _pwait2 */
                found = (pid_t)atoi(e->d_name);
                count++;
            }
        }
        if (f)
            fclose(f);
    }
    if (dir)
        closedir(dir);
    return count == 1 ? found : -1;
}

/*
 * Finding 9: a destroy request handled while the guest's own exit was still
 * queued for the clients made them see "destroyed" instead of its reason.
 * Made deterministic by stopping the monitor's service thread (ptrace) while
 * both the destroy request and the guest's poweroff come in; resumed, it
 * handles the request first, then the queued exit.
 */
static void test_exit_reason_kept(void **state)
{
    (void)state;
    struct mon m;
    mon_start(&m);
    hv_domain_t *watcher = NULL;
    assert_int_equal(hv_domain_open(hv, m.domid, &watcher), 0);
    int s = raw_connect_to(m.domid);
    free(read_frame(s));
    send_frame(s, "{\"hv\":\"control\",\"version\":1}");
    raw_info(s, 1);
    pid_t tid = -1;
    for (int i = 0; i < 100 && tid < 0; i++) {
        tu_info(watcher); /* a round trip: the thread goes back to epoll_wait */
        tid = service_tid(m.pid);
    }
    if (tid < 0 || ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
        mon_stop(&m);
        hv_domain_close(watcher);
        close(s);
        skip();
    }
    assert_int_equal(ptrace(PTRACE_INTERRUPT, tid, NULL, NULL), 0);
    int st;
    assert_int_equal(waitpid(tid, &st, __WALL), tid);
    send_frame(s, "{\"id\":2,\"op\":\"destroy\"}");
    assert_int_equal(write(m.in, "s", 1), 1);
    char line[256];
    assert_non_null(fgets(line, sizeof(line), m.out));
    assert_string_equal(line, "exit reason=1 code=0 vcpu=0\n");
    /* The monitor's destroy now waits on the service thread too. */
    assert_int_equal(ptrace(PTRACE_DETACH, tid, NULL, NULL), 0);
    hv_exit_t e = {.size = sizeof(e)};
    assert_int_equal(hv_domain_wait(watcher, &e, tu_timeout_ms()), 0);
    assert_int_equal(e.reason, HV_EXIT_POWEROFF);
    char *j;
    bool exit_seen = false;
    while ((j = read_frame(s))) {
        if (strstr(j, "\"event\":\"exit\"")) {
            tu_check(strstr(j, "\"reason\":\"poweroff\"") != NULL, NULL, "exit event: %s", j);
            exit_seen = true;
        }
        free(j);
    }
    assert_true(exit_seen);
    close(s);
    hv_domain_close(watcher);
    assert_non_null(fgets(line, sizeof(line), m.out));
    assert_string_equal(line, "destroyed 0\n");
    mon_stop(&m);
}

/*
 * Finding 3, the monitor's side: a socket directory someone else can write
 * lets them put their socket in the monitor's place. Refused, naming it.
 */
static void test_untrusted_socket_dir(void **state)
{
    (void)state;
    char bad[300], ddir[320];
    snprintf(bad, sizeof(bad), "%s/badrun", dir);
    snprintf(ddir, sizeof(ddir), "%s/domains", bad);
    assert_int_equal(mkdir(bad, 0700), 0);
    assert_int_equal(mkdir(ddir, 0700), 0);
    assert_int_equal(chmod(ddir, 0777), 0);
    hv_options_t o = {.size = sizeof(o), .run_dir = bad};
    hv_t *h;
    assert_int_equal(hv_open(&h, &o), 0);
    hv_domain_config_t cfg = {.size = sizeof(cfg), .name = "ctl-baddir", .memory_mb = 16,
                              .vcpus = 1};
    hv_domain_t *d = NULL;
    int rc = hv_domain_create(h, &cfg, &d);
    tu_check(rc == -EPERM, NULL, "create with a world-writable %s: %d %s", ddir, rc,
             hv_last_error(h));
    tu_check(strstr(hv_last_error(h), ddir) != NULL, NULL, "message: %s", hv_last_error(h));
    if (geteuid() == 0) {
        /* Another owner, even with a safe mode. */
        assert_int_equal(chmod(ddir, 0700), 0);
        assert_int_equal(chown(ddir, 65534, 65534), 0);
        rc = hv_domain_create(h, &cfg, &d);
        tu_check(rc == -EPERM && strstr(hv_last_error(h), "another user"), NULL,
                 "create with %s owned by 65534: %d %s", ddir, rc, hv_last_error(h));
    }
    hv_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_info),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_local_only),
        cmocka_unit_test(test_foreign_map_and_pause),
        cmocka_unit_test(test_console_one_reader),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_other_uid_refused),
        cmocka_unit_test(test_fd_flood),
        cmocka_unit_test(test_wait_shares_handle),
        cmocka_unit_test(test_exit_reason_kept),
        cmocka_unit_test(test_untrusted_socket_dir),
        cmocka_unit_test(test_destroy),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
