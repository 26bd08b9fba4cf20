/* SPDX-License-Identifier: MIT */
/*
 * Reading a dump (dumpfmt.h) into memory, checked completely, so that load
 * writes nothing from a file that has a mistake anywhere in it.
 */
#ifndef HVSTORE_CLI_DUMPREAD_H
#define HVSTORE_CLI_DUMPREAD_H

#include <stdbool.h>
#include <stddef.h>

#include <hv/hvstore.h>

struct dnode {
    char *name; /* NULL for the dump's root */
    char *value; /* NUL after len bytes */
    size_t len;
    hvs_perm_t *perms; /* NULL: not in the dump */
    unsigned nperms;
    struct dnode **children;
    size_t nchildren, cap;
    size_t key_off; /* where its name ends in the file, for messages */
};

struct dump_doc {
    char *path; /* the "path" member; NULL if absent */
    struct dnode *root;
    size_t nodes;
};

/*
 * Parses and checks text (len bytes). `path`, if not NULL, replaces the
 * dump's own path (which may then be absent). Returns 0, or -EINVAL with a
 * message in err naming the line, column, the JSON location (as a JSON
 * pointer) and the problem; -ENOMEM.
 */
int dump_read(const char *text, size_t len, const char *path, struct dump_doc *doc, char *err,
              size_t errlen);
void dump_doc_free(struct dump_doc *doc);

#endif
