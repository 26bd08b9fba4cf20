/* SPDX-License-Identifier: MIT */
/*
 * Executes a guest's store requests through libhvstore on a handle acting as
 * the guest, so the store's own permission and quota checks decide. The
 * payload comes from a hostile guest: every argument is split and checked
 * here before libhvstore sees it, and anything outside the unprivileged
 * subset of the protocol is refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_relay.h"

/* Transactions a guest may hold through the relay; the store's own quota
 * (10 by default) normally binds first. */
#define RELAY_MAX_TX 32u
/* hvs_perms_set takes at most this many entries (docs/store.md). */
#define RELAY_MAX_PERMS 64u

struct relay_tx {
    uint32_t guest_id; /* 0: free slot */
    hvs_tx_t tx;
};

struct relay {
    hvs_t *h;
    relay_out_fn out;
    void *opaque;
    uint32_t next_tx_id;
    struct relay_tx txs[RELAY_MAX_TX];
};

/* The errno names of the ERROR reply (Xen's xsd_errors, plus EDQUOT). */
static const struct {
    int err;
    const char *name;
} errno_names[] = {
    {EINVAL, "EINVAL"}, {EACCES, "EACCES"},     {EEXIST, "EEXIST"}, {EISDIR, "EISDIR"},
    {ENOENT, "ENOENT"}, {ENOMEM, "ENOMEM"},     {ENOSPC, "ENOSPC"}, {EIO, "EIO"},
    {ENOTEMPTY, "ENOTEMPTY"}, {ENOSYS, "ENOSYS"}, {EROFS, "EROFS"}, {EBUSY, "EBUSY"},
    {EAGAIN, "EAGAIN"}, {EISCONN, "EISCONN"},   {E2BIG, "E2BIG"},   {EPERM, "EPERM"},
    {EDQUOT, "EDQUOT"}, {ENOTCONN, "ENOTCONN"},
};

static const char *errno_name(int err)
{
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (errno_names[i].err == err)
            return errno_names[i].name;
    return "EIO";
}

static void send_msg(struct relay *r, uint32_t type, const struct relay_hdr *req,
                     const void *payload, size_t len)
{
    struct relay_hdr h = {.type = type, .req_id = req->req_id, .tx_id = req->tx_id,
                          .len = (uint32_t)len};
    r->out(r->opaque, &h, payload);
}

static void reply_err(struct relay *r, const struct relay_hdr *req, int neg_err)
{
    const char *name = errno_name(-neg_err);
    send_msg(r, RELAY_XS_ERROR, req, name, strlen(name) + 1);
}

static void reply_ok(struct relay *r, const struct relay_hdr *req)
{
    send_msg(r, req->type, req, "OK", 3);
}

static void reply(struct relay *r, const struct relay_hdr *req, int err)
{
    if (err < 0)
        reply_err(r, req, err);
    else
        reply_ok(r, req);
}

/*
 * Exactly n NUL-terminated arguments filling the payload; with last_raw the
 * last one is the rest of the payload, unterminated (WRITE's value).
 */
static bool split(const char *p, uint32_t len, unsigned n, bool last_raw, const char **args,
                  size_t *last_len)
{
    uint32_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        if (last_raw && i == n - 1) {
            args[i] = p + off;
            *last_len = len - off;
            return true;
        }
        const char *nul = off < len ? memchr(p + off, '\0', len - off) : NULL;
        if (!nul)
            return false;
        args[i] = p + off;
        off = (uint32_t)(nul - p) + 1;
    }
    return off == len;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

static struct relay_tx *tx_find(struct relay *r, uint32_t guest_id)
{
    if (!guest_id)
        return NULL;
    for (unsigned i = 0; i < RELAY_MAX_TX; i++)
        if (r->txs[i].guest_id == guest_id)
            return &r->txs[i];
    return NULL;
}

static void on_watch(void *opaque, const char *path, const char *token)
{
    struct relay *r = opaque;
    size_t pl = strlen(path), tl = strlen(token);
    char buf[RELAY_PAYLOAD_MAX];
    /* A deep event path with a long token may not fit a message: such an
     * event cannot be expressed on the wire, as with xenstored. */
    if (pl + tl + 2 > sizeof(buf))
        return;
    memcpy(buf, path, pl + 1);
    memcpy(buf + pl + 1, token, tl + 1);
    struct relay_hdr req = {0};
    send_msg(r, RELAY_XS_WATCH_EVENT, &req, buf, pl + tl + 2);
}

/* Names as NUL-terminated strings after a prefix; -E2BIG past one message. */
static int put_names(char *buf, size_t *len, char **names)
{
    for (char **n = names; *n; n++) {
        size_t l = strlen(*n) + 1;
        if (l > RELAY_PAYLOAD_MAX - *len)
            return -E2BIG;
        memcpy(buf + *len, *n, l);
        *len += l;
    }
    return 0;
}

static void do_read(struct relay *r, const struct relay_hdr *q, hvs_tx_t tx, const char *path)
{
    char *v;
    size_t len;
    int err = hvs_read(r->h, tx, path, &v, &len);
    if (err < 0)
        return reply_err(r, q, err);
    if (len > RELAY_PAYLOAD_MAX)
        reply_err(r, q, -E2BIG);
    else
        send_msg(r, q->type, q, v, len);
    free(v);
}

static void do_directory(struct relay *r, const struct relay_hdr *q, hvs_tx_t tx,
                         const char *path)
{
    char **names;
    int err = hvs_directory(r->h, tx, path, &names);
    if (err < 0)
        return reply_err(r, q, err);
    char buf[RELAY_PAYLOAD_MAX];
    size_t len = 0;
    err = put_names(buf, &len, names);
    hvs_list_free(names);
    if (err < 0)
        return reply_err(r, q, err);
    send_msg(r, q->type, q, buf, len);
}

static void do_directory_part(struct relay *r, const struct relay_hdr *q, hvs_tx_t tx,
                              const char *path, const char *offset_s)
{
    uint32_t offset;
    if (!parse_u32(offset_s, &offset))
        return reply_err(r, q, -EINVAL);
    char **names;
    uint64_t gen;
    int done;
    int err = hvs_directory_part(r->h, tx, path, offset, &names, &gen, &done);
    if (err < 0)
        return reply_err(r, q, err);
    char buf[RELAY_PAYLOAD_MAX];
    size_t len = (size_t)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)gen) + 1;
    err = put_names(buf, &len, names);
    hvs_list_free(names);
    if (!err && done) {
        if (len < sizeof(buf))
            buf[len++] = '\0';
        else
            err = -E2BIG;
    }
    if (err < 0)
        return reply_err(r, q, err);
    send_msg(r, q->type, q, buf, len);
}

static void do_get_perms(struct relay *r, const struct relay_hdr *q, hvs_tx_t tx,
                         const char *path)
{
    hvs_perm_t *perms;
    int n = hvs_perms_get(r->h, tx, path, &perms);
    if (n < 0)
        return reply_err(r, q, n);
    char buf[RELAY_PAYLOAD_MAX];
    size_t len = 0;
    int err = 0;
    for (int i = 0; i < n && !err; i++) {
        char one[16];
        if (hvs_perm_format(&perms[i], one, sizeof(one)) < 0 ||
            strlen(one) + 1 > sizeof(buf) - len)
            err = -E2BIG;
        else {
            memcpy(buf + len, one, strlen(one) + 1);
            len += strlen(one) + 1;
        }
    }
    free(perms);
    if (err < 0)
        return reply_err(r, q, err);
    send_msg(r, q->type, q, buf, len);
}

static void do_set_perms(struct relay *r, const struct relay_hdr *q, hvs_tx_t tx,
                         const char *p, uint32_t len)
{
    /* path|perm|perm|...: every string NUL-terminated, at least one perm. */
    if (len == 0 || p[len - 1] != '\0')
        return reply_err(r, q, -EINVAL);
    const char *path = p;
    uint32_t off = (uint32_t)strlen(p) + 1;
    hvs_perm_t perms[RELAY_MAX_PERMS];
    unsigned n = 0;
    while (off < len) {
        if (n == RELAY_MAX_PERMS || hvs_perm_parse(p + off, &perms[n]) < 0)
            return reply_err(r, q, -EINVAL);
        n++;
        off += (uint32_t)strlen(p + off) + 1;
    }
    if (n == 0)
        return reply_err(r, q, -EINVAL);
    reply(r, q, hvs_perms_set(r->h, tx, path, perms, n));
}

static void do_tx_start(struct relay *r, const struct relay_hdr *q)
{
    struct relay_tx *slot = NULL;
    for (unsigned i = 0; i < RELAY_MAX_TX && !slot; i++)
        if (!r->txs[i].guest_id)
            slot = &r->txs[i];
    if (!slot)
        return reply_err(r, q, -EDQUOT);
    hvs_tx_t tx;
    int err = hvs_tx_begin(r->h, &tx);
    if (err < 0)
        return reply_err(r, q, err);
    /* Ids the guest sees are the relay's own, never zero, never reused soon. */
    do
        r->next_tx_id++;
    while (!r->next_tx_id || tx_find(r, r->next_tx_id));
    *slot = (struct relay_tx){.guest_id = r->next_tx_id, .tx = tx};
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%u", slot->guest_id);
    send_msg(r, q->type, q, buf, (size_t)n + 1);
}

static void do_tx_end(struct relay *r, const struct relay_hdr *q, const char *how)
{
    struct relay_tx *t = tx_find(r, q->tx_id);
    if (!t)
        return reply_err(r, q, -ENOENT);
    bool commit = !strcmp(how, "T");
    if (!commit && strcmp(how, "F"))
        return reply_err(r, q, -EINVAL);
    hvs_tx_t tx = t->tx;
    *t = (struct relay_tx){0}; /* over whatever the result */
    reply(r, q, commit ? hvs_tx_commit(r->h, tx) : hvs_tx_abort(r->h, tx));
}

static void do_domain_path(struct relay *r, const struct relay_hdr *q, const char *domid_s)
{
    uint32_t domid;
    char *path;
    if (!parse_u32(domid_s, &domid))
        return reply_err(r, q, -EINVAL);
    int err = hvs_domain_path(r->h, domid, &path);
    if (err < 0)
        return reply_err(r, q, err);
    send_msg(r, q->type, q, path, strlen(path) + 1);
    free(path);
}

void relay_request(struct relay *r, const struct relay_hdr *q, const char *p)
{
    const char *a[3];
    size_t vlen = 0;
    hvs_tx_t tx = HVS_TX_NONE;

    switch (q->type) {
    case RELAY_XS_INTRODUCE:
    case RELAY_XS_RELEASE:
    case RELAY_XS_IS_DOMAIN_INTRODUCED:
    case RELAY_XS_RESUME:
    case RELAY_XS_SET_TARGET:
    case RELAY_XS_HV_ACT_AS:
        return reply_err(r, q, -EACCES); /* dom0's business only */
    case RELAY_XS_TRANSACTION_START:
    case RELAY_XS_WATCH:
    case RELAY_XS_UNWATCH:
    case RELAY_XS_GET_DOMAIN_PATH:
        break; /* the header's tx_id is not theirs to use */
    case RELAY_XS_TRANSACTION_END:
        break; /* names the transaction it ends */
    case RELAY_XS_READ:
    case RELAY_XS_WRITE:
    case RELAY_XS_MKDIR:
    case RELAY_XS_RM:
    case RELAY_XS_DIRECTORY:
    case RELAY_XS_DIRECTORY_PART:
    case RELAY_XS_GET_PERMS:
    case RELAY_XS_SET_PERMS:
        if (q->tx_id) {
            struct relay_tx *t = tx_find(r, q->tx_id);
            if (!t)
                return reply_err(r, q, -ENOENT);
            tx = t->tx;
        }
        break;
    default:
        return reply_err(r, q, -EINVAL);
    }

    switch (q->type) {
    case RELAY_XS_READ:
        if (!split(p, q->len, 1, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return do_read(r, q, tx, a[0]);
    case RELAY_XS_WRITE:
        if (!split(p, q->len, 2, true, a, &vlen))
            return reply_err(r, q, -EINVAL);
        return reply(r, q, hvs_write(r->h, tx, a[0], a[1], vlen));
    case RELAY_XS_MKDIR:
    case RELAY_XS_RM:
        if (!split(p, q->len, 1, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return reply(r, q, q->type == RELAY_XS_MKDIR ? hvs_mkdir(r->h, tx, a[0])
                                                     : hvs_rm(r->h, tx, a[0]));
    case RELAY_XS_DIRECTORY:
        if (!split(p, q->len, 1, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return do_directory(r, q, tx, a[0]);
    case RELAY_XS_DIRECTORY_PART:
        if (!split(p, q->len, 2, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return do_directory_part(r, q, tx, a[0], a[1]);
    case RELAY_XS_GET_PERMS:
        if (!split(p, q->len, 1, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return do_get_perms(r, q, tx, a[0]);
    case RELAY_XS_SET_PERMS:
        return do_set_perms(r, q, tx, p, q->len);
    case RELAY_XS_WATCH:
    case RELAY_XS_UNWATCH:
        if (!split(p, q->len, 2, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return reply(r, q, q->type == RELAY_XS_WATCH
                               ? hvs_watch(r->h, a[0], a[1], HVS_DEPTH_ANY, on_watch, r)
                               : hvs_unwatch(r->h, a[0], a[1]));
    case RELAY_XS_TRANSACTION_START:
        /* Empty, or a single empty string, as libxenstore sends it. */
        if (q->len > 1 || (q->len == 1 && p[0] != '\0'))
            return reply_err(r, q, -EINVAL);
        return do_tx_start(r, q);
    case RELAY_XS_TRANSACTION_END:
        if (!split(p, q->len, 1, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return do_tx_end(r, q, a[0]);
    case RELAY_XS_GET_DOMAIN_PATH:
        if (!split(p, q->len, 1, false, a, NULL))
            return reply_err(r, q, -EINVAL);
        return do_domain_path(r, q, a[0]);
    }
}

int relay_new(hvs_t *h, relay_out_fn out, void *opaque, struct relay **rp)
{
    struct relay *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->h = h;
    r->out = out;
    r->opaque = opaque;
    *rp = r;
    return 0;
}

void relay_free(struct relay *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < RELAY_MAX_TX; i++)
        if (r->txs[i].guest_id)
            hvs_tx_abort(r->h, r->txs[i].tx);
    free(r);
}
