/* SPDX-License-Identifier: MIT */
/*
 * xl.cfg parser. A hand-written lexer over a byte buffer that tracks line
 * and column; each statement is parsed into a small value (a scalar or a
 * list of items, each quoted or bare), then applied to the key, which
 * checks its type and range. Cross-key checks wait for xl_config_finish,
 * since command-line overrides come after the file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#define CMDLINE_LINE UINT_MAX
#define MAX_KEY 64

enum key {
    K_NAME, K_UUID, K_MEMORY, K_MAXMEM, K_VCPUS, K_MAXVCPUS, K_CPUS,
    K_CPU_WEIGHT, K_CAP, K_KERNEL, K_CMDLINE, K_ON_POWEROFF, K_ON_REBOOT,
    K_ON_CRASH,
};

static const char *const key_names[XL_CONFIG_NKEYS] = {
    [K_NAME] = "name", [K_UUID] = "uuid", [K_MEMORY] = "memory",
    [K_MAXMEM] = "maxmem", [K_VCPUS] = "vcpus", [K_MAXVCPUS] = "maxvcpus",
    [K_CPUS] = "cpus", [K_CPU_WEIGHT] = "cpu_weight", [K_CAP] = "cap",
    [K_KERNEL] = "kernel", [K_CMDLINE] = "cmdline",
    [K_ON_POWEROFF] = "on_poweroff", [K_ON_REBOOT] = "on_reboot",
    [K_ON_CRASH] = "on_crash",
};

static const char *const action_names[] = {
    [XL_ACTION_DESTROY] = "destroy", [XL_ACTION_RESTART] = "restart",
    [XL_ACTION_PRESERVE] = "preserve",
    [XL_ACTION_RENAME_RESTART] = "rename-restart",
};

const char *xl_action_name(enum xl_action a)
{
    if ((unsigned)a < sizeof(action_names) / sizeof(action_names[0]))
        return action_names[a];
    return "?";
}

struct item {
    char *s;
    size_t len;
    bool quoted;
};

struct value {
    bool is_list;
    struct item *items;
    size_t n;
    unsigned line, col;
};

struct lexer {
    const char *t;
    size_t len, p;
    unsigned line, col;
    const char *file;   /* NULL for the command line */
    char *err;
    size_t errlen;
};

/* ---- messages ---------------------------------------------------------- */

static void vmsg(char *err, size_t errlen, const char *file, unsigned line,
                 unsigned col, const char *key, const char *fmt, va_list ap)
{
    if (!err || errlen == 0)
        return;
    size_t off = 0;
    int n;
    if (file == NULL || line == CMDLINE_LINE)
        n = col ? snprintf(err, errlen, "command line: column %u: ", col)
                : snprintf(err, errlen, "command line: ");
    else if (line == 0)
        n = snprintf(err, errlen, "%s: ", file);
    else if (col)
        n = snprintf(err, errlen, "%s:%u:%u: ", file, line, col);
    else
        n = snprintf(err, errlen, "%s:%u: ", file, line);
    if (n > 0)
        off = (size_t)n < errlen ? (size_t)n : errlen - 1;
    if (key && off < errlen) {
        n = snprintf(err + off, errlen - off, "%s: ", key);
        if (n > 0)
            off += (size_t)n < errlen - off ? (size_t)n : errlen - off - 1;
    }
    if (off < errlen)
        vsnprintf(err + off, errlen - off, fmt, ap);
}

__attribute__((format(printf, 5, 6)))
static int lex_error(struct lexer *lx, unsigned line, unsigned col,
                     const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(lx->err, lx->errlen, lx->file, lx->file ? line : CMDLINE_LINE, col,
         key, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The value as it should appear in a message: quoted, control bytes
 * escaped, cut at 64 bytes with "...". */
static const char *show(char *buf, size_t bufsz, const char *s, size_t len)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < bufsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 64) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
#define SHOWBUF 300

/* ---- lexer ------------------------------------------------------------- */

static int peek(const struct lexer *lx)
{
    return lx->p < lx->len ? (unsigned char)lx->t[lx->p] : -1;
}

static void advance(struct lexer *lx)
{
    if (lx->p >= lx->len)
        return;
    if (lx->t[lx->p] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->p++;
}

static void skip_blanks(struct lexer *lx)
{
    int c;
    while ((c = peek(lx)) == ' ' || c == '\t' || c == '\r')
        advance(lx);
}

static void skip_comment(struct lexer *lx)
{
    while (peek(lx) != -1 && peek(lx) != '\n')
        advance(lx);
}

/* Blanks, newlines and comments (between statements and inside lists). */
static void skip_space(struct lexer *lx)
{
    for (;;) {
        int c = peek(lx);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            advance(lx);
        else if (c == '#')
            skip_comment(lx);
        else
            return;
    }
}

static bool is_key_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_key_char(int c)
{
    return is_key_start(c) || (c >= '0' && c <= '9');
}

static bool is_atom_char(int c)
{
    return is_key_char(c) || c == '.' || c == '-' || c == '+';
}

static int push_char(struct lexer *lx, char *buf, size_t *n, char c,
                     unsigned line, unsigned col, const char *key)
{
    if (*n >= XL_CONFIG_MAX_STRING)
        return lex_error(lx, line, col, key,
                         "string longer than %u bytes",
                         XL_CONFIG_MAX_STRING);
    buf[(*n)++] = c;
    return 0;
}

/* A quoted string or a bare atom at the current position into *it. */
static int lex_item(struct lexer *lx, const char *key, struct item *it)
{
    unsigned line = lx->line, col = lx->col;
    int c = peek(lx);
    char *buf = malloc(XL_CONFIG_MAX_STRING + 1);
    size_t n = 0;
    int r;

    if (!buf)
        return lex_error(lx, line, col, key, "out of memory");
    if (c == '"' || c == '\'') {
        int q = c;
        advance(lx);
        for (;;) {
            c = peek(lx);
            if (c == -1 || c == '\n') {
                free(buf);
                return lex_error(lx, line, col, key, "unterminated string");
            }
            if (c == q) {
                advance(lx);
                break;
            }
            if (c == '\\' && q == '"') {
                unsigned ecol = lx->col;
                advance(lx);
                c = peek(lx);
                switch (c) {
                case '"': case '\\': break;
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case -1: case '\n':
                    free(buf);
                    return lex_error(lx, line, col, key,
                                     "unterminated string");
                default:
                    free(buf);
                    if (c >= 0x21 && c < 0x7f)
                        return lex_error(lx, lx->line, ecol, key,
                                         "unknown escape '\\%c' (use \\\", "
                                         "\\\\, \\n or \\t)", c);
                    return lex_error(lx, lx->line, ecol, key,
                                     "unknown escape (use \\\", \\\\, \\n "
                                     "or \\t)");
                }
            }
            r = push_char(lx, buf, &n, (char)c, line, col, key);
            if (r < 0) {
                free(buf);
                return r;
            }
            advance(lx);
        }
        it->quoted = true;
    } else if (is_atom_char(c)) {
        while (is_atom_char(peek(lx))) {
            r = push_char(lx, buf, &n, (char)peek(lx), line, col, key);
            if (r < 0) {
                free(buf);
                return r;
            }
            advance(lx);
        }
        it->quoted = false;
    } else {
        free(buf);
        if (c == -1 || c == '\n' || c == '#' || c == ';')
            return lex_error(lx, line, col, key, "missing value");
        if (c >= 0x21 && c < 0x7f)
            return lex_error(lx, line, col, key,
                             "unexpected '%c' where a value was expected",
                             c);
        return lex_error(lx, line, col, key,
                         "unexpected byte 0x%02x where a value was expected",
                         (unsigned)c);
    }
    buf[n] = '\0';
    it->s = buf;
    it->len = n;
    return 0;
}

static void value_free(struct value *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->items[i].s);
    free(v->items);
    v->items = NULL;
    v->n = 0; /* line and col stay, for the message */
}

static int lex_value(struct lexer *lx, const char *key, struct value *v)
{
    int r;
    memset(v, 0, sizeof(*v));
    v->line = lx->line;
    v->col = lx->col;
    if (peek(lx) != '[') {
        v->items = calloc(1, sizeof(*v->items));
        if (!v->items)
            return lex_error(lx, v->line, v->col, key, "out of memory");
        r = lex_item(lx, key, &v->items[0]);
        if (r < 0) {
            value_free(v);
            return r;
        }
        v->n = 1;
        return 0;
    }
    v->is_list = true;
    advance(lx);
    size_t cap = 0;
    for (;;) {
        skip_space(lx);
        int c = peek(lx);
        if (c == -1) {
            value_free(v);
            return lex_error(lx, v->line, v->col, key,
                             "unterminated list (no closing ']')");
        }
        if (c == ']') {
            advance(lx);
            return 0;
        }
        if (c == '[') {
            value_free(v);
            return lex_error(lx, lx->line, lx->col, key,
                             "lists cannot be nested");
        }
        if (c == ',') {
            value_free(v);
            return lex_error(lx, lx->line, lx->col, key,
                             "empty list item");
        }
        if (v->n == XL_CONFIG_MAX_LIST) {
            value_free(v);
            return lex_error(lx, lx->line, lx->col, key,
                             "list longer than %u items", XL_CONFIG_MAX_LIST);
        }
        if (v->n == cap) {
            cap = cap ? cap * 2 : 8;
            struct item *ni = realloc(v->items, cap * sizeof(*ni));
            if (!ni) {
                value_free(v);
                return lex_error(lx, v->line, v->col, key, "out of memory");
            }
            v->items = ni;
        }
        r = lex_item(lx, key, &v->items[v->n]);
        if (r < 0) {
            value_free(v);
            return r;
        }
        v->n++;
        skip_space(lx);
        c = peek(lx);
        if (c == ',') {
            advance(lx);
        } else if (c == -1) {
            value_free(v);
            return lex_error(lx, v->line, v->col, key,
                             "unterminated list (no closing ']')");
        } else if (c != ']') {
            value_free(v);
            if (c >= 0x21 && c < 0x7f)
                return lex_error(lx, lx->line, lx->col, key,
                                 "expected ',' or ']' in list, found '%c'",
                                 c);
            return lex_error(lx, lx->line, lx->col, key,
                             "expected ',' or ']' in list");
        }
    }
}

/* ---- keys -------------------------------------------------------------- */

struct ctx {
    const char *file; /* NULL for the command line */
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 4, 5)))
static int key_error(const struct ctx *cx, unsigned line, const char *key,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(cx->err, cx->errlen, cx->file, cx->file ? line : CMDLINE_LINE, 0,
         key, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Decimal digits into a uint64_t: 0, or -EINVAL with a message. */
static int parse_u64(const struct ctx *cx, unsigned line, const char *key,
                     const struct item *it, uint64_t max, uint64_t min,
                     uint64_t *out)
{
    char sb[SHOWBUF];
    const char *s = it->s;
    uint64_t v = 0;
    bool overflow = false;

    if (it->len > 0 && s[0] == '-') {
        bool digits = it->len > 1;
        for (size_t i = 1; i < it->len; i++)
            if (s[i] < '0' || s[i] > '9')
                digits = false;
        if (digits)
            return key_error(cx, line, key,
                             "%s is negative (at least %llu)",
                             show(sb, sizeof(sb), s, it->len),
                             (unsigned long long)min);
    }
    if (it->len == 0)
        return key_error(cx, line, key, "%s is not a number",
                         show(sb, sizeof(sb), s, it->len));
    for (size_t i = 0; i < it->len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return key_error(cx, line, key, "%s is not a number",
                             show(sb, sizeof(sb), s, it->len));
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (overflow || v > max || v < min)
        return key_error(cx, line, key, "%s is out of range (%llu..%llu)",
                         show(sb, sizeof(sb), s, it->len),
                         (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

static int want_scalar(const struct ctx *cx, const struct value *v,
                       const char *key, const char *what)
{
    if (v->is_list)
        return key_error(cx, v->line, key, "expected %s, not a list", what);
    return 0;
}

static int want_string(const struct ctx *cx, const struct value *v,
                       const char *key)
{
    int r = want_scalar(cx, v, key, "a quoted string");
    if (r < 0)
        return r;
    if (!v->items[0].quoted) {
        char sb[SHOWBUF];
        return key_error(cx, v->line, key,
                         "expected a quoted string, found %s",
                         show(sb, sizeof(sb), v->items[0].s,
                              v->items[0].len));
    }
    return 0;
}

static int check_name(const struct ctx *cx, unsigned line, const char *key,
                      const struct item *it)
{
    char sb[SHOWBUF];
    bool digits = true;
    if (it->len == 0)
        return key_error(cx, line, key, "empty name");
    if (it->len > XL_CONFIG_MAX_NAME)
        return key_error(cx, line, key, "%s is longer than %u characters",
                         show(sb, sizeof(sb), it->s, it->len),
                         XL_CONFIG_MAX_NAME);
    for (size_t i = 0; i < it->len; i++) {
        char c = it->s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok)
            return key_error(cx, line, key,
                             "%s has a character other than A-Z a-z 0-9 _ . -",
                             show(sb, sizeof(sb), it->s, it->len));
        if (c < '0' || c > '9')
            digits = false;
    }
    if (digits)
        return key_error(cx, line, key,
                         "%s is all digits and would be taken for a domain id",
                         show(sb, sizeof(sb), it->s, it->len));
    if (strcmp(it->s, ".") == 0 || strcmp(it->s, "..") == 0)
        return key_error(cx, line, key, "%s is not a valid name",
                         show(sb, sizeof(sb), it->s, it->len));
    return 0;
}

/* "N" or "N-M" (N <= M), comma-separated, N and M decimal, < 2^31. */
static int check_cpus(const struct ctx *cx, unsigned line, const char *key,
                      const struct item *it)
{
    char sb[SHOWBUF];
    const char *s = it->s, *end = it->s + it->len;
    if (it->len == 0)
        return key_error(cx, line, key, "empty CPU list");
    while (s < end) {
        unsigned long a = 0, b;
        const char *st = s;
        if (*s < '0' || *s > '9')
            goto bad;
        while (s < end && *s >= '0' && *s <= '9') {
            a = a * 10 + (unsigned long)(*s++ - '0');
            if (a > INT_MAX)
                goto range;
        }
        b = a;
        if (s < end && *s == '-') {
            s++;
            if (s == end || *s < '0' || *s > '9')
                goto bad;
            b = 0;
            while (s < end && *s >= '0' && *s <= '9') {
                b = b * 10 + (unsigned long)(*s++ - '0');
                if (b > INT_MAX)
                    goto range;
            }
            if (b < a)
                return key_error(cx, line, key,
                                 "%s: range %.*s goes backwards",
                                 show(sb, sizeof(sb), it->s, it->len),
                                 (int)(s - st), st);
        }
        if (s < end) {
            if (*s != ',' || s + 1 == end)
                goto bad;
            s++;
        }
    }
    return 0;
bad:
    return key_error(cx, line, key,
                     "%s is not a CPU list (like \"0-3,5\")",
                     show(sb, sizeof(sb), it->s, it->len));
range:
    return key_error(cx, line, key, "%s: CPU number out of range",
                     show(sb, sizeof(sb), it->s, it->len));
}

static char *dup_item(const struct item *it)
{
    char *s = malloc(it->len + 1);
    if (s) {
        memcpy(s, it->s, it->len);
        s[it->len] = '\0';
    }
    return s;
}

static void replace_str(char **slot, char *s)
{
    free(*slot);
    *slot = s;
}

/* Checks v for key k and stores it in cfg; on error cfg is unchanged. */
static int apply(struct xl_config *cfg, const struct ctx *cx, enum key k,
                 const struct value *v)
{
    const char *key = key_names[k];
    unsigned line = v->line;
    const struct item *it = v->n ? &v->items[0] : NULL;
    uint64_t n;
    int r;
    char sb[SHOWBUF];

    switch (k) {
    case K_NAME:
        if ((r = want_string(cx, v, key)) < 0 ||
            (r = check_name(cx, line, key, it)) < 0)
            return r;
        goto store_string;
    case K_KERNEL:
        if ((r = want_string(cx, v, key)) < 0)
            return r;
        if (it->len == 0)
            return key_error(cx, line, key, "empty path");
        goto store_string;
    case K_CMDLINE:
        if ((r = want_string(cx, v, key)) < 0)
            return r;
        goto store_string;
    case K_UUID: {
        unsigned char u[16];
        if ((r = want_string(cx, v, key)) < 0)
            return r;
        if (uuid_parse(it->s, u) != 0)
            return key_error(cx, line, key, "%s is not a UUID",
                             show(sb, sizeof(sb), it->s, it->len));
        memcpy(cfg->uuid, u, sizeof(u));
        cfg->has_uuid = 1;
        return 0;
    }
    case K_MEMORY:
    case K_MAXMEM:
        if ((r = want_scalar(cx, v, key, "a number")) < 0 ||
            (r = parse_u64(cx, line, key, it, UINT64_MAX >> 20, 1, &n)) < 0)
            return r;
        if (k == K_MEMORY)
            cfg->memory_mb = n;
        else
            cfg->maxmem_mb = n;
        return 0;
    case K_VCPUS:
    case K_MAXVCPUS:
        if ((r = want_scalar(cx, v, key, "a number")) < 0 ||
            (r = parse_u64(cx, line, key, it, XL_CONFIG_MAX_VCPUS, 1, &n)) < 0)
            return r;
        if (k == K_VCPUS)
            cfg->vcpus = (unsigned)n;
        else
            cfg->maxvcpus = (unsigned)n;
        return 0;
    case K_CPU_WEIGHT:
        if ((r = want_scalar(cx, v, key, "a number")) < 0 ||
            (r = parse_u64(cx, line, key, it, 65535, 1, &n)) < 0)
            return r;
        cfg->cpu_weight = (unsigned)n;
        return 0;
    case K_CAP:
        if ((r = want_scalar(cx, v, key, "a number")) < 0 ||
            (r = parse_u64(cx, line, key, it, UINT32_MAX, 0, &n)) < 0)
            return r;
        cfg->cap = (unsigned)n;
        return 0;
    case K_CPUS: {
        size_t total = 1;
        if (v->is_list && v->n == 0)
            return key_error(cx, line, key, "empty list");
        for (size_t i = 0; i < v->n; i++) {
            if ((r = check_cpus(cx, line, key, &v->items[i])) < 0)
                return r;
            total += v->items[i].len + 1;
        }
        char *s = malloc(total);
        if (!s)
            return key_error(cx, line, key, "out of memory");
        size_t o = 0;
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                s[o++] = ',';
            memcpy(s + o, v->items[i].s, v->items[i].len);
            o += v->items[i].len;
        }
        s[o] = '\0';
        replace_str(&cfg->cpus, s);
        return 0;
    }
    case K_ON_POWEROFF:
    case K_ON_REBOOT:
    case K_ON_CRASH: {
        if ((r = want_string(cx, v, key)) < 0)
            return r;
        for (unsigned a = 0; a < sizeof(action_names) / sizeof(*action_names);
             a++) {
            if (strcmp(it->s, action_names[a]) == 0 &&
                strlen(action_names[a]) == it->len) {
                enum xl_action *slot = k == K_ON_POWEROFF ? &cfg->on_poweroff
                                       : k == K_ON_REBOOT ? &cfg->on_reboot
                                                          : &cfg->on_crash;
                *slot = (enum xl_action)a;
                return 0;
            }
        }
        return key_error(cx, line, key,
                         "%s is not one of \"destroy\", \"restart\", "
                         "\"preserve\", \"rename-restart\"",
                         show(sb, sizeof(sb), it->s, it->len));
    }
    }
    return -EINVAL;

store_string: {
        char *s = dup_item(it);
        if (!s)
            return key_error(cx, line, key, "out of memory");
        char **slot = k == K_NAME ? &cfg->name
                      : k == K_KERNEL ? &cfg->kernel : &cfg->cmdline;
        replace_str(slot, s);
        return 0;
    }
}

/* ---- statements -------------------------------------------------------- */

/* One "KEY = VALUE" at the current position (after skip_space). */
static int statement(struct xl_config *cfg, struct lexer *lx,
                     const struct ctx *cx, bool override)
{
    unsigned kline = lx->line, kcol = lx->col;
    char key[MAX_KEY + 1];
    size_t kn = 0;
    int c = peek(lx);

    if (!is_key_start(c)) {
        if (c >= 0x21 && c < 0x7f)
            return lex_error(lx, kline, kcol, NULL,
                             "expected a key, found '%c'", c);
        return lex_error(lx, kline, kcol, NULL,
                         "expected a key, found byte 0x%02x", (unsigned)c);
    }
    while (is_key_char(peek(lx))) {
        if (kn == MAX_KEY)
            return lex_error(lx, kline, kcol, NULL,
                             "key longer than %u characters", MAX_KEY);
        key[kn++] = (char)peek(lx);
        advance(lx);
    }
    key[kn] = '\0';

    skip_blanks(lx);
    if (peek(lx) != '=')
        return lex_error(lx, lx->line, lx->col, key,
                         "expected '=' after the key");
    advance(lx);
    skip_blanks(lx);

    struct value v;
    int r = lex_value(lx, key, &v);
    if (r < 0)
        return r;

    /* The end of the statement: newline, ';', a comment or the end. */
    skip_blanks(lx);
    c = peek(lx);
    if (c == ';') {
        advance(lx);
    } else if (c != -1 && c != '\n' && c != '#') {
        value_free(&v);
        if (c >= 0x21 && c < 0x7f)
            return lex_error(lx, lx->line, lx->col, key,
                             "unexpected '%c' after the value", c);
        return lex_error(lx, lx->line, lx->col, key,
                         "unexpected byte 0x%02x after the value",
                         (unsigned)c);
    }

    int k = -1;
    for (int i = 0; i < XL_CONFIG_NKEYS; i++)
        if (strcmp(key, key_names[i]) == 0)
            k = i;
    if (k < 0) {
        value_free(&v);
        return lex_error(lx, kline, 0, key, "unknown key");
    }
    if (!override && cfg->set_line_[k]) {
        unsigned first = cfg->set_line_[k];
        value_free(&v);
        return lex_error(lx, kline, 0, key, "given twice (first on line %u)",
                         first);
    }
    r = apply(cfg, cx, (enum key)k, &v);
    value_free(&v);
    if (r < 0)
        return r;
    cfg->set_line_[k] = override ? CMDLINE_LINE : kline;
    return 0;
}

static void config_init(struct xl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->memory_mb = XL_CONFIG_DEFAULT_MEMORY_MB;
    cfg->vcpus = 1;
    cfg->cpu_weight = XL_CONFIG_DEFAULT_CPU_WEIGHT;
    cfg->on_poweroff = XL_ACTION_DESTROY;
    cfg->on_reboot = XL_ACTION_RESTART;
    cfg->on_crash = XL_ACTION_DESTROY;
}

/* Whole-text checks: no NUL byte, no over-long line. */
static int precheck(struct lexer *lx)
{
    unsigned line = 1;
    size_t start = 0;
    for (size_t i = 0; i <= lx->len; i++) {
        if (i == lx->len || lx->t[i] == '\n') {
            if (i - start > XL_CONFIG_MAX_LINE)
                return lex_error(lx, line, 0, NULL,
                                 "line longer than %u bytes",
                                 XL_CONFIG_MAX_LINE);
            line++;
            start = i + 1;
        } else if (lx->t[i] == '\0') {
            return lex_error(lx, line, (unsigned)(i - start + 1), NULL,
                             "NUL byte in the file");
        }
    }
    return 0;
}

int xl_config_parse(struct xl_config *cfg, const char *text, size_t len,
                    const char *filename, char *err, size_t errlen)
{
    if (!filename)
        filename = "<config>";
    struct lexer lx = {.t = text, .len = len, .line = 1, .col = 1,
                       .file = filename, .err = err, .errlen = errlen};
    struct ctx cx = {.file = filename, .err = err, .errlen = errlen};
    int r;

    if (err && errlen)
        err[0] = '\0';
    config_init(cfg);
    if (!text && len)
        return lex_error(&lx, 0, 0, NULL, "no text");
    if ((r = precheck(&lx)) < 0)
        return r;
    for (;;) {
        skip_space(&lx);
        if (peek(&lx) == -1)
            return 0;
        if (peek(&lx) == ';') {
            advance(&lx);
            continue;
        }
        r = statement(cfg, &lx, &cx, false);
        if (r < 0) {
            xl_config_free(cfg);
            return r;
        }
    }
}

int xl_config_load(struct xl_config *cfg, const char *path, char *err,
                   size_t errlen)
{
    struct stat st;
    int r;

    config_init(cfg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(-r));
        return r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        r = -EISDIR;
        goto fail;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        r = -ENOMEM;
        goto fail;
    }
    for (;;) {
        if (n == cap) {
            if (cap > XL_CONFIG_MAX_FILE) {
                free(buf);
                close(fd);
                if (err && errlen)
                    snprintf(err, errlen, "%s: larger than %u bytes", path,
                             XL_CONFIG_MAX_FILE);
                return -EFBIG;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                r = -ENOMEM;
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            free(buf);
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (n > XL_CONFIG_MAX_FILE) {
        free(buf);
        if (err && errlen)
            snprintf(err, errlen, "%s: larger than %u bytes", path,
                     XL_CONFIG_MAX_FILE);
        return -EFBIG;
    }
    r = xl_config_parse(cfg, buf, n, path, err, errlen);
    free(buf);
    return r;

fail:
    close(fd);
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
    return r;
}

int xl_config_override(struct xl_config *cfg, const char *kv, char *err,
                       size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    struct lexer lx = {.t = kv, .len = kv ? strlen(kv) : 0, .line = 1,
                       .col = 1, .file = NULL, .err = err, .errlen = errlen};
    struct ctx cx = {.file = NULL, .err = err, .errlen = errlen};
    int r;

    if (lx.len > XL_CONFIG_MAX_LINE)
        return lex_error(&lx, 1, 0, NULL, "longer than %u bytes",
                         XL_CONFIG_MAX_LINE);
    skip_blanks(&lx);
    if (peek(&lx) == -1)
        return lex_error(&lx, 1, 0, NULL, "empty KEY=VALUE");
    /* Work on a copy so that a failure leaves cfg unchanged. */
    struct xl_config tmp = *cfg;
    char *saved[4] = {cfg->name, cfg->cpus, cfg->kernel, cfg->cmdline};
    tmp.name = tmp.cpus = tmp.kernel = tmp.cmdline = NULL;
    r = statement(&tmp, &lx, &cx, true);
    if (r == 0) {
        skip_space(&lx);
        if (peek(&lx) != -1)
            r = lex_error(&lx, 1, lx.col, NULL,
                          "one KEY=VALUE per argument");
    }
    if (r < 0) {
        free(tmp.name);
        free(tmp.cpus);
        free(tmp.kernel);
        free(tmp.cmdline);
        return r;
    }
    /* Keep the old strings for the keys not given. */
    char **slots[4] = {&tmp.name, &tmp.cpus, &tmp.kernel, &tmp.cmdline};
    for (int i = 0; i < 4; i++) {
        if (*slots[i])
            free(saved[i]);
        else
            *slots[i] = saved[i];
    }
    *cfg = tmp;
    return 0;
}

int xl_config_finish(struct xl_config *cfg, const char *filename, char *err,
                     size_t errlen)
{
    if (!filename)
        filename = "<config>";
    struct ctx cx = {.file = filename, .err = err, .errlen = errlen};

    if (err && errlen)
        err[0] = '\0';
    if (!cfg->name)
        return key_error(&cx, 0, "name", "required, but not given");
    if (!cfg->kernel)
        return key_error(&cx, 0, "kernel", "required, but not given");
    if (cfg->set_line_[K_MAXMEM] && cfg->maxmem_mb < cfg->memory_mb)
        return key_error(&cx, cfg->set_line_[K_MAXMEM], "maxmem",
                         "%llu is less than memory (%llu)",
                         (unsigned long long)cfg->maxmem_mb,
                         (unsigned long long)cfg->memory_mb);
    if (cfg->set_line_[K_MAXVCPUS] && cfg->maxvcpus < cfg->vcpus)
        return key_error(&cx, cfg->set_line_[K_MAXVCPUS], "maxvcpus",
                         "%u is less than vcpus (%u)", cfg->maxvcpus,
                         cfg->vcpus);
    if (!cfg->set_line_[K_MAXMEM])
        cfg->maxmem_mb = cfg->memory_mb;
    if (!cfg->set_line_[K_MAXVCPUS])
        cfg->maxvcpus = cfg->vcpus;
    return 0;
}

void xl_config_free(struct xl_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->name);
    free(cfg->cpus);
    free(cfg->kernel);
    free(cfg->cmdline);
    memset(cfg, 0, sizeof(*cfg));
}
