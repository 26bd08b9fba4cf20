/* SPDX-License-Identifier: MIT */
/*
 * xl create: parse the config, then hand the domain to a detached monitor
 * process (monitor.c) and report what it says: the domid once the domain is
 * built, then whether it started. With -c the monitor waits for the console
 * to be attached before it starts the guest, so no output is missed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "xl.h"

/* One line from the monitor ("domid N", "started", "error MSG"); 0 at EOF. */
static int read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;

    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return (int)n;
}

static int monitor_said(const char *line, const struct xl_config *cfg)
{
    if (strncmp(line, "error ", 6) == 0)
        return xl_fail("%s", line + 6);
    return xl_fail("the monitor of '%s' exited without a word (see %s/logs/%s.log)",
                   cfg->name, xl_run_dir(), cfg->name);
}

/* The detached side: a new session, no controlling terminal, stdio to the log. */
static void detach_stdio(const char *name)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int log = -1;

    int in = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (snprintf(dir, sizeof(dir), "%s/logs", xl_run_dir()) < (int)sizeof(dir) &&
        xl_mkdir_p(dir, 0700) == 0 &&
        snprintf(path, sizeof(path), "%s/%s.log", dir, name) < (int)sizeof(path))
        log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0)
        log = in;
    if (in >= 0) {
        dup2(in, STDIN_FILENO);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
    }
    if (log >= 0 && log != in)
        close(log);
    if (in > STDERR_FILENO)
        close(in);
    setvbuf(stderr, NULL, _IOLBF, 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* The monitor's end of the report socket: the first fd after stdio (main
 * made sure 0-2 are open, so socketpair never returns them). */
#define REPORT_FD 3

static int spawn_monitor(struct xl_config *cfg, bool console)
{
    int sp[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return xl_fail("socketpair: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(sp[0]);
        close(sp[1]);
        return xl_fail("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* Double fork: the monitor is nobody's child but init's, and never
         * a session leader that could get a controlling terminal again. */
        close(sp[0]);
        if (setsid() < 0)
            _exit(1);
        pid_t m = fork();
        if (m != 0)
            _exit(m < 0 ? 1 : 0);
        /* Nothing of the caller's but the report socket: an inherited pipe
         * end (`xl create 3>&1 | cat`) would keep its reader waiting for
         * as long as the domain lives. */
        int report = sp[1];
        if (report != REPORT_FD && (report = dup3(sp[1], REPORT_FD, O_CLOEXEC)) < 0)
            _exit(1);
        close_range(REPORT_FD + 1, ~0U, 0);
        detach_stdio(cfg->name);
        if (chdir("/") < 0)
            _exit(1);
        struct xl_monitor_opts o = {.cfg = cfg, .report_fd = report, .wait_go = console};
        _exit(xl_monitor_run(&o));
    }
    close(sp[1]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;

    char line[1024];
    uint32_t domid;
    int ret = XL_OK;
    read_line(sp[0], line, sizeof(line));
    if (sscanf(line, "domid %u", &domid) != 1) {
        ret = monitor_said(line, cfg);
        goto out;
    }
    hv_t *hv = NULL;
    hv_domain_t *dom = NULL;
    int cfd = -1;
    if (console) {
        int err;
        if (xl_host_open(&hv) != XL_OK)
            ret = XL_FAIL;
        else if ((err = hv_domain_open(hv, domid, &dom)) < 0)
            ret = xl_fail_hv(hv, err, "domain %u: attaching the console", domid);
        else if ((err = hv_domain_console_open(dom, &cfd)) < 0)
            ret = xl_fail_hv(hv, err, "domain %u: attaching the console", domid);
        /* Started either way: a console that cannot attach is no reason to
         * leave the domain built but never run. */
        if (write(sp[0], "g", 1) < 0)
            ret = xl_fail("domain %u: the monitor is gone", domid);
    }
    read_line(sp[0], line, sizeof(line));
    if (strcmp(line, "started") != 0) {
        ret = monitor_said(line, cfg);
    } else if (cfd >= 0) {
        close(sp[0]);
        sp[0] = -1;
        ret = xl_console_loop(cfd, dom);
        exit(ret); /* the exit watch still holds the handle: no hv_close */
    }
    if (cfd >= 0)
        close(cfd);
    hv_domain_close(dom);
    hv_close(hv);
out:
    if (sp[0] >= 0)
        close(sp[0]);
    return ret;
}

/* Checks what the parser cannot: paths and CPU lists, before any fork. */
static int check_config(struct xl_config *cfg, const char *file)
{
    if (cfg->on_poweroff == XL_ACTION_RENAME_RESTART ||
        cfg->on_reboot == XL_ACTION_RENAME_RESTART ||
        cfg->on_crash == XL_ACTION_RENAME_RESTART)
        return xl_fail("%s: rename-restart is not supported (use restart or preserve)", file);
    char *abs = realpath(cfg->kernel, NULL);
    if (!abs)
        return xl_fail("%s: kernel: %s: %s", file, cfg->kernel, strerror(errno));
    free(cfg->kernel);
    cfg->kernel = abs;
    if (cfg->cpus) {
        uint32_t cpus[HV_MAX_HOST_CPUS];
        size_t n;
        if (xl_cpulist_parse(cfg->cpus, cpus, HV_MAX_HOST_CPUS, &n) < 0)
            return xl_fail("%s: cpus: \"%s\" is not a CPU list", file, cfg->cpus);
    }
    return XL_OK;
}

int cmd_create(int argc, char **argv)
{
    bool console = false, foreground = false, quiet = false;
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+cFqh")) != -1) {
        switch (opt) {
        case 'c': console = true; break;
        case 'F': foreground = true; break;
        case 'q': quiet = true; break;
        case 'h': printf("usage: xl create [-c] [-F] [-q] CONFIG [KEY=VALUE...]\n"); return 0;
        default: return xl_usage("create", "unknown option '-%c'", optopt);
        }
    }
    if (optind >= argc)
        return xl_usage("create", "no config file");
    const char *file = argv[optind];
    for (int i = optind + 1; i < argc; i++)
        if (!strchr(argv[i], '='))
            return xl_usage("create", "'%s' is not KEY=VALUE", argv[i]);

    if (!quiet)
        fprintf(stderr, "Parsing config from %s\n", file);
    struct xl_config cfg;
    char err[1024];
    int ret = XL_FAIL;
    if (xl_config_load(&cfg, file, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        xl_config_free(&cfg);
        return XL_FAIL;
    }
    for (int i = optind + 1; i < argc; i++)
        if (xl_config_override(&cfg, argv[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
    if (xl_config_finish(&cfg, file, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (check_config(&cfg, file) != XL_OK)
        goto out;
    if (!foreground && xl_store_none()) {
        /* A detached domain nobody could reach: no registry to find it by. */
        xl_fail("HV_STORE=none: only `xl create -F` makes sense");
        goto out;
    }
    if (foreground) {
        struct xl_monitor_opts o = {.cfg = &cfg, .report_fd = -1, .foreground = true,
                                    .console = console};
        ret = xl_monitor_run(&o);
    } else {
        ret = spawn_monitor(&cfg, console);
    }
out:
    xl_config_free(&cfg);
    return ret;
}
