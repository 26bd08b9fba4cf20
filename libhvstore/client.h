/* SPDX-License-Identifier: MIT */
/*
 * The client side of the wire protocol: a connection to hvstored on a unix
 * socket, with the same operations as the engine (engine.h), so that the
 * public handle (hvstore.c) is a thin switch between the two.
 *
 * Requests are synchronous: the calling thread sends its request and reads
 * until its reply arrives, one request at a time per connection (a mutex).
 * Watch events read meanwhile are queued. client_watch_fd() is an epoll fd
 * that is readable when events are queued or the socket has bytes;
 * client_events_take() reads what the socket has without blocking.
 *
 * Errors: the daemon's ERROR reply gives the errno (and, as our extension, a
 * message after the errno name's NUL, used for client_error()). A dead
 * daemon gives -ENOTCONN from then on.
 */
#ifndef LIBHVSTORE_CLIENT_H
#define LIBHVSTORE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct client;

int client_connect(struct client **out, const char *socket_path, char *err, size_t errlen);
void client_close(struct client *c);
const char *client_error(struct client *c);
int client_watch_fd(struct client *c);
struct store_event *client_events_take(struct client *c);

int client_act_as(struct client *c, uint32_t domid);
int client_read(struct client *c, uint32_t tx, const char *path, char **value, size_t *len);
int client_write(struct client *c, uint32_t tx, const char *path, const void *value, size_t len);
int client_mkdir(struct client *c, uint32_t tx, const char *path);
int client_rm(struct client *c, uint32_t tx, const char *path);
/* As store_directory: names NUL-terminated and concatenated in *buf;
 * complete (DIRECTORY, falling back to DIRECTORY_PART pieces on E2BIG,
 * restarting if the generation changes). Returns the count. */
int client_directory(struct client *c, uint32_t tx, const char *path, char **buf, size_t *len);
/* One DIRECTORY_PART piece from `offset`: names as above, *gen, *done. */
int client_directory_part(struct client *c, uint32_t tx, const char *path, uint32_t offset,
                          char **buf, size_t *len, uint64_t *gen, int *done);
int client_perms_get(struct client *c, uint32_t tx, const char *path, hvs_perm_t **perms);
int client_perms_set(struct client *c, uint32_t tx, const char *path, const hvs_perm_t *perms,
                     unsigned count);
/* depth HVS_DEPTH_ANY: plain WATCH; otherwise XS_HV_WATCH_DEPTH. */
int client_watch(struct client *c, const char *path, const char *token, int depth);
int client_unwatch(struct client *c, const char *path, const char *token);
int client_tx_begin(struct client *c, uint32_t *tx);
int client_tx_end(struct client *c, uint32_t tx, bool commit);
int client_domain_introduce(struct client *c, uint32_t domid);
int client_domain_release(struct client *c, uint32_t domid);
int client_domain_own(struct client *c, uint32_t domid, const char *const *paths, size_t n);
int client_domain_disown(struct client *c, uint32_t domid);
int client_domain_introduced(struct client *c, uint32_t domid);
int client_domain_path(struct client *c, uint32_t domid, char **path);

#endif
