/* SPDX-License-Identifier: MIT */
/* Command line -> argv: words separated by spaces (or tabs), no quoting. */
#include "rt.h"

int hvrt_cmdline_split(char *buf, char **argv, int max_args)
{
    int n = 0;
    char *p = buf;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0' || n == max_args)
            return n;
        argv[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
}
