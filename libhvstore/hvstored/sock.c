/* SPDX-License-Identifier: MIT */
/* The listening socket: stale ones are replaced, live ones refused. */
#include "hvstored.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) == 0 || strlen(path) >= sizeof(sa->sun_path)) {
        log_err("socket path '%s' must be 1 to %zu bytes", path, sizeof(sa->sun_path) - 1);
        return -1;
    }
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/*
 * Something is at path already. A socket nobody accepts on is what a
 * crashed daemon leaves behind: remove it. Anything else is refused, as
 * removing a live daemon's socket would orphan its clients.
 */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
    struct stat stbuf;

    if (lstat(path, &stbuf) < 0) {
        if (errno == ENOENT)
            return 0;
        log_err("socket path %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(stbuf.st_mode)) {
        log_err("%s exists and is not a socket: refusing to replace it", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_err("socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    int err = errno;
    close(fd);
    /* EAGAIN: a listener whose backlog is full, alive all the same. */
    if (rc == 0 || err == EAGAIN) {
        log_err("another hvstored is already listening on %s: not starting", path);
        return -1;
    }
    if (err != ECONNREFUSED) {
        log_err("cannot tell whether %s is in use (connect: %s): not starting", path,
                strerror(err));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        log_err("cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    log_info("removed the stale socket %s", path);
    return 0;
}

int sock_listen(const char *path)
{
    struct sockaddr_un sa;

    if (fill_addr(&sa, path) < 0 || clear_stale(path, &sa) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_err("socket: %s", strerror(errno));
        return -1;
    }
    /* Every local client is dom0: only our own user may connect. */
    mode_t old = umask(077);
    int rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
    int err = errno;
    umask(old);
    if (rc < 0) {
        if (err == EADDRINUSE)
            log_err("another hvstored is already listening on %s: not starting", path);
        else
            log_err("bind %s: %s", path, strerror(err));
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        log_err("listen %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}
