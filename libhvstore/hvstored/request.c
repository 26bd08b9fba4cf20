/* SPDX-License-Identifier: MIT */
/*
 * Requests: each wire message is checked (argument count, NUL termination,
 * numbers), executed on the connection's engine session, and answered with
 * a reply held for the batch's store_sync(). The payloads follow Xen's
 * docs/misc/xenstore.txt; ours are in docs/store.md.
 */
#include "hvstored.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 3
#define ERR_MAX 512

struct req {
    struct conn *c;
    struct session *s;
    const struct xs_msg *m;
    uint32_t tx;
    const char *args[MAX_ARGS];
    size_t lens[MAX_ARGS];
    bool mutating; /* set by a handler whose success changed the store */
    /* The reply payload. */
    char *out;
    size_t out_len;
    char out_buf[64]; /* small replies ("OK", ids, paths of domains) */
    char *out_heap;   /* large ones (values, listings), freed after use */
    /* A message of the daemon's own; empty: the engine's. */
    char err[ERR_MAX];
};

__attribute__((format(printf, 3, 4))) static int fail(struct req *r, int err, const char *fmt,
                                                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    return err;
}

static void reply_str(struct req *r, const char *s)
{
    size_t n = strlen(s) + 1;

    if (n > sizeof(r->out_buf))
        n = sizeof(r->out_buf);
    memcpy(r->out_buf, s, n);
    r->out_buf[n - 1] = '\0';
    r->out = r->out_buf;
    r->out_len = n;
}

static int ok(struct req *r)
{
    reply_str(r, "OK");
    return 0;
}

/* Takes ownership of buf (malloc'd). */
static int reply_heap(struct req *r, char *buf, size_t len, const char *what)
{
    if (len > HVS_PAYLOAD_MAX) {
        free(buf);
        return fail(r, -E2BIG, "%s %s: reply of %zu bytes is over the %d-byte wire limit",
                    xs_type_name(r->m->hdr.type), what, len, HVS_PAYLOAD_MAX);
    }
    r->out_heap = buf;
    r->out = buf;
    r->out_len = len;
    return 0;
}

static int arg_domid(struct req *r, unsigned i, uint32_t *domid)
{
    if (xs_parse_u32(r->args[i], domid) < 0)
        return fail(r, -EINVAL, "%s: '%.40s' is not a domain id", xs_type_name(r->m->hdr.type),
                    r->args[i]);
    return 0;
}

static int need_dom0(struct req *r)
{
    uint32_t me = session_domid(r->s);

    if (me != HVS_DOM0)
        return fail(r, -EACCES, "%s: domain %" PRIu32 " may not; only dom0 may",
                    xs_type_name(r->m->hdr.type), me);
    return 0;
}

/* ---- Nodes ------------------------------------------------------------------- */

static int do_read(struct req *r)
{
    char *value;
    size_t len;
    int rc = store_read(r->s, r->tx, r->args[0], &value, &len);

    if (rc < 0)
        return rc;
    return reply_heap(r, value, len, r->args[0]);
}

static int do_write(struct req *r)
{
    int rc = store_write(r->s, r->tx, r->args[0], r->args[1], r->lens[1]);

    r->mutating = r->tx == HVS_TX_NONE;
    return rc < 0 ? rc : ok(r);
}

static int do_mkdir(struct req *r)
{
    int rc = store_mkdir(r->s, r->tx, r->args[0]);

    r->mutating = r->tx == HVS_TX_NONE;
    return rc < 0 ? rc : ok(r);
}

static int do_rm(struct req *r)
{
    int rc = store_rm(r->s, r->tx, r->args[0]);

    r->mutating = r->tx == HVS_TX_NONE;
    return rc < 0 ? rc : ok(r);
}

static int do_directory(struct req *r)
{
    char *buf;
    size_t len;
    uint64_t gen;
    int rc = store_directory(r->s, r->tx, r->args[0], &buf, &len, &gen);

    if (rc < 0)
        return rc;
    if (len > HVS_PAYLOAD_MAX) {
        free(buf);
        return fail(r, -E2BIG,
                    "DIRECTORY %s: %d names (%zu bytes) are over the %d-byte wire limit: "
                    "use DIRECTORY_PART",
                    r->args[0], rc, len, HVS_PAYLOAD_MAX);
    }
    return reply_heap(r, buf, len, r->args[0]);
}

/*
 * "<gen>\0" then as many whole names from byte `offset` of the listing as
 * fit, then one more "\0" if the piece reaches the end (Xen's layout, with
 * the generation in decimal). An offset inside a name is served as Xen
 * does: the generation tells the client whether its pieces match.
 */
static int do_directory_part(struct req *r)
{
    char *names;
    size_t len;
    uint64_t gen;
    uint32_t offset;

    if (xs_parse_u32(r->args[1], &offset) < 0)
        return fail(r, -EINVAL, "DIRECTORY_PART %s: offset '%.40s' is not a number", r->args[0],
                    r->args[1]);
    int rc = store_directory(r->s, r->tx, r->args[0], &names, &len, &gen);
    if (rc < 0)
        return rc;
    char *out = malloc(HVS_PAYLOAD_MAX);
    if (!out) {
        free(names);
        return fail(r, -ENOMEM, "DIRECTORY_PART %s: out of memory", r->args[0]);
    }
    int gen_len = snprintf(out, HVS_PAYLOAD_MAX, "%" PRIu64, gen) + 1;
    size_t room = HVS_PAYLOAD_MAX - (size_t)gen_len - 1; /* the end marker's NUL */
    size_t piece = 0;
    if (offset < len) {
        /* The listing ends with a NUL, so strlen never leaves it. */
        while (offset + piece < len) {
            size_t n = strlen(names + offset + piece) + 1;
            if (piece + n > room)
                break;
            piece += n;
        }
        memcpy(out + gen_len, names + offset, piece);
    }
    size_t out_len = (size_t)gen_len + piece;
    if (offset >= len || offset + piece == len)
        out[out_len++] = '\0';
    free(names);
    return reply_heap(r, out, out_len, r->args[0]);
}

/* ---- Permissions ------------------------------------------------------------ */

static const char perm_chars[] = "nrwb"; /* indexed by hvs_perm_bits_t */

static int do_get_perms(struct req *r)
{
    hvs_perm_t *perms;
    int n = store_perms_get(r->s, r->tx, r->args[0], &perms);

    if (n < 0)
        return n;
    /* "b4294967295\0" is 12 bytes at most. */
    char *out = malloc((size_t)n * 12 + 1);
    if (!out) {
        free(perms);
        return fail(r, -ENOMEM, "GET_PERMS %s: out of memory", r->args[0]);
    }
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(out + len, "%c%" PRIu32, perm_chars[perms[i].perm & 3],
                               perms[i].domid) + 1;
    free(perms);
    return reply_heap(r, out, len, r->args[0]);
}

static int parse_perm(const char *s, hvs_perm_t *p)
{
    const char *c = s[0] ? strchr(perm_chars, s[0]) : NULL;

    if (!c || xs_parse_u32(s + 1, &p->domid) < 0)
        return -EINVAL;
    p->perm = (uint32_t)(c - perm_chars);
    return 0;
}

/* "<path>\0<perm>\0<perm>\0...": the first entry names the owner. */
static int do_set_perms(struct req *r)
{
    const struct xs_msg *m = r->m;
    int n = xs_count_strings(m->payload, m->hdr.len);

    if (n < 2)
        return fail(r, -EINVAL, "SET_PERMS: expected a path and at least one permission "
                                "(NUL-terminated strings)");
    const char *path = m->payload;
    unsigned count = (unsigned)n - 1;
    hvs_perm_t *perms = calloc(count, sizeof(*perms));
    if (!perms)
        return fail(r, -ENOMEM, "SET_PERMS %s: out of memory", path);
    const char *s = path + strlen(path) + 1;
    for (unsigned i = 0; i < count; i++, s += strlen(s) + 1) {
        if (parse_perm(s, &perms[i]) < 0) {
            free(perms);
            return fail(r, -EINVAL,
                        "SET_PERMS %s: '%.40s' is not a permission (n, r, w or b and a "
                        "domain id)",
                        path, s);
        }
    }
    int rc = store_perms_set(r->s, r->tx, path, perms, count);
    free(perms);
    r->mutating = r->tx == HVS_TX_NONE;
    return rc < 0 ? rc : ok(r);
}

/* ---- Watches ------------------------------------------------------------------ */

static int do_watch(struct req *r)
{
    int rc = store_watch(r->s, r->args[0], r->args[1], HVS_DEPTH_ANY);

    return rc < 0 ? rc : ok(r);
}

static int do_watch_depth(struct req *r)
{
    uint32_t depth;
    int d;

    if (strcmp(r->args[2], "-1") == 0)
        d = HVS_DEPTH_ANY;
    else if (xs_parse_u32(r->args[2], &depth) == 0 && depth <= INT_MAX)
        d = (int)depth;
    else
        return fail(r, -EINVAL, "HV_WATCH_DEPTH %s: depth '%.40s' is not 0 or more (or -1)",
                    r->args[0], r->args[2]);
    int rc = store_watch(r->s, r->args[0], r->args[1], d);
    return rc < 0 ? rc : ok(r);
}

static int do_unwatch(struct req *r)
{
    int rc = store_unwatch(r->s, r->args[0], r->args[1]);

    return rc < 0 ? rc : ok(r);
}

/* No argument, or one empty one (libxenstore sends ""). */
static int no_args(struct req *r)
{
    const struct xs_msg *m = r->m;

    if (m->hdr.len == 0 || (m->hdr.len == 1 && m->payload[0] == '\0'))
        return 0;
    return fail(r, -EINVAL, "%s takes no arguments", xs_type_name(m->hdr.type));
}

static int do_reset_watches(struct req *r)
{
    int rc = no_args(r);

    if (rc < 0)
        return rc;
    store_watches_reset(r->s);
    return ok(r);
}

/* ---- Transactions -------------------------------------------------------------- */

static int do_tx_start(struct req *r)
{
    uint32_t tx;
    int rc = no_args(r);

    if (rc < 0 || (rc = store_tx_begin(r->s, &tx)) < 0)
        return rc;
    char buf[16];
    snprintf(buf, sizeof(buf), "%" PRIu32, tx);
    reply_str(r, buf);
    return 0;
}

static int do_tx_end(struct req *r)
{
    bool commit;

    if (strcmp(r->args[0], "T") == 0)
        commit = true;
    else if (strcmp(r->args[0], "F") == 0)
        commit = false;
    else
        return fail(r, -EINVAL, "TRANSACTION_END: '%.40s' is neither T (commit) nor F (abort)",
                    r->args[0]);
    int rc = store_tx_end(r->s, r->tx, commit);
    r->mutating = commit;
    return rc < 0 ? rc : ok(r);
}

/* ---- Domains ------------------------------------------------------------------ */

/* "<domid>\0<mfn>\0<port>\0": we have no rings, the monitor relays them,
 * so only the domain id matters. */
static int do_introduce(struct req *r)
{
    uint32_t domid;
    int rc = arg_domid(r, 0, &domid);

    if (rc < 0 || (rc = store_domain_introduce(r->s, domid)) < 0)
        return rc;
    r->mutating = true;
    return ok(r);
}

static int do_release(struct req *r)
{
    uint32_t domid;
    int rc = arg_domid(r, 0, &domid);

    if (rc < 0 || (rc = store_domain_release(r->s, domid)) < 0)
        return rc;
    r->mutating = true;
    return ok(r);
}

static int do_introduced(struct req *r)
{
    uint32_t domid;
    int rc = arg_domid(r, 0, &domid);

    if (rc < 0 || (rc = store_domain_introduced(r->s, domid)) < 0)
        return rc;
    reply_str(r, rc ? "T" : "F");
    return 0;
}

/* Xen clears a domain's "shutting down" state; we keep none. */
static int do_resume(struct req *r)
{
    uint32_t domid;
    int rc = arg_domid(r, 0, &domid);

    if (rc < 0 || (rc = need_dom0(r)) < 0 || (rc = store_domain_introduced(r->s, domid)) < 0)
        return rc;
    if (!rc)
        return fail(r, -ENOENT, "RESUME: domain %" PRIu32 " is not introduced", domid);
    return ok(r);
}

static int do_domain_path(struct req *r)
{
    uint32_t domid;
    char *path;
    int rc = arg_domid(r, 0, &domid);

    if (rc < 0 || (rc = store_domain_path(r->s, domid, &path)) < 0)
        return rc;
    return reply_heap(r, path, strlen(path) + 1, r->args[0]);
}

/*
 * Xen's SET_TARGET gives <domid> (a device model's domain) power over
 * <target>. Here a privileged relay acts for a domain with HV_ACT_AS
 * instead; SET_TARGET is accepted for the tools that send it and logged.
 */
static int do_set_target(struct req *r)
{
    uint32_t domid, target;
    int rc;

    if ((rc = need_dom0(r)) < 0 || (rc = arg_domid(r, 0, &domid)) < 0 ||
        (rc = arg_domid(r, 1, &target)) < 0)
        return rc;
    log_info("conn %u: SET_TARGET %" PRIu32 " %" PRIu32 " accepted and ignored: a relay acts "
             "for a domain with HV_ACT_AS (docs/store.md)",
             r->c->id, domid, target);
    return ok(r);
}

static int do_act_as(struct req *r)
{
    uint32_t domid, me = session_domid(r->s);
    int rc = arg_domid(r, 0, &domid);

    if (rc < 0)
        return rc;
    if (me != HVS_DOM0)
        return fail(r, -EPERM, "HV_ACT_AS %" PRIu32 ": this connection acts for domain %" PRIu32
                    " already; only a dom0 connection may act for another domain",
                    domid, me);
    if ((rc = session_act_as(r->s, domid)) < 0)
        return rc;
    log_debug("conn %u: acts for domain %" PRIu32, r->c->id, domid);
    return ok(r);
}

/* <domid>|<path>|...: the connection owns the domain (hvs_domain_own). */
static int do_own(struct req *r)
{
    const struct xs_msg *m = r->m;
    int n = xs_count_strings(m->payload, m->hdr.len);
    uint32_t domid;
    int rc;

    if (n < 1)
        return fail(r, -EINVAL, "HV_OWN: expected a domain id and paths (NUL-terminated)");
    r->args[0] = m->payload;
    if ((rc = need_dom0(r)) < 0 || (rc = arg_domid(r, 0, &domid)) < 0)
        return rc;
    size_t npaths = (size_t)n - 1;
    const char **paths = calloc(npaths ? npaths : 1, sizeof(*paths));
    if (!paths)
        return fail(r, -ENOMEM, "HV_OWN %" PRIu32 ": out of memory", domid);
    const char *s = m->payload + strlen(m->payload) + 1;
    for (size_t i = 0; i < npaths; i++, s += strlen(s) + 1)
        paths[i] = s;
    bool known = false;
    for (size_t i = 0; i < r->c->nowned; i++)
        known |= r->c->owned[i] == domid;
    uint32_t *grown = known ? r->c->owned
                            : realloc(r->c->owned, (r->c->nowned + 1) * sizeof(uint32_t));
    if (!grown) {
        free(paths);
        return fail(r, -ENOMEM, "HV_OWN %" PRIu32 ": out of memory", domid);
    }
    r->c->owned = grown;
    rc = store_domain_own(r->s, domid, paths, npaths);
    free(paths);
    if (rc < 0)
        return rc;
    if (!known)
        r->c->owned[r->c->nowned++] = domid;
    return ok(r);
}

static int do_disown(struct req *r)
{
    uint32_t domid;
    int rc = arg_domid(r, 0, &domid);

    if (rc < 0 || (rc = store_domain_disown(r->s, domid)) < 0)
        return rc;
    for (size_t i = 0; i < r->c->nowned; i++)
        if (r->c->owned[i] == domid) {
            r->c->owned[i] = r->c->owned[--r->c->nowned];
            break;
        }
    return ok(r);
}

static int do_control(struct req *r)
{
    return fail(r, -ENOSYS, "CONTROL is not supported by hvstored");
}

/* ---- Dispatch ---------------------------------------------------------------- */

#define VARARGS (-1) /* the handler checks its own arguments */

static const struct handler {
    uint32_t type;
    int nargs;
    bool last_raw;
    int (*fn)(struct req *r);
} handlers[] = {
    {XS_CONTROL, VARARGS, false, do_control},
    {XS_DIRECTORY, 1, false, do_directory},
    {XS_READ, 1, false, do_read},
    {XS_GET_PERMS, 1, false, do_get_perms},
    {XS_WATCH, 2, false, do_watch},
    {XS_UNWATCH, 2, false, do_unwatch},
    {XS_TRANSACTION_START, VARARGS, false, do_tx_start},
    {XS_TRANSACTION_END, 1, false, do_tx_end},
    {XS_INTRODUCE, 3, false, do_introduce},
    {XS_RELEASE, 1, false, do_release},
    {XS_GET_DOMAIN_PATH, 1, false, do_domain_path},
    {XS_WRITE, 2, true, do_write},
    {XS_MKDIR, 1, false, do_mkdir},
    {XS_RM, 1, false, do_rm},
    {XS_SET_PERMS, VARARGS, false, do_set_perms},
    {XS_IS_DOMAIN_INTRODUCED, 1, false, do_introduced},
    {XS_RESUME, 1, false, do_resume},
    {XS_SET_TARGET, 2, false, do_set_target},
    {XS_RESET_WATCHES, VARARGS, false, do_reset_watches},
    {XS_DIRECTORY_PART, 2, false, do_directory_part},
    {XS_HV_ACT_AS, 1, false, do_act_as},
    {XS_HV_WATCH_DEPTH, 3, false, do_watch_depth},
    {XS_HV_OWN, VARARGS, false, do_own},
    {XS_HV_DISOWN, 1, false, do_disown},
};

static const struct handler *find_handler(uint32_t type)
{
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
        if (handlers[i].type == type)
            return &handlers[i];
    return NULL;
}

static int execute(struct req *r)
{
    const struct xs_msg *m = r->m;
    struct daemon *d = r->c->d;
    uint32_t domid = session_domid(r->s);

    /* Counted per connection: replies we hold or have not written yet. */
    if (domid != HVS_DOM0 && r->c->outstanding >= d->quota.requests)
        return fail(r, -EDQUOT,
                    "domain %" PRIu32 ": quota 'requests' (%" PRIu32 ") reached: read the "
                    "replies of the requests outstanding on this connection first",
                    domid, d->quota.requests);
    const struct handler *h = find_handler(m->hdr.type);
    if (!h)
        return fail(r, -EINVAL, "message type %" PRIu32 " (%s) is not a request", m->hdr.type,
                    xs_type_name(m->hdr.type));
    if (h->nargs != VARARGS &&
        xs_split(m->payload, m->hdr.len, (unsigned)h->nargs, h->last_raw, r->args, r->lens) < 0)
        return fail(r, -EINVAL, "%s: expected %d argument%s, %s", xs_type_name(h->type),
                    h->nargs, h->nargs == 1 ? "" : "s",
                    h->last_raw ? "each but the last NUL-terminated" : "each NUL-terminated");
    return h->fn(r);
}

/* "<ERRNO-NAME>\0<message>\0": stock libxenstore reads the first string
 * only; our client shows the message. */
static void hold_error(struct req *r, int err)
{
    const char *name = xs_errno_name(err);
    const char *msg = r->err[0] ? r->err : session_error(r->s);
    char buf[HVS_PAYLOAD_MAX];
    size_t nlen = strlen(name) + 1;
    size_t mlen = msg ? strnlen(msg, sizeof(buf) - nlen - 1) : 0;

    memcpy(buf, name, nlen);
    if (mlen)
        memcpy(buf + nlen, msg, mlen);
    buf[nlen + mlen] = '\0';
    conn_hold(r->c, XS_ERROR, r->m->hdr.req_id, r->m->hdr.tx_id, buf, nlen + mlen + 1, false);
}

void request_run(struct conn *c, const struct xs_msg *m)
{
    struct req r = {.c = c, .s = c->sess, .m = m, .tx = m->hdr.tx_id};

    int rc = execute(&r);
    if (rc < 0) {
        log_debug("conn %u: %s req %" PRIu32 " tx %" PRIu32 ": %s: %s", c->id,
                  xs_type_name(m->hdr.type), m->hdr.req_id, m->hdr.tx_id, xs_errno_name(-rc),
                  r.err[0] ? r.err : session_error(c->sess));
        hold_error(&r, -rc);
    } else {
        log_debug("conn %u: %s req %" PRIu32 " tx %" PRIu32 ": ok", c->id,
                  xs_type_name(m->hdr.type), m->hdr.req_id, m->hdr.tx_id);
        conn_hold(c, m->hdr.type, m->hdr.req_id, m->hdr.tx_id, r.out, r.out_len, r.mutating);
    }
    free(r.out_heap);
}
