/* SPDX-License-Identifier: MIT */
/* Runtime internals shared between the runtime's files (not for guests). */
#ifndef HVRT_RT_H
#define HVRT_RT_H

#include <stdint.h>

#include "hvrt.h"

#define HVRT_NORETURN __attribute__((noreturn))

/* Set once by hvrt_start before anything else runs. */
extern const struct hv_start_info *hvrt_si;
extern volatile struct hv_shared_info *hvrt_shared;

/* Linker script symbols. */
extern char __image_start[], __image_end[];

/* entry.S */
void hvrt_vcpu_entry(void);
/* trap.S */
extern const char hvrt_trap_table[];

/* start.c */
HVRT_NORETURN void hvrt_start(uint64_t start_info_gpa);
/* cmdline.c: splits a copy of the command line in place. */
int hvrt_cmdline_split(char *buf, char **argv, int max_args);
/* alloc.c */
void hvrt_alloc_init(const struct hv_start_info *si);
/* smp.c */
HVRT_NORETURN void hvrt_vcpu_down_failed(void);

/* pvclock.c: the pure arithmetic of the clock record. */
uint64_t hvrt_pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift);
uint64_t hvrt_pvclock_ns(uint64_t tsc, uint64_t tsc_base, uint64_t ns_base,
                         uint32_t mul, int8_t shift);

/* printf.c: the formatter behind printf and snprintf. */
struct hvrt_sink {
    char *buf;
    size_t cap;
    size_t len;
    size_t total;                        /* bytes the format produced */
    void (*flush)(struct hvrt_sink *s);  /* NULL: drop what does not fit */
};
void hvrt_format(struct hvrt_sink *s, const char *fmt, va_list ap);

static inline uint64_t hvrt_align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

#endif
