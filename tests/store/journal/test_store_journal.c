/* SPDX-License-Identifier: MIT */
/*
 * The journal in front of the LMDB file, through real files: a child
 * process writes and dies without closing (as a SIGKILLed daemon would), so
 * its writes live only in the journal; the parent then damages copies of
 * the journal as a crash or a bad disk could and opens them.
 *   - every whole frame is replayed; a torn last frame is dropped entirely,
 *     and the file is cut back so later appends are not lost behind it;
 *   - a frame whose CRC does not match is dropped with what follows;
 *   - a crash after a checkpoint but before the journal is emptied replays
 *     the journal over data that has it already: same state (records carry
 *     whole nodes and deletions, in order);
 *   - a transaction is one frame: all of it or none of it;
 *   - threads writing at once (their flushes grouped) lose no acknowledged
 *     write when the process is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv/hvstore.h"

#define KEYS 20

static char dir[64];

static void path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ssize_t n;

    assert_true(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static off_t file_size(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* A child writes /k/0.. /k/<KEYS-1> one by one (a frame each), writes and
 * removes /gone, then commits a transaction of two nodes (one frame), and
 * exits without hvs_close. */
static void crashed_writer(const char *file)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        char uri[200], key[32], val[32];
        hvs_t *h;
        hvs_tx_t tx;
        snprintf(uri, sizeof(uri), "file:%s", file);
        if (hvs_open(&h, uri, NULL) < 0)
            _exit(2);
        for (int i = 0; i < KEYS; i++) {
            snprintf(key, sizeof(key), "/k/%d", i);
            snprintf(val, sizeof(val), "value-%d", i);
            if (hvs_write(h, HVS_TX_NONE, key, val, strlen(val)) < 0)
                _exit(3);
        }
        if (hvs_write(h, HVS_TX_NONE, "/gone", "soon", 4) < 0 ||
            hvs_rm(h, HVS_TX_NONE, "/gone") < 0)
            _exit(5);
        if (hvs_tx_begin(h, &tx) < 0 || hvs_write(h, tx, "/t/a", "A", 1) < 0 ||
            hvs_write(h, tx, "/t/b", "B", 1) < 0 || hvs_tx_commit(h, tx) < 0)
            _exit(4);
        _exit(0); /* no close: nothing checkpointed into LMDB */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Copies the crashed store to <name>.mdb and returns its journal path. */
static void clone_store(const char *src, const char *name, char *dst, size_t len, char *journal,
                        size_t jlen)
{
    char from[200];

    path_in(dst, len, name);
    snprintf(journal, jlen, "%s-journal", dst);
    copy_file(src, dst);
    snprintf(from, sizeof(from), "%s-journal", src);
    copy_file(from, journal);
}

static int present(hvs_t *h, const char *path, const char *want)
{
    char *v = NULL;
    int r = hvs_read(h, HVS_TX_NONE, path, &v, NULL);

    if (r == -ENOENT)
        return 0;
    assert_int_equal(r, 0);
    if (want)
        assert_string_equal(v, want);
    free(v);
    return 1;
}

static int count_keys(hvs_t *h)
{
    char key[32], val[32];
    int n = 0;

    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "/k/%d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        if (!present(h, key, val))
            break;
        n++;
    }
    return n;
}

static hvs_t *open_file(const char *file)
{
    char uri[200];
    hvs_t *h;

    snprintf(uri, sizeof(uri), "file:%s", file);
    int r = hvs_open(&h, uri, NULL);
    if (r < 0)
        fail_msg("hvs_open(%s): %d %s", uri, r, hvs_open_error());
    return h;
}

static char crashed[160];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/hvs-journal-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    path_in(crashed, sizeof(crashed), "crashed.mdb");
    crashed_writer(crashed);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_whole_journal_replays(void **state)
{
    char file[160], journal[160];

    (void)state;
    clone_store(crashed, "whole.mdb", file, sizeof(file), journal, sizeof(journal));
    assert_true(file_size(journal) > 0);
    hvs_t *h = open_file(file);
    assert_int_equal(count_keys(h), KEYS);
    assert_true(present(h, "/t/a", "A") && present(h, "/t/b", "B"));
    hvs_close(h);
    /* Checkpointed at open: the journal is empty and the data stays. */
    assert_int_equal(file_size(journal), 0);
    h = open_file(file);
    assert_int_equal(count_keys(h), KEYS);
    hvs_close(h);
}

static void test_torn_tail_drops_one_frame(void **state)
{
    char file[160], journal[160];

    (void)state;
    /* Cut inside the last frame (the transaction) at several points. */
    for (off_t cut = 1; cut < 40; cut += 7) {
        clone_store(crashed, "torn.mdb", file, sizeof(file), journal, sizeof(journal));
        assert_int_equal(truncate(journal, file_size(journal) - cut), 0);
        hvs_t *h = open_file(file);
        assert_int_equal(count_keys(h), KEYS);
        /* The transaction's frame is gone entirely: neither node. */
        assert_int_equal(present(h, "/t/a", NULL), 0);
        assert_int_equal(present(h, "/t/b", NULL), 0);
        /* New writes after the cut survive the next open. */
        assert_int_equal(hvs_write(h, HVS_TX_NONE, "/after", "x", 1), 0);
        hvs_close(h);
        h = open_file(file);
        assert_int_equal(present(h, "/after", "x"), 1);
        hvs_close(h);
    }
}

static void test_bad_crc_drops_the_rest(void **state)
{
    char file[160], journal[160];

    (void)state;
    clone_store(crashed, "crc.mdb", file, sizeof(file), journal, sizeof(journal));
    /* Flip a byte in the middle of the journal: the frame holding it and
     * every later one are dropped, the earlier ones are kept. */
    off_t mid = file_size(journal) / 2;
    int fd = open(journal, O_RDWR);
    unsigned char b;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, mid), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, mid), 1);
    close(fd);
    hvs_t *h = open_file(file);
    int n = count_keys(h);
    assert_true(n > 0 && n < KEYS);
    assert_int_equal(present(h, "/t/a", NULL), 0);
    hvs_close(h);
}

static void test_replay_twice_is_harmless(void **state)
{
    char file[160], journal[160], saved[170];

    (void)state;
    clone_store(crashed, "twice.mdb", file, sizeof(file), journal, sizeof(journal));
    snprintf(saved, sizeof(saved), "%s.saved", journal);
    copy_file(journal, saved);
    hvs_t *h = open_file(file);
    assert_int_equal(present(h, "/gone", NULL), 0);
    hvs_close(h);
    assert_int_equal(file_size(journal), 0);
    /* A crash after the checkpoint reached LMDB but before the journal was
     * emptied: the same journal is replayed over data that has it. */
    copy_file(saved, journal);
    h = open_file(file);
    assert_int_equal(count_keys(h), KEYS);
    assert_int_equal(present(h, "/gone", NULL), 0);
    assert_true(present(h, "/t/a", "A") && present(h, "/t/b", "B"));
    hvs_close(h);
}

/* A child opens the store, writes one node and dies without closing. */
static void crashed_append(const char *file, const char *key)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        char uri[200];
        hvs_t *h;
        snprintf(uri, sizeof(uri), "file:%s", file);
        if (hvs_open(&h, uri, NULL) < 0 || hvs_write(h, HVS_TX_NONE, key, "x", 1) < 0)
            _exit(2);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A journal holding nothing but a torn frame: the next process must cut it
 * before appending, or its acknowledged writes would sit behind garbage
 * and be lost at the following open. */
static void test_torn_only_frame_is_cut_before_appending(void **state)
{
    char file[160], journal[200];

    (void)state;
    path_in(file, sizeof(file), "single.mdb");
    snprintf(journal, sizeof(journal), "%s-journal", file);
    crashed_append(file, "/first");
    assert_true(file_size(journal) > 8);
    assert_int_equal(truncate(journal, file_size(journal) - 3), 0);
    crashed_append(file, "/second");
    hvs_t *h = open_file(file);
    assert_int_equal(present(h, "/first", NULL), 0);
    assert_int_equal(present(h, "/second", "x"), 1);
    hvs_close(h);
}

#define THREADS 8

struct writer {
    hvs_t *h;
    int id;
    int ackfd;
};

/* Writes /g/<id>/<n> until killed, reporting each acknowledged n. */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char key[64];

    for (uint32_t n = 0;; n++) {
        snprintf(key, sizeof(key), "/g/%d/%u", w->id, n);
        if (hvs_write(w->h, HVS_TX_NONE, key, key, strlen(key)) < 0)
            _exit(3);
        uint32_t ack[2] = {(uint32_t)w->id, n};
        if (write(w->ackfd, ack, sizeof(ack)) != (ssize_t)sizeof(ack))
            _exit(4);
    }
    return NULL;
}

static void test_threads_killed_lose_nothing(void **state)
{
    char file[160];
    int fds[2];

    (void)state;
    path_in(file, sizeof(file), "threads.mdb");
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char uri[200];
        hvs_t *h;
        struct writer w[THREADS];
        pthread_t th[THREADS];
        close(fds[0]);
        snprintf(uri, sizeof(uri), "file:%s", file);
        if (hvs_open(&h, uri, NULL) < 0)
            _exit(2);
        for (int i = 0; i < THREADS; i++) {
            w[i] = (struct writer){.h = h, .id = i, .ackfd = fds[1]};
            pthread_create(&th[i], NULL, writer_main, &w[i]);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        _exit(0);
    }
    close(fds[1]);
    /* The highest acknowledged n of each thread; acks of one thread come in
     * order, so every n up to it was acknowledged too. */
    int64_t acked[THREADS];
    for (int i = 0; i < THREADS; i++)
        acked[i] = -1;
    uint32_t ack[2];
    for (int total = 0; total < 400; total++) {
        assert_int_equal(read(fds[0], ack, sizeof(ack)), (ssize_t)sizeof(ack));
        assert_true(ack[0] < THREADS);
        acked[ack[0]] = ack[1];
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    /* Acks already in the pipe were acknowledged before the kill. */
    while (read(fds[0], ack, sizeof(ack)) == (ssize_t)sizeof(ack))
        acked[ack[0]] = ack[1];
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    hvs_t *h = open_file(file);
    char key[64];
    for (int i = 0; i < THREADS; i++)
        for (int64_t n = 0; n <= acked[i]; n++) {
            snprintf(key, sizeof(key), "/g/%d/%u", i, (uint32_t)n);
            if (!present(h, key, key))
                fail_msg("acknowledged %s is lost", key);
        }
    hvs_close(h);
}

/* A full disk (here: the file size limit) fails the write with -EIO and a
 * message; the change stays in memory, as docs/store.md says. */
static void test_write_error_is_eio(void **state)
{
    char file[160];

    (void)state;
    path_in(file, sizeof(file), "full.mdb");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char uri[200], key[32], val[2048];
        hvs_t *h;
        int r = 0, i;
        snprintf(uri, sizeof(uri), "file:%s", file);
        if (hvs_open(&h, uri, NULL) < 0)
            _exit(2);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {.rlim_cur = 256 * 1024, .rlim_max = 256 * 1024};
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(3);
        memset(val, 'v', sizeof(val));
        for (i = 0; i < 1000 && r == 0; i++) {
            snprintf(key, sizeof(key), "/full/%d", i);
            r = hvs_write(h, HVS_TX_NONE, key, val, sizeof(val));
        }
        if (r != -EIO)
            _exit(4);
        if (!strstr(hvs_last_error(h), "not written to disk"))
            _exit(5);
        char *v = NULL;
        if (hvs_read(h, HVS_TX_NONE, key, &v, NULL) != 0)
            _exit(6);
        free(v);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_journal_replays),
        cmocka_unit_test(test_torn_tail_drops_one_frame),
        cmocka_unit_test(test_bad_crc_drops_the_rest),
        cmocka_unit_test(test_replay_twice_is_harmless),
        cmocka_unit_test(test_torn_only_frame_is_cut_before_appending),
        cmocka_unit_test(test_threads_killed_lose_nothing),
        cmocka_unit_test(test_write_error_is_eio),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
