/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "path.h"

static bool valid_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '@' || c == '/';
}

/* Checks an absolute path (or a relative tail) for xenstore's rules. */
static int check(const char *p, size_t len, bool absolute, const char **why)
{
    if (absolute && (len == 0 || p[0] != '/')) {
        *why = "path must start with '/'";
        return -EINVAL;
    }
    if (!absolute && len == 0) {
        *why = "empty path";
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!valid_char(p[i])) {
            *why = "path has a character outside [A-Za-z0-9_@/-]";
            return -EINVAL;
        }
        if (p[i] == '/' && i + 1 < len && p[i + 1] == '/') {
            *why = "path has an empty component ('//')";
            return -EINVAL;
        }
    }
    if (len > 1 && p[len - 1] == '/') {
        *why = "path ends with '/'";
        return -EINVAL;
    }
    if (!absolute && p[0] == '/') {
        *why = "path has an empty component";
        return -EINVAL;
    }
    return 0;
}

int path_resolve(uint32_t domid, const char *in, bool special_ok, char *out, const char **why)
{
    size_t len;

    if (!in) {
        *why = "path is NULL";
        return -EINVAL;
    }
    len = strnlen(in, HVS_PATH_MAX + 1);
    if (len > HVS_PATH_MAX) {
        *why = "path longer than 3072 bytes";
        return -EINVAL;
    }
    if (in[0] == '@') {
        if (!special_ok) {
            *why = "'@' paths are only valid for watches";
            return -EINVAL;
        }
        if (len > PATH_REL_MAX) {
            *why = "special path longer than 2048 bytes";
            return -EINVAL;
        }
        for (size_t i = 1; i < len; i++)
            if (!valid_char(in[i]) || in[i] == '/') {
                *why = "special path has a character outside [A-Za-z0-9_@-]";
                return -EINVAL;
            }
        memcpy(out, in, len + 1);
        return 0;
    }
    if (in[0] == '/') {
        int r = check(in, len, true, why);
        if (r < 0)
            return r;
        memcpy(out, in, len + 1);
        return 0;
    }
    int r = check(in, len, false, why);
    if (r < 0)
        return r;
    int plen = snprintf(out, HVS_PATH_MAX + 1, "/local/domain/%u/", domid);
    if ((size_t)plen + len > HVS_PATH_MAX) {
        *why = "resolved path longer than 3072 bytes";
        return -EINVAL;
    }
    memcpy(out + plen, in, len + 1);
    return plen;
}

unsigned path_depth(const char *path)
{
    unsigned d = 0;

    if (path[0] == '/' && path[1] == '\0')
        return 0;
    for (const char *p = path; *p; p++)
        d += *p == '/';
    return d;
}

bool path_is_at_or_below(const char *path, const char *base)
{
    size_t bl = strlen(base);

    if (bl == 1 && base[0] == '/')
        return path[0] == '/';
    return strncmp(path, base, bl) == 0 && (path[bl] == '\0' || path[bl] == '/');
}

size_t path_parent_len(const char *path, size_t len)
{
    if (len <= 1)
        return 0;
    while (len > 0 && path[len - 1] != '/')
        len--;
    /* "/a" -> "/" (1); "/a/b" -> "/a" (2). */
    return len == 1 ? 1 : len - 1;
}

uint64_t path_hash(const char *path, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)path[i];
        h *= 1099511628211ull;
    }
    return h;
}
