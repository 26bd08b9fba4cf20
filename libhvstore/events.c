/* SPDX-License-Identifier: MIT */
/*
 * A session's queue of watch events, coalescing duplicates while queued
 * (engine.h says why), with a hash of the queued (path, token) pairs so the
 * check costs O(1) however long the queue.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static size_t slot(const struct session *s, const char *path, const char *token)
{
    uint64_t h = path_hash(path, strlen(path)) * 31 + path_hash(token, strlen(token));

    return (size_t)(h & (s->nevhash - 1));
}

static void grow(struct session *s)
{
    size_t nb = s->nevhash ? s->nevhash * 2 : 64;
    struct store_event **b = calloc(nb, sizeof(*b));

    if (!b)
        return; /* longer chains; still correct */
    free(s->evhash);
    s->evhash = b;
    s->nevhash = nb;
    for (struct store_event *ev = s->evhead; ev; ev = ev->next) {
        size_t k = slot(s, ev->path, ev->token);
        ev->hnext = b[k];
        b[k] = ev;
    }
}

void session_queue_event(struct session *s, const char *path, const char *token)
{
    if (s->nev + 1 > s->nevhash)
        grow(s);
    if (s->nevhash) {
        for (struct store_event *ev = s->evhash[slot(s, path, token)]; ev; ev = ev->hnext)
            if (strcmp(ev->path, path) == 0 && strcmp(ev->token, token) == 0)
                return;
    }
    struct store_event *ev = calloc(1, sizeof(*ev));
    if (!ev || !(ev->path = strdup(path)) || !(ev->token = strdup(token))) {
        if (ev)
            free(ev->path);
        free(ev);
        slog(s->st, HVS_LOG_ERROR, "out of memory: watch event %s (%s) for domain %u lost", path,
             token, s->domid);
        return;
    }
    bool was_empty = !s->evhead;
    if (s->evtail)
        s->evtail->next = ev;
    else
        s->evhead = ev;
    s->evtail = ev;
    if (s->nevhash) {
        size_t k = slot(s, path, token);
        ev->hnext = s->evhash[k];
        s->evhash[k] = ev;
    }
    s->nev++;
    if (was_empty && s->notify)
        s->notify(s->opaque);
}

static void unhash(struct session *s, struct store_event *ev)
{
    if (!s->nevhash)
        return;
    struct store_event **pp = &s->evhash[slot(s, ev->path, ev->token)];
    while (*pp && *pp != ev)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = ev->hnext;
    ev->hnext = NULL;
}

struct store_event *session_events_take_max(struct session *s, size_t max)
{
    pthread_mutex_lock(&s->st->lock);
    struct store_event *head = s->evhead, *last = NULL;
    size_t n = 0;
    for (struct store_event *ev = head; ev && (max == 0 || n < max); ev = ev->next, n++) {
        unhash(s, ev);
        last = ev;
    }
    if (last) {
        s->evhead = last->next;
        if (!s->evhead)
            s->evtail = NULL;
        last->next = NULL;
        s->nev -= n;
    }
    pthread_mutex_unlock(&s->st->lock);
    return last ? head : NULL;
}

struct store_event *session_events_take(struct session *s)
{
    return session_events_take_max(s, 0);
}

bool session_events_pending(struct session *s)
{
    pthread_mutex_lock(&s->st->lock);
    bool any = s->evhead != NULL;
    pthread_mutex_unlock(&s->st->lock);
    return any;
}

void store_events_free(struct store_event *ev)
{
    while (ev) {
        struct store_event *next = ev->next;
        free(ev->path);
        free(ev->token);
        free(ev);
        ev = next;
    }
}

/* The session is going: no lock needed, nobody else sees it. */
void session_events_free(struct session *s)
{
    store_events_free(s->evhead);
    s->evhead = s->evtail = NULL;
    free(s->evhash);
    s->evhash = NULL;
    s->nevhash = s->nev = 0;
}
