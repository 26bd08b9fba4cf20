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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char dir[] = "/tmp/hv-control-XXXXXX";
static char run[256];
static pid_t hvstored_pid = -1;
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

static int group_setup(void **state)
{
    (void)state;
    tu_require_kvm();
    if (!mkdtemp(dir))
        return -1;
    char sock[300], data[300], statedir[300], uri[320];
    snprintf(sock, sizeof(sock), "%s/store.sock", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(run, sizeof(run), "%s/run", dir);
    snprintf(statedir, sizeof(statedir), "%s/state", dir);
    mkdir(run, 0700);
    mkdir(statedir, 0700);
    const char *daemon = getenv("HV_HVSTORED");
    if (!daemon) {
        fprintf(stderr, "HV_HVSTORED is not set\n");
        return -1;
    }
    char *dargv[] = {(char *)daemon, "--foreground", "--socket", sock, "--data-dir", data, NULL};
    FILE *f;
    hvstored_pid = spawn(dargv, NULL, &f);
    char line[512];
    /* Its ready line says it listens: no polling of the socket. */
    bool ready = f && fgets(line, sizeof(line), f) && strstr(line, "ready");
    if (f)
        fclose(f);
    if (!ready) {
        fprintf(stderr, "hvstored did not start\n");
        return -1;
    }
    snprintf(uri, sizeof(uri), "unix:%s", sock);
    setenv("HV_STORE", uri, 1);
    setenv("HV_RUNDIR", run, 1);
    setenv("HV_STATEDIR", statedir, 1);

    char mon[512];
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
    if (hvstored_pid > 0) {
        kill(hvstored_pid, SIGTERM);
        waitpid(hvstored_pid, NULL, 0);
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
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

static int raw_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/domains/%u.sock", run, domid);
    assert_true(n > 0 && (size_t)n < sizeof(sa.sun_path));
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return s;
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
        cmocka_unit_test(test_destroy),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
