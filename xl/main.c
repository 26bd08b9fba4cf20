/* SPDX-License-Identifier: MIT */
/* xl: global options, dispatch, usage and the error conventions. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl.h"

int xl_verbose;

static const struct xl_command commands[] = {
    {"create", cmd_create, "[-c] [-F] [-q] CONFIG [KEY=VALUE...]",
     "create a domain from an xl.cfg file"},
    {"list", cmd_list, "[-l] [DOMAIN...]", "list domains (-l: as JSON)"},
    {"destroy", cmd_destroy, "DOMAIN", "terminate a domain at once"},
    {"shutdown", cmd_shutdown, "[-w] DOMAIN", "ask a domain to power off (-w: wait)"},
    {"reboot", cmd_reboot, "DOMAIN", "ask a domain to reboot"},
    {"pause", cmd_pause, "DOMAIN", "pause a domain's vCPUs"},
    {"unpause", cmd_unpause, "DOMAIN", "resume a paused domain"},
    {"console", cmd_console, "DOMAIN", "attach to a domain's console (Ctrl-] detaches)"},
    {"info", cmd_info, "", "information about the host"},
    {"uptime", cmd_uptime, "[DOMAIN...]", "how long domains have run"},
    {"vcpu-list", cmd_vcpu_list, "[DOMAIN...]", "list vCPUs"},
    {"vcpu-pin", cmd_vcpu_pin, "DOMAIN VCPU|all CPUS|all",
     "set the host CPUs a vCPU's thread may run on"},
    {"vcpu-set", cmd_vcpu_set, "DOMAIN N", "ask the guest to keep N vCPUs online"},
    {"mem-set", cmd_mem_set, "DOMAIN SIZE", "set a domain's memory target"},
    {"mem-max", cmd_mem_max, "DOMAIN SIZE", "set the ceiling of a domain's memory target"},
    {"top", cmd_top, "[-b] [-d SECONDS] [-i N]", "monitor domains (like xentop)"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct xl_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_help(FILE *f)
{
    fprintf(f, "usage: xl [-v] [-h] COMMAND [ARGS...]\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`xl help COMMAND` shows a command's usage. Exit status: 0 done, "
               "1 failed, 2 usage error.\n");
}

int xl_fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout); /* keep stdout before the message when both are a terminal */
    fputs("xl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return XL_FAIL;
}

int xl_fail_hv(hv_t *hv, int err, const char *fmt, ...)
{
    const char *msg = hv ? hv_last_error(hv) : "";
    va_list ap;

    fflush(stdout);
    fputs("xl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", msg && *msg ? msg : strerror(-err));
    return XL_FAIL;
}

int xl_usage(const char *name, const char *fmt, ...)
{
    const struct xl_command *c = find_command(name);
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "xl %s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: xl %s %s\n", name, c ? c->usage : "");
    return XL_USAGE;
}

void xl_log_stderr(void *opaque, hv_log_level_t level, const char *msg)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};

    (void)opaque;
    fprintf(stderr, "libhv: %s: %s\n", names[level <= HV_LOG_DEBUG ? level : HV_LOG_DEBUG],
            msg);
}

int xl_host_open(hv_t **hv)
{
    hv_options_t o = {.size = sizeof(o)};

    if (xl_verbose) {
        o.log = xl_log_stderr;
        o.log_level = xl_verbose > 1 ? HV_LOG_DEBUG : HV_LOG_INFO;
    }
    int err = hv_open(hv, &o);
    if (err < 0)
        return xl_fail("cannot open the host: %s", strerror(-err));
    return XL_OK;
}

static int help(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stdout);
        return XL_OK;
    }
    const struct xl_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "xl: unknown command '%s' (see `xl help`)\n", argv[1]);
        return XL_USAGE;
    }
    printf("usage: xl %s %s\n  %s\n", c->name, c->usage, c->summary);
    return XL_OK;
}

/* A closed stdin/stdout/stderr would be reused by the next open or
 * socketpair, which then gets stdio's writes (and xl create's monitor
 * overwrites its report socket with /dev/null). */
static void open_stdio(void)
{
    int fd;

    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= STDERR_FILENO)
        ;
    if (fd > STDERR_FILENO)
        close(fd);
}

int main(int argc, char **argv)
{
    int opt;

    open_stdio();
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+hv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            print_help(stdout);
            return XL_OK;
        case 'v':
            xl_verbose++;
            break;
        default:
            fprintf(stderr, "xl: unknown option '%s'\n", argv[optind - 1]);
            print_help(stderr);
            return XL_USAGE;
        }
    }
    if (optind >= argc) {
        print_help(stderr);
        return XL_USAGE;
    }
    argc -= optind;
    argv += optind;
    optind = 0; /* each command parses its own options from a fresh start */
    if (strcmp(argv[0], "help") == 0)
        return help(argc, argv);
    const struct xl_command *c = find_command(argv[0]);
    if (!c) {
        fprintf(stderr, "xl: unknown command '%s'\n", argv[0]);
        print_help(stderr);
        return XL_USAGE;
    }
    /* Each command's getopt: '+' stops at the first operand, so that KEY=VALUE
     * and negative-looking operands reach the command; opterr off, the
     * command reports through xl_usage. */
    return c->fn(argc, argv);
}
