/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "errslot.h"

struct errslot {
    pthread_t thread;
    char msg[ERRSLOT_LEN];
    struct errslot *next;
};

void errslots_init(struct errslots *e)
{
    pthread_mutex_init(&e->lock, NULL);
    e->head = NULL;
}

void errslots_free(struct errslots *e)
{
    while (e->head) {
        struct errslot *s = e->head;
        e->head = s->next;
        free(s);
    }
    pthread_mutex_destroy(&e->lock);
}

static struct errslot *find(struct errslots *e, bool create)
{
    pthread_t self = pthread_self();

    for (struct errslot *s = e->head; s; s = s->next)
        if (pthread_equal(s->thread, self))
            return s;
    if (!create)
        return NULL;
    struct errslot *s = calloc(1, sizeof(*s));
    if (s) {
        s->thread = self;
        s->next = e->head;
        e->head = s;
    }
    return s;
}

void errslots_vset(struct errslots *e, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&e->lock);
    struct errslot *s = find(e, true);
    if (s)
        vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    pthread_mutex_unlock(&e->lock);
}

const char *errslots_get(struct errslots *e)
{
    pthread_mutex_lock(&e->lock);
    struct errslot *s = find(e, false);
    pthread_mutex_unlock(&e->lock);
    /* Only this thread writes its slot, which lives until errslots_free. */
    return s ? s->msg : "";
}
