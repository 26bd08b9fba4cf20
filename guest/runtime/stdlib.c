/* SPDX-License-Identifier: MIT */
/* Number parsing: strtoul/strtoull and the strict helpers guests use for argv. */
#include "rt.h"

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

unsigned long long strtoull(const char *str, char **end, int base)
{
    const char *s = str;
    bool neg = false, any = false, over = false;
    unsigned long long v = 0;

    if (base < 0 || base == 1 || base > 36) {
        if (end)
            *end = (char *)str;
        return 0;
    }
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
        digit_value(s[2]) < 16) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    for (;; s++) {
        int d = digit_value(*s);
        if (d >= base)
            break;
        any = true;
        if (v > (UINT64_MAX - (unsigned)d) / (unsigned)base)
            over = true;
        else
            v = v * (unsigned)base + (unsigned)d;
    }
    if (end)
        *end = (char *)(any ? s : str);
    if (over)
        return UINT64_MAX;
    return neg ? -v : v;
}

unsigned long strtoul(const char *s, char **end, int base)
{
    return strtoull(s, end, base);
}

int hv_parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    uint64_t v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0')
        return -HV_EINVAL;
    for (; *s; s++) {
        int d = digit_value(*s);
        if (d >= base || v > (UINT64_MAX - (unsigned)d) / (unsigned)base)
            return -HV_EINVAL;
        v = v * (unsigned)base + (unsigned)d;
    }
    *out = v;
    return 0;
}

uint64_t hv_arg_u64(int argc, char **argv, int i, uint64_t def)
{
    uint64_t v;

    if (i < 0 || i >= argc || hv_parse_u64(argv[i], &v) < 0)
        return def;
    return v;
}
