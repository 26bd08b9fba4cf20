/* SPDX-License-Identifier: MIT */
/* UTF-8 checking, base64 and node names: how dump and load spell values. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* continuation byte, overlong lead, or past U+10FFFF */
        }
        if (len - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const unsigned char *in, size_t len, size_t *outlen)
{
    size_t n = (len + 2) / 3 * 4;
    char *out = malloc(n + 1), *p = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = len - i;

        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        *p++ = b64_alphabet[v >> 18 & 63];
        *p++ = b64_alphabet[v >> 12 & 63];
        *p++ = left > 1 ? b64_alphabet[v >> 6 & 63] : '=';
        *p++ = left > 2 ? b64_alphabet[v & 63] : '=';
    }
    *p = '\0';
    if (outlen)
        *outlen = n;
    return out;
}

static int b64_digit(unsigned char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;

    return p ? (int)(p - b64_alphabet) : -1;
}

int b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    size_t pad = 0;

    if (len % 4)
        return -EINVAL;
    if (len && in[len - 1] == '=')
        pad = len >= 2 && in[len - 2] == '=' ? 2 : 1;
    unsigned char *buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return -ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int d[4];
        uint32_t v = 0;

        for (int k = 0; k < 4; k++) {
            d[k] = last && k >= 4 - (int)pad ? 0 : b64_digit((unsigned char)in[i + k]);
            if (d[k] < 0) {
                free(buf);
                return -EINVAL;
            }
            v = v << 6 | (uint32_t)d[k];
        }
        /* Canonical only: the bits a padded group drops must be zero, so
         * that one value has one spelling. */
        if (last && ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))) {
            free(buf);
            return -EINVAL;
        }
        buf[o++] = (unsigned char)(v >> 16);
        if (!last || pad < 2)
            buf[o++] = (unsigned char)(v >> 8);
        if (!last || pad < 1)
            buf[o++] = (unsigned char)v;
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

bool name_valid(const char *name, size_t len)
{
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '@' || c == '-'))
            return false;
    }
    return true;
}
