/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- Basics ------------------------------------------------------------------ */

int tu_timeout_ms(void)
{
    const char *s = getenv("TU_TIMEOUT_MS");
    if (s && *s) {
        long v = strtol(s, NULL, 10);
        if (v > 0 && v < 3600000)
            return (int)v;
    }
    return TU_TIMEOUT_MS_DEFAULT;
}

uint64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tu_require_kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "SKIP: cannot open /dev/kvm read-write: %s\n",
                strerror(errno));
        exit(77);
    }
    close(fd);
}

char *tu_guest_path(const char *name)
{
    const char *dir = getenv("HV_GUEST_DIR");
    char *path = NULL;
    struct stat st;

    if (!dir || !*dir)
        dir = "guest";
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return path;
    char *alt = NULL;
    if (asprintf(&alt, "%s/%s.elf", dir, name) < 0)
        abort();
    if (stat(alt, &st) == 0 && S_ISREG(st.st_mode)) {
        free(path);
        return alt;
    }
    free(alt);
    return path; /* the builder's error will name it */
}

static const char *level_name(hv_log_level_t l)
{
    switch (l) {
    case HV_LOG_ERROR: return "error";
    case HV_LOG_WARN: return "warn";
    case HV_LOG_INFO: return "info";
    case HV_LOG_DEBUG: return "debug";
    }
    return "?";
}

static void log_stderr(void *opaque, hv_log_level_t level, const char *msg)
{
    (void)opaque;
    if (strcmp(msg, TU_SENTINEL) == 0)
        return;
    fprintf(stderr, "[libhv %s] %s\n", level_name(level), msg);
}

hv_t *tu_open(void)
{
    hv_options_t o = {0};
    hv_t *hv = NULL;
    const char *lvl = getenv("TU_LOG_LEVEL");

    o.size = sizeof(o);
    o.log = log_stderr;
    o.log_level = HV_LOG_INFO;
    if (lvl && *lvl)
        o.log_level = (hv_log_level_t)atoi(lvl);
    int rc = hv_open(&hv, &o);
    if (rc < 0)
        fail_msg("hv_open: %d (%s)", rc, strerror(-rc));
    assert_non_null(hv);
    return hv;
}

void tu_close(hv_t *hv)
{
    hv_close(hv);
}

void tu_fail_(const char *file, int line, const char *cond, struct tu_console *c,
              const char *fmt, ...)
{
    va_list ap;
    char msg[1024];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("%s:%d: check failed: %s\n  %s\n", file, line, cond, msg);
    if (c) {
        size_t len;
        char *t = tu_console_text(c, &len);
        print_error("  console (%zu bytes):\n-----\n%s%s-----\n", len, t,
                    len && t[len - 1] != '\n' ? "\n" : "");
        free(t);
    }
    _fail(file, line);
    abort(); /* not reached: _fail jumps back into the runner */
}

/* ---- Console collector ----------------------------------------------------- */

struct tu_console {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *buf;
    size_t len, cap;
    size_t cursor;
};

struct tu_console *tu_console_new(void)
{
    struct tu_console *c = calloc(1, sizeof(*c));
    pthread_condattr_t ca;

    if (!c)
        abort();
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    c->cap = 4096;
    c->buf = malloc(c->cap);
    if (!c->buf)
        abort();
    c->buf[0] = 0;
    return c;
}

void tu_console_free(struct tu_console *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c->buf);
    free(c);
}

static void console_append(void *opaque, hv_domain_t *dom, const char *data,
                           size_t len)
{
    (void)dom;
    tu_console_append(opaque, data, len);
}

void tu_console_append(struct tu_console *c, const char *data, size_t len)
{
    pthread_mutex_lock(&c->lock);
    if (c->len + len + 1 > c->cap) {
        size_t cap = c->cap;
        while (c->len + len + 1 > cap)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (!nb)
            abort();
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->buf[c->len] = 0;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

int tu_console_attach(struct tu_console *c, hv_domain_t *dom)
{
    return hv_domain_console_set_callback(dom, console_append, c);
}

size_t tu_console_len(struct tu_console *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->len;
    pthread_mutex_unlock(&c->lock);
    return n;
}

char *tu_console_text(struct tu_console *c, size_t *len)
{
    pthread_mutex_lock(&c->lock);
    char *t = malloc(c->len + 1);
    if (!t)
        abort();
    memcpy(t, c->buf, c->len);
    t[c->len] = 0;
    if (len)
        *len = c->len;
    pthread_mutex_unlock(&c->lock);
    return t;
}

size_t tu_console_cursor(struct tu_console *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->cursor;
    pthread_mutex_unlock(&c->lock);
    return n;
}

void tu_console_set_cursor(struct tu_console *c, size_t off)
{
    pthread_mutex_lock(&c->lock);
    c->cursor = off;
    pthread_mutex_unlock(&c->lock);
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* With c->lock held. */
static const char *find_from(struct tu_console *c, size_t from, const char *s)
{
    if (from > c->len)
        return NULL;
    return memmem(c->buf + from, c->len - from, s, strlen(s));
}

int tu_console_wait_from(struct tu_console *c, size_t from, const char *substr,
                         int timeout_ms, size_t *match)
{
    struct timespec dl;
    const char *p;
    int rc = 0;

    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&c->lock);
    while (!(p = find_from(c, from, substr))) {
        rc = pthread_cond_timedwait(&c->cond, &c->lock, &dl);
        if (rc == ETIMEDOUT) {
            p = find_from(c, from, substr);
            break;
        }
    }
    if (p && match)
        *match = (size_t)(p - c->buf);
    pthread_mutex_unlock(&c->lock);
    return p ? 0 : -ETIMEDOUT;
}

int tu_console_wait(struct tu_console *c, const char *substr, int timeout_ms)
{
    size_t at;
    int rc = tu_console_wait_from(c, tu_console_cursor(c), substr, timeout_ms, &at);
    if (rc == 0)
        tu_console_set_cursor(c, at + strlen(substr));
    return rc;
}

static int line_matches(const char *l, size_t llen, const char *prefix, size_t plen)
{
    return llen >= plen && memcmp(l, prefix, plen) == 0;
}

int tu_text_count_lines(const char *text, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);
    int n = 0;

    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl)
            break; /* incomplete line */
        size_t llen = (size_t)(nl - (text + i));
        if (line_matches(text + i, llen, prefix, plen))
            n++;
        i += llen + 1;
    }
    return n;
}

int tu_text_line(const char *text, size_t len, const char *prefix, int n,
                 char *out, size_t outsz)
{
    size_t plen = strlen(prefix);
    int total = tu_text_count_lines(text, len, prefix);
    int want = n >= 0 ? n : total + n;
    int k = 0;

    if (want < 0 || want >= total)
        return -ENOENT;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl)
            break;
        size_t llen = (size_t)(nl - (text + i));
        if (line_matches(text + i, llen, prefix, plen) && k++ == want) {
            if (!out)
                return 0;
            if (llen + 1 > outsz)
                return -ENOSPC;
            memcpy(out, text + i, llen);
            out[llen] = 0;
            return 0;
        }
        i += llen + 1;
    }
    return -ENOENT;
}

int tu_console_line(struct tu_console *c, const char *prefix, int n, char *out,
                    size_t outsz)
{
    pthread_mutex_lock(&c->lock);
    int rc = tu_text_line(c->buf, c->len, prefix, n, out, outsz);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int tu_console_count_lines(struct tu_console *c, const char *prefix)
{
    pthread_mutex_lock(&c->lock);
    int n = tu_text_count_lines(c->buf, c->len, prefix);
    pthread_mutex_unlock(&c->lock);
    return n;
}

int tu_console_wait_count(struct tu_console *c, const char *prefix, int count,
                          int timeout_ms)
{
    struct timespec dl;
    int ok;

    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&c->lock);
    while (!(ok = tu_text_count_lines(c->buf, c->len, prefix) >= count)) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) == ETIMEDOUT) {
            ok = tu_text_count_lines(c->buf, c->len, prefix) >= count;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return ok ? 0 : -ETIMEDOUT;
}

int tu_console_wait_line(struct tu_console *c, const char *prefix, int n,
                         int timeout_ms, char *out, size_t outsz)
{
    if (n < 0)
        return -EINVAL;
    int rc = tu_console_wait_count(c, prefix, n + 1, timeout_ms);
    if (rc < 0)
        return rc;
    return tu_console_line(c, prefix, n, out, outsz);
}

/* ---- Domains ------------------------------------------------------------------ */

void tu_domain_name(char *out, size_t outsz, const char *tag)
{
    static unsigned counter;
    unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(out, outsz, "tu-%.20s-%d-%u", tag, (int)getpid(), n);
}

hv_domain_t *tu_domain_create(hv_t *hv, const char *tag, uint64_t mem_mb,
                              uint32_t vcpus)
{
    hv_domain_config_t cfg = {0};
    hv_domain_t *dom = NULL;
    char name[64];

    tu_domain_name(name, sizeof(name), tag);
    cfg.size = sizeof(cfg);
    cfg.name = name;
    cfg.memory_mb = mem_mb;
    cfg.vcpus = vcpus;
    int rc = hv_domain_create(hv, &cfg, &dom);
    if (rc < 0)
        fail_msg("hv_domain_create(%s, %llu MiB, %u vCPUs): %d (%s): %s", name,
                 (unsigned long long)mem_mb, vcpus, rc, strerror(-rc),
                 hv_last_error(hv));
    assert_non_null(dom);
    return dom;
}

hv_domain_t *tu_domain(hv_t *hv, const char *guest, const char *cmdline,
                       uint64_t mem_mb, uint32_t vcpus)
{
    hv_domain_t *dom = tu_domain_create(hv, guest, mem_mb, vcpus);
    char *path = tu_guest_path(guest);
    hvg_build_options_t o = {0};

    o.size = sizeof(o);
    o.kernel = path;
    o.cmdline = cmdline;
    int rc = hvg_build(dom, &o);
    if (rc < 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s", hv_last_error(hv));
        hv_domain_destroy(dom);
        fail_msg("hvg_build(%s, \"%s\"): %d (%s): %s", path,
                 cmdline ? cmdline : "", rc, strerror(-rc), msg);
    }
    free(path);
    return dom;
}

void tu_wait_exit(hv_domain_t *dom, hv_exit_t *e)
{
    memset(e, 0, sizeof(*e));
    e->size = sizeof(*e);
    int rc = hv_domain_wait(dom, e, tu_timeout_ms());
    if (rc < 0)
        fail_msg("hv_domain_wait: %d (%s): %s", rc, strerror(-rc),
                 hv_last_error(hv_domain_host(dom)));
}

hv_domain_info_t tu_info(hv_domain_t *dom)
{
    hv_domain_info_t info;
    memset(&info, 0, sizeof(info));
    info.size = sizeof(info);
    int rc = hv_domain_info(dom, &info);
    if (rc < 0)
        fail_msg("hv_domain_info: %d (%s)", rc, strerror(-rc));
    return info;
}

hv_vcpu_info_t tu_vcpu_info(hv_domain_t *dom, uint32_t vcpu)
{
    hv_vcpu_info_t info;
    memset(&info, 0, sizeof(info));
    info.size = sizeof(info);
    int rc = hv_vcpu_info(dom, vcpu, &info);
    if (rc < 0)
        fail_msg("hv_vcpu_info(%u): %d (%s)", vcpu, rc, strerror(-rc));
    return info;
}

const char *tu_exit_reason_name(hv_exit_reason_t r)
{
    switch (r) {
    case HV_EXIT_NONE: return "NONE";
    case HV_EXIT_POWEROFF: return "POWEROFF";
    case HV_EXIT_REBOOT: return "REBOOT";
    case HV_EXIT_CRASH: return "CRASH";
    case HV_EXIT_DESTROYED: return "DESTROYED";
    }
    return "?";
}

const char *tu_state_name(hv_domain_state_t s)
{
    switch (s) {
    case HV_DOMAIN_CREATED: return "CREATED";
    case HV_DOMAIN_RUNNING: return "RUNNING";
    case HV_DOMAIN_PAUSED: return "PAUSED";
    case HV_DOMAIN_SHUTDOWN: return "SHUTDOWN";
    }
    return "?";
}

/* ---- Fixture -------------------------------------------------------------------- */

int tu_setup(void **state)
{
    struct tu_env *env = calloc(1, sizeof(*env));
    if (!env)
        return -1;
    env->hv = tu_open();
    *state = env;
    return 0;
}

int tu_teardown(void **state)
{
    struct tu_env *env = *state;
    if (!env)
        return 0;
    for (int i = 0; i < TU_MAX_DOMAINS; i++) {
        if (env->dom[i])
            hv_domain_destroy(env->dom[i]);
        env->dom[i] = NULL;
    }
    /* Only once no vCPU can call them back. */
    for (int i = 0; i < TU_MAX_DOMAINS; i++) {
        tu_console_free(env->con[i]);
        env->con[i] = NULL;
    }
    tu_close(env->hv);
    free(env);
    *state = NULL;
    return 0;
}

struct tu_console *tu_env_adopt(struct tu_env *env, hv_domain_t *dom)
{
    for (int i = 0; i < TU_MAX_DOMAINS; i++) {
        if (!env->dom[i] && !env->con[i]) {
            struct tu_console *c = tu_console_new();
            env->dom[i] = dom;
            env->con[i] = c;
            int rc = tu_console_attach(c, dom);
            if (rc < 0)
                fail_msg("hv_domain_console_set_callback: %d (%s)", rc,
                         strerror(-rc));
            return c;
        }
    }
    hv_domain_destroy(dom);
    fail_msg("tu_env: more than %d domains", TU_MAX_DOMAINS);
    return NULL;
}

hv_domain_t *tu_env_domain(struct tu_env *env, const char *guest,
                           const char *cmdline, uint64_t mem_mb, uint32_t vcpus,
                           struct tu_console **con)
{
    hv_domain_t *dom = tu_domain(env->hv, guest, cmdline, mem_mb, vcpus);
    struct tu_console *c = tu_env_adopt(env, dom);
    if (con)
        *con = c;
    return dom;
}

void tu_env_destroy(struct tu_env *env, hv_domain_t *dom)
{
    for (int i = 0; i < TU_MAX_DOMAINS; i++) {
        if (env->dom[i] == dom) {
            env->dom[i] = NULL;
            int rc = hv_domain_destroy(dom);
            tu_console_free(env->con[i]);
            env->con[i] = NULL;
            if (rc != 0)
                fail_msg("hv_domain_destroy: %d (%s)", rc, strerror(-rc));
            return;
        }
    }
    fail_msg("tu_env_destroy: domain not registered");
}

/* ---- Process resources ------------------------------------------------------------ */

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -errno;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int tu_count_open_fds(void)
{
    int n = count_dir("/proc/self/fd");
    return n > 0 ? n - 1 : n; /* not the directory's own fd */
}

int tu_count_threads(void)
{
    return count_dir("/proc/self/task");
}

uint64_t tu_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    uint64_t kb = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int tu_count_maps(const char *substr)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[4096];
    int n = 0;

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, substr))
            n++;
    fclose(f);
    return n;
}

/* ---- A private store daemon ------------------------------------------------------- */

/* Reads one line from fd with the hang guard; false on EOF, error or timeout. */
static bool read_line(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, tu_timeout_ms()) != 1)
            return false;
        ssize_t n = read(fd, buf + len, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        if (buf[len++] == '\n')
            break;
    }
    buf[len] = 0;
    return true;
}

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path); /* best effort: the rest still goes */
    return 0;
}

static void rm_tree(const char *dir)
{
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 || access(dir, F_OK) == 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* hvstored --foreground, stdout to a pipe until its ready line. */
static int hvstored_spawn(struct tu_host *h)
{
    const char *daemon = getenv("HV_HVSTORED");
    char data[80], line[512];
    int out[2];

    if (!daemon || !*daemon) {
        fprintf(stderr, "HV_HVSTORED is not set\n");
        return -1;
    }
    snprintf(data, sizeof(data), "%s/data", h->dir);
    if (pipe2(out, O_CLOEXEC) < 0) {
        fprintf(stderr, "pipe: %s\n", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {(char *)daemon, "--foreground", "--socket", h->sock,
                    "--data-dir", data, NULL};
    int rc = posix_spawn(&h->hvstored, daemon, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        h->hvstored = -1;
        fprintf(stderr, "spawn %s: %s\n", daemon, strerror(rc));
        return -1;
    }
    bool ready = read_line(out[0], line, sizeof(line)) && strstr(line, "ready");
    close(out[0]);
    if (!ready) {
        fprintf(stderr, "%s did not start on %s\n", daemon, h->sock);
        return -1;
    }
    return 0;
}

int tu_host_start(struct tu_host *h, const char *tag)
{
    memset(h, 0, sizeof(*h));
    h->hvstored = -1;
    snprintf(h->dir, sizeof(h->dir), "/tmp/hv-%.32s-XXXXXX", tag);
    if (!mkdtemp(h->dir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", h->dir, strerror(errno));
        h->dir[0] = 0;
        return -1;
    }
    snprintf(h->sock, sizeof(h->sock), "%s/store.sock", h->dir);
    snprintf(h->uri, sizeof(h->uri), "unix:%s", h->sock);
    snprintf(h->run, sizeof(h->run), "%s/run", h->dir);
    snprintf(h->state, sizeof(h->state), "%s/state", h->dir);
    if (mkdir(h->run, 0700) < 0 || mkdir(h->state, 0700) < 0) {
        fprintf(stderr, "mkdir in %s: %s\n", h->dir, strerror(errno));
        tu_host_stop(h);
        return -1;
    }
    if (hvstored_spawn(h) < 0) {
        tu_host_stop(h);
        return -1;
    }
    setenv("HV_STORE", h->uri, 1);
    setenv("HV_RUNDIR", h->run, 1);
    setenv("HV_STATEDIR", h->state, 1);
    return 0;
}

void tu_host_stop(struct tu_host *h)
{
    if (h->hvstored > 0) {
        kill(h->hvstored, SIGTERM);
        waitpid(h->hvstored, NULL, 0);
    }
    h->hvstored = -1;
    if (h->dir[0])
        rm_tree(h->dir);
    h->dir[0] = 0;
}

int tu_spawned_daemon_stop(const char *sock, pid_t *pid)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t cl = sizeof(cred);

    if (strlen(sock) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "%s: path too long\n", sock);
        return -1;
    }
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
        fprintf(stderr, "no daemon to stop on %s: %s\n", sock, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    if (pid)
        *pid = cred.pid;
    /* Not our child, so no waitpid: its pidfd becomes readable when it ends. */
    int pfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
    if (pfd < 0) {
        fprintf(stderr, "pidfd_open(%d): %s\n", (int)cred.pid, strerror(errno));
        return -1;
    }
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    int n = -1;
    if (kill(cred.pid, SIGTERM) == 0)
        n = poll(&p, 1, tu_timeout_ms());
    else
        fprintf(stderr, "kill(%d): %s\n", (int)cred.pid, strerror(errno));
    close(pfd);
    if (n != 1) {
        if (n == 0)
            fprintf(stderr, "the daemon on %s (pid %d) did not end\n", sock,
                    (int)cred.pid);
        return -1;
    }
    return 0;
}
