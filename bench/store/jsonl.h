/* SPDX-License-Identifier: MIT */
/* One JSON object per line on stdout, built field by field. */
#ifndef BENCH_STORE_JSONL_H
#define BENCH_STORE_JSONL_H

#include <stdint.h>

struct jsonl {
    char buf[4096];
    unsigned len;
    int overflow;
};

void jl_begin(struct jsonl *j);
void jl_str(struct jsonl *j, const char *key, const char *val);
void jl_int(struct jsonl *j, const char *key, int64_t val);
/* `decimals` digits after the point; NaN or infinity print as null. */
void jl_num(struct jsonl *j, const char *key, double val, int decimals);
void jl_null(struct jsonl *j, const char *key);
/* Prints the line and flushes stdout, so a later crash loses nothing. */
void jl_end(struct jsonl *j);

#endif
