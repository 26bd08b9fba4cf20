/* SPDX-License-Identifier: MIT */
/* destroy, shutdown [-w], reboot, pause, unpause: one call on a handle. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hv/abi.h"
#include "xl.h"

enum op { OP_DESTROY, OP_SHUTDOWN, OP_REBOOT, OP_PAUSE, OP_UNPAUSE };

static const char *const op_names[] = {"destroy", "shutdown", "reboot", "pause", "unpause"};

/* Errors of a handle whose domain went away while we waited on it. */
static bool gone(int err)
{
    return err == -ECONNRESET || err == -ENOTCONN || err == -EPIPE || err == -ESRCH ||
           err == -ENOENT || err == -ECONNREFUSED || err == -ESHUTDOWN;
}

/* The on_poweroff/on_reboot/on_crash actions of a domain, read before it
 * exits (its monitor removes the record as it destroys the domain). */
struct actions {
    bool known;
    char on[3][32];
};

static const char *const action_keys[] = {"on_poweroff", "on_reboot", "on_crash"};

static void read_actions(uint32_t domid, const uint8_t uuid[16], struct actions *a)
{
    a->known = true;
    for (int i = 0; i < 3; i++)
        if (xl_record_get(domid, uuid, action_keys[i], a->on[i], sizeof(a->on[i])) < 0)
            a->known = false;
}

/* Whether the domain stays after exit ex (preserved): then its exit is the
 * end of the wait. Whatever ended it counts, not only the poweroff asked
 * for. Without a record, nobody knows: waiting for it to go could be
 * forever, so it is taken as kept. */
static bool kept(const struct actions *a, const hv_exit_t *ex)
{
    int i;

    switch (ex->reason) {
    case HV_EXIT_POWEROFF: i = 0; break;
    case HV_EXIT_REBOOT: i = 1; break;
    case HV_EXIT_CRASH: i = 2; break;
    default: return false; /* destroyed, or gone before its exit was seen */
    }
    return !a->known || strcmp(a->on[i], "preserve") == 0;
}

static int lifecycle(int argc, char **argv, enum op op)
{
    const char *name = op_names[op];
    bool wait = false;
    int opt;

    opterr = 0;
    while ((opt = getopt(argc, argv, op == OP_SHUTDOWN ? "+wh" : "+h")) != -1) {
        switch (opt) {
        case 'w': wait = true; break;
        case 'h':
            printf("usage: xl %s %sDOMAIN\n", name, op == OP_SHUTDOWN ? "[-w] " : "");
            return XL_OK;
        default: return xl_usage(name, "unknown option '-%c'", optopt);
        }
    }
    if (argc - optind != 1)
        return xl_usage(name, argc - optind ? "one DOMAIN only" : "no DOMAIN");
    hv_t *hv;
    hv_domain_t *dom;
    if (xl_host_open(&hv) != XL_OK)
        return XL_FAIL;
    if (xl_domain_get(hv, argv[optind], &dom) != XL_OK) {
        hv_close(hv);
        return XL_FAIL;
    }
    uint32_t domid = hv_domain_id(dom);
    hv_domain_info_t info = {.size = sizeof(info)};
    int err = 0;
    if (op == OP_DESTROY || wait)
        err = hv_domain_info(dom, &info);
    switch (err < 0 ? -1 : (int)op) {
    case OP_DESTROY:
        err = hv_domain_destroy(dom); /* frees the handle */
        dom = NULL;
        /* Returns once the monitor let go of it, as Xen's does. */
        if (!err)
            err = xl_domain_wait_gone(domid, info.uuid);
        break;
    case OP_SHUTDOWN: {
        struct actions act;
        if (wait)
            read_actions(domid, info.uuid, &act);
        err = hv_domain_shutdown(dom, HV_SHUTDOWN_POWEROFF);
        if (!err && wait) {
            hv_exit_t ex = {.size = sizeof(ex)};
            err = hv_domain_wait(dom, &ex, -1);
            if (gone(err))
                err = 0;
            if (!err && !kept(&act, &ex))
                err = xl_domain_wait_gone(domid, info.uuid);
        }
        break;
    }
    case OP_REBOOT: err = hv_domain_shutdown(dom, HV_SHUTDOWN_REBOOT); break;
    case OP_PAUSE: err = hv_domain_pause(dom); break;
    case OP_UNPAUSE: err = hv_domain_unpause(dom); break;
    default: break;
    }
    int ret = XL_OK;
    if (err < 0)
        ret = xl_fail_hv(hv, err, "%s domain %u", name, domid);
    hv_domain_close(dom);
    hv_close(hv);
    return ret;
}

int cmd_destroy(int argc, char **argv) { return lifecycle(argc, argv, OP_DESTROY); }
int cmd_shutdown(int argc, char **argv) { return lifecycle(argc, argv, OP_SHUTDOWN); }
int cmd_reboot(int argc, char **argv) { return lifecycle(argc, argv, OP_REBOOT); }
int cmd_pause(int argc, char **argv) { return lifecycle(argc, argv, OP_PAUSE); }
int cmd_unpause(int argc, char **argv) { return lifecycle(argc, argv, OP_UNPAUSE); }
