/* SPDX-License-Identifier: MIT */
/* hvstore read, write, ls, rm, mkdir. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "walk.h"

int cmd_read(struct cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("read", "no PATH");
    if (cli_open(cli))
        return CLI_FAILED;
    for (int i = 1; i < argc; i++) {
        char *value;
        size_t len;
        int err = hvs_read(cli->h, HVS_TX_NONE, argv[i], &value, &len);

        if (err < 0)
            return cli_fail(cli, err, "read", argv[i]);
        /* fwrite, not printf: values may hold NULs. */
        fwrite(value, 1, len, stdout);
        putchar('\n');
        free(value);
    }
    return CLI_OK;
}

int cmd_write(struct cli *cli, int argc, char **argv)
{
    if (argc < 3 || (argc - 1) % 2)
        return cli_usage("write", "wants PATH VALUE pairs");
    if (cli_open(cli))
        return CLI_FAILED;
    for (int i = 1; i < argc; i += 2) {
        int err = hvs_write(cli->h, HVS_TX_NONE, argv[i], argv[i + 1], strlen(argv[i + 1]));

        if (err < 0)
            return cli_fail(cli, err, "write", argv[i]);
    }
    return CLI_OK;
}

static int each_path(struct cli *cli, int argc, char **argv, const char *op,
                     int (*fn)(hvs_t *, hvs_tx_t, const char *))
{
    if (argc < 2)
        return cli_usage(op, "no PATH");
    if (cli_open(cli))
        return CLI_FAILED;
    for (int i = 1; i < argc; i++) {
        int err = fn(cli->h, HVS_TX_NONE, argv[i]);

        if (err < 0)
            return cli_fail(cli, err, op, argv[i]);
    }
    return CLI_OK;
}

int cmd_rm(struct cli *cli, int argc, char **argv)
{
    return each_path(cli, argc, argv, "rm", hvs_rm);
}

int cmd_mkdir(struct cli *cli, int argc, char **argv)
{
    return each_path(cli, argc, argv, "mkdir", hvs_mkdir);
}

struct ls_opts {
    bool recursive;
    bool perms;
};

/* "  (n0,r5)": xenstore-ls -p's notation, without its dot leaders. */
static void print_perms(const hvs_perm_t *perms, int n)
{
    fputs("  (", stdout);
    for (int i = 0; i < n; i++) {
        char buf[16];

        hvs_perm_format(&perms[i], buf, sizeof(buf));
        printf("%s%s", i ? "," : "", buf);
    }
    putchar(')');
}

/*
 * Prints the children of `path`, indented by `depth` spaces. A child that
 * vanished between the listing and its read was removed meanwhile: skipped.
 * Other failures are reported and the listing goes on; returns CLI_FAILED
 * if there was one.
 */
static int ls_node(struct cli *cli, const struct ls_opts *o, const char *path, int depth)
{
    char **names;
    int n = walk_children(cli->h, HVS_TX_NONE, path, &names);
    int rc = CLI_OK;

    if (n < 0)
        return n == -ENOENT && depth > 0 ? CLI_OK : cli_fail(cli, n, "ls", path);
    for (int i = 0; i < n; i++) {
        char *child = walk_join(path, names[i]);
        char *value = NULL;
        hvs_perm_t *perms = NULL;
        size_t len;
        int np = 0, err;

        if (!child) {
            rc = cli_error("out of memory");
            break;
        }
        err = hvs_read(cli->h, HVS_TX_NONE, child, &value, &len);
        if (!err && o->perms)
            err = np = hvs_perms_get(cli->h, HVS_TX_NONE, child, &perms);
        if (err == -ENOENT) {
            free(child);
            free(value);
            continue;
        }
        if (err < 0) {
            rc = cli_fail(cli, err, "ls", child);
        } else {
            printf("%*s%s = \"", depth, "", names[i]);
            cli_print_escaped(stdout, value, len);
            putchar('"');
            if (o->perms)
                print_perms(perms, np);
            putchar('\n');
            if (o->recursive && ls_node(cli, o, child, depth + 1) != CLI_OK)
                rc = CLI_FAILED;
        }
        free(perms);
        free(value);
        free(child);
    }
    hvs_list_free(names);
    return rc;
}

int cmd_ls(struct cli *cli, int argc, char **argv)
{
    struct ls_opts o = {0};
    int opt;

    while ((opt = getopt(argc, argv, "+Rp")) != -1) {
        if (opt == 'R')
            o.recursive = true;
        else if (opt == 'p')
            o.perms = true;
        else
            return cli_usage("ls", "unknown option -%c", optopt);
    }
    if (argc - optind > 1)
        return cli_usage("ls", "one PATH at most");
    if (cli_open(cli))
        return CLI_FAILED;
    return ls_node(cli, &o, optind < argc ? argv[optind] : "/", 0);
}
