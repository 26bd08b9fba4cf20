/* SPDX-License-Identifier: MIT */
/*
 * Starting hvstored when no store daemon answers (DESIGN.md section 3), so
 * that `xl create` works on a fresh machine. Concurrent creators serialise
 * on a lock file in the run dir: the first starts the daemon, the others find
 * it listening. hvstored daemonises only once it listens, so waiting for the
 * started process to exit is waiting for the daemon to be ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#ifndef HV_HVSTORED_DEFAULT
#define HV_HVSTORED_DEFAULT "/usr/local/sbin/hvstored"
#endif

extern char **environ;

/* mkdir -p with mode for the directories it creates. */
static int mkdirs(hv_t *hv, const char *dir, mode_t mode)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s", dir);

    if (n < 0 || (size_t)n >= sizeof(path))
        return hv_error(hv, -ENAMETOOLONG, "directory %s: path too long", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (mkdir(path, mode) < 0 && errno != EEXIST)
                return hv_error(hv, -errno, "cannot create %s: %s", path, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* 0 if something accepts connections at path. */
static int probe(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int run_daemon(hv_t *hv, const char *exe, const char *socket_path, const char *data_dir)
{
    char *argv[] = {(char *)exe, "--socket", (char *)socket_path, "--data-dir",
                    (char *)data_dir, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;

    /* Its stdin and stdout are not ours to share; stderr carries its
     * startup errors to whoever runs us. */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    /* A daemon that outlives us must not hold our pipes and files open. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* Nor our signal mask or ignored signals: it stops on SIGTERM/SIGINT. */
    posix_spawnattr_t attr;
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGHUP);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &deflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(&pid, exe, &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return hv_error(hv, -rc, "cannot start the store daemon %s: %s (start hvstored "
                        "yourself, or set HV_HVSTORED or hv_options_t.hvstored_path)",
                        exe, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno == EINTR)
            continue;
        /* The application reaps its children itself (SIGCHLD ignored, or
         * waitpid(-1)): the socket tells whether the daemon came up. */
        if (errno == ECHILD && probe(socket_path) == 0)
            return 0;
        return hv_error(hv, -errno, "waiting for %s: %s", exe, strerror(errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return hv_error(hv, -EIO, "the store daemon %s did not start (%s %d; its messages "
                        "are on stderr or in the system log)", exe,
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    hv_log(hv, HV_LOG_INFO, "started the store daemon %s on %s (data in %s)", exe,
           socket_path, data_dir);
    return 0;
}

int store_spawn(hv_t *hv, const char *socket_path)
{
    char data_dir[PATH_MAX], lock_path[PATH_MAX];
    const char *exe = hv->hvstored_path ? hv->hvstored_path : HV_HVSTORED_DEFAULT;
    int err;

    if ((size_t)snprintf(data_dir, sizeof(data_dir), "%s/store", hv->state_dir) >=
            sizeof(data_dir) ||
        (size_t)snprintf(lock_path, sizeof(lock_path), "%s/store.spawn.lock", hv->run_dir) >=
            sizeof(lock_path))
        return hv_error(hv, -ENAMETOOLONG, "run dir %s or state dir %s: path too long",
                        hv->run_dir, hv->state_dir);
    if ((err = mkdirs(hv, hv->run_dir, 0755)) < 0 || (err = mkdirs(hv, data_dir, 0700)) < 0)
        return err;
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0)
        return hv_error(hv, -errno, "cannot open %s: %s", lock_path, strerror(errno));
    while (flock(lock, LOCK_EX) < 0)
        if (errno != EINTR) {
            err = hv_error(hv, -errno, "flock %s: %s", lock_path, strerror(errno));
            close(lock);
            return err;
        }
    /* Another creator may have started it while we waited for the lock. */
    err = probe(socket_path) == 0 ? 0 : run_daemon(hv, exe, socket_path, data_dir);
    close(lock);
    return err;
}
