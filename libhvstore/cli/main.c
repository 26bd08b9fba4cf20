/* SPDX-License-Identifier: MIT */
/* hvstore: the store from the shell. Global options, the store URI, dispatch. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hvstore [-s URI | -f FILE] [-D DOMID] [-v] COMMAND [ARGS...]\n"
    "\n"
    "Store (default: $HVSTORE_URI, else unix:$HV_RUNDIR/store.sock,\n"
    "HV_RUNDIR defaulting to /run/hv):\n"
    "  -s URI     unix:SOCKET (the daemon), file:PATH (embedded, durable), mem:\n"
    "  -f FILE    same as -s file:FILE\n"
    "  -D DOMID   act for domain DOMID (permissions, quotas, relative paths)\n"
    "  -v         log the library's messages to stderr (-vv: debug)\n"
    "\n"
    "Commands (options come before the operands):\n"
    "  read PATH...                  print each value (raw bytes, newline after)\n"
    "  write PATH VALUE [PATH VALUE...]\n"
    "  ls [-R] [-p] [PATH]           children with their values (-R: the whole\n"
    "                                subtree, indented; -p: with permissions)\n"
    "  rm PATH...                    remove nodes and everything below them\n"
    "  mkdir PATH...\n"
    "  watch [-n COUNT] [-d DEPTH] PATH...\n"
    "                                print \"PATH TOKEN\" per event (the token is the\n"
    "                                watched path); -n: exit after COUNT events,\n"
    "                                the initial firing included\n"
    "  chmod [-r] PATH PERM...       PERM: n|r|w|b followed by a domid; the first\n"
    "                                names the owner and everybody's default\n"
    "  perms PATH                    print the permissions, as chmod takes them\n"
    "  dump [PATH]                   the subtree as JSON (docs/store.md)\n"
    "  load [-p PATH] [FILE|-]       write a dump back (at PATH instead of the\n"
    "                                dumped path with -p), in one transaction\n"
    "  help\n"
    "\n"
    "Exit status: 0 done, 1 the operation failed, 2 usage error.\n";

struct command {
    const char *name;
    cli_cmd_fn fn;
};

static const struct command commands[] = {
    {"read", cmd_read},   {"write", cmd_write}, {"ls", cmd_ls},       {"rm", cmd_rm},
    {"mkdir", cmd_mkdir}, {"watch", cmd_watch}, {"chmod", cmd_chmod}, {"perms", cmd_perms},
    {"dump", cmd_dump},   {"load", cmd_load},
};

int cli_error(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout); /* keep the order of stdout and stderr when both are a tty */
    fputs("hvstore: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAILED;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("hvstore: ", stderr);
    if (cmd)
        fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(hvstore help: usage)\n", stderr);
    return CLI_USAGE;
}

static bool restates(const char *detail, const char *why, int err, const char *path)
{
    static const char missing[] = " does not exist";
    size_t plen = path ? strlen(path) : 0;

    if (!strcasecmp(detail, why) || strstr(detail, why))
        return true;
    return err == -ENOENT && path && !strncmp(detail, path, plen) &&
           !strcmp(detail + plen, missing);
}

int cli_fail(struct cli *cli, int err, const char *op, const char *path)
{
    const char *why = strerror(-err);
    const char *detail = cli->h ? hvs_last_error(cli->h) : "";

    fflush(stdout);
    fprintf(stderr, "hvstore: %s%s%s: %s", op, path ? " " : "", path ? path : "", why);
    /* The library's message often just restates errno; print it only when
     * it carries something more (a quota name, who was refused, the
     * resolved form of a relative path). */
    if (detail && *detail && !restates(detail, why, err, path))
        fprintf(stderr, " (%s)", detail);
    fputc('\n', stderr);
    return CLI_FAILED;
}

void cli_getopt_reset(void)
{
    /* glibc: 0 also forgets the scanning state of the previous parse. */
    optind = 0;
    opterr = 0;
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (!*s)
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

void cli_print_escaped(FILE *f, const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];

        switch (c) {
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\\': fputs("\\\\", f); break;
        case '"': fputs("\\\"", f); break;
        default:
            if (c < 0x20 || c >= 0x7f)
                fprintf(f, "\\x%02x", c);
            else
                fputc(c, f);
        }
    }
}

int cli_finish_output(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int err = errno;

        fprintf(stderr, "hvstore: writing the output: %s\n", strerror(err ? err : EIO));
        return rc == CLI_USAGE ? rc : CLI_FAILED;
    }
    return rc;
}

static void log_stderr(void *opaque, hvs_log_level_t level, const char *msg)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};

    (void)opaque;
    fprintf(stderr, "hvstore: libhvstore %s: %s\n",
            (unsigned)level < 4 ? names[level] : "log", msg);
}

/* $HVSTORE_URI, else the daemon's socket in the run directory. */
static char *default_uri(void)
{
    const char *env = getenv("HVSTORE_URI");
    const char *rundir = getenv("HV_RUNDIR");
    char *uri;

    if (env && *env)
        return strdup(env);
    if (!rundir || !*rundir)
        rundir = "/run/hv";
    if (asprintf(&uri, "unix:%s/store.sock", rundir) < 0)
        return NULL;
    return uri;
}

int cli_open(struct cli *cli)
{
    int err = hvs_open(&cli->h, cli->uri, &cli->opts);

    if (err < 0) {
        const char *msg = hvs_open_error();
        bool more = msg && *msg && !strstr(msg, strerror(-err));

        cli->h = NULL;
        return cli_error("open %s: %s%s%s%s", cli->uri, strerror(-err), more ? " (" : "",
                         more ? msg : "", more ? ")" : "");
    }
    if (cli->domid >= 0 && (err = hvs_act_as(cli->h, (uint32_t)cli->domid)) < 0) {
        char what[32];

        snprintf(what, sizeof(what), "domain %ld", cli->domid);
        return cli_fail(cli, err, "act as", what);
    }
    return CLI_OK;
}

int main(int argc, char **argv)
{
    struct cli cli = {.opts = {.size = sizeof(hvs_options_t)}};
    char *uri = NULL;
    long domid = -1;
    int verbose = 0;
    int opt, rc;

    if (argc > 1 && !strcmp(argv[1], "--help")) {
        fputs(usage_text, stdout);
        return cli_finish_output(CLI_OK);
    }
    opterr = 0;
    while ((opt = getopt(argc, argv, "+s:f:D:vh")) != -1) {
        switch (opt) {
        case 's':
        case 'f':
            free(uri);
            if (opt == 's')
                uri = strdup(optarg);
            else if (asprintf(&uri, "file:%s", optarg) < 0)
                uri = NULL;
            if (!uri)
                return cli_error("out of memory");
            break;
        case 'D':
            if (!cli_parse_int(optarg, 0, UINT32_MAX, &domid)) {
                free(uri);
                return cli_usage(NULL, "-D: '%s' is not a domid", optarg);
            }
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            free(uri);
            fputs(usage_text, stdout);
            return cli_finish_output(CLI_OK);
        default:
            free(uri);
            if (optopt == 's' || optopt == 'f' || optopt == 'D')
                return cli_usage(NULL, "option -%c needs an argument", optopt);
            return cli_usage(NULL, "unknown option -%c", optopt);
        }
    }
    if (optind >= argc) {
        free(uri);
        return cli_usage(NULL, "no command");
    }
    const char *name = argv[optind];
    if (!strcmp(name, "help")) {
        free(uri);
        fputs(usage_text, stdout);
        return cli_finish_output(CLI_OK);
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(name, commands[i].name))
            cmd = &commands[i];
    if (!cmd) {
        free(uri);
        return cli_usage(NULL, "unknown command '%s'", name);
    }

    if (!uri && !(uri = default_uri()))
        return cli_error("out of memory");
    cli.uri = uri;
    cli.domid = domid;
    if (verbose) {
        cli.opts.log = log_stderr;
        cli.opts.log_level = verbose > 1 ? HVS_LOG_DEBUG : HVS_LOG_INFO;
    }
    int first = optind;
    cli_getopt_reset();
    rc = cmd->fn(&cli, argc - first, argv + first);
    hvs_close(cli.h);
    free(uri);
    return cli_finish_output(rc);
}
