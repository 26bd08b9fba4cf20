/* SPDX-License-Identifier: MIT */
/* hvstore watch: one "PATH TOKEN" line per event, flushed at once. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct watch_state {
    long limit; /* 0: for ever */
    long seen;
    int write_err;
};

static void on_event(void *opaque, const char *path, const char *token)
{
    struct watch_state *w = opaque;

    /* One wait may dispatch several events: the ones past the limit are
     * not the caller's. */
    if (w->write_err || (w->limit && w->seen >= w->limit))
        return;
    printf("%s %s\n", path, token);
    /* Each line as it happens: readers (scripts, tests) act on it. */
    if (fflush(stdout) != 0)
        w->write_err = errno ? errno : EIO;
    w->seen++;
}

int cmd_watch(struct cli *cli, int argc, char **argv)
{
    struct watch_state w = {0};
    long depth = HVS_DEPTH_ANY;
    int opt;

    while ((opt = getopt(argc, argv, "+n:d:")) != -1) {
        switch (opt) {
        case 'n':
            if (!cli_parse_int(optarg, 1, LONG_MAX, &w.limit))
                return cli_usage("watch", "-n: '%s' is not a count (1 or more)", optarg);
            break;
        case 'd':
            if (!cli_parse_int(optarg, -1, INT_MAX, &depth))
                return cli_usage("watch", "-d: '%s' is not a depth (0 or more, -1: any)",
                                 optarg);
            break;
        default:
            if (optopt == 'n' || optopt == 'd')
                return cli_usage("watch", "option -%c needs an argument", optopt);
            return cli_usage("watch", "unknown option -%c", optopt);
        }
    }
    if (optind >= argc)
        return cli_usage("watch", "no PATH");
    if (cli_open(cli))
        return CLI_FAILED;
    for (int i = optind; i < argc; i++) {
        /* The path is the token: events name the watch that fired. */
        int err = hvs_watch(cli->h, argv[i], argv[i], (int)depth, on_event, &w);

        if (err < 0)
            return cli_fail(cli, err, "watch", argv[i]);
    }
    while (!w.limit || w.seen < w.limit) {
        int n = hvs_wait(cli->h, -1);

        if (w.write_err)
            return cli_error("watch: writing the output: %s", strerror(w.write_err));
        if (n < 0 && n != -EINTR)
            return cli_fail(cli, n, "watch", argc - optind == 1 ? argv[optind] : NULL);
    }
    return CLI_OK;
}
