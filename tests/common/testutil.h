/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the tests that run real domains on /dev/kvm.
 *
 * Waiting: every wait here blocks on a condition variable or the domain's
 * own wait call, with a generous timeout that only guards against hangs
 * (TU_TIMEOUT_MS, overridable with $TU_TIMEOUT_MS). Nothing here sleeps to
 * synchronise and nothing measures elapsed time.
 *
 * Functions whose names end in _ok assert with cmocka and so may only be
 * called from a test's own thread.
 */
#ifndef TESTS_COMMON_TESTUTIL_H
#define TESTS_COMMON_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hv/abi.h"
#include "hv/hv.h"
#include "hv/hvguest.h"

/* Built with AddressSanitizer (its quarantine keeps freed memory resident). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif
#ifndef TU_ASAN
#define TU_ASAN 0
#endif

/* Guards against hangs only; never a statement about speed. */
#define TU_TIMEOUT_MS_DEFAULT 30000
int tu_timeout_ms(void);

/* Exits 77 (meson: skipped) with a message when /dev/kvm is not usable. */
void tu_require_kvm(void);

/* $HV_GUEST_DIR/<name> (or <name>.elf if only that exists); malloc'd. */
char *tu_guest_path(const char *name);

/* A message tests record with hv_error() so that a stale one is recognised;
 * the stderr logger drops it. */
#define TU_SENTINEL "tu-sentinel: no error recorded since"

/* A host handle whose logger prints to stderr; asserts on failure. */
hv_t *tu_open(void);
void tu_close(hv_t *hv);

/* ---- Console collector --------------------------------------------------- */

struct tu_console;

struct tu_console *tu_console_new(void);
/* The domain must be destroyed before the collector is freed. */
void tu_console_free(struct tu_console *c);
/* What the attached callback does: append bytes and wake waiters. */
void tu_console_append(struct tu_console *c, const char *data, size_t len);
/* hv_domain_console_set_callback(dom, <append>, c). */
int tu_console_attach(struct tu_console *c, hv_domain_t *dom);
/* Bytes collected so far. */
size_t tu_console_len(struct tu_console *c);
/* A NUL-terminated copy of everything collected (malloc'd; *len optional). */
char *tu_console_text(struct tu_console *c, size_t *len);
/* The cursor used by tu_console_wait (starts at 0). */
size_t tu_console_cursor(struct tu_console *c);
void tu_console_set_cursor(struct tu_console *c, size_t off);

/*
 * Waits until substr appears at or after byte offset from. On success
 * returns 0 and, if match is not NULL, sets *match to the offset of the
 * match. -ETIMEDOUT otherwise.
 */
int tu_console_wait_from(struct tu_console *c, size_t from, const char *substr,
                         int timeout_ms, size_t *match);
/* The same from the cursor, which moves past the match on success. */
int tu_console_wait(struct tu_console *c, const char *substr, int timeout_ms);

/*
 * Complete lines (ended by '\n') that start with prefix. n >= 0: the n-th
 * such line (0-based); n < 0: counting from the end (-1 = the last).
 * Copies the line without its '\n' into out. 0 or -ENOENT (-ENOSPC when out
 * is too small).
 */
int tu_console_line(struct tu_console *c, const char *prefix, int n, char *out,
                    size_t outsz);
int tu_console_count_lines(struct tu_console *c, const char *prefix);
/* Waits until the n-th (0-based, n >= 0) line with prefix is complete. */
int tu_console_wait_line(struct tu_console *c, const char *prefix, int n,
                         int timeout_ms, char *out, size_t outsz);
/* Waits until at least `count` lines with prefix are complete. */
int tu_console_wait_count(struct tu_console *c, const char *prefix, int count,
                          int timeout_ms);

/* The same helpers over plain text. */
int tu_text_line(const char *text, size_t len, const char *prefix, int n,
                 char *out, size_t outsz);
int tu_text_count_lines(const char *text, size_t len, const char *prefix);

/* ---- Domains --------------------------------------------------------------- */

/* A unique, valid domain name for this process: "tu-<tag>-<pid>-<n>". */
void tu_domain_name(char *out, size_t outsz, const char *tag);
/* hv_domain_create with a fresh name; asserts. */
hv_domain_t *tu_domain_create(hv_t *hv, const char *tag, uint64_t mem_mb,
                              uint32_t vcpus);
/* hv_domain_create + hvg_build of $HV_GUEST_DIR/guest (not started); asserts. */
hv_domain_t *tu_domain(hv_t *hv, const char *guest, const char *cmdline,
                       uint64_t mem_mb, uint32_t vcpus);
/* hv_domain_wait with the hang guard; asserts success. */
void tu_wait_exit(hv_domain_t *dom, hv_exit_t *e);
/* hv_domain_info; asserts. */
hv_domain_info_t tu_info(hv_domain_t *dom);
hv_vcpu_info_t tu_vcpu_info(hv_domain_t *dom, uint32_t vcpu);
const char *tu_exit_reason_name(hv_exit_reason_t r);
const char *tu_state_name(hv_domain_state_t s);

/* ---- Per-test fixture (cmocka setup/teardown) ------------------------------- */

#define TU_MAX_DOMAINS 8

struct tu_env {
    hv_t *hv;
    hv_domain_t *dom[TU_MAX_DOMAINS];
    struct tu_console *con[TU_MAX_DOMAINS];
};

/* Setup: opens a host handle into a new struct tu_env. */
int tu_setup(void **state);
/* Teardown: destroys the domains still registered, then their consoles, then the handle. */
int tu_teardown(void **state);
/*
 * tu_domain() + a console collector attached, both registered with env so
 * teardown cleans up whatever an assertion left behind. con may be NULL.
 */
hv_domain_t *tu_env_domain(struct tu_env *env, const char *guest,
                           const char *cmdline, uint64_t mem_mb, uint32_t vcpus,
                           struct tu_console **con);
/* Registers a domain created otherwise; returns its new console collector. */
struct tu_console *tu_env_adopt(struct tu_env *env, hv_domain_t *dom);
/* hv_domain_destroy (asserts 0), then frees the console; unregisters. */
void tu_env_destroy(struct tu_env *env, hv_domain_t *dom);

/* ---- Process resources ------------------------------------------------------- */

int tu_count_open_fds(void);
int tu_count_threads(void);
/* VmRSS of /proc/self/status in KiB (0 if unknown). */
uint64_t tu_rss_kb(void);
/* Mappings in /proc/self/maps whose path contains substr (e.g. "/memfd:"). */
int tu_count_maps(const char *substr);

/* ---- A private store daemon ---------------------------------------------------- */

/*
 * A private temp dir /tmp/hv-<tag>-XXXXXX with run/ and state/ (0700) and
 * hvstored ($HV_HVSTORED) --foreground on dir/store.sock, data in dir/data,
 * as our child. Tests of the registry, the control socket and the store
 * need their own: the environment's HV_STORE is "none".
 */
struct tu_host {
    char dir[64];
    char sock[128];
    char uri[140];  /* "unix:<sock>" */
    char run[128];  /* dir/run: HV_RUNDIR */
    char state[128]; /* dir/state: HV_STATEDIR */
    pid_t hvstored;
};

/*
 * Starts it and waits for its ready line (the hang guard only: no polling
 * of the socket), then sets HV_STORE, HV_RUNDIR and HV_STATEDIR to it.
 * 0, or -1 with a message on stderr and nothing left behind.
 */
int tu_host_start(struct tu_host *h, const char *tag);
/* SIGTERM, reap, remove the temp dir (best effort). Idempotent. */
void tu_host_stop(struct tu_host *h);

/*
 * Stops a store daemon that libhv spawned on sock: it daemonised, so it is
 * not our child. Finds it by SO_PEERCRED, SIGTERMs it and waits for its
 * end through a pidfd (the hang guard only). *pid (optional) gets its pid
 * when it was found. 0, or -1 with a message on stderr.
 */
int tu_spawned_daemon_stop(const char *sock, pid_t *pid);

/* CLOCK_MONOTONIC in ns, for observation windows only (never asserted on). */
uint64_t tu_now_ns(void);

/* Asserts with a formatted message (and the console text when c != NULL). */
#define tu_check(cond, c, ...)                                                 \
    do {                                                                       \
        if (!(cond))                                                           \
            tu_fail_(__FILE__, __LINE__, #cond, (c), __VA_ARGS__);             \
    } while (0)
void tu_fail_(const char *file, int line, const char *cond,
              struct tu_console *c, const char *fmt, ...)
    __attribute__((format(printf, 5, 6), noreturn));

#endif
