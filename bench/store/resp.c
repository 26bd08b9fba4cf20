/* SPDX-License-Identifier: MIT */
#include "resp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define OUT_MAX 16384

struct resp {
    int fd;
    size_t pos, len; /* unread bytes are in[pos, len) */
    char in[16384];
    char out[OUT_MAX];
};

int resp_connect(struct resp **out, const char *socket_path)
{
    *out = NULL;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, socket_path);
    struct resp *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int err = -errno;
        if (r->fd >= 0)
            close(r->fd);
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

void resp_close(struct resp *r)
{
    if (!r)
        return;
    close(r->fd);
    free(r);
}

int resp_fd(struct resp *r)
{
    return r->fd;
}

int resp_send(struct resp *r, int argc, const char *const *argv)
{
    size_t n = 0;
    int w = snprintf(r->out, OUT_MAX, "*%d\r\n", argc);
    if (w < 0 || w >= OUT_MAX)
        return -E2BIG;
    n = (size_t)w;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);
        w = snprintf(r->out + n, OUT_MAX - n, "$%zu\r\n", len);
        if (w < 0 || (size_t)w + len + 2 > OUT_MAX - n)
            return -E2BIG;
        n += (size_t)w;
        memcpy(r->out + n, argv[i], len);
        n += len;
        memcpy(r->out + n, "\r\n", 2);
        n += 2;
    }
    for (size_t off = 0; off < n;) {
        ssize_t k = send(r->fd, r->out + off, n - off, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)k;
    }
    return 0;
}

/* Makes at least `need` unread bytes available. */
static int fill(struct resp *r, size_t need)
{
    if (need > sizeof r->in)
        return -E2BIG;
    if (r->len - r->pos >= need)
        return 0;
    if (r->pos + need > sizeof r->in) {
        memmove(r->in, r->in + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    while (r->len - r->pos < need) {
        ssize_t k = read(r->fd, r->in + r->len, sizeof r->in - r->len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            return -ECONNRESET;
        r->len += (size_t)k;
    }
    return 0;
}

/* The next line without its CRLF, NUL-terminated in place. */
static int line(struct resp *r, char **out)
{
    for (size_t scanned = 0;;) {
        char *start = r->in + r->pos;
        size_t avail = r->len - r->pos;
        char *cr = avail > scanned ? memchr(start + scanned, '\r', avail - scanned) : NULL;
        if (cr && cr + 1 < start + avail) {
            if (cr[1] != '\n')
                return -EPROTO;
            *cr = '\0';
            *out = start;
            r->pos += (size_t)(cr - start) + 2;
            return 0;
        }
        scanned = cr ? (size_t)(cr - start) : avail;
        int err = fill(r, avail + 1);
        if (err)
            return err;
    }
}

static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* text/cap: where a string reply's text goes (NULL: dropped). */
static int parse(struct resp *r, struct resp_reply *rep, char *text, size_t cap, int depth)
{
    char *l;
    int err = line(r, &l);
    if (err)
        return err;
    char type = l[0];
    char *end;
    long long num = 0;
    if (type == ':' || type == '$' || type == '*') {
        errno = 0;
        num = strtoll(l + 1, &end, 10);
        if (errno || end == l + 1 || *end)
            return -EPROTO;
    }
    if (depth == 0) {
        rep->type = type;
        rep->num = num;
        rep->str[0] = '\0';
        rep->nelem = 0;
    }
    switch (type) {
    case '+':
    case '-':
        if (text)
            copy_text(text, cap, l + 1, strlen(l + 1));
        return 0;
    case ':':
        if (text)
            snprintf(text, cap, "%lld", num);
        return 0;
    case '$':
        if (num < 0) {
            if (text)
                text[0] = '\0';
            return 0;
        }
        if ((unsigned long long)num + 2 > sizeof r->in)
            return -E2BIG;
        err = fill(r, (size_t)num + 2);
        if (err)
            return err;
        if (memcmp(r->in + r->pos + num, "\r\n", 2))
            return -EPROTO;
        if (text)
            copy_text(text, cap, r->in + r->pos, (size_t)num);
        r->pos += (size_t)num + 2;
        return 0;
    case '*':
        if (depth > 8)
            return -EPROTO;
        for (long long i = 0; i < num; i++) {
            int keep = depth == 0 && rep->nelem < RESP_ELEMS;
            err = parse(r, rep, keep ? rep->elem[rep->nelem] : NULL,
                        keep ? sizeof rep->elem[0] : 0, depth + 1);
            if (err)
                return err;
            if (keep)
                rep->nelem++;
        }
        return 0;
    default:
        return -EPROTO;
    }
}

int resp_recv(struct resp *r, struct resp_reply *rep)
{
    return parse(r, rep, rep->str, sizeof rep->str, 0);
}

int resp_call(struct resp *r, struct resp_reply *rep, int argc, const char *const *argv)
{
    int err = resp_send(r, argc, argv);
    if (!err)
        err = resp_recv(r, rep);
    if (!err && rep->type == '-')
        err = -EREMOTEIO;
    return err;
}
