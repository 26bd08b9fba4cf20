/* SPDX-License-Identifier: MIT */
/*
 * Frame: u32 magic, u32 body length, u32 crc32 of the body, u32 zero; then
 * the body: records of {u8 type, u8 0, u16 0, u32 path length, u32 record
 * length, path, record}. Host byte order, like the LMDB file beside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "journal.h"

#define FRAME_MAGIC 0x4a535648u /* "HVSJ" */
#define FRAME_HEAD 16u
#define REC_HEAD 12u
/* A frame larger than this is damage, not data (bounds a hostile file). */
#define FRAME_MAX (1u << 30)

struct journal {
    int fd;
    uint64_t size;
    char *path;
};

static int fail(char *err, size_t errlen, int e, const char *path, const char *what)
{
    snprintf(err, errlen, "journal %s: %s: %s", path, what, strerror(-e));
    return e;
}

int journal_open(struct journal **out, const char *path, char *err, size_t errlen)
{
    struct journal *j = calloc(1, sizeof(*j));
    struct stat sb;

    *out = NULL;
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return fail(err, errlen, -ENOMEM, path, "open");
    }
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->fd < 0 || fstat(j->fd, &sb) < 0) {
        int e = -errno;
        journal_close(j);
        return fail(err, errlen, e, path, "open");
    }
    j->size = (uint64_t)sb.st_size;
    *out = j;
    return 0;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
}

uint64_t journal_size(const struct journal *j)
{
    return j->size;
}

static int replay_body(const char *b, size_t len, journal_fn fn, void *opaque)
{
    size_t off = 0;

    while (off < len) {
        uint32_t pl, rl;
        if (len - off < REC_HEAD)
            return -EIO;
        memcpy(&pl, b + off + 4, 4);
        memcpy(&rl, b + off + 8, 4);
        if ((uint64_t)pl + rl > len - off - REC_HEAD)
            return -EIO;
        uint8_t type = (uint8_t)b[off];
        if (type != JREC_PUT && type != JREC_DEL)
            return -EIO;
        int r = fn(opaque, type, b + off + REC_HEAD, pl, b + off + REC_HEAD + pl, rl);
        if (r < 0)
            return r;
        off += REC_HEAD + pl + rl;
    }
    return 0;
}

int journal_replay(struct journal *j, journal_fn fn, void *opaque, char *err, size_t errlen)
{
    uint64_t off = 0;
    char *body = NULL;
    int r = 0;

    while (off + FRAME_HEAD <= j->size) {
        uint32_t head[4];
        if (pread(j->fd, head, sizeof(head), (off_t)off) != (ssize_t)sizeof(head))
            break;
        if (head[0] != FRAME_MAGIC || head[1] > FRAME_MAX || head[3] != 0 ||
            off + FRAME_HEAD + head[1] > j->size)
            break;
        char *nb = realloc(body, head[1] ? head[1] : 1);
        if (!nb) {
            r = fail(err, errlen, -ENOMEM, j->path, "replay");
            goto out;
        }
        body = nb;
        if (pread(j->fd, body, head[1], (off_t)(off + FRAME_HEAD)) != (ssize_t)head[1])
            break;
        if ((uint32_t)crc32(0, (const Bytef *)body, head[1]) != head[2])
            break;
        r = replay_body(body, head[1], fn, opaque);
        if (r == -EIO) {
            /* A frame with a good CRC but bad records was written by a
             * buggy or different program: refuse rather than guess. */
            snprintf(err, errlen, "journal %s: malformed records in the frame at byte %llu",
                     j->path, (unsigned long long)off);
            goto out;
        }
        if (r < 0) {
            snprintf(err, errlen, "journal %s: replaying: %s", j->path, strerror(-r));
            goto out;
        }
        off += FRAME_HEAD + head[1];
    }
    if (off < j->size) {
        /* The torn tail of a crash: never acknowledged, so dropped. */
        if (ftruncate(j->fd, (off_t)off) < 0 || fdatasync(j->fd) < 0) {
            r = fail(err, errlen, -errno, j->path, "cutting a torn tail");
            goto out;
        }
        j->size = off;
    }
out:
    free(body);
    return r;
}

int jbuf_add(struct jbuf *b, enum journal_rec type, const char *path, size_t pathlen,
             const void *rec1, size_t len1, const void *rec2, size_t len2)
{
    size_t need = REC_HEAD + pathlen + len1 + len2;

    if (pathlen > UINT32_MAX || len1 + len2 > UINT32_MAX)
        return -E2BIG;
    if (b->len + need > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + need;
        char *d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    char *p = b->data + b->len;
    uint32_t pl = (uint32_t)pathlen, rl = (uint32_t)(len1 + len2);
    memset(p, 0, 4);
    p[0] = (char)type;
    memcpy(p + 4, &pl, 4);
    memcpy(p + 8, &rl, 4);
    memcpy(p + REC_HEAD, path, pathlen);
    if (len1)
        memcpy(p + REC_HEAD + pathlen, rec1, len1);
    if (len2)
        memcpy(p + REC_HEAD + pathlen + len1, rec2, len2);
    b->len += need;
    return 0;
}

void jbuf_free(struct jbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int journal_append(struct journal *j, const struct jbuf *body, char *err, size_t errlen)
{
    if (body->len > FRAME_MAX)
        return fail(err, errlen, -E2BIG, j->path, "frame too large");
    uint32_t head[4] = {FRAME_MAGIC, (uint32_t)body->len,
                        (uint32_t)crc32(0, (const Bytef *)body->data, (uInt)body->len), 0};
    struct iovec iov[2] = {{head, sizeof(head)}, {body->data, body->len}};
    size_t total = sizeof(head) + body->len, done = 0;

    while (done < total) {
        ssize_t w = pwritev(j->fd, iov, 2, (off_t)(j->size + done));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        done += (size_t)w;
        /* Short writes are rare; advance the vectors. */
        size_t skip = (size_t)w;
        for (int i = 0; i < 2 && skip; i++) {
            size_t s = skip < iov[i].iov_len ? skip : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + s;
            iov[i].iov_len -= s;
            skip -= s;
        }
    }
    if (done < total || fdatasync(j->fd) < 0) {
        int e = -errno;
        /* Whatever reached the file is a torn frame: cut it. */
        if (ftruncate(j->fd, (off_t)j->size) < 0) {
        }
        return fail(err, errlen, e ? e : -EIO, j->path, "appending");
    }
    j->size += total;
    return 0;
}

int journal_reset(struct journal *j, char *err, size_t errlen)
{
    if (ftruncate(j->fd, 0) < 0 || fdatasync(j->fd) < 0)
        return fail(err, errlen, -errno, j->path, "emptying");
    j->size = 0;
    return 0;
}
