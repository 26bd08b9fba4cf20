/* SPDX-License-Identifier: MIT */
/*
 * hvstore load: writes a dump back. The file is read and checked whole
 * first (dumpread.c); then every node goes into the store in one
 * transaction, redone if it conflicts (-EAGAIN) with concurrent writers, so
 * a failure half-way (a permission, a quota) leaves the store as it was.
 *
 * Nodes whose value and permissions already match are left alone: loading
 * the same dump twice changes nothing and fires no watches.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dumpread.h"
#include "walk.h"

struct load {
    struct cli *cli;
    hvs_tx_t tx;
    size_t changed;
    char *failed_path; /* malloc'd */
    const char *failed_op;
};

static int fail_at(struct load *l, int err, const char *op, const char *path)
{
    if (!l->failed_path) {
        l->failed_path = strdup(path);
        l->failed_op = op;
    }
    return err;
}

static bool perms_equal(const hvs_perm_t *a, int na, const hvs_perm_t *b, unsigned nb)
{
    if (na < 0 || (unsigned)na != nb)
        return false;
    for (unsigned i = 0; i < nb; i++)
        if (a[i].domid != b[i].domid || a[i].perm != b[i].perm)
            return false;
    return true;
}

static int put_node(struct load *l, const char *path, const struct dnode *n)
{
    hvs_t *h = l->cli->h;
    char *old = NULL;
    size_t oldlen = 0;
    bool changed = false;
    int err = hvs_read(h, l->tx, path, &old, &oldlen);

    /* A domain may be allowed to write what it may not read: then write. */
    if (err < 0 && err != -ENOENT && err != -EACCES)
        return fail_at(l, err, "read", path);
    if (err < 0 || oldlen != n->len || memcmp(old, n->value, n->len)) {
        err = hvs_write(h, l->tx, path, n->value, n->len);
        changed = true;
    }
    free(old);
    if (err < 0)
        return fail_at(l, err, "write", path);

    if (n->perms) {
        hvs_perm_t *cur = NULL;
        int nc = hvs_perms_get(h, l->tx, path, &cur);

        if (nc < 0 && nc != -EACCES) {
            err = fail_at(l, nc, "perms", path);
        } else if (!perms_equal(cur, nc, n->perms, n->nperms)) {
            if ((err = hvs_perms_set(h, l->tx, path, n->perms, n->nperms)) < 0)
                fail_at(l, err, "chmod", path);
            changed = true;
        }
        free(cur);
        if (err < 0)
            return err;
    }
    l->changed += changed;

    for (size_t i = 0; i < n->nchildren; i++) {
        char *child = walk_join(path, n->children[i]->name);

        if (!child)
            return -ENOMEM;
        err = put_node(l, child, n->children[i]);
        free(child);
        if (err < 0)
            return err;
    }
    return 0;
}

/* The whole input, NUL-terminated; "-" is stdin. */
static int read_all(const char *file, char **out, size_t *outlen)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f)
        return -errno;
    for (;;) {
        if (cap - len < 65536) {
            char *b = realloc(buf, cap = cap ? cap * 2 : 131072);

            if (!b) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                return -ENOMEM;
            }
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(f) ? -(errno ? errno : EIO) : 0;
    if (f != stdin)
        fclose(f);
    if (err) {
        free(buf);
        return err;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

int cmd_load(struct cli *cli, int argc, char **argv)
{
    const char *at = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "+p:")) != -1) {
        if (opt != 'p')
            return optopt == 'p' ? cli_usage("load", "option -p needs a PATH")
                                 : cli_usage("load", "unknown option -%c", optopt);
        at = optarg;
    }
    if (argc - optind > 1)
        return cli_usage("load", "one FILE at most");
    const char *file = optind < argc ? argv[optind] : "-";
    const char *name = strcmp(file, "-") ? file : "<stdin>";

    char *text = NULL, msg[512];
    size_t len = 0;
    int err = read_all(file, &text, &len);
    if (err < 0)
        return cli_error("load %s: %s", name, strerror(-err));
    struct dump_doc doc;
    err = dump_read(text, len, at, &doc, msg, sizeof(msg));
    free(text);
    if (err < 0)
        return cli_error("load %s: %s; nothing loaded", name, msg);
    if (cli_open(cli)) {
        dump_doc_free(&doc);
        return CLI_FAILED;
    }

    struct load l = {.cli = cli};
    for (int attempt = 0;; attempt++) {
        free(l.failed_path);
        l.failed_path = NULL;
        l.changed = 0;
        if ((err = hvs_tx_begin(cli->h, &l.tx)) < 0)
            break;
        if ((err = put_node(&l, doc.path, doc.root)) < 0) {
            hvs_tx_abort(cli->h, l.tx);
        } else if ((err = hvs_tx_commit(cli->h, l.tx)) == 0) {
            break;
        }
        if (err != -EAGAIN || attempt + 1 == CLI_TX_ATTEMPTS)
            break;
    }

    int rc = CLI_OK;
    if (err < 0) {
        char op[64];

        snprintf(op, sizeof(op), "load %s: %s", name, l.failed_path ? l.failed_op : "commit");
        rc = cli_fail(cli, err, op, l.failed_path ? l.failed_path : doc.path);
        fprintf(stderr, "hvstore: load %s: nothing loaded\n", name);
    } else {
        printf("loaded %zu node%s at %s (%zu changed)\n", doc.nodes, doc.nodes == 1 ? "" : "s",
               doc.path, l.changed);
    }
    free(l.failed_path);
    dump_doc_free(&doc);
    return rc;
}
