/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int samples_add(struct samples *s, const double *v, size_t n)
{
    if (s->n + n > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->n + n)
            cap *= 2;
        double *p = realloc(s->v, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        s->v = p;
        s->cap = cap;
    }
    memcpy(s->v + s->n, v, n * sizeof *v);
    s->n += n;
    return 0;
}

void samples_free(struct samples *s)
{
    free(s->v);
    *s = (struct samples){ 0 };
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void samples_summary(struct samples *s, struct summary *out)
{
    *out = (struct summary){ .ops = s->n };
    if (!s->n)
        return;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    size_t n = s->n;
    out->median = n % 2 ? s->v[n / 2] : (s->v[n / 2 - 1] + s->v[n / 2]) / 2;
    size_t rank = (n * 90 + 99) / 100; /* nearest rank */
    out->p90 = s->v[rank ? rank - 1 : 0];
    out->ops_per_s = s->wall_s > 0 ? (double)n / s->wall_s : 0;
}
