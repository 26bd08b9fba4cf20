/* SPDX-License-Identifier: MIT */
/*
 * The monitor: the process a domain lives in (DESIGN.md section 3). It
 * creates, builds and starts the domain, tells xl create the domid, then
 * applies on_poweroff/on_reboot/on_crash each time the guest exits, until the
 * domain is destroyed. Other processes reach the domain through its control
 * socket, which libhv serves on its own thread.
 *
 * Remote destroy: the control socket's "destroy" ends a running domain with
 * HV_EXIT_DESTROYED, and of a domain already exited (preserved) signals the
 * exit fd again; either way the monitor destroys it
 * and exits. SIGTERM, SIGINT and SIGHUP also destroy it.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "hv/hvguest.h"
#include "xl.h"

struct monitor {
    const struct xl_monitor_opts *o;
    hv_t *hv;
    uint8_t uuid[16];  /* kept across restarts, as Xen does */
    bool have_uuid;
    /* Records for `xl list -l` only with a registry: without one the domid
     * is private to this process and its record file another domain's. */
    bool record;
    int sigfd;
};

/* -F without -v: the terminal is the user's, the monitor's diary stays out. */
static bool mlog_off;

static void mlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mlog(const char *fmt, ...)
{
    if (mlog_off)
        return;
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;

    strftime(ts, sizeof(ts), "%F %T", localtime_r(&t, &tm));
    fprintf(stderr, "%s xl-monitor[%d]: ", ts, (int)getpid());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void report(struct monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct monitor *m, const char *fmt, ...)
{
    char buf[1100];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    if (m->o->report_fd >= 0) {
        buf[n] = '\n';
        /* The parent may be gone (killed): SIGPIPE is ignored, EPIPE is fine. */
        if (write(m->o->report_fd, buf, (size_t)n + 1) < 0)
            mlog("xl create is gone: %s", strerror(errno));
    }
}

static void on_console(void *opaque, hv_domain_t *dom, const char *data, size_t len)
{
    (void)opaque;
    (void)dom;
    while (len) {
        ssize_t w = write(STDOUT_FILENO, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nobody reads: drop it rather than stall the vCPU */
        data += w;
        len -= (size_t)w;
    }
}

static int fail(struct monitor *m, bool first, int err, const char *what)
{
    const char *msg = hv_last_error(m->hv);
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s: %s", what, msg && *msg ? msg : strerror(-err));
    if (first && m->o->report_fd >= 0)
        report(m, "error %s", buf);
    else if (first)
        fprintf(stderr, "xl: %s\n", buf); /* -F: stderr is the user's */
    mlog("%s", buf);
    return XL_FAIL;
}

static int set_affinity(struct monitor *m, hv_domain_t *dom, uint32_t nvcpus)
{
    const struct xl_config *cfg = m->o->cfg;
    uint32_t *cpus;
    size_t n;
    int err;

    if (!cfg->cpus)
        return 0;
    cpus = calloc(HV_MAX_HOST_CPUS, sizeof(*cpus));
    if (!cpus)
        return -ENOMEM;
    err = xl_cpulist_parse(cfg->cpus, cpus, HV_MAX_HOST_CPUS, &n);
    for (uint32_t v = 0; v < nvcpus && err >= 0; v++)
        err = hv_vcpu_affinity_set(dom, v, cpus, n);
    free(cpus);
    return err;
}

/* Create, build, start. first: report to xl create (and wait for its go). */
static int boot(struct monitor *m, bool first, hv_domain_t **out)
{
    const struct xl_config *cfg = m->o->cfg;
    hv_domain_config_t dc = {
        .size = sizeof(dc),
        .name = cfg->name,
        .memory_mb = cfg->memory_mb,
        .maxmem_mb = cfg->maxmem_mb,
        .vcpus = cfg->maxvcpus,
        .vcpus_online = cfg->vcpus,
    };
    hvg_build_options_t bo = {.size = sizeof(bo), .kernel = cfg->kernel, .cmdline = cfg->cmdline};
    hv_domain_t *dom;
    int err;

    if (m->have_uuid)
        memcpy(dc.uuid, m->uuid, 16);
    else if (cfg->has_uuid)
        memcpy(dc.uuid, cfg->uuid, 16);
    if ((err = hv_domain_create(m->hv, &dc, &dom)) < 0)
        return fail(m, first, err, "creating the domain");
    uint32_t domid = hv_domain_id(dom);
    hv_domain_info_t info = {.size = sizeof(info)};
    if (hv_domain_info(dom, &info) == 0) {
        memcpy(m->uuid, info.uuid, 16);
        m->have_uuid = true;
    }
    char what[64];
    snprintf(what, sizeof(what), "domain %u", domid);
    if ((err = hvg_build(dom, &bo)) < 0 || (err = set_affinity(m, dom, dc.vcpus)) < 0 ||
        (m->o->console && (err = hv_domain_console_set_callback(dom, on_console, m)) < 0)) {
        fail(m, first, err, what);
        hv_domain_destroy(dom);
        return XL_FAIL;
    }
    if (m->record && (err = xl_record_write(domid, m->uuid, cfg)) < 0)
        mlog("domain %u: cannot write its record for xl list -l: %s", domid, strerror(-err));
    if (first && m->o->report_fd >= 0) {
        report(m, "domid %u", domid);
        if (m->o->wait_go) {
            char go;
            while (read(m->o->report_fd, &go, 1) < 0 && errno == EINTR)
                ;
        }
    }
    if ((err = hv_domain_start(dom)) < 0) {
        fail(m, first, err, what);
        if (m->record)
            xl_record_remove(domid, m->uuid);
        hv_domain_destroy(dom);
        return XL_FAIL;
    }
    mlog("domain %u '%s' started", domid, cfg->name);
    if (first)
        report(m, "started");
    *out = dom;
    return XL_OK;
}

static void destroy(struct monitor *m, hv_domain_t *dom)
{
    uint32_t domid = hv_domain_id(dom);

    if (m->record)
        xl_record_remove(domid, m->uuid);
    hv_domain_destroy(dom);
    mlog("domain %u destroyed", domid);
}

/* Waits for the exit fd or a signal. Returns how many times the exit fd was
 * signalled since the last call (it is read here: a non-semaphore eventfd
 * sums its writes), or -1 for a signal. domain_exit() signals it exactly
 * once; each remote destroy of an exited domain signals it once more.
 * 0 when timeout_ms (-1: none) passed first. */
static long wait_event(struct monitor *m, hv_domain_t *dom, int timeout_ms)
{
    struct pollfd p[2] = {
        {.fd = hv_domain_exit_fd(dom), .events = POLLIN},
        {.fd = m->sigfd, .events = POLLIN},
    };

    for (;;) {
        int r = poll(p, 2, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue; /* the full timeout again: only signals we block come */
        if (r < 0) {
            mlog("poll: %s", strerror(errno));
            return -1;
        }
        if (r == 0)
            return 0;
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
                mlog("signal %u: destroying the domain", si.ssi_signo);
            return -1;
        }
        if (p[0].revents) {
            uint64_t v;
            if (read(p[0].fd, &v, sizeof(v)) == sizeof(v))
                return v > LONG_MAX ? LONG_MAX : (long)v;
            /* EAGAIN: someone else read it first; poll again. */
        }
    }
}

static const char *reason_name(hv_exit_reason_t r)
{
    switch (r) {
    case HV_EXIT_POWEROFF: return "poweroff";
    case HV_EXIT_REBOOT: return "reboot";
    case HV_EXIT_CRASH: return "crash";
    default: return "destroyed";
    }
}

/* A guest that dies young is restarted after RESTART_DELAY_MS, doubling each time it dies young again; after
 * RESTART_MAX_FAST in a row the monitor gives up, as Xen's xl does (a
 * crash loop would otherwise burn a CPU, and its name, claimed and released
 * a hundred times a second, could hardly be reached by `xl destroy`). */
#define RESTART_YOUNG_NS (10ull * 1000000000ull)
#define RESTART_DELAY_MS 200
#define RESTART_MAX_FAST 5

static int run(struct monitor *m)
{
    const struct xl_config *cfg = m->o->cfg;
    hv_domain_t *dom;
    unsigned fast = 0;

    if (boot(m, true, &dom) != XL_OK)
        return XL_FAIL;
    uint64_t started = xl_now_ns(CLOCK_MONOTONIC);
    for (;;) {
        long events = wait_event(m, dom, -1);
        if (events < 0) {
            destroy(m, dom);
            return XL_OK;
        }
        hv_exit_t ex = {.size = sizeof(ex)};
        if (hv_domain_wait(dom, &ex, 0) < 0)
            continue; /* a spurious wake-up: not exited */
        /* A remote destroy (HV_EXIT_DESTROYED) is never restarted,
         * whatever the on_* settings say. */
        bool destroyed = ex.reason == HV_EXIT_NONE || ex.reason == HV_EXIT_DESTROYED;
        enum xl_action a = XL_ACTION_DESTROY;
        if (destroyed)
            ;
        else if (ex.reason == HV_EXIT_POWEROFF)
            a = cfg->on_poweroff;
        else if (ex.reason == HV_EXIT_REBOOT)
            a = cfg->on_reboot;
        else if (ex.reason == HV_EXIT_CRASH)
            a = cfg->on_crash;
        mlog("domain %u exited: %s (code %u, vector %#x, rip %#llx): %s", hv_domain_id(dom),
             destroyed ? "destroyed" : reason_name(ex.reason), ex.code, ex.vector, (unsigned long long)ex.rip,
             xl_action_name(a));
        if (a == XL_ACTION_PRESERVE) {
            /* Kept, exited, for `xl list` and inspection until a destroy
             * (which signals the exit fd again) or a signal. The exit itself
             * counted once: more means a destroy came already. */
            if (events < 2)
                wait_event(m, dom, -1);
            destroy(m, dom);
            return XL_OK;
        }
        if (a == XL_ACTION_RESTART && events >= 2) {
            mlog("domain %u: destroyed before its restart", hv_domain_id(dom));
            a = XL_ACTION_DESTROY;
        }
        if (a == XL_ACTION_RESTART) {
            uint64_t lived = xl_now_ns(CLOCK_MONOTONIC) - started;
            fast = lived < RESTART_YOUNG_NS ? fast + 1 : 0;
            if (fast > RESTART_MAX_FAST) {
                mlog("domain %u: died within %llu s of its start %u times in a row: not "
                     "restarting it again", hv_domain_id(dom), RESTART_YOUNG_NS / 1000000000ull,
                     fast);
                destroy(m, dom);
                return XL_FAIL;
            }
            if (fast) {
                int ms = RESTART_DELAY_MS << (fast - 1);
                mlog("domain %u lived %llu ms: restarting it in %d ms", hv_domain_id(dom),
                     (unsigned long long)(lived / 1000000u), ms);
                /* Kept, exited, meanwhile: still listed under its name, so
                 * `xl destroy NAME` finds it (and ends the loop). */
                if (wait_event(m, dom, ms) != 0) {
                    destroy(m, dom);
                    return XL_OK;
                }
            }
        }
        destroy(m, dom);
        if (a != XL_ACTION_RESTART)
            return XL_OK;
        if (boot(m, false, &dom) != XL_OK)
            return XL_FAIL;
        started = xl_now_ns(CLOCK_MONOTONIC);
    }
}

int xl_monitor_run(const struct xl_monitor_opts *o)
{
    struct monitor m = {.o = o, .sigfd = -1, .record = !xl_store_none()};
    sigset_t set;

    mlog_off = o->foreground && !xl_verbose;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* Blocked before libhv starts threads, so they all inherit the mask and
     * the signals wait for the signalfd. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    m.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m.sigfd < 0) {
        if (o->report_fd >= 0)
            report(&m, "error signalfd: %s", strerror(errno));
        return xl_fail("signalfd: %s", strerror(errno));
    }

    hv_options_t ho = {.size = sizeof(ho), .log = xl_log_stderr, .log_level = HV_LOG_INFO};
    if (o->foreground && !xl_verbose)
        ho.log = NULL; /* -F: the user's terminal, quiet unless -v */
    else if (o->foreground)
        ho.log_level = xl_verbose > 1 ? HV_LOG_DEBUG : HV_LOG_INFO;
    int err = hv_open(&m.hv, &ho);
    if (err < 0) {
        if (o->report_fd >= 0)
            report(&m, "error cannot open the host: %s", strerror(-err));
        mlog("cannot open the host: %s", strerror(-err));
        if (o->foreground)
            xl_fail("cannot open the host: %s", strerror(-err));
        close(m.sigfd);
        return XL_FAIL;
    }
    int ret = run(&m);
    if (o->report_fd >= 0)
        close(o->report_fd);
    hv_close(m.hv);
    close(m.sigfd);
    return ret;
}
