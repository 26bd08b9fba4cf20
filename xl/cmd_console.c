/* SPDX-License-Identifier: MIT */
/*
 * xl console: the domain's console stream to stdout until the domain goes
 * (EOF) or the user types Ctrl-] on a terminal. The console carries output
 * only, so stdin is read just for the escape.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include "xl.h"

#define ESCAPE 0x1d /* Ctrl-] */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct exit_watch {
    hv_domain_t *dom;
    uint32_t domid;
    int fd;           /* write end: one byte when the domain exited */
    bool preserved;   /* exited and kept: no EOF will come */
};

static void *watch_exit(void *arg)
{
    struct exit_watch *w = arg;
    hv_exit_t ex = {.size = sizeof(ex)};
    hv_domain_info_t info = {.size = sizeof(info)};

    if (hv_domain_info(w->dom, &info) < 0)
        return NULL;
    if (hv_domain_wait(w->dom, &ex, -1) < 0)
        return NULL; /* the monitor went: the console's EOF says so too */
    const char *key = ex.reason == HV_EXIT_CRASH    ? "on_crash"
                      : ex.reason == HV_EXIT_REBOOT ? "on_reboot"
                                                    : "on_poweroff";
    w->preserved = xl_record_says(w->domid, info.uuid, key, "preserve");
    if (write(w->fd, "x", 1) < 0)
        return NULL;
    return NULL;
}

static void make_raw(struct termios *t)
{
    cfmakeraw(t);
    t->c_oflag |= OPOST | ONLCR; /* the guest writes "\n" line ends */
}

int xl_console_loop(int fd, hv_domain_t *dom)
{
    struct exit_watch w = {.dom = dom, .domid = dom ? hv_domain_id(dom) : 0};
    int pfd[2] = {-1, -1};
    pthread_t thread;
    bool watching = false;
    char buf[4096];

    fflush(stdout);
    /* Only on our own terminal, in the foreground: a background job
     * (`xl console d > file &`) neither changes its modes nor reads it. */
    bool tty = xl_term_set(STDIN_FILENO, make_raw) == 0;
    /* A domain kept after its exit (preserve) never closes the console:
     * its exit, seen on the handle, ends the attachment then. */
    if (dom && pipe2(pfd, O_CLOEXEC) == 0) {
        w.fd = pfd[1];
        watching = pthread_create(&thread, NULL, watch_exit, &w) == 0;
    }
    struct pollfd p[3] = {
        {.fd = fd, .events = POLLIN},
        {.fd = tty ? STDIN_FILENO : -1, .events = POLLIN},
        {.fd = watching ? pfd[0] : -1, .events = POLLIN},
    };
    for (;;) {
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents) {
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            if (r <= 0)
                p[1].fd = -1;
            else if (memchr(buf, ESCAPE, (size_t)r))
                break;
        }
        if (p[0].revents) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break; /* the domain is gone */
            if (write_all(STDOUT_FILENO, buf, (size_t)r) < 0)
                break; /* nobody reads our output any more */
            continue; /* output first: the exit below drains what is left */
        }
        if (p[2].revents) {
            p[2].fd = -1;
            if (w.preserved) {
                /* What the guest wrote before it stopped is already queued. */
                ssize_t r;
                while (poll(p, 1, 0) > 0 && (r = read(fd, buf, sizeof(buf))) > 0 &&
                       write_all(STDOUT_FILENO, buf, (size_t)r) == 0)
                    ;
                break;
            }
        }
    }
    xl_term_restore();
    if (watching) {
        /* The thread may still block in hv_domain_wait: not joined; the
         * process is about to end and the handle's socket with it. */
        pthread_detach(thread);
    } else if (pfd[0] >= 0) {
        close(pfd[0]);
        close(pfd[1]);
    }
    return XL_OK;
}

int cmd_console(int argc, char **argv)
{
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, "+h")) != -1) {
        if (opt == 'h') {
            printf("usage: xl console DOMAIN\n");
            return XL_OK;
        }
        return xl_usage("console", "unknown option '-%c'", optopt);
    }
    if (argc - optind != 1)
        return xl_usage("console", argc - optind ? "one DOMAIN only" : "no DOMAIN");
    hv_t *hv;
    hv_domain_t *dom;
    int fd, err, ret;
    if (xl_host_open(&hv) != XL_OK)
        return XL_FAIL;
    if (xl_domain_get(hv, argv[optind], &dom) != XL_OK) {
        hv_close(hv);
        return XL_FAIL;
    }
    if ((err = hv_domain_console_open(dom, &fd)) < 0) {
        ret = xl_fail_hv(hv, err, "domain %u: console", hv_domain_id(dom));
    } else {
        ret = xl_console_loop(fd, dom);
        close(fd);
        dom = NULL; /* still used by the exit watch, until exit */
    }
    hv_domain_close(dom);
    if (!dom)
        exit(ret); /* skips hv_close under the exit watch's feet */
    hv_close(hv);
    return ret;
}
