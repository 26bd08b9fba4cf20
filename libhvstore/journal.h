/* SPDX-License-Identifier: MIT */
/*
 * The write-ahead journal in front of the LMDB file: each group commit
 * appends one frame (all the batch's node records, one CRC) and fdatasyncs
 * once, so an acknowledged write costs one disk flush, as redis's
 * appendfsync does. LMDB, which needs two flushes per commit, receives the
 * changes in checkpoints, after which the journal is emptied.
 *
 * Frames are all-or-nothing: a frame torn by a crash fails its CRC and is
 * cut off at the next open, with everything after it (none of which was
 * acknowledged).
 */
#ifndef LIBHVSTORE_JOURNAL_H
#define LIBHVSTORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct journal;

enum journal_rec { JREC_PUT = 1, JREC_DEL = 2 };

typedef int (*journal_fn)(void *opaque, enum journal_rec type, const char *path, size_t pathlen,
                          const void *rec, size_t reclen);

int journal_open(struct journal **out, const char *path, char *err, size_t errlen);
void journal_close(struct journal *j);
/* Calls fn for each record of each whole frame, then cuts a torn tail. */
int journal_replay(struct journal *j, journal_fn fn, void *opaque, char *err, size_t errlen);

/* Frame bodies are built with these, then appended durably. */
struct jbuf {
    char *data;
    size_t len, cap;
};
int jbuf_add(struct jbuf *b, enum journal_rec type, const char *path, size_t pathlen,
             const void *rec1, size_t len1, const void *rec2, size_t len2);
void jbuf_free(struct jbuf *b);
int journal_append(struct journal *j, const struct jbuf *body, char *err, size_t errlen);
/* Empties the journal (its records are in the LMDB file). */
int journal_reset(struct journal *j, char *err, size_t errlen);
uint64_t journal_size(const struct journal *j);

#endif
