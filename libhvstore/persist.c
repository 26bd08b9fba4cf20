/* SPDX-License-Identifier: MIT */
/*
 * LMDB under the in-memory tree, behind a journal (journal.h): a group
 * commit appends to the journal; every JOURNAL_CHECKPOINT bytes (and at
 * close and open) the nodes changed since the last checkpoint go into LMDB
 * in one transaction and the journal is emptied. Replaying the journal is
 * idempotent (records carry whole nodes), so a crash between the two steps
 * is harmless.
 *
 * Node record (LMDB value and journal PUT record; host byte order, the
 * files are not meant to move between architectures):
 *   u32 version (1), u32 nperms, u64 gen, nperms x {u32 domid, u32 perm},
 *   then the value.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "journal.h"
#include "persist.h"
#include "perms.h"

#define RECORD_VERSION 1u
#define HEAD_SIZE 16u
/* Virtual size only: LMDB's file grows with the data. */
#define MAP_SIZE (4ull << 30)
#define JOURNAL_CHECKPOINT (8u << 20)

struct persist {
    MDB_env *env;
    MDB_dbi dbi;
    int lockfd;
    char *path;
    struct journal *j;
    char **ck; /* paths changed since the last checkpoint */
    size_t nck, capck;
    bool ck_lost; /* out of memory recording one: keep the journal */
};

static int mdb_errno(int rc)
{
    switch (rc) {
    case MDB_MAP_FULL: return -ENOSPC;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_VERSION_MISMATCH: return -EIO;
    default: return rc > 0 ? -rc : -EIO;
    }
}

static int sync_dir(const char *file, char *err, size_t errlen)
{
    char dir[4096];
    const char *slash = strrchr(file, '/');

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - file) + 1 : 1, slash ? file : ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        int e = -errno;
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "store file %s: syncing directory %s: %s", file, dir, strerror(-e));
        return e;
    }
    close(fd);
    return 0;
}

int persist_open(struct persist **out, const char *path, char *err, size_t errlen)
{
    struct persist *p = calloc(1, sizeof(*p));
    MDB_txn *txn = NULL;
    int rc;

    *out = NULL;
    if (!p || !(p->path = strdup(path))) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* LMDB must not be opened twice in one process, and hvstore files
     * belong to one process: an exclusive lock says so to the others. */
    p->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p->lockfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "store file %s: %s", path, strerror(-rc));
        goto fail;
    }
    if (flock(p->lockfd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(err, errlen, "store file %s is in use by another process", path);
        goto fail;
    }
    rc = mdb_env_create(&p->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(p->env, MAP_SIZE);
    if (rc == 0)
        rc = mdb_env_open(p->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(p->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &p->dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        snprintf(err, errlen, "store file %s: %s", path, mdb_strerror(rc));
        rc = mdb_errno(rc);
        goto fail;
    }
    char jpath[4096];
    if ((size_t)snprintf(jpath, sizeof(jpath), "%s-journal", path) >= sizeof(jpath)) {
        rc = -ENAMETOOLONG;
        snprintf(err, errlen, "store file %s: path too long", path);
        goto fail;
    }
    rc = journal_open(&p->j, jpath, err, errlen);
    if (rc < 0)
        goto fail;
    /* New files' names must survive a power cut too, or the first
     * acknowledged writes would go with them. */
    rc = sync_dir(path, err, errlen);
    if (rc < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    persist_close(p, NULL);
    return rc;
}

static int checkpoint(struct persist *p, struct tree *t, char **extra, size_t nextra, char *err,
                      size_t errlen);

void persist_close(struct persist *p, struct tree *t)
{
    char err[256];

    if (!p)
        return;
    /* A failure leaves the journal, replayed at the next open. */
    if (t && p->nck)
        (void)checkpoint(p, t, NULL, 0, err, sizeof(err));
    journal_close(p->j);
    for (size_t i = 0; i < p->nck; i++)
        free(p->ck[i]);
    free(p->ck);
    if (p->env)
        mdb_env_close(p->env);
    if (p->lockfd >= 0)
        close(p->lockfd);
    free(p->path);
    free(p);
}

/* Puts one node record into the tree, creating missing parents. */
static int apply_put(struct tree *t, const MDB_val *k, const MDB_val *v, uint64_t *maxgen,
                     char *err, size_t errlen, const char *file)
{
    uint32_t version, nperms;
    uint64_t gen;
    const char *key = k->mv_data;

    if (k->mv_size == 0 || key[0] != '/' || k->mv_size > HVS_PATH_MAX ||
        memchr(key, '\0', k->mv_size) || v->mv_size < HEAD_SIZE) {
        snprintf(err, errlen, "store file %s: malformed record (key of %zu bytes)", file,
                 k->mv_size);
        return -EIO;
    }
    memcpy(&version, v->mv_data, 4);
    memcpy(&nperms, (const char *)v->mv_data + 4, 4);
    memcpy(&gen, (const char *)v->mv_data + 8, 8);
    if (version != RECORD_VERSION || nperms == 0 || nperms > PERMS_MAX ||
        v->mv_size < HEAD_SIZE + nperms * 8ull) {
        snprintf(err, errlen, "store file %s: malformed record for %.*s", file, (int)k->mv_size,
                 key);
        return -EIO;
    }
    struct node *n = tree_get(t, key, k->mv_size);
    if (!n) {
        /* Keys are sorted, so parents come first; one missing from a
         * damaged file is recreated empty rather than losing the subtree. */
        struct node *parent = t->root;
        for (size_t l = 1; l <= k->mv_size; l++) {
            if (l != k->mv_size && key[l] != '/')
                continue;
            struct node *c = tree_get(t, key, l);
            if (!c) {
                c = tree_add(t, parent, key, l);
                if (!c || node_set_perms(c, parent->perms, parent->nperms) < 0 ||
                    node_set_value(c, "", 0) < 0)
                    return -ENOMEM;
            }
            parent = c;
        }
        n = parent;
    }
    hvs_perm_t perms[PERMS_MAX];
    memcpy(perms, (const char *)v->mv_data + HEAD_SIZE, nperms * 8ull);
    for (uint32_t i = 0; i < nperms; i++)
        if (perms[i].perm > HVS_PERM_BOTH) {
            snprintf(err, errlen, "store file %s: bad permissions for %.*s", file,
                     (int)k->mv_size, key);
            return -EIO;
        }
    size_t off = HEAD_SIZE + nperms * 8ull;
    if (node_set_perms(n, perms, nperms) < 0 ||
        node_set_value(n, (const char *)v->mv_data + off, v->mv_size - off) < 0)
        return -ENOMEM;
    n->gen = n->cgen = gen;
    if (gen > *maxgen)
        *maxgen = gen;
    return 0;
}

static int ck_add(struct persist *p, const char *path, size_t len)
{
    if (p->nck == p->capck) {
        size_t cap = p->capck ? p->capck * 2 : 256;
        char **c = realloc(p->ck, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        p->ck = c;
        p->capck = cap;
    }
    char *copy = strndup(path, len);
    if (!copy)
        return -ENOMEM;
    p->ck[p->nck++] = copy;
    return 0;
}

struct replay {
    struct persist *p;
    struct tree *t;
    uint64_t *maxgen;
    char *err;
    size_t errlen;
    int failed;
};

static int replay_one(void *opaque, enum journal_rec type, const char *path, size_t pathlen,
                      const void *rec, size_t reclen)
{
    struct replay *rp = opaque;
    int r;

    if (pathlen == 0 || path[0] != '/' || pathlen > HVS_PATH_MAX)
        return -EIO;
    if (type == JREC_PUT) {
        MDB_val k = {.mv_size = pathlen, .mv_data = (void *)path};
        MDB_val v = {.mv_size = reclen, .mv_data = (void *)rec};
        r = apply_put(rp->t, &k, &v, rp->maxgen, rp->err, rp->errlen, rp->p->path);
        if (r < 0) {
            rp->failed = r;
            return r;
        }
    } else {
        struct node *n = tree_get(rp->t, path, pathlen);
        if (n && n->parent)
            tree_remove(rp->t, n, NULL, NULL);
    }
    r = ck_add(rp->p, path, pathlen);
    if (r < 0)
        rp->failed = r;
    return r;
}

int persist_load(struct persist *p, struct tree *t, uint64_t *maxgen, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, r = 0;

    rc = mdb_txn_begin(p->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, p->dbi, &cur);
    else
        txn = NULL;
    if (rc != 0) {
        if (txn)
            mdb_txn_abort(txn);
        snprintf(err, errlen, "store file %s: %s", p->path, mdb_strerror(rc));
        return mdb_errno(rc);
    }
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        r = apply_put(t, &k, &v, maxgen, err, errlen, p->path);
        if (r < 0)
            break;
    }
    if (r == 0 && rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "store file %s: %s", p->path, mdb_strerror(rc));
        r = mdb_errno(rc);
    }
    if (r == -ENOMEM)
        snprintf(err, errlen, "out of memory loading %s", p->path);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (r == 0) {
        struct replay rp = {.p = p, .t = t, .maxgen = maxgen, .err = err, .errlen = errlen};
        r = journal_replay(p->j, replay_one, &rp, err, errlen);
        if (r == 0 && rp.failed)
            r = rp.failed;
        /* Fold what was replayed into LMDB now, so the journal starts empty. */
        if (r == 0 && p->nck)
            r = checkpoint(p, t, NULL, 0, err, errlen);
    }
    /* Children generations are not stored: newer than anything loaded. */
    ++*maxgen;
    return r;
}

static int put(struct persist *p, MDB_txn *txn, const struct node *n)
{
    size_t size = HEAD_SIZE + n->nperms * 8ull + n->vlen;
    char stackbuf[4096];
    char *buf = size <= sizeof(stackbuf) ? stackbuf : malloc(size);
    uint32_t version = RECORD_VERSION, np = n->nperms;

    if (!buf)
        return ENOMEM;
    memcpy(buf, &version, 4);
    memcpy(buf + 4, &np, 4);
    memcpy(buf + 8, &n->gen, 8);
    memcpy(buf + HEAD_SIZE, n->perms, np * 8ull);
    memcpy(buf + HEAD_SIZE + np * 8ull, n->value, n->vlen);
    MDB_val k = {.mv_size = n->pathlen, .mv_data = n->path};
    MDB_val v = {.mv_size = size, .mv_data = buf};
    int rc = mdb_put(txn, p->dbi, &k, &v, 0);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/*
 * The nodes changed since the last checkpoint into LMDB, then an empty
 * journal. `extra`: nodes changed in memory but not journaled yet (another
 * thread's flush is to come): written too, so LMDB gets a state the tree
 * really had, never half of a transaction.
 */
static int checkpoint(struct persist *p, struct tree *t, char **extra, size_t nextra, char *err,
                      size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(p->env, NULL, 0, &txn);

    for (size_t i = 0; rc == 0 && i < p->nck + nextra; i++) {
        const char *path = i < p->nck ? p->ck[i] : extra[i - p->nck];
        size_t len = strlen(path);
        struct node *node = tree_get(t, path, len);
        if (node) {
            rc = put(p, txn, node);
        } else {
            MDB_val k = {.mv_size = len, .mv_data = (void *)path};
            rc = mdb_del(txn, p->dbi, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn); /* fsync'd: LMDB's default durability */
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        snprintf(err, errlen, "store file %s: checkpoint: %s", p->path, mdb_strerror(rc));
        return mdb_errno(rc);
    }
    for (size_t i = 0; i < p->nck; i++)
        free(p->ck[i]);
    p->nck = 0;
    return p->ck_lost ? 0 : journal_reset(p->j, err, errlen);
}

int persist_encode(struct persist *p, struct tree *t, char **paths, size_t n, struct jbuf *b,
                   char *err, size_t errlen)
{
    int r = 0;

    for (size_t i = 0; r == 0 && i < n; i++) {
        size_t len = strlen(paths[i]);
        struct node *node = tree_get(t, paths[i], len);
        if (node) {
            char head[HEAD_SIZE + PERMS_MAX * 8];
            uint32_t version = RECORD_VERSION, np = node->nperms;
            memcpy(head, &version, 4);
            memcpy(head + 4, &np, 4);
            memcpy(head + 8, &node->gen, 8);
            memcpy(head + HEAD_SIZE, node->perms, np * 8ull);
            r = jbuf_add(b, JREC_PUT, paths[i], len, head, HEAD_SIZE + np * 8ull, node->value,
                         node->vlen);
        } else {
            r = jbuf_add(b, JREC_DEL, paths[i], len, NULL, 0, NULL, 0);
        }
    }
    if (r < 0) {
        jbuf_free(b);
        snprintf(err, errlen, "store file %s: %s", p->path, strerror(-r));
    }
    return r;
}

int persist_write(struct persist *p, const struct jbuf *b, char *err, size_t errlen)
{
    return journal_append(p->j, b, err, errlen);
}

void persist_written(struct persist *p, struct tree *t, char **paths, size_t n, char **pending,
                     size_t npending)
{
    for (size_t i = 0; i < n; i++)
        if (ck_add(p, paths[i], strlen(paths[i])) < 0) {
            /* Durable in the journal; a checkpoint would miss it, so the
             * journal is kept from now on (replayed at the next open). */
            p->ck_lost = true;
            return;
        }
    if (journal_size(p->j) >= JOURNAL_CHECKPOINT) {
        char cerr[256];
        /* Durable already; a failed checkpoint is retried next time. */
        (void)checkpoint(p, t, pending, npending, cerr, sizeof(cerr));
    }
}

int persist_commit(struct persist *p, struct tree *t, char **paths, size_t n, char *err,
                   size_t errlen)
{
    struct jbuf b = {0};
    int r = persist_encode(p, t, paths, n, &b, err, errlen);

    if (r < 0)
        return r;
    r = persist_write(p, &b, err, errlen);
    jbuf_free(&b);
    if (r == 0)
        persist_written(p, t, paths, n, NULL, 0);
    return r;
}
