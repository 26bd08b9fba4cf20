/* SPDX-License-Identifier: MIT */
/*
 * Durability under crashes: 4 writers write unique keys through the public
 * API ("unix:") and record each write the daemon acknowledged; the daemon
 * is SIGKILLed 200 times, each time after a random number (1..50) of
 * acknowledgements (so the kills land at random points of its work, with
 * no sleeping), and restarted on the same data dir. Every restart must open
 * the store (it reports ready), and in the end every acknowledged write
 * must be there with its value: 0 lost.
 *
 * HV_TEST_SEED fixes the random kill points (printed at the start).
 */
#include "daemon_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv/hvstore.h"

#define WRITERS 4
#define KILLS 200
#define MAX_ACKS_BEFORE_KILL 50

struct shared {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const char *uri;
    unsigned gen;  /* bumped when a restarted daemon is ready */
    unsigned acks; /* since the last restart */
    bool stop;
};

struct writer {
    pthread_t thread;
    struct shared *sh;
    int id;
    uint32_t next;
    uint32_t *acked; /* the keys acknowledged, under sh->lock */
    size_t nacked, cap;
    unsigned lost_conn; /* writes that failed with -ENOTCONN (a kill) */
    int bad_rc;         /* any other failure */
    char bad_msg[256];
};

static void key_of(int id, uint32_t n, char *buf, size_t len)
{
    snprintf(buf, len, "/crash/w%d/k%u", id, n);
}

/* Values of varying length, derived from the key alone. */
static size_t value_of(int id, uint32_t n, char *buf, size_t len)
{
    int pad = (int)((n * 7u + (unsigned)id * 13u) % 97u);
    int r = snprintf(buf, len, "w%d-k%u-%.*s", id, n, pad,
                     "ppppppppppppppppppppppppppppppppppppppppppppppppp"
                     "pppppppppppppppppppppppppppppppppppppppppppppppp");
    return (size_t)r;
}

static void record(struct writer *w, uint32_t n)
{
    struct shared *sh = w->sh;

    pthread_mutex_lock(&sh->lock);
    if (w->nacked == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->acked = realloc(w->acked, w->cap * sizeof(*w->acked));
        if (!w->acked)
            abort();
    }
    w->acked[w->nacked++] = n;
    sh->acks++;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
}

/* Waits for a daemon newer than `seen`; false when told to stop. */
static bool wait_new_daemon(struct shared *sh, unsigned *seen)
{
    bool go;

    pthread_mutex_lock(&sh->lock);
    while (sh->gen == *seen && !sh->stop)
        pthread_cond_wait(&sh->cond, &sh->lock);
    *seen = sh->gen;
    go = !sh->stop;
    pthread_mutex_unlock(&sh->lock);
    return go;
}

static bool stopping(struct shared *sh)
{
    pthread_mutex_lock(&sh->lock);
    bool s = sh->stop;
    pthread_mutex_unlock(&sh->lock);
    return s;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct shared *sh = w->sh;
    unsigned seen = 0;
    hvs_t *h = NULL;
    char key[64], val[160];

    while (!stopping(sh)) {
        if (!h) {
            if (!wait_new_daemon(sh, &seen))
                break;
            /* Refused: killed again already; wait for the next one. */
            if (hvs_open(&h, sh->uri, NULL) < 0) {
                h = NULL;
                continue;
            }
        }
        uint32_t n = w->next++;
        key_of(w->id, n, key, sizeof(key));
        size_t len = value_of(w->id, n, val, sizeof(val));
        int rc = hvs_write(h, HVS_TX_NONE, key, val, len);
        if (rc == 0) {
            record(w, n);
            continue;
        }
        /* Not acknowledged: the key may or may not be there; never reused. */
        if (rc == -ENOTCONN) {
            w->lost_conn++;
        } else if (!w->bad_rc) {
            w->bad_rc = rc;
            snprintf(w->bad_msg, sizeof(w->bad_msg), "%s: %s", key, hvs_last_error(h));
        }
        hvs_close(h);
        h = NULL;
    }
    hvs_close(h);
    return NULL;
}

/* Waits until the writers have `target` acknowledgements from this daemon. */
static void wait_acks(struct shared *sh, unsigned target)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += DU_TIMEOUT_MS / 1000; /* hang guard only */
    pthread_mutex_lock(&sh->lock);
    while (sh->acks < target) {
        if (pthread_cond_timedwait(&sh->cond, &sh->lock, &deadline) == ETIMEDOUT) {
            unsigned got = sh->acks;
            pthread_mutex_unlock(&sh->lock);
            fail_msg("only %u of %u writes acknowledged: writers stuck", got, target);
        }
    }
    pthread_mutex_unlock(&sh->lock);
}

static void check_log_clean(struct du_daemon *d)
{
    char path[160], line[1024];

    snprintf(path, sizeof(path), "%s/daemon.log", d->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "hvstored: error:"))
            fail_msg("hvstored logged an error: %s", line);
    }
    fclose(f);
}

static void test_crash(void **state)
{
    (void)state;
    struct du_daemon d;
    struct shared sh = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct writer w[WRITERS];
    const char *env = getenv("HV_TEST_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL) ^ (unsigned)getpid();

    print_message("HV_TEST_SEED=%u\n", seed);
    du_init(&d);
    du_start_ok(&d);
    sh.uri = d.uri;
    sh.gen = 1;
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.sh = &sh, .id = i};
        assert_int_equal(pthread_create(&w[i].thread, NULL, writer_main, &w[i]), 0);
    }

    unsigned total_target = 0;
    for (int k = 0; k < KILLS; k++) {
        unsigned target = 1 + (unsigned)rand_r(&seed) % MAX_ACKS_BEFORE_KILL;
        total_target += target;
        wait_acks(&sh, target);
        du_kill(&d, SIGKILL);
        /* Asserts the store opened: the daemon only says ready after that. */
        du_start_ok(&d);
        pthread_mutex_lock(&sh.lock);
        sh.acks = 0;
        sh.gen++;
        pthread_cond_broadcast(&sh.cond);
        pthread_mutex_unlock(&sh.lock);
    }
    pthread_mutex_lock(&sh.lock);
    sh.stop = true;
    pthread_cond_broadcast(&sh.cond);
    pthread_mutex_unlock(&sh.lock);

    size_t acked = 0, lost = 0, wrong = 0;
    unsigned lost_conn = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].bad_rc)
            fail_msg("writer %d: a write failed with %d (%s), not -ENOTCONN", i, w[i].bad_rc,
                     w[i].bad_msg);
        lost_conn += w[i].lost_conn;
    }

    hvs_t *h = du_open(&d, 0);
    for (int i = 0; i < WRITERS; i++) {
        for (size_t j = 0; j < w[i].nacked; j++) {
            char key[64], want[160], *got = NULL;
            size_t len = 0;
            uint32_t n = w[i].acked[j];
            key_of(i, n, key, sizeof(key));
            size_t wlen = value_of(i, n, want, sizeof(want));
            int rc = hvs_read(h, HVS_TX_NONE, key, &got, &len);
            if (rc == -ENOENT) {
                if (lost++ < 10)
                    print_error("LOST: %s (acknowledged)\n", key);
            } else if (rc != 0 || len != wlen || memcmp(got, want, len) != 0) {
                if (wrong++ < 10)
                    print_error("WRONG: %s: rc %d value '%s'\n", key, rc, got ? got : "");
            }
            free(got);
            acked++;
        }
        free(w[i].acked);
    }
    hvs_close(h);
    print_message("%d kills, %zu acknowledged writes (%u kill points' worth), %u writes "
                  "cut by a kill; %zu lost, %zu wrong\n",
                  KILLS, acked, total_target, lost_conn, lost, wrong);
    assert_true(acked >= total_target);
    assert_int_equal(lost, 0);
    assert_int_equal(wrong, 0);

    du_stop_ok(&d);
    check_log_clean(&d);
    du_fini(&d);
}

int main(int argc, char **argv)
{
    du_set_exe(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
