/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the engine tests, which drive the embedded engine through the
 * public API (hv/hvstore.h) only.
 *
 * Several domains in one engine: "mem:NAME" (and "file:PATH") opened twice
 * in one process gives two handles on the same engine; each is dom0 until
 * hvs_act_as(). Every test opens a fresh, uniquely named engine so tests
 * never see each other's nodes.
 *
 * Events: the embedded engine queues a watch event before the call that
 * caused it returns, so "no event" is checked with hvs_dispatch() returning
 * 0 right after the call; waits (poll, hvs_wait) use ST_TIMEOUT_MS, which
 * only guards against hangs.
 */
#ifndef TESTS_STORE_ENGINE_STORE_TEST_H
#define TESTS_STORE_ENGINE_STORE_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "hv/hvstore.h"

#define ST_TIMEOUT_MS 30000

/* Asserts that `call` returns `want`; the message has the handle's error. */
#define st_rc(h, call, want)                                                   \
    do {                                                                       \
        int st_rc_ = (call);                                                   \
        int st_want_ = (want);                                                 \
        if (st_rc_ != st_want_)                                                \
            st_fail_(__FILE__, __LINE__, (h), #call, st_rc_, st_want_);        \
    } while (0)
/* Asserts that `call` succeeds (returns >= 0). */
#define st_ok(h, call)                                                         \
    do {                                                                       \
        int st_rc_ = (call);                                                   \
        if (st_rc_ < 0)                                                        \
            st_fail_(__FILE__, __LINE__, (h), #call, st_rc_, 0);               \
    } while (0)
void st_fail_(const char *file, int line, hvs_t *h, const char *call, int got, int want)
    __attribute__((noreturn));

/* A fresh engine name for this process: "mem:st-<pid>-<n>". */
void st_mem_uri(char *buf, size_t len);
/* hvs_open (asserts), with `quota` in the options when not NULL. */
hvs_t *st_open(const char *uri, const hvs_quota_t *quota);
/* The same, then hvs_act_as(domid) on it. */
hvs_t *st_open_as(const char *uri, const hvs_quota_t *quota, uint32_t domid);

/* hvs_write of a string (asserts success). */
void st_write(hvs_t *h, hvs_tx_t tx, const char *path, const char *value);
/* Asserts that `path` reads as `value`. */
void st_expect(hvs_t *h, hvs_tx_t tx, const char *path, const char *value);
/* 1 if the node exists (as dom0 sees it: the caller passes a dom0 handle). */
int st_exists(hvs_t *h, hvs_tx_t tx, const char *path);
/*
 * Sets permissions from their text form, e.g. st_perms(h, "/a", "b0", "r5",
 * NULL); asserts success.
 */
void st_perms(hvs_t *h, const char *path, ...);
/* Asserts the node's permissions in text form ("w1", "r2", NULL). */
void st_expect_perms(hvs_t *h, const char *path, ...);
/* The directory's children, sorted, joined with ',' (malloc'd). */
char *st_dir(hvs_t *h, hvs_tx_t tx, const char *path);
/* Asserts st_dir(h, tx, path) is `want` ("a,b,c"; "" for no children). */
void st_expect_dir(hvs_t *h, hvs_tx_t tx, const char *path, const char *want);

/* ---- Temp dirs --------------------------------------------------------- */

/* mkdtemp under /tmp; malloc'd. */
char *st_tmpdir(void);
/* Removes the directory and everything in it (best effort). */
void st_rmtree(const char *dir);

/* ---- Watch events ------------------------------------------------------- */

struct st_event {
    char *path;
    char *token;
};

struct st_events {
    struct st_event *ev;
    size_t n, cap;
};

/* The hvs_watch_fn: appends to the struct st_events given as opaque. */
void st_ev_cb(void *opaque, const char *path, const char *token);
/* Runs hvs_dispatch until nothing is pending; returns how many ran. */
int st_ev_drain(hvs_t *h);
/* Events recorded with this path and token (NULL: any). */
int st_ev_count(const struct st_events *e, const char *path, const char *token);
void st_ev_clear(struct st_events *e);
/* "path=token; ..." of what was recorded (static buffer), for messages. */
const char *st_ev_text(const struct st_events *e);

#endif
