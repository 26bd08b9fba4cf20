/* SPDX-License-Identifier: MIT */
#include "store_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void st_fail_(const char *file, int line, hvs_t *h, const char *call, int got, int want)
{
    const char *msg = h ? hvs_last_error(h) : hvs_open_error();
    fail_msg("%s:%d: %s returned %d (%s), expected %s%d; message: \"%s\"", file, line, call, got,
             got < 0 ? strerror(-got) : "ok", want == 0 && got < 0 ? ">= " : "", want,
             msg ? msg : "(null)");
    abort(); /* fail_msg does not return; this tells the compiler so */
}

void st_mem_uri(char *buf, size_t len)
{
    static int counter;
    snprintf(buf, len, "mem:st-%ld-%d", (long)getpid(), ++counter);
}

hvs_t *st_open(const char *uri, const hvs_quota_t *quota)
{
    hvs_options_t o = {.size = sizeof(o), .quota = quota};
    hvs_t *h = NULL;
    int rc = hvs_open(&h, uri, &o);
    if (rc != 0)
        fail_msg("hvs_open(%s): %d (%s): %s", uri, rc, strerror(-rc), hvs_open_error());
    assert_non_null(h);
    return h;
}

hvs_t *st_open_as(const char *uri, const hvs_quota_t *quota, uint32_t domid)
{
    hvs_t *h = st_open(uri, quota);
    int rc = hvs_act_as(h, domid);
    if (rc != 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", hvs_last_error(h));
        hvs_close(h);
        fail_msg("hvs_act_as(%u): %d: %s", domid, rc, msg);
    }
    return h;
}

void st_write(hvs_t *h, hvs_tx_t tx, const char *path, const char *value)
{
    int rc = hvs_write(h, tx, path, value, strlen(value));
    if (rc != 0)
        fail_msg("write %.80s (domain %u, tx %u): %d (%s): %.200s", path, hvs_domid(h), tx, rc,
                 strerror(-rc), hvs_last_error(h));
}

void st_expect(hvs_t *h, hvs_tx_t tx, const char *path, const char *value)
{
    char *v = NULL;
    size_t len = 0;
    int rc = hvs_read(h, tx, path, &v, &len);
    if (rc != 0)
        fail_msg("read %.80s (domain %u, tx %u): %d (%s): %.200s", path, hvs_domid(h), tx, rc,
                 strerror(-rc), hvs_last_error(h));
    if (len != strlen(value) || memcmp(v, value, len) != 0 || v[len] != 0) {
        char got[128];
        snprintf(got, sizeof(got), "%.*s", (int)(len < 100 ? len : 100), v);
        free(v);
        fail_msg("read %s: \"%s\" (%zu bytes), expected \"%s\"", path, got, len, value);
    }
    free(v);
}

int st_exists(hvs_t *h, hvs_tx_t tx, const char *path)
{
    char *v = NULL;
    int rc = hvs_read(h, tx, path, &v, NULL);
    free(v);
    if (rc == 0)
        return 1;
    if (rc != -ENOENT)
        fail_msg("read %.80s: %d (%s): %.200s", path, rc, strerror(-rc), hvs_last_error(h));
    return 0;
}

void st_perms(hvs_t *h, const char *path, ...)
{
    hvs_perm_t p[16];
    unsigned n = 0;
    va_list ap;
    va_start(ap, path);
    for (const char *t; (t = va_arg(ap, const char *)) != NULL; n++) {
        assert_true(n < 16);
        assert_int_equal(hvs_perm_parse(t, &p[n]), 0);
    }
    va_end(ap);
    int rc = hvs_perms_set(h, HVS_TX_NONE, path, p, n);
    if (rc != 0)
        fail_msg("perms_set %s (domain %u): %d (%s): %s", path, hvs_domid(h), rc, strerror(-rc),
                 hvs_last_error(h));
}

void st_expect_perms(hvs_t *h, const char *path, ...)
{
    hvs_perm_t *p = NULL;
    int n = hvs_perms_get(h, HVS_TX_NONE, path, &p);
    if (n < 1)
        fail_msg("perms_get %s: %d: %s", path, n, hvs_last_error(h));
    char got[256] = "", want[256] = "";
    size_t at = 0;
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(got + at, sizeof(got) - at, "%s%c%u", i ? "," : "",
                               "nrwb"[p[i].perm & 3], p[i].domid);
    free(p);
    va_list ap;
    va_start(ap, path);
    at = 0;
    int i = 0;
    for (const char *t; (t = va_arg(ap, const char *)) != NULL; i++)
        at += (size_t)snprintf(want + at, sizeof(want) - at, "%s%s", i ? "," : "", t);
    va_end(ap);
    if (strcmp(got, want) != 0)
        fail_msg("perms of %s: %s, expected %s", path, got, want);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *st_dir(hvs_t *h, hvs_tx_t tx, const char *path)
{
    char **names = NULL;
    int n = hvs_directory(h, tx, path, &names);
    if (n < 0)
        fail_msg("directory %s (tx %u): %d (%s): %s", path, tx, n, strerror(-n),
                 hvs_last_error(h));
    assert_non_null(names);
    assert_null(names[n]);
    qsort(names, (size_t)n, sizeof(*names), cmp_str);
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *out = calloc(1, len);
    assert_non_null(out);
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, names[i]);
    }
    hvs_list_free(names);
    return out;
}

void st_expect_dir(hvs_t *h, hvs_tx_t tx, const char *path, const char *want)
{
    char *got = st_dir(h, tx, path);
    if (strcmp(got, want) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%.400s", got);
        free(got);
        fail_msg("directory %s (domain %u, tx %u): \"%s\", expected \"%s\"", path,
                 hvs_domid(h), tx, msg, want);
    }
    free(got);
}

char *st_tmpdir(void)
{
    char *d = strdup("/tmp/hvs-engine-XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void st_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void st_ev_cb(void *opaque, const char *path, const char *token)
{
    struct st_events *e = opaque;
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 16;
        e->ev = realloc(e->ev, e->cap * sizeof(*e->ev));
        if (!e->ev)
            abort();
    }
    e->ev[e->n].path = strdup(path);
    e->ev[e->n].token = strdup(token);
    if (!e->ev[e->n].path || !e->ev[e->n].token)
        abort();
    e->n++;
}

int st_ev_drain(hvs_t *h)
{
    int total = 0;
    for (int i = 0; i < 1000; i++) {
        int n = hvs_dispatch(h);
        if (n < 0)
            fail_msg("hvs_dispatch: %d: %s", n, hvs_last_error(h));
        if (n == 0)
            return total;
        total += n;
    }
    fail_msg("hvs_dispatch never ran dry");
    return total;
}

int st_ev_count(const struct st_events *e, const char *path, const char *token)
{
    int n = 0;
    for (size_t i = 0; i < e->n; i++)
        if ((!path || strcmp(e->ev[i].path, path) == 0) &&
            (!token || strcmp(e->ev[i].token, token) == 0))
            n++;
    return n;
}

void st_ev_clear(struct st_events *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->ev[i].path);
        free(e->ev[i].token);
    }
    free(e->ev);
    memset(e, 0, sizeof(*e));
}

const char *st_ev_text(const struct st_events *e)
{
    static char buf[2048];
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < e->n && at < sizeof(buf) - 1; i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s=%s", i ? "; " : "",
                               e->ev[i].path, e->ev[i].token);
    return e->n ? buf : "(none)";
}
