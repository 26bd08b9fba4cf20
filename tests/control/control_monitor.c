/* SPDX-License-Identifier: MIT */
/*
 * A monitor for the control tests: creates a domain in the host registry
 * (HV_STORE, HV_RUNDIR from the environment), runs guest argv[1] with
 * cmdline argv[2], prints "domid N", then waits. When the domain ends it
 * prints "exit reason=R code=C vcpu=V", destroys it and prints "destroyed".
 * EOF on stdin (the test ended or died) destroys it too; an "s" on stdin asks
 * the guest to power off through the local handle (no control socket).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/abi.h"
#include "hv/hv.h"
#include "hv/hvguest.h"

static void log_stderr(void *opaque, hv_log_level_t level, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "[monitor %d, level %d] %s\n", (int)getpid(), (int)level, msg);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: control_monitor GUEST CMDLINE\n");
        return 2;
    }
    hv_options_t o = {.size = sizeof(o), .log = log_stderr, .log_level = HV_LOG_WARN};
    hv_t *hv;
    int rc = hv_open(&hv, &o);
    if (rc < 0) {
        fprintf(stderr, "hv_open: %s\n", strerror(-rc));
        return 1;
    }
    char name[64];
    snprintf(name, sizeof(name), "ctl-%d", (int)getpid());
    hv_domain_config_t cfg = {.size = sizeof(cfg), .name = name, .memory_mb = 16, .vcpus = 1};
    hv_domain_t *dom;
    hvg_build_options_t b = {.size = sizeof(b), .kernel = argv[1], .cmdline = argv[2]};
    if ((rc = hv_domain_create(hv, &cfg, &dom)) < 0 || (rc = hvg_build(dom, &b)) < 0 ||
        (rc = hv_domain_start(dom)) < 0) {
        fprintf(stderr, "monitor: %s\n", hv_last_error(hv));
        hv_close(hv);
        return 1;
    }
    printf("domid %u\n", hv_domain_id(dom));
    fflush(stdout);

    struct pollfd p[2] = {{.fd = hv_domain_exit_fd(dom), .events = POLLIN},
                          {.fd = 0, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            hv_exit_t e = {.size = sizeof(e)};
            hv_domain_wait(dom, &e, -1);
            printf("exit reason=%u code=%u vcpu=%u\n", (unsigned)e.reason, e.code, e.vcpu);
            fflush(stdout);
            break;
        }
        if (p[1].revents) {
            char c;
            if (read(0, &c, 1) <= 0)
                break;
            if (c == 's' && hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF) < 0)
                fprintf(stderr, "monitor: shutdown: %s\n", hv_last_error(hv));
        }
    }
    rc = hv_domain_destroy(dom);
    printf("destroyed %d\n", rc);
    fflush(stdout);
    hv_close(hv);
    return 0;
}
