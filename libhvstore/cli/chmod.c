/* SPDX-License-Identifier: MIT */
/* hvstore chmod, perms. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "walk.h"

/* Sets perms on path and, with `recursive`, on every node below it. On
 * failure *failed names the node (malloc'd). */
static int set_perms(hvs_t *h, hvs_tx_t tx, const char *path, const hvs_perm_t *perms,
                     unsigned n, bool recursive, char **failed)
{
    char **names;
    int err = hvs_perms_set(h, tx, path, perms, n);

    if (err < 0 || !recursive) {
        if (err < 0)
            *failed = strdup(path);
        return err;
    }
    int count = walk_children(h, tx, path, &names);
    if (count < 0) {
        *failed = strdup(path);
        return count;
    }
    for (int i = 0; i < count && !err; i++) {
        char *child = walk_join(path, names[i]);

        err = child ? set_perms(h, tx, child, perms, n, true, failed) : -ENOMEM;
        free(child);
    }
    hvs_list_free(names);
    return err;
}

int cmd_chmod(struct cli *cli, int argc, char **argv)
{
    bool recursive = false;
    int opt;

    while ((opt = getopt(argc, argv, "+r")) != -1) {
        if (opt != 'r')
            return cli_usage("chmod", "unknown option -%c", optopt);
        recursive = true;
    }
    if (argc - optind < 2)
        return cli_usage("chmod", "wants PATH PERM...");
    const char *path = argv[optind];
    unsigned n = (unsigned)(argc - optind - 1);
    hvs_perm_t *perms = calloc(n, sizeof(*perms));
    if (!perms)
        return cli_error("out of memory");
    for (unsigned i = 0; i < n; i++) {
        const char *text = argv[optind + 1 + i];

        if (hvs_perm_parse(text, &perms[i]) < 0) {
            free(perms);
            return cli_usage("chmod", "bad permission '%s' (n, r, w or b, then a domid: r5)",
                             text);
        }
    }
    if (cli_open(cli)) {
        free(perms);
        return CLI_FAILED;
    }

    int err;
    char *failed = NULL;
    if (!recursive) {
        err = hvs_perms_set(cli->h, HVS_TX_NONE, path, perms, n);
    } else {
        /* One transaction: the subtree changes all at once or not at all. */
        for (int attempt = 0;; attempt++) {
            hvs_tx_t tx;

            free(failed);
            failed = NULL;
            if ((err = hvs_tx_begin(cli->h, &tx)) < 0)
                break;
            err = set_perms(cli->h, tx, path, perms, n, true, &failed);
            if (err < 0) {
                hvs_tx_abort(cli->h, tx);
            } else {
                err = hvs_tx_commit(cli->h, tx);
                if (err == -EAGAIN && attempt + 1 < CLI_TX_ATTEMPTS)
                    continue;
            }
            break;
        }
    }
    free(perms);
    int rc = err < 0 ? cli_fail(cli, err, "chmod", failed ? failed : path) : CLI_OK;
    free(failed);
    return rc;
}

int cmd_perms(struct cli *cli, int argc, char **argv)
{
    hvs_perm_t *perms;

    if (argc != 2)
        return cli_usage("perms", "wants one PATH");
    if (cli_open(cli))
        return CLI_FAILED;
    int n = hvs_perms_get(cli->h, HVS_TX_NONE, argv[1], &perms);
    if (n < 0)
        return cli_fail(cli, n, "perms", argv[1]);
    for (int i = 0; i < n; i++) {
        char buf[16];

        hvs_perm_format(&perms[i], buf, sizeof(buf));
        printf("%s%s", i ? " " : "", buf);
    }
    putchar('\n');
    free(perms);
    return CLI_OK;
}
