/* SPDX-License-Identifier: MIT */
/*
 * Puts a monitor in a chosen place for the race tests of test_races.sh.
 *
 * race_helper gate FIFO RESERVE
 *   Creates FIFO (a monitor's log: the monitor writes its stderr to it) and
 *   copies it to stdout. A line "close" on stdin shrinks the pipe to one page
 *   and fills it to RESERVE bytes from full, then prints "closed": the next
 *   short line of libhv still fits, the monitor's own next line blocks it.
 *   "open" (or EOF) on stdin drains it again for good.
 * race_helper destroy SOCKET
 *   Sends "destroy" on a domain's control socket, prints "replied" when the
 *   monitor answered, then waits for EOF (the monitor destroyed the domain)
 *   and prints "closed".
 * race_helper pty ACTION PATTERN CMD...
 *   Runs CMD on a new terminal; once PATTERN is in its output: "intr" types
 *   Ctrl-C, "term" sends SIGTERM. Exits 0 if CMD then ended and had changed
 *   the terminal's modes (no ICANON) but left them as they were (ICANON and
 *   ECHO). "bg-term" runs CMD in a background process group instead, sends
 *   SIGTERM once PATTERN came, and exits 0 if CMD ended by that signal (not
 *   stopped by SIGTTOU/SIGTTIN on the way) with the modes untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <pty.h>
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <utmp.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "race_helper: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void copy_out(int fd)
{
    char buf[4096];
    ssize_t r;

    while ((r = read(fd, buf, sizeof(buf))) > 0)
        if (write(STDERR_FILENO, buf, (size_t)r) < 0)
            break;
}

static int gate(const char *path, long reserve)
{
    if (mkfifo(path, 0600) < 0)
        die("mkfifo");
    /* Read-write: opening never blocks, and the pipe lives while we do. */
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        die("open");
    printf("ready\n");
    fflush(stdout);
    int closed = 0;
    char line[64];
    struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    for (;;) {
        p[1].fd = closed ? -1 : fd;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (p[1].revents)
            copy_out(fd);
        if (!p[0].revents)
            continue;
        if (!fgets(line, sizeof(line), stdin)) {
            closed = 0;
            p[0].fd = -1; /* EOF: open for good */
            continue;
        }
        if (strncmp(line, "open", 4) == 0)
            closed = 0;
        if (strncmp(line, "close", 5) == 0 && !closed) {
            copy_out(fd);
            int size = fcntl(fd, F_SETPIPE_SZ, 4096);
            if (size < 0)
                die("F_SETPIPE_SZ");
            static char fill[65536];
            memset(fill, '.', sizeof(fill));
            size_t want = (size_t)size - (size_t)reserve;
            if (write(fd, fill, want) != (ssize_t)want)
                die("filling the pipe");
            closed = 1;
            printf("closed\n");
            fflush(stdout);
        }
    }
    return 0;
}

static void put_frame(int fd, const char *json)
{
    uint32_t n = (uint32_t)strlen(json);
    unsigned char hdr[4] = {n >> 24, n >> 16, n >> 8, n};
    if (write(fd, hdr, 4) != 4 || write(fd, json, n) != (ssize_t)n)
        die("write");
}

/* One frame's JSON text into buf (NUL-terminated); 0 at EOF. */
static int get_frame(int fd, char *buf, size_t len)
{
    unsigned char hdr[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t r = read(fd, hdr + got, 4 - got);
        if (r <= 0)
            return 0;
        got += (size_t)r;
    }
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n >= len)
        die("frame too long");
    for (got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return 0;
        got += (size_t)r;
    }
    buf[n] = '\0';
    return 1;
}

static int destroy(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char buf[65537];

    if (strlen(path) >= sizeof(a.sun_path))
        die("socket path");
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("connect");
    put_frame(fd, "{\"hv\":\"control\",\"version\":1}");
    put_frame(fd, "{\"id\":1,\"op\":\"destroy\"}");
    for (;;) {
        if (!get_frame(fd, buf, sizeof(buf))) {
            fprintf(stderr, "race_helper: EOF before the reply\n");
            return 1;
        }
        if (strstr(buf, "\"id\":1") || strstr(buf, "\"id\": 1")) {
            if (!strstr(buf, "\"ok\":true") && !strstr(buf, "\"ok\": true")) {
                fprintf(stderr, "race_helper: destroy: %s\n", buf);
                return 1;
            }
            break;
        }
    }
    printf("replied\n");
    fflush(stdout);
    while (get_frame(fd, buf, sizeof(buf)))
        ;
    printf("closed\n");
    return 0;
}

static bool cooked(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) < 0)
        die("tcgetattr");
    return (t.c_lflag & (ICANON | ECHO)) == (ICANON | ECHO);
}

static int pty(const char *action, const char *pattern, char **cmd)
{
    int master, slave;
    bool bg = strcmp(action, "bg-term") == 0;

    if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
        die("openpty");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(master);
        if (login_tty(slave) < 0)
            _exit(126);
        if (bg) {
            /* The session's foreground group is ours; CMD gets another. */
            pid_t c = fork();
            if (c < 0)
                _exit(126);
            if (c > 0) {
                int st;
                while (waitpid(c, &st, WUNTRACED) < 0 && errno == EINTR)
                    ;
                if (WIFSTOPPED(st)) {
                    printf("race_helper: stopped by signal %d\n", WSTOPSIG(st));
                    fflush(stdout);
                    kill(c, SIGKILL);
                    _exit(125);
                }
                _exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM ? 0 : 124);
            }
            setpgid(0, 0);
        }
        execvp(cmd[0], cmd);
        _exit(127);
    }
    /* The slave stays open here: its modes outlive CMD's exit. */
    static char out[1 << 16];
    size_t n = 0;
    bool seen = false;
    while (!seen) {
        ssize_t r = read(master, out + n, sizeof(out) - 1 - n);
        if (r <= 0) {
            fprintf(stderr, "race_helper: output ended before '%s': %.*s\n", pattern, (int)n, out);
            return 1;
        }
        n += (size_t)r;
        out[n] = '\0';
        seen = strstr(out, pattern) != NULL;
        if (n > sizeof(out) / 2) {
            memmove(out, out + n - 256, 256);
            n = 256;
        }
    }
    if (!bg && cooked(slave)) {
        fprintf(stderr, "race_helper: the terminal was not put in raw mode\n");
        kill(pid, SIGKILL);
        return 1;
    }
    if (strcmp(action, "intr") == 0) {
        if (write(master, "\003", 1) != 1)
            die("write");
    } else {
        pid_t target = pid;
        if (bg) {
            /* CMD is the only member of the other process group. */
            for (pid_t g = 0; g == 0;) {
                char path[64], buf[512];
                snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
                FILE *f = fopen(path, "re");
                if (f && fgets(buf, sizeof(buf), f))
                    g = (pid_t)atoi(buf);
                if (f)
                    fclose(f);
                target = g;
            }
        }
        kill(target, SIGTERM);
    }
    int st;
    /* Drained meanwhile: a blocked writer would never exit. */
    struct pollfd p = {.fd = master, .events = POLLIN};
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (poll(&p, 1, 100) > 0 && read(master, out, sizeof(out)) < 0)
            p.fd = -1;
    }
    if (bg) {
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "race_helper: CMD did not end by SIGTERM (%#x)\n", st);
            return 1;
        }
    }
    if (!cooked(slave)) {
        fprintf(stderr, "race_helper: the terminal was left without ICANON/ECHO\n");
        return 1;
    }
    printf("restored\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "pty") == 0)
        return pty(argv[2], argv[3], argv + 4);
    if (argc == 4 && strcmp(argv[1], "gate") == 0)
        return gate(argv[2], atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "destroy") == 0)
        return destroy(argv[2]);
    fprintf(stderr, "usage: race_helper gate FIFO RESERVE | destroy SOCKET | pty ACTION PATTERN CMD...\n");
    return 2;
}
