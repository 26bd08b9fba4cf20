/* SPDX-License-Identifier: MIT */
/*
 * Command line -> argv: words separated by spaces (or tabs), no quoting.
 * Returns the number of words, or -1 if there are more than max_args: a
 * guest must not run with part of its command line silently dropped.
 */
#include "rt.h"

int hvrt_cmdline_split(char *buf, char **argv, int max_args)
{
    int n = 0;
    char *p = buf;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0')
            return n;
        if (n == max_args)
            return -1;
        argv[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
}
