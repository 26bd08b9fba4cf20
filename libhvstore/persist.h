/* SPDX-License-Identifier: MIT */
/*
 * The durable copy of the tree: one LMDB record per node, keyed by its
 * path, behind a write-ahead journal (journal.h) that makes each group
 * commit cost one disk flush. LMDB gives atomic, fsync'd checkpoints and a
 * file that always opens cleanly after a crash; the tree itself is served
 * from memory.
 */
#ifndef LIBHVSTORE_PERSIST_H
#define LIBHVSTORE_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "tree.h"

struct persist;

/* Opens (creating) the file and takes an exclusive lock on it: -EBUSY if
 * another process has it. */
int persist_open(struct persist **out, const char *path, char *err, size_t errlen);
/* Checkpoints (when t is given) and closes. */
void persist_close(struct persist *p, struct tree *t);
/* Builds the tree from the file; *maxgen: the highest generation seen. */
int persist_load(struct persist *p, struct tree *t, uint64_t *maxgen, char *err, size_t errlen);
/* One durable group commit (one journal frame, one fdatasync): each path is
 * recorded from the tree, or as deleted if the tree no longer has it. */
int persist_commit(struct persist *p, struct tree *t, char **paths, size_t n, char *err,
                   size_t errlen);

/*
 * persist_commit in three steps, so that the engine's lock need not be held
 * across the disk flush (group commit of an embedded engine's threads):
 * encode (reads the tree: under the lock), write (the flush: one writer at
 * a time, no lock), written (under the lock again).
 */
struct jbuf;
int persist_encode(struct persist *p, struct tree *t, char **paths, size_t n, struct jbuf *b,
                   char *err, size_t errlen);
int persist_write(struct persist *p, const struct jbuf *b, char *err, size_t errlen);
/* `pending`: paths changed in the tree since the encode (not journaled yet),
 * which a checkpoint must include to write a state that existed. */
void persist_written(struct persist *p, struct tree *t, char **paths, size_t n, char **pending,
                     size_t npending);

#endif
