/* SPDX-License-Identifier: MIT */
/*
 * hvstored: options, start-up (data directory, store, socket), the
 * readiness report, signals and the clean shutdown.
 */
#include "hvstored.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HVSTORED_VERSION
#define HVSTORED_VERSION "unknown"
#endif

#define DEFAULT_RUNDIR "/run/hv"
#define DEFAULT_DATA_DIR "/var/lib/hv/store"
#define SOCKET_NAME "store.sock" /* DESIGN.md section 3: the run directory */
#define STORE_FILE "store.mdb"
#define LOCK_FILE "hvstored.lock"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hvstored [OPTIONS]\n"
            "The libhv store daemon: xenstore's protocol on a unix socket.\n"
            "\n"
            "  --socket PATH          listen on PATH (default $HV_RUNDIR/" SOCKET_NAME
            ", else " DEFAULT_RUNDIR "/" SOCKET_NAME ")\n"
            "  --data-dir DIR         keep the store in DIR/" STORE_FILE " (default $HV_STATEDIR/store,\n"
            "                         else " DEFAULT_DATA_DIR ")\n"
            "  --quota-nodes N        nodes a domain may own\n"
            "  --quota-value-size N   bytes in one value\n"
            "  --quota-watches N      watches a domain may hold\n"
            "  --quota-transactions N transactions a domain may have open\n"
            "  --quota-requests N     requests outstanding on one connection acting for a\n"
            "                         domain (more get EDQUOT)\n"
            "  -f, --foreground       stay in the foreground; print 'hvstored: ready on PATH'\n"
            "                         once listening (without it: daemonise once listening)\n"
            "  -v, --verbose          log debug messages\n"
            "  -h, --help             this help\n"
            "  -V, --version          the version\n"
            "\n"
            "Quotas bind every domain but dom0; 0 or absent means the default.\n"
            "Local clients of the socket are dom0; the socket is made 0600.\n");
}

static int parse_quota(const char *opt, const char *arg, uint32_t *out)
{
    if (xs_parse_u32(arg, out) < 0) {
        fprintf(stderr, "hvstored: --%s '%s': expected a number from 0 to %" PRIu32 "\n", opt, arg,
                UINT32_MAX);
        return -1;
    }
    return 0;
}

enum { OPT_SOCKET = 256, OPT_DATA_DIR, OPT_Q_NODES, OPT_Q_VALUE, OPT_Q_WATCHES, OPT_Q_TX, OPT_Q_REQ };

/* 0 to run, 1 to exit 0 (help, version), -1 to exit 2. */
static int parse_args(int argc, char **argv, struct daemon_opts *o, bool *verbose)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"quota-nodes", required_argument, NULL, OPT_Q_NODES},
        {"quota-value-size", required_argument, NULL, OPT_Q_VALUE},
        {"quota-watches", required_argument, NULL, OPT_Q_WATCHES},
        {"quota-transactions", required_argument, NULL, OPT_Q_TX},
        {"quota-requests", required_argument, NULL, OPT_Q_REQ},
        {"foreground", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt, idx;

    while ((opt = getopt_long(argc, argv, "fvhV", longopts, &idx)) != -1) {
        const char *name = opt >= OPT_SOCKET ? longopts[idx].name : "";
        int rc = 0;
        switch (opt) {
        case OPT_SOCKET: o->socket_path = optarg; break;
        case OPT_DATA_DIR: o->data_dir = optarg; break;
        case OPT_Q_NODES: rc = parse_quota(name, optarg, &o->quota.nodes); break;
        case OPT_Q_VALUE: rc = parse_quota(name, optarg, &o->quota.value_size); break;
        case OPT_Q_WATCHES: rc = parse_quota(name, optarg, &o->quota.watches); break;
        case OPT_Q_TX: rc = parse_quota(name, optarg, &o->quota.transactions); break;
        case OPT_Q_REQ: rc = parse_quota(name, optarg, &o->quota.requests); break;
        case 'f': o->foreground = true; break;
        case 'v': *verbose = true; break;
        case 'h': usage(stdout); return 1;
        case 'V': printf("hvstored %s\n", HVSTORED_VERSION); return 1;
        default: usage(stderr); return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "hvstored: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* mkdir -p, the last component with `mode`. */
static int make_dirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        log_err("path too long: %s", path);
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
            log_err("mkdir %s: %s", buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST) {
        log_err("mkdir %s: %s", buf, strerror(errno));
        return -1;
    }
    return 0;
}

/* The engine keeps the tree in memory: two daemons on one file would each
 * overwrite the other's changes. The lock dies with the process. */
static int lock_data_dir(const char *dir)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_err("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            log_err("another hvstored uses the data directory %s: not starting", dir);
        else
            log_err("flock %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Without --foreground the parent returns once the child listens, so that
 * "hvstored && xenstore-read ..." works. The child opens the store itself:
 * an LMDB environment must not cross a fork. Returns the fd on which the
 * child reports readiness (-1 in the foreground); the parent never returns.
 */
static int daemonise_begin(void)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0) {
        log_err("pipe: %s", strerror(errno));
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_err("fork: %s", strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        char c;
        close(p[1]);
        ssize_t n;
        while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR) {
        }
        /* Nothing read: the child failed and said why on stderr. */
        _exit(n == 1 ? 0 : 1);
    }
    close(p[0]);
    if (setsid() < 0)
        log_warn("setsid: %s", strerror(errno));
    return p[1];
}

static void daemonise_done(int fd, const char *socket_path)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    /* Not holding the start directory busy, unless the socket path is
     * relative to it: the shutdown removes the socket by that path. */
    if (socket_path[0] == '/' && chdir("/") < 0)
        log_warn("chdir /: %s", strerror(errno));
    log_to_syslog();
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    if (write(fd, "R", 1) != 1) {
        /* The parent is gone: nobody to tell. */
    }
    close(fd);
}

static int setup_loop(struct daemon *d)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (d->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        log_err("signalfd: %s", strerror(errno));
        return -1;
    }
    /* A client that goes away mid-reply must not kill us (we also send
     * with MSG_NOSIGNAL; this covers every other write). */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    /* A store file at its size limit is a failed sync (EIO replies, a
     * logged error), not a dead daemon. */
    signal(SIGXFSZ, SIG_IGN);
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0) {
        log_err("epoll_create1: %s", strerror(errno));
        return -1;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = TAG_LISTEN};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = TAG_SIGNAL};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->listen_fd, &lev) < 0 ||
        epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->signal_fd, &sev) < 0) {
        log_err("epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct daemon_opts o = {.quota = {.size = sizeof(hvs_quota_t)}};
    struct daemon d = {.epfd = -1, .listen_fd = -1, .signal_fd = -1};
    char sock_buf[PATH_MAX], store_path[PATH_MAX];
    bool verbose = false;
    int ready_fd = -1, rc = 1;

    int prc = parse_args(argc, argv, &o, &verbose);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    log_init(verbose ? HVS_LOG_DEBUG : HVS_LOG_INFO);

    if (!o.socket_path) {
        const char *rundir = getenv("HV_RUNDIR");
        snprintf(sock_buf, sizeof(sock_buf), "%s/%s", rundir && *rundir ? rundir : DEFAULT_RUNDIR,
                 SOCKET_NAME);
        o.socket_path = sock_buf;
        /* The default directory may not exist yet outside systemd. */
        if (make_dirs(rundir && *rundir ? rundir : DEFAULT_RUNDIR, 0755) < 0)
            return 1;
    }
    char data_buf[PATH_MAX];
    if (!o.data_dir) {
        const char *statedir = getenv("HV_STATEDIR");
        if (statedir && *statedir) {
            snprintf(data_buf, sizeof(data_buf), "%s/store", statedir);
            o.data_dir = data_buf;
        } else {
            o.data_dir = DEFAULT_DATA_DIR;
        }
    }
    if (snprintf(store_path, sizeof(store_path), "%s/%s", o.data_dir, STORE_FILE) >=
        (int)sizeof(store_path)) {
        log_err("data directory path too long: %s", o.data_dir);
        return 1;
    }
    if (!o.foreground)
        ready_fd = daemonise_begin();

    if (make_dirs(o.data_dir, 0700) < 0)
        return 1;
    int lock_fd = lock_data_dir(o.data_dir);
    if (lock_fd < 0)
        return 1;

    char err[512] = "";
    struct store_opts so = {
        .path = store_path,
        .autosync = false, /* we sync once per batch: group commit */
        .quota = o.quota,
        .log = log_engine,
        .log_level = verbose ? HVS_LOG_DEBUG : HVS_LOG_INFO,
    };
    int orc = store_open(&d.st, &so, err, sizeof(err));
    if (orc < 0) {
        log_err("cannot open the store %s: %s", store_path, err[0] ? err : strerror(-orc));
        return 1;
    }
    d.quota = store_quota(d.st);

    d.listen_fd = sock_listen(o.socket_path);
    if (d.listen_fd < 0)
        goto out_store;
    /* Absolute: the daemon leaves its working directory once daemonised. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", o.socket_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    d.run_dir = realpath(slash ? (dir[0] ? dir : "/") : ".", NULL);
    if (setup_loop(&d) < 0)
        goto out_sock;

    log_info("listening on %s, store %s (quotas: nodes %" PRIu32 ", value size %" PRIu32
             ", watches %" PRIu32 ", transactions %" PRIu32 ", requests %" PRIu32 ")",
             o.socket_path, store_path, d.quota.nodes, d.quota.value_size, d.quota.watches,
             d.quota.transactions, d.quota.requests);
    if (o.foreground) {
        printf("hvstored: ready on %s\n", o.socket_path);
        fflush(stdout);
    } else {
        daemonise_done(ready_fd, o.socket_path);
    }

    rc = daemon_run(&d) < 0 ? 1 : 0;

out_sock:
    unlink(o.socket_path);
    close(d.listen_fd);
out_store:
    if (store_dirty(d.st) && store_sync(d.st, err, sizeof(err)) < 0) {
        log_err("final store_sync failed: %s", err);
        rc = 1;
    }
    store_close(d.st);
    if (d.epfd >= 0)
        close(d.epfd);
    if (d.signal_fd >= 0)
        close(d.signal_fd);
    close(lock_fd);
    free(d.run_dir);
    if (rc == 0)
        log_info("stopped");
    return rc;
}
