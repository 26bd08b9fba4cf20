/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the daemon tests: a real hvstored in a temp dir, started and
 * waited for through its "hvstored: ready on PATH" line on a pipe (no
 * sleeps), killed and restarted on the same data dir; raw wire clients.
 *
 * Timeouts here (DU_TIMEOUT_MS) only guard against hangs.
 */
#ifndef TESTS_STORE_DAEMON_UTIL_H
#define TESTS_STORE_DAEMON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <cmocka.h>

#include "hv/hvstore.h"

#define DU_TIMEOUT_MS 30000
#define DU_MAX_ARGS 16

struct du_daemon {
    char dir[64];   /* the temp dir */
    char sock[128]; /* dir/sock */
    char uri[140];  /* "unix:" + sock */
    char data[128]; /* dir/data */
    const char *args[DU_MAX_ARGS]; /* extra options (quotas) */
    unsigned nargs;
    unsigned long fsize_limit; /* RLIMIT_FSIZE for the daemon; 0: none */
    pid_t pid;                 /* 0 when not running */
};

/* The hvstored binary: argv[1] of the test (set by meson), else
 * $HV_BUILD_ROOT/libhvstore/hvstored/hvstored. */
void du_set_exe(int argc, char **argv);
const char *du_exe(void);

/* A temp dir and paths; not started. */
void du_init(struct du_daemon *d);
/* Starts it and returns once it reported ready; 0 or -1 (message printed). */
int du_start(struct du_daemon *d);
/* Asserts du_start succeeds. */
void du_start_ok(struct du_daemon *d);
/* Sends sig and reaps it; returns the wait status. */
int du_kill(struct du_daemon *d, int sig);
/* True if it is still running (not reaped). */
bool du_alive(struct du_daemon *d);
/* SIGTERM, asserts a clean exit (status 0) and that the socket is gone. */
void du_stop_ok(struct du_daemon *d);
/* For teardowns: SIGTERM if running; 0 if it exited cleanly (or was not
 * running), -1 otherwise (its log printed). Then du_fini. */
int du_teardown(struct du_daemon *d);
/* Kills it if running, removes the temp dir. */
void du_fini(struct du_daemon *d);

/* cmocka fixtures: a daemon started with one extra option (opt, val; NULL
 * for none) in *state, and its clean stop (under the sanitizers also its
 * leak check). */
int du_fixture_setup(void **state, const char *opt, const char *val);
int du_fixture_teardown(void **state);

/* hvs_open(d->uri), asserting success; with hvs_act_as(domid) if domid. */
hvs_t *du_open(struct du_daemon *d, uint32_t domid);

/* ---- Raw wire clients ------------------------------------------------------ */

/* A connected, blocking unix socket to the daemon (asserts). */
int du_connect(struct du_daemon *d);
/* Sends a header and payload (len may differ from the bytes sent: plen). */
void du_send_raw(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id, uint32_t len,
                 const void *payload, size_t plen);
/* Sends a well-formed message. */
void du_send(int fd, uint32_t type, uint32_t req_id, const void *payload, size_t len);

struct du_msg {
    uint32_t type, req_id, tx_id, len;
    char payload[HVS_PAYLOAD_MAX + 1]; /* NUL after len bytes */
};
/* Receives one message: 1, 0 on EOF (or reset) at a message boundary; asserts
 * on a hang or a torn message. */
int du_recv(int fd, struct du_msg *m);
/* Receives one reply and asserts it is ERROR with that errno name for req_id. */
void du_expect_error(int fd, uint32_t req_id, const char *errname);
/* Sends a request and asserts a non-ERROR reply of the same type; returns it. */
void du_call(int fd, uint32_t type, uint32_t req_id, const void *payload, size_t len,
             struct du_msg *reply);

/* Removes a directory tree (best effort). */
void du_rmtree(const char *dir);

#endif
