/* SPDX-License-Identifier: MIT */
/*
 * A minimal redis client (RESP2) over a unix socket: enough for the
 * baseline side of the bench without a hiredis dependency. One command at a
 * time per connection, blocking; each command leaves in one write(), as
 * hiredis sends it.
 */
#ifndef BENCH_STORE_RESP_H
#define BENCH_STORE_RESP_H

#include <stddef.h>

#define RESP_ELEMS 4

struct resp_reply {
    char type;         /* '+' status, '-' error, ':' integer, '$' bulk, '*' array */
    long long num;     /* ':' the integer; '$' the length; '*' the count (-1: nil) */
    char str[256];     /* '+', '-', '$': the text, truncated */
    /* '*': the first RESP_ELEMS elements that are strings or integers, as
     * text (nested arrays are consumed, not kept) */
    unsigned nelem;
    char elem[RESP_ELEMS][128];
};

struct resp;

/* 0, or a negative errno (the socket does not exist yet: -ENOENT). */
int resp_connect(struct resp **out, const char *socket_path);
void resp_close(struct resp *r);
int resp_fd(struct resp *r);

/* Sends one command whose arguments are NUL-terminated strings. */
int resp_send(struct resp *r, int argc, const char *const *argv);
/* Reads one reply; -ECONNRESET at end of stream, -EPROTO on garbage. */
int resp_recv(struct resp *r, struct resp_reply *rep);
/* resp_send + resp_recv; an error reply ('-') gives -EREMOTEIO. */
int resp_call(struct resp *r, struct resp_reply *rep, int argc, const char *const *argv);

#endif
