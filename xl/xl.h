/* SPDX-License-Identifier: MIT */
/*
 * xl internals shared by the command files. Exit statuses: XL_OK, XL_FAIL
 * ("xl: message" on stderr), XL_USAGE (the command's usage line on stderr).
 */
#ifndef XL_XL_H
#define XL_XL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h> /* getopt */

#include "hv/hv.h"

#define XL_OK 0
#define XL_FAIL 1
#define XL_USAGE 2

struct xl_config;

typedef int (*xl_cmd_fn)(int argc, char **argv);

struct xl_command {
    const char *name;
    xl_cmd_fn fn;
    const char *usage;   /* operands, after "xl NAME" */
    const char *summary; /* one line for `xl help` */
};

/* main.c */
extern int xl_verbose; /* -v count */
/* "xl: <fmt>" on stderr; returns XL_FAIL. */
int xl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "xl: <what>: <hv_last_error or strerror(-err)>"; returns XL_FAIL. */
int xl_fail_hv(hv_t *hv, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "xl NAME: <fmt>" and the usage line of command name; returns XL_USAGE. */
int xl_usage(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* hv_open with xl's logging (stderr with -v); XL_OK or XL_FAIL (reported). */
int xl_host_open(hv_t **hv);
void xl_log_stderr(void *opaque, hv_log_level_t level, const char *msg);

/* domain_ref.c: "name or domid" */
/* XL_OK with *domid, or XL_FAIL reported ("no domain named 'foo'"). */
int xl_domain_resolve(hv_t *hv, const char *ref, uint32_t *domid);
/* Resolves and opens a handle (remote, or local in the monitor itself). */
int xl_domain_get(hv_t *hv, const char *ref, hv_domain_t **dom);
/* Every domain's info (malloc'd array in *out, count in *n). XL_OK/XL_FAIL. */
int xl_domain_list(hv_t *hv, hv_domain_info_t **out, size_t *n);
/* info of the domains named by refs (all of them when nref is 0). */
int xl_domain_infos(hv_t *hv, char **refs, int nref, hv_domain_info_t **out, size_t *n);
/* wait_gone.c: returns once the registry no longer holds that domain. */
int xl_domain_wait_gone(uint32_t domid, const uint8_t uuid[16]);

/* util.c */
/* "0-3,5", "all" (ncpus 0), "^2" excludes; cpus gets up to max entries. */
int xl_cpulist_parse(const char *s, uint32_t *cpus, size_t max, size_t *ncpus);
/* "0-3,5" from a sorted list; "all" when it is all online host CPUs. */
void xl_cpulist_format(const uint32_t *cpus, size_t n, char *buf, size_t len);
/* SIZE with suffix b/k/m/g/t (none: MiB) into bytes. 0 or -EINVAL. */
int xl_size_parse(const char *s, uint64_t *bytes);
int xl_u32_parse(const char *s, uint32_t *out);
/* "r-----", "--p---", ... (Xen's six state letters). */
const char *xl_state_letters(const hv_domain_info_t *i);
/* "running", "paused", "shutdown", "crashed", "created". */
const char *xl_state_name(const hv_domain_info_t *i);
uint64_t xl_now_ns(int clock);
const char *xl_run_dir(void);
int xl_mkdir_p(const char *path, unsigned mode);
/* Where libhv finds the store: what hv_open with default options uses. */
void xl_store_uri(char *buf, size_t len);
/* HV_STORE=none: no registry, domains live only in their own process. */
bool xl_store_none(void);

/* term.c: change calls back on a copy of fd's modes, which are then set;
 * the saved ones come back with xl_term_restore() or when SIGINT, SIGTERM,
 * SIGHUP or SIGQUIT ends xl. -ENOTTY when fd is not our terminal (not a
 * terminal, or we are not its foreground job): nothing changed. */
struct termios;
int xl_term_set(int fd, void (*change)(struct termios *t));
void xl_term_restore(void);

/* cmd_console.c: copies the console fd to stdout until EOF, Ctrl-] on a
 * terminal stdin, or (with dom) the domain's exit when it is preserved. The
 * handle is then in use by a thread until the process exits. XL_OK. */
int xl_console_loop(int fd, hv_domain_t *dom);

/* monitor.c */
struct xl_monitor_opts {
    const struct xl_config *cfg;
    int report_fd;      /* socket to the parent xl create, or -1 (-F) */
    bool foreground;    /* -F: xl itself is the monitor */
    bool console;       /* -F -c: the guest's console to stdout */
    bool wait_go;       /* start only after a byte (or EOF) on report_fd */
};
/* Runs the domain's whole life; returns the process exit status. */
int xl_monitor_run(const struct xl_monitor_opts *o);

/* record.c: the config a domain was created with, for `xl list -l`, in
 * $HV_RUNDIR/xl/<domid>.json (with its uuid, so a stale file is ignored). */
int xl_record_write(uint32_t domid, const uint8_t uuid[16], const struct xl_config *cfg);
/* Removes the record of domid if it is uuid's (not another domain's). */
void xl_record_remove(uint32_t domid, const uint8_t uuid[16]);
struct yajl_gen_t;
/* Emits the recorded config of domid (if its uuid matches) as a JSON value
 * into g, or null. */
void xl_record_emit(struct yajl_gen_t *g, uint32_t domid, const uint8_t uuid[16]);
/* The recorded string value of key into buf: 0, or -ENOENT (no record of
 * that domain, or no such key). */
int xl_record_get(uint32_t domid, const uint8_t uuid[16], const char *key, char *buf, size_t len);
/* Whether the recorded config has key = value (a string). */
bool xl_record_says(uint32_t domid, const uint8_t uuid[16], const char *key, const char *value);

/* Commands */
int cmd_create(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_reboot(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_uptime(int argc, char **argv);
int cmd_vcpu_list(int argc, char **argv);
int cmd_vcpu_pin(int argc, char **argv);
int cmd_vcpu_set(int argc, char **argv);
int cmd_mem_set(int argc, char **argv);
int cmd_mem_max(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif
