/* SPDX-License-Identifier: MIT */
/* hvstored's log: stderr with the level, or syslog once daemonised. */
#include "hvstored.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static hvs_log_level_t max_level = HVS_LOG_INFO;
static bool use_syslog;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_levels[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void log_init(hvs_log_level_t level)
{
    max_level = level;
}

void log_to_syslog(void)
{
    openlog("hvstored", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    use_syslog = true;
}

hvs_log_level_t log_level(void)
{
    return max_level;
}

static void emit(hvs_log_level_t level, const char *msg)
{
    if (level > max_level)
        return;
    if ((unsigned)level > HVS_LOG_DEBUG)
        level = HVS_LOG_DEBUG;
    if (use_syslog)
        syslog(syslog_levels[level], "%s", msg);
    else
        fprintf(stderr, "hvstored: %s: %s\n", level_names[level], msg);
}

void logmsg(hvs_log_level_t level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (level > max_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    emit(level, buf);
}

void log_engine(void *opaque, hvs_log_level_t level, const char *msg)
{
    (void)opaque;
    emit(level, msg);
}
