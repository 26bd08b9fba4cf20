/* SPDX-License-Identifier: MIT */
/*
 * The bench's temp dir and the servers it starts there (hvstored,
 * redis-server). Whatever way the bench ends (return from main, exit(),
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT) the servers are killed and the dir removed;
 * if the bench itself is SIGKILLed, PR_SET_PDEATHSIG still kills the
 * servers (the dir stays).
 */
#ifndef BENCH_STORE_PROCS_H
#define BENCH_STORE_PROCS_H

#include <sys/types.h>

/*
 * Makes <base>/hvstore-bench.XXXXXX and installs the clean-up. Call from
 * the main thread before starting any other thread: it blocks the
 * termination signals for the threads to come and waits for them on one
 * thread of its own. Returns the dir, or NULL (message on stderr).
 */
const char *procs_init(const char *base);

/*
 * Starts hvstored with its socket and data dir, and waits (at most
 * timeout_ms) for its "hvstored: ready on <socket>" line. Its later stdout
 * is copied to stderr. -ENOENT: no such program.
 */
int procs_start_hvstored(const char *exe, const char *socket_path, const char *data_dir,
                         int timeout_ms, pid_t *pid);

/*
 * Starts redis-server on a unix socket only (no TCP), with the AOF in `dir`
 * fsync'd before every reply, and waits until it answers PING (bounded
 * attempts). Its log is <dir>/redis.log. -ENOENT: no such program.
 */
int procs_start_redis(const char *exe, const char *socket_path, const char *dir, int timeout_ms,
                      pid_t *pid);

/* The CPU the servers started from now on are pinned to; -1 (the default):
 * wherever the bench itself may run. */
void procs_pin_servers(int cpu);

/* Kills (SIGKILL) and reaps one server started above. */
void procs_stop(pid_t pid);

/* Kills every server still running and removes the dir. Idempotent. */
void procs_cleanup(void);

#endif
