/* SPDX-License-Identifier: MIT */
/*
 * Embedding libhvstore: open a store (default: a private in-memory one),
 * watch a subtree, change it in a transaction, and handle the events from
 * an event loop, as a monitoring product would.
 *
 *   store [URI]     e.g. store file:/tmp/example.mdb, store unix:/run/hv/store.sock
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hv/hvstore.h>

static void changed(void *opaque, const char *path, const char *token)
{
    int *state_seen = opaque;

    printf("event %s (%s)\n", path, token);
    if (strcmp(path, "/tool/example/state") == 0)
        *state_seen = 1;
}

static int fail(hvs_t *h, const char *what, int err)
{
    fprintf(stderr, "store: %s: %s: %s\n", what, strerror(-err), hvs_last_error(h));
    hvs_close(h);
    return 1;
}

int main(int argc, char **argv)
{
    const char *uri = argc > 1 ? argv[1] : "mem:";
    hvs_t *h;
    hvs_tx_t tx;
    int state_seen = 0, r;

    r = hvs_open(&h, uri, NULL);
    if (r < 0) {
        fprintf(stderr, "store: %s: %s\n", uri, hvs_open_error());
        return 1;
    }
    r = hvs_watch(h, "/tool/example", "example", HVS_DEPTH_ANY, changed, &state_seen);
    if (r < 0)
        return fail(h, "watch", r);
    /* A transaction that conflicts is simply redone. */
    do {
        r = hvs_tx_begin(h, &tx);
        if (r < 0)
            return fail(h, "transaction", r);
        hvs_write(h, tx, "/tool/example/name", "example", 7);
        hvs_write(h, tx, "/tool/example/state", "running", 7);
        r = hvs_tx_commit(h, tx);
    } while (r == -EAGAIN);
    if (r < 0)
        return fail(h, "commit", r);
    /* The watch fired once when set, then once per node the commit wrote. */
    while (!state_seen) {
        r = hvs_wait(h, 5000);
        if (r <= 0)
            return fail(h, "waiting for events", r ? r : -ETIMEDOUT);
    }
    char *state;
    r = hvs_read(h, HVS_TX_NONE, "/tool/example/state", &state, NULL);
    if (r < 0)
        return fail(h, "read", r);
    printf("state = %s\n", state);
    free(state);
    hvs_close(h);
    return 0;
}
