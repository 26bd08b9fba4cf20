/* SPDX-License-Identifier: MIT */
#include "jsonl.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put(struct jsonl *j, const char *fmt, ...)
{
    if (j->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(j->buf + j->len, sizeof j->buf - j->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (unsigned)n >= sizeof j->buf - j->len)
        j->overflow = 1;
    else
        j->len += (unsigned)n;
}

static void put_string(struct jsonl *j, const char *s)
{
    put(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            put(j, "\\%c", c);
        else if (c < 0x20)
            put(j, "\\u%04x", c);
        else
            put(j, "%c", c);
    }
    put(j, "\"");
}

static void key(struct jsonl *j, const char *k)
{
    put(j, j->len > 1 ? "," : "");
    put_string(j, k);
    put(j, ":");
}

void jl_begin(struct jsonl *j)
{
    j->len = 0;
    j->overflow = 0;
    put(j, "{");
}

void jl_str(struct jsonl *j, const char *k, const char *val)
{
    key(j, k);
    put_string(j, val);
}

void jl_int(struct jsonl *j, const char *k, int64_t val)
{
    key(j, k);
    put(j, "%" PRId64, val);
}

void jl_num(struct jsonl *j, const char *k, double val, int decimals)
{
    key(j, k);
    if (isfinite(val))
        put(j, "%.*f", decimals, val);
    else
        put(j, "null");
}

void jl_null(struct jsonl *j, const char *k)
{
    key(j, k);
    put(j, "null");
}

void jl_end(struct jsonl *j)
{
    put(j, "}");
    if (j->overflow) {
        fprintf(stderr, "store_bench: a JSON line overflowed its buffer\n");
        return;
    }
    printf("%s\n", j->buf);
    fflush(stdout);
}
