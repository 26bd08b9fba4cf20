/* SPDX-License-Identifier: MIT */
/* Last-error messages (per thread, per handle) and the caller's logger. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * A short list of per-thread slots, not a pthread key: the handle owns the
 * slots and frees them all in hv_close, whichever threads used it.
 */
static struct hv_err_slot *err_slot(hv_t *hv, bool create)
{
    pthread_t self = pthread_self();
    struct hv_err_slot *s;

    for (s = hv->errs; s; s = s->next)
        if (pthread_equal(s->thread, self))
            return s;
    if (!create)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s) {
        s->thread = self;
        s->next = hv->errs;
        hv->errs = s;
    }
    return s;
}

static void vlog(hv_t *hv, hv_log_level_t level, const char *fmt, va_list ap)
{
    char msg[512];

    if (!hv->log || level > hv->log_level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    hv->log(hv->log_opaque, level, msg);
}

static int verror(hv_t *hv, int err, const char *fmt, va_list ap)
{
    va_list copy;

    va_copy(copy, ap);
    pthread_mutex_lock(&hv->err_lock);
    struct hv_err_slot *s = err_slot(hv, true);
    if (s)
        vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    pthread_mutex_unlock(&hv->err_lock);
    vlog(hv, HV_LOG_ERROR, fmt, copy);
    va_end(copy);
    return err;
}

HV_EXPORT int hv_error(hv_t *hv, int err, const char *fmt, ...)
{
    va_list ap;

    if (!hv)
        return err;
    va_start(ap, fmt);
    verror(hv, err, fmt, ap);
    va_end(ap);
    return err;
}

HV_EXPORT void hv_log(hv_t *hv, hv_log_level_t level, const char *fmt, ...)
{
    va_list ap;

    if (!hv)
        return;
    va_start(ap, fmt);
    vlog(hv, level, fmt, ap);
    va_end(ap);
}

HV_EXPORT const char *hv_last_error(hv_t *hv)
{
    const char *msg = "";

    if (!hv)
        return "invalid handle (NULL)";
    pthread_mutex_lock(&hv->err_lock);
    struct hv_err_slot *s = err_slot(hv, false);
    if (s)
        msg = s->msg;
    pthread_mutex_unlock(&hv->err_lock);
    /* The slot lives until hv_close and only this thread writes it. */
    return msg;
}

void error_free_all(hv_t *hv)
{
    while (hv->errs) {
        struct hv_err_slot *s = hv->errs;
        hv->errs = s->next;
        free(s);
    }
}
