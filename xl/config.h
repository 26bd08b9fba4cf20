/* SPDX-License-Identifier: MIT */
/*
 * xl.cfg parser (see docs/xl.cfg.5): KEY = VALUE lines, values are decimal
 * numbers, quoted strings or [ lists ]. Internal to xl: no global state, no
 * printing, no exit. Every function returns 0 or a negative errno and on
 * failure writes a message naming the file, the line and the key into err.
 *
 * Use: xl_config_load (or _parse), any number of xl_config_override, then
 * xl_config_finish (required keys, cross-key checks, dependent defaults),
 * and xl_config_free in every case.
 */
#ifndef XL_CONFIG_H
#define XL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum xl_action {
    XL_ACTION_DESTROY,
    XL_ACTION_RESTART,
    XL_ACTION_PRESERVE,
    XL_ACTION_RENAME_RESTART,
};

/* Limits of the syntax; exceeding one is an error, never a truncation. */
#define XL_CONFIG_MAX_LINE 8192      /* bytes per line, newline excluded */
#define XL_CONFIG_MAX_STRING 4096    /* bytes of a string after unescaping */
#define XL_CONFIG_MAX_LIST 256       /* items of a list */
#define XL_CONFIG_MAX_FILE (1u << 24) /* bytes xl_config_load reads */
#define XL_CONFIG_MAX_NAME 64
#define XL_CONFIG_MAX_VCPUS 128

#define XL_CONFIG_DEFAULT_MEMORY_MB 128
#define XL_CONFIG_DEFAULT_CPU_WEIGHT 256

#define XL_CONFIG_NKEYS 14

struct xl_config {
    char *name;               /* required */
    int has_uuid;
    unsigned char uuid[16];
    uint64_t memory_mb;       /* default 128 */
    uint64_t maxmem_mb;       /* default memory_mb (set by finish) */
    unsigned vcpus;           /* 1..128, default 1 */
    unsigned maxvcpus;        /* vcpus..128, default vcpus (set by finish) */
    char *cpus;               /* NULL, or "0-3,5" (a list joined by ',') */
    unsigned cpu_weight;      /* 1..65535, default 256 */
    unsigned cap;             /* percent of one CPU, 0 = no cap */
    char *kernel;             /* required */
    char *cmdline;            /* NULL if not given */
    enum xl_action on_poweroff, on_reboot, on_crash;

    /* Internal: where each key was set (0 = not set, UINT_MAX = command
     * line, else the line in the file). */
    unsigned set_line_[XL_CONFIG_NKEYS];
};

/* Parses len bytes of text (need not be NUL-terminated) into *cfg, which is
 * initialised first (defaults). filename is used in messages. Required keys
 * are not checked here (see xl_config_finish). -EINVAL with err set; on
 * failure *cfg holds nothing to free (xl_config_free is still allowed). */
int xl_config_parse(struct xl_config *cfg, const char *text, size_t len,
                    const char *filename, char *err, size_t errlen);

/* Reads and parses the file at path. -errno of the read with the path in
 * err, -EFBIG beyond XL_CONFIG_MAX_FILE, or -EINVAL from the parser. */
int xl_config_load(struct xl_config *cfg, const char *path, char *err,
                   size_t errlen);

/* One command-line "KEY=VALUE" (same value syntax as the file) on a parsed
 * config: replaces the file's value or adds the key. -EINVAL leaves *cfg
 * unchanged; messages name "command line". */
int xl_config_override(struct xl_config *cfg, const char *key_equals_value,
                       char *err, size_t errlen);

/* Checks required keys (name, kernel) and cross-key constraints (maxmem >=
 * memory, maxvcpus >= vcpus) and fills maxmem_mb/maxvcpus defaults. */
int xl_config_finish(struct xl_config *cfg, const char *filename, char *err,
                     size_t errlen);

/* Frees the strings and zeroes *cfg. NULL is a no-op. */
void xl_config_free(struct xl_config *cfg);

/* "destroy", "restart", "preserve", "rename-restart". */
const char *xl_action_name(enum xl_action a);

#endif
