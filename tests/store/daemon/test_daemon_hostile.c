/* SPDX-License-Identifier: MIT */
/*
 * Bad clients on raw sockets: impossible headers, unterminated strings,
 * wrong argument counts, unknown types, floods, clients that vanish
 * mid-message or never read. Each gets an ERROR or loses its own
 * connection; after each, the daemon is alive and a well-behaved client on
 * another connection works. Also the per-connection quota of outstanding
 * requests for a connection acting as a domU.
 */
#include "daemon_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/hvstore.h"

/* Types, as Xen numbers them (the test speaks the wire, not our headers). */
enum {
    T_CONTROL = 0,
    T_DIRECTORY = 1,
    T_READ = 2,
    T_WATCH = 4,
    T_TRANSACTION_START = 6,
    T_TRANSACTION_END = 7,
    T_INTRODUCE = 8,
    T_GET_DOMAIN_PATH = 10,
    T_WRITE = 11,
    T_SET_PERMS = 14,
    T_WATCH_EVENT = 15,
    T_ERROR = 16,
    T_DIRECTORY_PART = 22,
    T_HV_ACT_AS = 128,
    T_HV_WATCH_DEPTH = 129,
};

#define QUOTA_REQUESTS 5

static int setup(void **state)
{
    return du_fixture_setup(state, "--quota-requests", "5"); /* QUOTA_REQUESTS */
}

/* A clean stop: under the sanitizers, also the daemon's leak check. */
static int teardown(void **state)
{
    return du_fixture_teardown(state);
}

/* The daemon is alive and a fresh, well-behaved client works. */
static void healthy(struct du_daemon *d)
{
    static unsigned n;
    char path[64], val[32];
    char *got = NULL;

    assert_true(du_alive(d));
    hvs_t *h = du_open(d, 0);
    snprintf(path, sizeof(path), "/healthy/%u", ++n);
    snprintf(val, sizeof(val), "v%u", n);
    assert_int_equal(hvs_write(h, HVS_TX_NONE, path, val, strlen(val)), 0);
    assert_int_equal(hvs_read(h, HVS_TX_NONE, path, &got, NULL), 0);
    assert_string_equal(got, val);
    free(got);
    hvs_close(h);
    assert_true(du_alive(d));
}

/* The daemon closed this connection (EOF or reset), after any messages. */
static void expect_dropped(int fd)
{
    struct du_msg m;

    while (du_recv(fd, &m)) {
    }
}

/* ---- Impossible headers: the stream cannot be resynchronised ---------------- */

static void test_len_5000(void **state)
{
    struct du_daemon *d = *state;
    int fd = du_connect(d);
    char payload[100] = "/a";

    du_send_raw(fd, T_READ, 1, 0, 5000, payload, sizeof(payload));
    expect_dropped(fd);
    close(fd);
    healthy(d);
}

static void test_len_max(void **state)
{
    struct du_daemon *d = *state;
    int fd = du_connect(d);

    du_send_raw(fd, T_WRITE, 1, 0, 0xffffffffu, NULL, 0);
    expect_dropped(fd);
    close(fd);
    healthy(d);
}

/* Requests before the bad header are answered; nothing after it is read. */
static void test_good_then_bad_header(void **state)
{
    struct du_daemon *d = *state;
    int fd = du_connect(d);
    struct du_msg m;

    du_send(fd, T_WRITE, 7, "/hostile/before\0x", 18);
    du_send_raw(fd, T_READ, 8, 0, 4097, NULL, 0);
    assert_int_equal(du_recv(fd, &m), 1);
    assert_int_equal(m.type, T_WRITE);
    assert_int_equal(m.req_id, 7);
    expect_dropped(fd);
    close(fd);
    healthy(d);
}

/* ---- Bad arguments: ERROR EINVAL, the connection goes on ------------------- */

static void test_unterminated(void **state)
{
    struct du_daemon *d = *state;
    int fd = du_connect(d);
    struct du_msg m;

    du_send(fd, T_READ, 1, "/hostile/a", 10); /* no NUL */
    du_expect_error(fd, 1, "EINVAL");
    du_send(fd, T_WATCH, 2, "/hostile/a\0tok", 14); /* token unterminated */
    du_expect_error(fd, 2, "EINVAL");
    du_send(fd, T_WRITE, 3, "/hostile/a", 10); /* path unterminated */
    du_expect_error(fd, 3, "EINVAL");
    /* Still in step: a good request on the same connection. */
    du_call(fd, T_WRITE, 4, "/hostile/a\0value", 16, &m);
    assert_string_equal(m.payload, "OK");
    du_call(fd, T_READ, 5, "/hostile/a", 11, &m);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.payload, "value", 5);
    close(fd);
    healthy(d);
}

static const struct bad_args {
    uint32_t type;
    const char *payload;
    size_t len;
} bad_args[] = {
    {T_READ, "", 0},
    {T_READ, "/a\0/b", 6},
    {T_DIRECTORY, "/a\0/b", 6},
    {T_WATCH, "/a", 3},
    {T_WATCH, "/a\0t\0x", 7},
    {T_WRITE, "", 0},
    {T_SET_PERMS, "/hostile", 9},
    {T_SET_PERMS, "/hostile\0q5", 12},
    {T_SET_PERMS, "/hostile\0r", 11},
    {T_SET_PERMS, "/hostile\0r-1", 13},
    {T_SET_PERMS, "/hostile\0r99999999999", 22},
    {T_TRANSACTION_START, "x", 2},
    {T_TRANSACTION_END, "X", 2},
    {T_TRANSACTION_END, "T\0F", 4},
    {T_INTRODUCE, "5", 2},
    {T_INTRODUCE, "x\0" "0\0" "0", 6},
    {T_GET_DOMAIN_PATH, "abc", 4},
    {T_GET_DOMAIN_PATH, "-1", 3},
    {T_GET_DOMAIN_PATH, "99999999999", 12},
    {T_GET_DOMAIN_PATH, " 5", 3},
    {T_DIRECTORY_PART, "/\0x", 4},
    {T_DIRECTORY_PART, "/", 2},
    {T_HV_WATCH_DEPTH, "/a\0t\0-5", 8},
    {T_HV_WATCH_DEPTH, "/a\0t", 5},
    {T_HV_ACT_AS, "x", 2},
    {T_HV_ACT_AS, "", 0},
};

static void test_wrong_arguments(void **state)
{
    struct du_daemon *d = *state;
    int fd = du_connect(d);
    struct du_msg m;

    for (unsigned i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
        const struct bad_args *b = &bad_args[i];
        du_send(fd, b->type, 100 + i, b->payload, b->len);
        du_expect_error(fd, 100 + i, "EINVAL");
    }
    /* A WRITE's value may be empty: two arguments, the last one raw. */
    du_call(fd, T_WRITE, 1, "/hostile/empty", 15, &m);
    assert_string_equal(m.payload, "OK");
    /* Invalid paths are the engine's EINVAL. */
    du_send(fd, T_READ, 2, "/a//b", 6);
    du_expect_error(fd, 2, "EINVAL");
    du_send(fd, T_WRITE, 3, "/a/\x01\0x", 7);
    du_expect_error(fd, 3, "EINVAL");
    close(fd);
    healthy(d);
}

static void test_unknown_types(void **state)
{
    struct du_daemon *d = *state;
    int fd = du_connect(d);
    const uint32_t types[] = {20, 23, 77, 127, 130, 0xffffffffu, T_WATCH_EVENT, T_ERROR};

    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        du_send(fd, types[i], 10 + i, "/a", 3);
        du_expect_error(fd, 10 + i, "EINVAL");
    }
    du_send(fd, T_CONTROL, 1, "print\0x", 8);
    du_expect_error(fd, 1, "ENOSYS");
    close(fd);
    healthy(d);
}

/* Replies echo req_id and tx_id, whatever they are. */
static void test_ids_echoed(void **state)
{
    struct du_daemon *d = *state;
    int fd = du_connect(d);
    struct du_msg m;

    du_send_raw(fd, T_READ, 0xdeadbeef, 12345, 3, "/a", 3);
    assert_int_equal(du_recv(fd, &m), 1);
    assert_int_equal(m.type, T_ERROR);
    assert_int_equal(m.req_id, 0xdeadbeef);
    assert_int_equal(m.tx_id, 12345);
    assert_string_equal(m.payload, "ENOENT"); /* no transaction 12345 */

    du_call(fd, T_TRANSACTION_START, 0, "", 1, &m);
    uint32_t tx = (uint32_t)strtoul(m.payload, NULL, 10);
    assert_true(tx != 0);
    du_send_raw(fd, T_WRITE, 77, tx, 13, "/hostile/tx\0v", 13);
    assert_int_equal(du_recv(fd, &m), 1);
    assert_int_equal(m.type, T_WRITE);
    assert_int_equal(m.req_id, 77);
    assert_int_equal(m.tx_id, tx);
    du_send_raw(fd, T_TRANSACTION_END, 78, tx, 2, "T", 2);
    assert_int_equal(du_recv(fd, &m), 1);
    assert_int_equal(m.type, T_TRANSACTION_END);
    assert_int_equal(m.tx_id, tx);
    close(fd);
    healthy(d);
}

/* ---- Clients that vanish -------------------------------------------------- */

static void test_disconnect_mid_message(void **state)
{
    struct du_daemon *d = *state;

    /* A header promising 100 bytes, 10 sent. */
    int fd = du_connect(d);
    du_send_raw(fd, T_WRITE, 1, 0, 100, "/hostile/x", 10);
    close(fd);
    healthy(d);

    /* Half a header. */
    fd = du_connect(d);
    uint32_t half[2] = {T_READ, 1};
    assert_int_equal(send(fd, half, sizeof(half), MSG_NOSIGNAL), (ssize_t)sizeof(half));
    close(fd);
    healthy(d);
}

/* Requests sent, connection closed before the replies: the daemon's writes
 * fail (EPIPE), which must not kill it. */
static void test_disconnect_with_replies_pending(void **state)
{
    struct du_daemon *d = *state;

    for (int round = 0; round < 20; round++) {
        int fd = du_connect(d);
        char buf[200 * 20];
        size_t len = 0;
        for (int i = 0; i < 200; i++) {
            uint32_t h[4] = {T_READ, (uint32_t)i, 0, 2};
            memcpy(buf + len, h, sizeof(h));
            memcpy(buf + len + sizeof(h), "/", 2);
            len += sizeof(h) + 2;
        }
        assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
        close(fd);
    }
    healthy(d);

    /* The same with the client's receiving side shut before it sends, so
     * the daemon's reply certainly meets a reader that is gone (EPIPE, the
     * signal SIGPIPE unless it is suppressed). */
    int fd = du_connect(d);
    assert_int_equal(shutdown(fd, SHUT_RD), 0);
    du_send(fd, T_READ, 1, "/", 2);
    /* The daemon drops the connection: our end then hangs up. */
    struct pollfd p = {.fd = fd, .events = 0};
    assert_int_equal(poll(&p, 1, DU_TIMEOUT_MS), 1);
    assert_true(p.revents & POLLHUP);
    close(fd);
    healthy(d);
}

/* ---- Floods ---------------------------------------------------------------- */

/*
 * A client pipelines requests with large replies as fast as its socket
 * takes them and reads nothing. The daemon stops reading it once its
 * replies back up (back-pressure) rather than buffer them: the client's
 * sends block, other clients are served, and when the client finally reads
 * it gets every reply, in order.
 */
static void test_flood_without_reading(void **state)
{
    struct du_daemon *d = *state;
    char big[4000];
    struct du_msg m;

    memset(big, 'b', sizeof(big));
    hvs_t *h = du_open(d, 0);
    assert_int_equal(hvs_write(h, HVS_TX_NONE, "/hostile/big", big, sizeof(big)), 0);
    hvs_close(h);

    int fd = du_connect(d);
    int fl = fcntl(fd, F_GETFL);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
    /* Batches of requests per send, so the socket holds many of them. */
    enum { PER_SEND = 100, REQ_LEN = 16 + 13 };
    char buf[PER_SEND * REQ_LEN];
    uint32_t sent = 0;
    for (;;) {
        for (int i = 0; i < PER_SEND; i++) {
            uint32_t hd[4] = {T_READ, sent + (uint32_t)i, 0, 13};
            memcpy(buf + i * REQ_LEN, hd, sizeof(hd));
            memcpy(buf + i * REQ_LEN + 16, "/hostile/big", 13);
        }
        ssize_t n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        assert_int_equal(n, (ssize_t)sizeof(buf)); /* whole sends only: in step */
        sent += PER_SEND;
    }
    print_message("flood: %u requests sent before the socket filled\n", sent);
    assert_true(sent >= PER_SEND);
    /* Others are served meanwhile. */
    healthy(d);
    healthy(d);

    assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
    for (uint32_t i = 0; i < sent; i++) {
        assert_int_equal(du_recv(fd, &m), 1);
        if (m.type != T_READ || m.req_id != i || m.len != sizeof(big))
            fail_msg("reply %u: type %u req %u len %u", i, m.type, m.req_id, m.len);
    }
    /* Still a working connection. */
    du_call(fd, T_READ, 1, "/hostile/big", 13, &m);
    close(fd);
    healthy(d);
}

/*
 * A watcher that does not read cannot make the daemon buffer without bound,
 * and is not dropped because others write a lot: past the output's high
 * mark its events wait in the engine, where repeated changes to one node
 * coalesce into one event. When it reads again, it gets one event per node
 * that changed, and its connection works.
 */
static void test_watcher_never_reads(void **state)
{
    struct du_daemon *d = *state;
    struct du_msg m;
    enum { NODES = 1000, NAME = 2900, REWRITES = 20000 };

    int fd = du_connect(d);
    du_call(fd, T_WATCH, 1, "/flood\0tok", 11, &m);

    /* ~2.9 MB of events in one commit: far over the 1 MiB output cap. */
    hvs_t *h = du_open(d, 0);
    hvs_tx_t tx;
    char *path = malloc(8 + NAME + 16);
    assert_non_null(path);
    memcpy(path, "/flood/", 7);
    memset(path + 7, 'n', NAME);
    assert_int_equal(hvs_tx_begin(h, &tx), 0);
    for (int i = 0; i < NODES; i++) {
        snprintf(path + 7 + NAME, 16, "-%04d", i);
        assert_int_equal(hvs_write(h, tx, path, "x", 1), 0);
    }
    assert_int_equal(hvs_tx_commit(h, tx), 0);
    /* Then the same node, over and over. */
    for (int i = 0; i < REWRITES; i++)
        assert_int_equal(hvs_write(h, HVS_TX_NONE, "/flood/hot", "y", 1), 0);
    free(path);
    hvs_close(h);

    /* Everything arrives now: the initial event, one per flooded node, and
     * the hot node's events: coalesced, so far fewer than its writes. */
    unsigned events = 0, hot = 0;
    for (;;) {
        assert_int_equal(du_recv(fd, &m), 1);
        assert_int_equal(m.type, T_WATCH_EVENT);
        events++;
        if (strcmp(m.payload, "/flood/hot") == 0 && ++hot > 0 && events > NODES + 1)
            break;
    }
    print_message("watcher: %u events, %u for the hot node rewritten %d times\n", events, hot,
                  REWRITES);
    assert_true(hot < REWRITES / 10);
    /* Still connected: a request gets its reply (after any events left). */
    uint32_t hd[4] = {T_READ, 77, 0, 7};
    assert_int_equal(send(fd, hd, sizeof(hd), MSG_NOSIGNAL), (ssize_t)sizeof(hd));
    assert_int_equal(send(fd, "/flood", 7, MSG_NOSIGNAL), 7);
    for (;;) {
        assert_int_equal(du_recv(fd, &m), 1);
        if (m.type != T_WATCH_EVENT)
            break;
    }
    assert_int_equal(m.type, T_READ);
    assert_int_equal(m.req_id, 77);
    close(fd);
    healthy(d);
}

/* ---- The quota of outstanding requests ------------------------------------- */

/* Sends `count` READs of `path` in one send (one read for the daemon). */
static void pipeline_reads(int fd, const char *path, uint32_t first, unsigned count)
{
    size_t plen = strlen(path) + 1, len = 0;
    char *buf = malloc(count * (16 + plen));

    assert_non_null(buf);
    for (unsigned i = 0; i < count; i++) {
        uint32_t hd[4] = {T_READ, first + i, 0, (uint32_t)plen};
        memcpy(buf + len, hd, sizeof(hd));
        memcpy(buf + len + 16, path, plen);
        len += 16 + plen;
    }
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
    free(buf);
}

static void test_requests_quota_domu(void **state)
{
    struct du_daemon *d = *state;
    struct du_msg m;
    enum { COUNT = 30 };

    hvs_t *h = du_open(d, 0);
    assert_int_equal(hvs_domain_introduce(h, 5), 0);
    assert_int_equal(hvs_write(h, HVS_TX_NONE, "/local/domain/5/name", "guest", 5), 0);
    hvs_close(h);

    int fd = du_connect(d);
    du_call(fd, T_HV_ACT_AS, 1, "5", 2, &m);
    assert_string_equal(m.payload, "OK");

    /* Pipelined: the first QUOTA_REQUESTS run, the others are refused. */
    pipeline_reads(fd, "name", 100, COUNT);
    unsigned ok = 0, edquot = 0;
    for (unsigned i = 0; i < COUNT; i++) {
        assert_int_equal(du_recv(fd, &m), 1);
        assert_int_equal(m.req_id, 100 + i);
        if (m.type == T_READ) {
            assert_memory_equal(m.payload, "guest", 5);
            assert_int_equal(edquot, 0); /* in order: the allowed ones first */
            ok++;
        } else {
            assert_int_equal(m.type, T_ERROR);
            assert_string_equal(m.payload, "EDQUOT");
            const char *msg = m.payload + strlen(m.payload) + 1;
            if (!strstr(msg, "'requests'") || !strstr(msg, "(5)") || !strstr(msg, "domain 5"))
                fail_msg("EDQUOT message '%s' does not name the quota", msg);
            edquot++;
        }
    }
    print_message("domU pipeline of %d: %u ok, %u EDQUOT\n", COUNT, ok, edquot);
    assert_int_equal(ok, QUOTA_REQUESTS);
    assert_int_equal(edquot, COUNT - QUOTA_REQUESTS);

    /* Replies read: the connection may ask again. */
    du_call(fd, T_READ, 1000, "name", 5, &m);
    close(fd);

    /* dom0 is not bound by it. */
    fd = du_connect(d);
    pipeline_reads(fd, "/local/domain/5/name", 1, COUNT);
    for (unsigned i = 0; i < COUNT; i++) {
        assert_int_equal(du_recv(fd, &m), 1);
        assert_int_equal(m.type, T_READ);
    }
    close(fd);
    healthy(d);
}

/* Only dom0 may act for a domain, and only once. */
static void test_act_as_refused(void **state)
{
    struct du_daemon *d = *state;
    struct du_msg m;
    int fd = du_connect(d);

    du_call(fd, T_HV_ACT_AS, 1, "7", 2, &m);
    du_send(fd, T_HV_ACT_AS, 2, "0", 2);
    du_expect_error(fd, 2, "EPERM");
    du_send(fd, T_HV_ACT_AS, 3, "8", 2);
    du_expect_error(fd, 3, "EPERM");
    du_send(fd, 19 /* SET_TARGET */, 4, "7\0" "8", 4);
    du_expect_error(fd, 4, "EACCES");
    du_send(fd, T_INTRODUCE, 5, "9\0" "0\0" "0", 6);
    m.type = 0;
    assert_int_equal(du_recv(fd, &m), 1);
    assert_int_equal(m.type, T_ERROR); /* a domU introduces nobody */
    close(fd);
    healthy(d);
}

/* Clean shutdown after all that: sync, close, socket removed. */
static void test_clean_stop(void **state)
{
    struct du_daemon *d = *state;

    healthy(d);
    du_stop_ok(d);
    du_start_ok(d);
    healthy(d);
}

int main(int argc, char **argv)
{
    du_set_exe(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_len_5000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_then_bad_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unterminated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_mid_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_with_replies_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_without_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watcher_never_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_quota_domu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_act_as_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
