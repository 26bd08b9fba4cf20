/* SPDX-License-Identifier: MIT */
/*
 * The terminal modes xl changes (console: raw; top: no echo, no line
 * editing) are the user's shell's too: they are put back on every way out,
 * including the signals that end xl (Ctrl-C, kill, a closed terminal).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "xl.h"

static const int fatal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static struct termios saved;
static volatile sig_atomic_t active;
static int term_fd = -1;

static void on_fatal(int sig)
{
    int e = errno;

    if (active)
        tcsetattr(term_fd, TCSANOW, &saved);
    /* SA_RESETHAND put the default back: delivered once we return. */
    raise(sig);
    errno = e;
}

int xl_term_set(int fd, void (*change)(struct termios *t))
{
    struct termios mode;

    /* A background job changing the modes would be stopped (SIGTTOU), and
     * the terminal is not its to change anyway. */
    if (!isatty(fd) || tcgetpgrp(fd) != getpgrp() || tcgetattr(fd, &saved) < 0)
        return -ENOTTY;
    term_fd = fd;
    struct sigaction sa = {.sa_handler = on_fatal, .sa_flags = SA_RESETHAND};
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        struct sigaction old;
        /* An ignored signal (nohup) stays ignored. */
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(fatal[i], &sa, NULL);
    }
    active = 1;
    mode = saved;
    change(&mode);
    if (tcsetattr(fd, TCSANOW, &mode) < 0) {
        active = 0;
        return -errno;
    }
    return 0;
}

void xl_term_restore(void)
{
    if (!active)
        return;
    tcsetattr(term_fd, TCSANOW, &saved);
    active = 0;
}
