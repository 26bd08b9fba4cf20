/* SPDX-License-Identifier: MIT */
/*
 * Last-error messages kept per thread, for handles used from many threads:
 * a short list of slots owned by the handle (freed with it, whichever
 * threads used it), not a pthread key.
 */
#ifndef LIBHVSTORE_ERRSLOT_H
#define LIBHVSTORE_ERRSLOT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#define ERRSLOT_LEN 512

struct errslot;

struct errslots {
    pthread_mutex_t lock;
    struct errslot *head;
};

void errslots_init(struct errslots *e);
void errslots_free(struct errslots *e);
/* Sets the calling thread's message (dropped if out of memory). */
void errslots_vset(struct errslots *e, const char *fmt, va_list ap);
/* The calling thread's last message, or "". Valid until the next set by
 * this thread or errslots_free. */
const char *errslots_get(struct errslots *e);

#endif
