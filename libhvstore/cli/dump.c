/* SPDX-License-Identifier: MIT */
/*
 * hvstore dump: a subtree as JSON (the format is in docs/store.md and
 * load.c reads it back). The walk runs in one transaction, so the dump is
 * one consistent state of the subtree: if anything it read changed before
 * the end, the commit says -EAGAIN and the dump starts again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "cli.h"
#include "dumpfmt.h"
#include "walk.h"

struct dump {
    struct cli *cli;
    yajl_gen g;
    hvs_tx_t tx;
    bool gen_failed;
    char *failed_path; /* the node a failure is about (malloc'd) */
};

static void gen_check(struct dump *d, yajl_gen_status st)
{
    if (st != yajl_gen_status_ok)
        d->gen_failed = true;
}

static void gen_str(struct dump *d, const char *s, size_t len)
{
    gen_check(d, yajl_gen_string(d->g, (const unsigned char *)s, len));
}

static void gen_key(struct dump *d, const char *key)
{
    gen_str(d, key, strlen(key));
}

static int fail_at(struct dump *d, int err, const char *path)
{
    if (!d->failed_path)
        d->failed_path = strdup(path);
    return err;
}

static int gen_value(struct dump *d, const char *value, size_t len)
{
    if (utf8_valid((const unsigned char *)value, len)) {
        gen_key(d, DUMP_KEY_VALUE);
        gen_str(d, value, len);
        return 0;
    }
    size_t blen;
    char *b64 = b64_encode((const unsigned char *)value, len, &blen);
    if (!b64)
        return -ENOMEM;
    gen_key(d, DUMP_KEY_VALUE_B64);
    gen_str(d, b64, blen);
    free(b64);
    return 0;
}

static int gen_node(struct dump *d, const char *path)
{
    hvs_t *h = d->cli->h;
    char *value = NULL, **names = NULL;
    hvs_perm_t *perms = NULL;
    size_t len;
    int err, np = 0, n = 0;

    if ((err = hvs_read(h, d->tx, path, &value, &len)) < 0 ||
        (err = np = hvs_perms_get(h, d->tx, path, &perms)) < 0 ||
        (err = n = walk_children(h, d->tx, path, &names)) < 0) {
        err = fail_at(d, err, path);
        goto out;
    }
    gen_check(d, yajl_gen_map_open(d->g));
    if ((err = gen_value(d, value, len)) < 0)
        goto out;
    gen_key(d, DUMP_KEY_PERMS);
    gen_check(d, yajl_gen_array_open(d->g));
    for (int i = 0; i < np; i++) {
        char buf[16];

        hvs_perm_format(&perms[i], buf, sizeof(buf));
        gen_key(d, buf);
    }
    gen_check(d, yajl_gen_array_close(d->g));
    if (n > 0) {
        gen_key(d, DUMP_KEY_CHILDREN);
        gen_check(d, yajl_gen_map_open(d->g));
        for (int i = 0; i < n && !err; i++) {
            char *child = walk_join(path, names[i]);

            if (!child) {
                err = -ENOMEM;
                break;
            }
            gen_key(d, names[i]);
            err = gen_node(d, child);
            free(child);
        }
        gen_check(d, yajl_gen_map_close(d->g));
    }
    gen_check(d, yajl_gen_map_close(d->g));
out:
    hvs_list_free(names);
    free(perms);
    free(value);
    return err;
}

/* The dump's path is absolute so that load puts it back where it was,
 * whichever domain loads it. */
static int absolute_path(struct cli *cli, const char *path, char **out)
{
    char *dompath;
    int err;

    if (path[0] == '/') {
        *out = strdup(path);
        return *out ? 0 : -ENOMEM;
    }
    if ((err = hvs_domain_path(cli->h, hvs_domid(cli->h), &dompath)) < 0)
        return err;
    *out = walk_join(dompath, path);
    free(dompath);
    return *out ? 0 : -ENOMEM;
}

/* One attempt; -EAGAIN: the subtree changed under it, do it again. */
static int dump_once(struct dump *d, const char *path)
{
    int err = hvs_tx_begin(d->cli->h, &d->tx);

    if (err < 0)
        return err;
    gen_check(d, yajl_gen_map_open(d->g));
    gen_key(d, DUMP_KEY_FORMAT);
    gen_check(d, yajl_gen_integer(d->g, DUMP_FORMAT_VERSION));
    gen_key(d, DUMP_KEY_PATH);
    gen_key(d, path);
    gen_key(d, DUMP_KEY_NODE);
    err = gen_node(d, path);
    gen_check(d, yajl_gen_map_close(d->g));
    if (err < 0) {
        hvs_tx_abort(d->cli->h, d->tx);
        /* A node listed but gone when read: removed meanwhile. */
        if (err == -ENOENT && d->failed_path && strcmp(d->failed_path, path) != 0)
            err = -EAGAIN;
        return err;
    }
    return hvs_tx_commit(d->cli->h, d->tx);
}

int cmd_dump(struct cli *cli, int argc, char **argv)
{
    struct dump d = {.cli = cli};
    char *path = NULL;
    int err;

    if (argc > 2)
        return cli_usage("dump", "one PATH at most");
    if (argc == 2 && argv[1][0] == '-' && argv[1][1])
        return cli_usage("dump", "unknown option %s", argv[1]);
    if (cli_open(cli))
        return CLI_FAILED;
    const char *given = argc == 2 ? argv[1] : "/";
    if ((err = absolute_path(cli, given, &path)) < 0)
        return cli_fail(cli, err, "dump", given);

    for (int attempt = 0;; attempt++) {
        free(d.failed_path);
        d.failed_path = NULL;
        d.gen_failed = false;
        if (!(d.g = yajl_gen_alloc(NULL))) {
            err = -ENOMEM;
            break;
        }
        yajl_gen_config(d.g, yajl_gen_beautify, 1);
        yajl_gen_config(d.g, yajl_gen_indent_string, "  ");
        /* A value that is not UTF-8 went to value_b64; this catches a bug
         * there instead of writing JSON that no parser accepts. */
        yajl_gen_config(d.g, yajl_gen_validate_utf8, 1);
        err = dump_once(&d, path);
        if (err == -EAGAIN && attempt + 1 < CLI_TX_ATTEMPTS) {
            yajl_gen_free(d.g);
            continue;
        }
        break;
    }

    int rc = CLI_OK;
    if (err < 0) {
        rc = cli_fail(cli, err, "dump", d.failed_path ? d.failed_path : path);
    } else if (d.gen_failed) {
        rc = cli_error("dump %s: the JSON generator failed", path);
    } else {
        const unsigned char *buf;
        size_t len;

        yajl_gen_get_buf(d.g, &buf, &len);
        fwrite(buf, 1, len, stdout);
        if (!len || buf[len - 1] != '\n')
            putchar('\n');
    }
    if (d.g)
        yajl_gen_free(d.g);
    free(d.failed_path);
    free(path);
    return rc;
}
