/* SPDX-License-Identifier: MIT */
/*
 * The public handle: a session on an embedded engine (file:, mem:) or a
 * connection to hvstored (unix:), with the watch callbacks and the
 * per-thread last-error messages.
 *
 * Embedded engines are shared within the process by name ("mem:NAME", the
 * file's real path): two opens of the same file must not become two LMDB
 * environments (LMDB forbids it), and two components of one program should
 * see one store. This registry is the library's only process-wide state.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client.h"
#include "engine.h"
#include "errslot.h"
#include "path.h"

struct engine_ref {
    char *key;
    struct store *st;
    int refs;
    struct engine_ref *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct engine_ref *registry;
static _Thread_local char open_err[512];

/*
 * A watch as the caller set it. The store sees it under a token of its own,
 * "hvs<id>:<token>", so that each event reaches exactly its registration even
 * when the caller gives two watches the same token.
 */
struct watch_reg {
    char *path; /* resolved: a relative watch matches its absolute spelling */
    char *token;
    char *wire_token;
    uint64_t id;
    hvs_watch_fn fn;
    void *opaque;
    struct watch_reg *next;
};

struct hvs {
    struct engine_ref *eng; /* embedded */
    struct session *s;
    int evfd;
    struct client *c; /* unix: */
    uint32_t domid;   /* the domain a unix: handle acts for */
    pthread_mutex_t lock; /* watch registrations */
    struct watch_reg *regs;
    uint64_t next_reg;
    struct errslots errs;
};

static void reg_free(struct watch_reg *w)
{
    free(w->path);
    free(w->token);
    free(w->wire_token);
    free(w);
}
/* ---- Errors ----
---------------------------------------------------------- */

static int herr(hvs_t *h, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int herr(hvs_t *h, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    errslots_vset(&h->errs, fmt, ap);
    va_end(ap);
    return err;
}

/* Keeps the backend's message for a failed call. */
static int done(hvs_t *h, int r)
{
    if (r >= 0)
        return r;
    return herr(h, r, "%s", h->c ? client_error(h->c) : session_error(h->s));
}

HVS_EXPORT const char *hvs_last_error(hvs_t *h)
{
    return h ? errslots_get(&h->errs) : "invalid handle (NULL)";
}

HVS_EXPORT const char *hvs_open_error(void)
{
    return open_err;
}

static int open_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int open_fail(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(open_err, sizeof(open_err), fmt, ap);
    va_end(ap);
    return err;
}

/* ---- Open and close ------------------------------------------------------ */

static void notify(void *opaque)
{
    hvs_t *h = opaque;
    uint64_t one = 1;

    /* A full counter still leaves the fd readable: nothing is lost. */
    if (write(h->evfd, &one, sizeof(one)) < 0) {
    }
}

static int engine_get(const char *key, const char *file, const hvs_options_t *o,
                      struct engine_ref **out)
{
    struct store_opts so = {.path = file, .autosync = true};
    char err[400];
    int r = 0;

    if (o) {
        so.log = o->log;
        so.log_opaque = o->log_opaque;
        so.log_level = o->log_level;
        if (o->quota)
            memcpy(&so.quota, o->quota,
                   o->quota->size < sizeof(so.quota) ? o->quota->size : sizeof(so.quota));
    }
    pthread_mutex_lock(&registry_lock);
    struct engine_ref *e;
    for (e = registry; e; e = e->next)
        if (key && strcmp(e->key, key) == 0)
            break;
    if (e) {
        e->refs++;
        goto out;
    }
    e = calloc(1, sizeof(*e));
    if (!e || (key && !(e->key = strdup(key)))) {
        free(e);
        e = NULL;
        r = open_fail(-ENOMEM, "out of memory");
        goto out;
    }
    r = store_open(&e->st, &so, err, sizeof(err));
    if (r < 0) {
        open_fail(r, "%s", err);
        free(e->key);
        free(e);
        e = NULL;
        goto out;
    }
    e->refs = 1;
    if (key) {
        e->next = registry;
        registry = e;
    }
out:
    pthread_mutex_unlock(&registry_lock);
    *out = e;
    return r;
}

static void engine_put(struct engine_ref *e)
{
    pthread_mutex_lock(&registry_lock);
    if (--e->refs == 0) {
        for (struct engine_ref **pp = &registry; *pp; pp = &(*pp)->next)
            if (*pp == e) {
                *pp = e->next;
                break;
            }
        store_close(e->st);
        free(e->key);
        free(e);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* The file's identity whether or not it exists yet: the real path of its
 * directory plus its name. */
static int file_key(const char *file, char *key, size_t keylen)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(file, '/');
    const char *base = slash ? slash + 1 : file;

    if (!*base)
        return open_fail(-EINVAL, "store file \"%s\" names a directory", file);
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - file) + 1 : 1, slash ? file : ".");
    if (!realpath(dir, real))
        return open_fail(-errno, "store file %s: directory %s: %s", file, dir, strerror(errno));
    if ((size_t)snprintf(key, keylen, "file:%s/%s", real, base) >= keylen)
        return open_fail(-ENAMETOOLONG, "store file %s: path too long", file);
    return 0;
}

/* A size-first struct: at least the size field, and any tail this library
 * does not know must be zero (a newer caller not using newer fields). */
static int size_ok(const void *p, size_t size, size_t ours, const char *what)
{
    if (size < sizeof(size_t) || size > 65536)
        return open_fail(-EINVAL, "%s.size is %zu: set it to sizeof(%s)", what, size, what);
    for (size_t i = ours; i < size; i++)
        if (((const unsigned char *)p)[i])
            return open_fail(-EINVAL, "%s has fields this libhvstore does not know (size %zu > %zu)",
                             what, size, ours);
    return 0;
}

HVS_EXPORT int hvs_open(hvs_t **out, const char *uri, const hvs_options_t *opts)
{
    hvs_options_t o = {0};
    char err[400];
    int r;

    open_err[0] = '\0';
    if (!out)
        return open_fail(-EINVAL, "hvs_open: out is NULL");
    *out = NULL;
    if (!uri)
        return open_fail(-EINVAL, "hvs_open: URI is NULL");
    if (opts) {
        r = size_ok(opts, opts->size, sizeof(o), "hvs_options_t");
        if (r < 0)
            return r;
        memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
        if (opts->size < offsetof(hvs_options_t, quota) + sizeof(o.quota))
            o.quota = NULL;
        if (o.quota) {
            r = size_ok(o.quota, o.quota->size, sizeof(hvs_quota_t), "hvs_quota_t");
            if (r < 0)
                return r;
        }
    }
    hvs_t *h = calloc(1, sizeof(*h));
    if (!h)
        return open_fail(-ENOMEM, "out of memory");
    h->evfd = -1;
    pthread_mutex_init(&h->lock, NULL);
    errslots_init(&h->errs);

    if (strncmp(uri, "unix:", 5) == 0) {
        if (!uri[5]) {
            r = open_fail(-EINVAL, "store URI \"%s\": no socket path after unix:", uri);
            goto fail;
        }
        r = client_connect(&h->c, uri + 5, err, sizeof(err));
        if (r < 0) {
            open_fail(r, "%s", err);
            goto fail;
        }
    } else if (strncmp(uri, "file:", 5) == 0 || strncmp(uri, "mem:", 4) == 0) {
        bool file = uri[0] == 'f';
        const char *rest = uri + (file ? 5 : 4);
        char keybuf[PATH_MAX + 8];
        const char *key = NULL;
        if (file) {
            if (!rest[0]) {
                r = open_fail(-EINVAL, "store URI \"%s\": no file after file:", uri);
                goto fail;
            }
            r = file_key(rest, keybuf, sizeof(keybuf));
            if (r < 0)
                goto fail;
            key = keybuf;
        } else if (rest[0]) {
            snprintf(keybuf, sizeof(keybuf), "mem:%s", rest);
            key = keybuf;
        }
        r = engine_get(key, file ? rest : NULL, opts ? &o : NULL, &h->eng);
        if (r < 0)
            goto fail;
        h->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->evfd < 0) {
            r = open_fail(-errno, "eventfd: %s", strerror(errno));
            goto fail;
        }
        h->s = session_new(h->eng->st, HVS_DOM0, notify, h);
        if (!h->s) {
            r = open_fail(-ENOMEM, "out of memory");
            goto fail;
        }
    } else {
        r = open_fail(-EINVAL, "store URI \"%s\": use unix:PATH, file:PATH or mem:[NAME]", uri);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    hvs_close(h);
    return r;
}

HVS_EXPORT void hvs_close(hvs_t *h)
{
    if (!h)
        return;
    if (h->c)
        client_close(h->c);
    if (h->s)
        session_free(h->s);
    if (h->eng)
        engine_put(h->eng);
    if (h->evfd >= 0)
        close(h->evfd);
    while (h->regs) {
        struct watch_reg *w = h->regs;
        h->regs = w->next;
        reg_free(w);
    }
    errslots_free(&h->errs);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

HVS_EXPORT int hvs_act_as(hvs_t *h, uint32_t domid)
{
    if (!h)
        return -EINVAL;
    int r = done(h, h->c ? client_act_as(h->c, domid) : session_act_as(h->s, domid));
    if (r == 0)
        h->domid = domid;
    return r;
}

HVS_EXPORT uint32_t hvs_domid(hvs_t *h)
{
    if (!h)
        return HVS_DOM0;
    return h->s ? session_domid(h->s) : h->domid;
}

/* ---- Nodes --------------------------------------------------------------- */

#define CHECK(h, ...)                                                          \
    do {                                                                       \
        if (!(h))                                                              \
            return -EINVAL;                                                    \
        if (!(__VA_ARGS__))                                                    \
            return herr(h, -EINVAL, "%s: a required argument is NULL", __func__); \
    } while (0)

HVS_EXPORT int hvs_read(hvs_t *h, hvs_tx_t tx, const char *path, char **value, size_t *len)
{
    CHECK(h, path && value);
    *value = NULL;
    return done(h, h->c ? client_read(h->c, tx, path, value, len)
                        : store_read(h->s, tx, path, value, len));
}

HVS_EXPORT int hvs_write(hvs_t *h, hvs_tx_t tx, const char *path, const void *value, size_t len)
{
    CHECK(h, path && (value || len == 0));
    if (!value)
        value = "";
    return done(h, h->c ? client_write(h->c, tx, path, value, len)
                        : store_write(h->s, tx, path, value, len));
}

HVS_EXPORT int hvs_mkdir(hvs_t *h, hvs_tx_t tx, const char *path)
{
    CHECK(h, path);
    return done(h, h->c ? client_mkdir(h->c, tx, path) : store_mkdir(h->s, tx, path));
}

HVS_EXPORT int hvs_rm(hvs_t *h, hvs_tx_t tx, const char *path)
{
    CHECK(h, path);
    return done(h, h->c ? client_rm(h->c, tx, path) : store_rm(h->s, tx, path));
}

/* Turns NUL-separated names into one allocation: the pointers, then the
 * strings. */
static int to_list(hvs_t *h, const char *buf, size_t len, int count, char ***out)
{
    char **list = malloc((size_t)(count + 1) * sizeof(char *) + len);

    if (!list)
        return herr(h, -ENOMEM, "out of memory");
    char *strings = (char *)(list + count + 1);
    if (len)
        memcpy(strings, buf, len);
    size_t off = 0;
    for (int i = 0; i < count; i++) {
        list[i] = strings + off;
        off += strlen(strings + off) + 1;
    }
    list[count] = NULL;
    *out = list;
    return count;
}

static int count_names(const char *buf, size_t len)
{
    int n = 0;

    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\0';
    return n;
}

HVS_EXPORT int hvs_directory(hvs_t *h, hvs_tx_t tx, const char *path, char ***names)
{
    char *buf = NULL;
    size_t len = 0;
    uint64_t gen;

    CHECK(h, path && names);
    *names = NULL;
    int r = done(h, h->c ? client_directory(h->c, tx, path, &buf, &len)
                         : store_directory(h->s, tx, path, &buf, &len, &gen));
    if (r < 0)
        return r;
    r = to_list(h, buf, len, count_names(buf, len), names);
    free(buf);
    return r;
}

HVS_EXPORT int hvs_directory_part(hvs_t *h, hvs_tx_t tx, const char *path, uint32_t offset,
                                  char ***names, uint64_t *gen, int *isdone)
{
    char *buf = NULL;
    size_t len = 0;
    uint64_t g = 0;
    int d = 1, r;

    CHECK(h, path && names);
    *names = NULL;
    if (h->c) {
        r = done(h, client_directory_part(h->c, tx, path, offset, &buf, &len, &g, &d));
        if (r < 0)
            return r;
        r = to_list(h, buf, len, count_names(buf, len), names);
    } else {
        r = done(h, store_directory(h->s, tx, path, &buf, &len, &g));
        if (r < 0)
            return r;
        if (offset > len || (offset > 0 && buf[offset - 1] != '\0')) {
            free(buf);
            return herr(h, -EINVAL, "directory %s: offset %u is not the start of a name", path,
                        offset);
        }
        /* Pieces as the daemon cuts them: what fits in one reply after the
         * generation, so callers see the same protocol either way. */
        char genstr[24];
        size_t room = HVS_PAYLOAD_MAX - (size_t)snprintf(genstr, sizeof(genstr), "%llu",
                                                         (unsigned long long)g) - 2;
        size_t end = offset;
        while (end < len) {
            size_t l = strlen(buf + end) + 1;
            if (end - offset + l > room)
                break;
            end += l;
        }
        d = end == len;
        r = to_list(h, buf + offset, end - offset, count_names(buf + offset, end - offset), names);
    }
    free(buf);
    if (gen)
        *gen = g;
    if (isdone)
        *isdone = d;
    return r;
}

HVS_EXPORT void hvs_list_free(char **names)
{
    free(names);
}

/* ---- Permissions --------------------------------------------------------- */

HVS_EXPORT int hvs_perms_get(hvs_t *h, hvs_tx_t tx, const char *path, hvs_perm_t **perms)
{
    CHECK(h, path && perms);
    *perms = NULL;
    return done(h, h->c ? client_perms_get(h->c, tx, path, perms)
                        : store_perms_get(h->s, tx, path, perms));
}

HVS_EXPORT int hvs_perms_set(hvs_t *h, hvs_tx_t tx, const char *path, const hvs_perm_t *perms,
                             unsigned count)
{
    CHECK(h, path && perms);
    return done(h, h->c ? client_perms_set(h->c, tx, path, perms, count)
                        : store_perms_set(h->s, tx, path, perms, count));
}

/* ---- Watches ------------------------------------------------------------- */


/* True if it was listed (and is not any more). */
static bool reg_unlink(hvs_t *h, struct watch_reg *w)
{
    bool found = false;

    pthread_mutex_lock(&h->lock);
    for (struct watch_reg **pp = &h->regs; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            found = true;
            break;
        }
    pthread_mutex_unlock(&h->lock);
    return found;
}

HVS_EXPORT int hvs_watch(hvs_t *h, const char *path, const char *token, int depth,
                         hvs_watch_fn fn, void *opaque)
{
    CHECK(h, path && token && fn);
    char abs[HVS_PATH_MAX + 1];
    const char *why;
    if (path_resolve(hvs_domid(h), path, true, abs, &why) < 0)
        /* The store says it in its own words. */
        return done(h, h->c ? client_watch(h->c, path, token, depth)
                            : store_watch(h->s, path, token, depth));
    struct watch_reg *w = calloc(1, sizeof(*w));
    if (!w || !(w->path = strdup(abs)) || !(w->token = strdup(token))) {
        if (w)
            reg_free(w);
        else
            free(w);
        return herr(h, -ENOMEM, "out of memory");
    }
    w->fn = fn;
    w->opaque = opaque;
    pthread_mutex_lock(&h->lock);
    for (struct watch_reg *o = h->regs; o; o = o->next)
        if (strcmp(o->path, abs) == 0 && strcmp(o->token, token) == 0) {
            pthread_mutex_unlock(&h->lock);
            reg_free(w);
            return herr(h, -EEXIST, "a watch on %s with token \"%s\" exists on this handle", path,
                        token);
        }
    w->id = ++h->next_reg;
    if (asprintf(&w->wire_token, "hvs%llu:%s", (unsigned long long)w->id, token) < 0) {
        w->wire_token = NULL;
        pthread_mutex_unlock(&h->lock);
        reg_free(w);
        return herr(h, -ENOMEM, "out of memory");
    }
    /* Registered first: the initial event may be read by another thread's
     * dispatch as soon as the daemon has sent it. */
    w->next = h->regs;
    h->regs = w;
    pthread_mutex_unlock(&h->lock);
    int r = done(h, h->c ? client_watch(h->c, path, w->wire_token, depth)
                         : store_watch(h->s, path, w->wire_token, depth));
    /* Freed only if still listed: a concurrent unwatch of the same pair
     * that took it off owns it. */
    if (r < 0 && reg_unlink(h, w))
        reg_free(w);
    return r;
}

HVS_EXPORT int hvs_unwatch(hvs_t *h, const char *path, const char *token)
{
    CHECK(h, path && token);
    char abs[HVS_PATH_MAX + 1];
    const char *why;
    struct watch_reg *w = NULL, **pp;
    if (path_resolve(hvs_domid(h), path, true, abs, &why) < 0)
        abs[0] = '\0'; /* matches nothing: the store says why below */
    /* Taken off the list first, so no other thread's unwatch or dispatch
     * can reach it while the store is asked. */
    pthread_mutex_lock(&h->lock);
    for (pp = &h->regs; (w = *pp); pp = &w->next)
        if (strcmp(w->path, abs) == 0 && strcmp(w->token, token) == 0) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&h->lock);
    if (!w) /* the store says why: an invalid path, or no such watch */
        return done(h, h->c ? client_unwatch(h->c, path, token) : store_unwatch(h->s, path, token));
    int r = done(h, h->c ? client_unwatch(h->c, path, w->wire_token)
                         : store_unwatch(h->s, path, w->wire_token));
    if (r < 0) {
        pthread_mutex_lock(&h->lock);
        w->next = h->regs;
        h->regs = w;
        pthread_mutex_unlock(&h->lock);
        return r;
    }
    reg_free(w);
    return 0;
}

HVS_EXPORT int hvs_watch_fd(hvs_t *h)
{
    if (!h)
        return -EINVAL;
    return h->c ? client_watch_fd(h->c) : h->evfd;
}

/* The registration id in a wire token "hvs<id>:...", 0 if none. */
static uint64_t reg_id(const char *wire_token)
{
    unsigned long long id;
    int n = 0;

    if (sscanf(wire_token, "hvs%llu:%n", &id, &n) != 1 || n == 0)
        return 0;
    return id;
}

HVS_EXPORT int hvs_dispatch(hvs_t *h)
{
    struct store_event *evs;
    int n = 0;

    if (!h)
        return -EINVAL;
    if (h->c) {
        evs = client_events_take(h->c);
    } else {
        uint64_t v;
        /* Reset before taking, so an event queued meanwhile re-arms it. */
        if (read(h->evfd, &v, sizeof(v)) < 0) {
        }
        evs = session_events_take(h->s);
    }
    for (struct store_event *ev = evs; ev; ev = ev->next) {
        hvs_watch_fn fn = NULL;
        void *opaque = NULL;
        const char *token = NULL;
        uint64_t id = reg_id(ev->token);
        pthread_mutex_lock(&h->lock);
        for (struct watch_reg *w = h->regs; w; w = w->next)
            if (w->id == id) {
                fn = w->fn;
                opaque = w->opaque;
                /* The caller's token, which lives in the wire token. */
                token = strchr(ev->token, ':') + 1;
                break;
            }
        pthread_mutex_unlock(&h->lock);
        /* Outside the lock: a callback may call the store, unwatch included
         * (events of a watch removed meanwhile are dropped above). */
        if (fn) {
            fn(opaque, ev->path, token);
            n++;
        }
    }
    store_events_free(evs);
    return n;
}

HVS_EXPORT int hvs_wait(hvs_t *h, int timeout_ms)
{
    if (!h)
        return -EINVAL;
    int n = hvs_dispatch(h);
    if (n != 0)
        return n;
    struct pollfd p = {.fd = hvs_watch_fd(h), .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0)
        return herr(h, -errno, "poll: %s", strerror(errno));
    return r == 0 ? 0 : hvs_dispatch(h);
}

/* ---- Transactions -------------------------------------------------------- */

HVS_EXPORT int hvs_tx_begin(hvs_t *h, hvs_tx_t *tx)
{
    CHECK(h, tx);
    return done(h, h->c ? client_tx_begin(h->c, tx) : store_tx_begin(h->s, tx));
}

HVS_EXPORT int hvs_tx_commit(hvs_t *h, hvs_tx_t tx)
{
    CHECK(h, 1);
    return done(h, h->c ? client_tx_end(h->c, tx, true) : store_tx_end(h->s, tx, true));
}

HVS_EXPORT int hvs_tx_abort(hvs_t *h, hvs_tx_t tx)
{
    CHECK(h, 1);
    return done(h, h->c ? client_tx_end(h->c, tx, false) : store_tx_end(h->s, tx, false));
}

/* ---- Domains ------------------------------------------------------------- */

HVS_EXPORT int hvs_domain_introduce(hvs_t *h, uint32_t domid)
{
    CHECK(h, 1);
    return done(h, h->c ? client_domain_introduce(h->c, domid)
                        : store_domain_introduce(h->s, domid));
}

HVS_EXPORT int hvs_domain_release(hvs_t *h, uint32_t domid)
{
    CHECK(h, 1);
    return done(h, h->c ? client_domain_release(h->c, domid) : store_domain_release(h->s, domid));
}

HVS_EXPORT int hvs_domain_own(hvs_t *h, uint32_t domid, const char *const *paths, size_t npaths)
{
    CHECK(h, paths || npaths == 0);
    return done(h, h->c ? client_domain_own(h->c, domid, paths, npaths)
                        : store_domain_own(h->s, domid, paths, npaths));
}

HVS_EXPORT int hvs_domain_disown(hvs_t *h, uint32_t domid)
{
    CHECK(h, 1);
    return done(h, h->c ? client_domain_disown(h->c, domid) : store_domain_disown(h->s, domid));
}

HVS_EXPORT int hvs_domain_introduced(hvs_t *h, uint32_t domid)
{
    CHECK(h, 1);
    return done(h, h->c ? client_domain_introduced(h->c, domid)
                        : store_domain_introduced(h->s, domid));
}

HVS_EXPORT int hvs_domain_path(hvs_t *h, uint32_t domid, char **path)
{
    CHECK(h, path);
    *path = NULL;
    return done(h, h->c ? client_domain_path(h->c, domid, path)
                        : store_domain_path(h->s, domid, path));
}
