/* SPDX-License-Identifier: MIT */
#include "procs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resp.h"
#include "stats.h"

#define MAX_PROCS 8
#define READY_PREFIX "hvstored: ready on "

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char dir[PATH_MAX];
static pid_t pids[MAX_PROCS];
static bool cleaned;
static int server_cpu = -1;

void procs_pin_servers(int cpu)
{
    server_cpu = cpu;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void procs_cleanup(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_PROCS; i++) {
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
    }
    if (!cleaned && dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    cleaned = true;
    pthread_mutex_unlock(&lock);
}

static const int term_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void term_sigset(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof term_signals / sizeof term_signals[0]; i++)
        sigaddset(set, term_signals[i]);
}

/* A handler could not remove the dir (nftw is not async-signal-safe): the
 * signals are taken synchronously here instead. */
static void *signal_thread(void *arg)
{
    (void)arg;
    sigset_t set;
    term_sigset(&set);
    int sig;
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "store_bench: signal %d: stopping the servers\n", sig);
    procs_cleanup();
    _exit(128 + sig);
}

const char *procs_init(const char *base)
{
    if (snprintf(dir, sizeof dir, "%s/hvstore-bench.XXXXXX", base) >= (int)sizeof dir) {
        fprintf(stderr, "store_bench: --dir %s: too long\n", base);
        dir[0] = '\0';
        return NULL;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "store_bench: mkdtemp %s: %s\n", dir, strerror(errno));
        dir[0] = '\0';
        return NULL;
    }
    atexit(procs_cleanup);
    /* A server that dies mid-send must give EPIPE, not kill the bench. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    term_sigset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    int err = pthread_create(&t, NULL, signal_thread, NULL);
    if (err) {
        fprintf(stderr, "store_bench: pthread_create: %s\n", strerror(err));
        return NULL;
    }
    pthread_detach(t);
    return dir;
}

static void track(pid_t pid)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_PROCS; i++) {
        if (pids[i] == 0) {
            pids[i] = pid;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

void procs_stop(pid_t pid)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_PROCS; i++) {
        if (pids[i] == pid) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pids[i] = 0;
        }
    }
    pthread_mutex_unlock(&lock);
}

/*
 * fork + exec with stdout (and stderr if err_fd >= 0) redirected. Must run
 * on the main thread: PR_SET_PDEATHSIG fires when the *thread* that forked
 * exits. An exec failure comes back through a close-on-exec pipe.
 */
static int spawn(char *const argv[], int out_fd, int err_fd, pid_t *out)
{
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0)
        return -errno;
    pid_t parent = getpid();
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    if (server_cpu >= 0)
        CPU_SET(server_cpu, &cpus);
    pid_t pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(ep[0]);
        close(ep[1]);
        return err;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (server_cpu >= 0 && sched_setaffinity(0, sizeof cpus, &cpus) < 0)
            _exit(127);
        if (dup2(out_fd, STDOUT_FILENO) < 0 ||
            (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0))
            _exit(127);
        execvp(argv[0], argv);
        int e = errno;
        if (write(ep[1], &e, sizeof e) != sizeof e)
            _exit(127);
        _exit(127);
    }
    close(ep[1]);
    int e = 0;
    ssize_t k;
    do
        k = read(ep[0], &e, sizeof e);
    while (k < 0 && errno == EINTR);
    close(ep[0]);
    if (k == sizeof e) {
        waitpid(pid, NULL, 0);
        return -e;
    }
    track(pid);
    *out = pid;
    return 0;
}

static void untrack(pid_t pid)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_PROCS; i++)
        if (pids[i] == pid)
            pids[i] = 0;
    pthread_mutex_unlock(&lock);
}

/* flags: 0 waits for the exit, WNOHANG only reports one that happened.
 * Returns whether the child was reaped (and so forgotten). */
static bool report_exit(const char *what, pid_t pid, int flags)
{
    int status;
    if (waitpid(pid, &status, flags) != pid)
        return false;
    untrack(pid);
    if (WIFEXITED(status))
        fprintf(stderr, "store_bench: %s exited with status %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "store_bench: %s killed by signal %d\n", what, WTERMSIG(status));
    return true;
}

/* Copies the daemon's stdout after its ready line to our stderr. */
struct drain {
    int fd;
    size_t len;
    char pending[512];
};

static void *drain_thread(void *arg)
{
    struct drain *d = arg;
    if (d->len)
        fprintf(stderr, "hvstored: %.*s", (int)d->len, d->pending);
    char buf[4096];
    ssize_t k;
    while ((k = read(d->fd, buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR)) {
        if (k > 0 && fwrite(buf, 1, (size_t)k, stderr) != (size_t)k)
            break;
    }
    close(d->fd);
    free(d);
    return NULL;
}

int procs_start_hvstored(const char *exe, const char *socket_path, const char *data_dir,
                         int timeout_ms, pid_t *out)
{
    if (mkdir(data_dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    char *argv[] = { (char *)exe, "--socket", (char *)socket_path, "--data-dir",
                     (char *)data_dir, "--foreground", NULL };
    pid_t pid;
    int err = spawn(argv, p[1], -1, &pid);
    close(p[1]);
    if (err) {
        close(p[0]);
        return err;
    }
    char buf[512];
    size_t len = 0;
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            size_t n = (size_t)(nl - buf) + 1;
            if (strncmp(buf, READY_PREFIX, strlen(READY_PREFIX)) == 0)
                break;
            /* Anything the daemon says before it is ready is passed on. */
            fprintf(stderr, "hvstored: %.*s", (int)n, buf);
            memmove(buf, buf + n, len - n);
            len -= n;
            continue;
        }
        uint64_t now = now_ns();
        if (now >= deadline || len == sizeof buf) {
            fprintf(stderr, "store_bench: hvstored printed no \"" READY_PREFIX "%s\" line "
                    "within %d ms\n", socket_path, timeout_ms);
            err = -ETIMEDOUT;
            goto fail;
        }
        struct pollfd pfd = { .fd = p[0], .events = POLLIN };
        int n = poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
        if (n < 0 && errno != EINTR) {
            err = -errno;
            goto fail;
        }
        if (n <= 0)
            continue;
        ssize_t k = read(p[0], buf + len, sizeof buf - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            fprintf(stderr, "store_bench: hvstored closed its stdout before it was ready\n");
            report_exit("hvstored", pid, 0);
            close(p[0]);
            return -ECHILD;
        }
        len += (size_t)k;
    }
    struct drain *d = malloc(sizeof *d);
    if (!d) {
        err = -ENOMEM;
        goto fail;
    }
    char *nl = memchr(buf, '\n', len);
    size_t used = (size_t)(nl - buf) + 1;
    d->fd = p[0];
    d->len = len - used;
    memcpy(d->pending, buf + used, d->len);
    pthread_t t;
    err = pthread_create(&t, NULL, drain_thread, d);
    if (err) {
        free(d);
        err = -err;
        goto fail;
    }
    pthread_detach(t);
    *out = pid;
    return 0;

fail:
    if (!report_exit("hvstored", pid, WNOHANG))
        procs_stop(pid);
    close(p[0]);
    return err;
}

static void dump_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "redis-server: %s", line);
    fclose(f);
}

int procs_start_redis(const char *exe, const char *socket_path, const char *rdir, int timeout_ms,
                      pid_t *out)
{
    char log[PATH_MAX];
    if (snprintf(log, sizeof log, "%s/redis.log", rdir) >= (int)sizeof log)
        return -ENAMETOOLONG;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    char *argv[] = { (char *)exe, "--port", "0", "--unixsocket", (char *)socket_path,
                     "--dir", (char *)rdir, "--save", "", "--appendonly", "yes",
                     "--appendfsync", "always", "--daemonize", "no", NULL };
    pid_t pid;
    int err = spawn(argv, fd, fd, &pid);
    close(fd);
    if (err)
        return err;
    /* Readiness: PING until PONG, a bounded number of times; between tries
     * the socket is usually not there yet (ENOENT) or redis is loading. */
    const int interval_ms = 10;
    int attempts = timeout_ms / interval_ms + 1;
    for (int i = 0; i < attempts; i++) {
        if (report_exit("redis-server", pid, WNOHANG)) {
            fprintf(stderr, "store_bench: redis-server exited before it was ready:\n");
            dump_log(log);
            return -ECHILD;
        }
        struct resp *r;
        if (resp_connect(&r, socket_path) == 0) {
            struct resp_reply rep;
            const char *ping[] = { "PING" };
            int e = resp_call(r, &rep, 1, ping);
            resp_close(r);
            if (e == 0 && rep.type == '+' && strcmp(rep.str, "PONG") == 0) {
                *out = pid;
                return 0;
            }
        }
        struct timespec ts = { 0, interval_ms * 1000000L };
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "store_bench: redis-server did not answer PING within %d ms:\n", timeout_ms);
    dump_log(log);
    procs_stop(pid);
    return -ETIMEDOUT;
}
