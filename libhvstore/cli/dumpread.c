/* SPDX-License-Identifier: MIT */
/*
 * The dump parser: yajl's event parser (not yajl_tree, which ends strings at
 * their first NUL) driving a stack of frames, one per open JSON container,
 * each knowing what it may hold. Every check happens here, before load
 * touches the store.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "cli.h"
#include "dumpfmt.h"
#include "dumpread.h"

enum frame_kind {
    FR_TOP,      /* {"hvstore_dump", "path", "node"} */
    FR_NODE,     /* {"value" | "value_b64", "perms", "children"} */
    FR_CHILDREN, /* {name: NODE, ...} */
    FR_PERMS,    /* ["b0", ...] */
};

/* Members seen in a TOP or NODE object, to refuse repeats. */
enum {
    SEEN_FORMAT = 1u << 0,
    SEEN_PATH = 1u << 1,
    SEEN_NODE = 1u << 2,
    SEEN_VALUE = 1u << 3,
    SEEN_VALUE_B64 = 1u << 4,
    SEEN_PERMS = 1u << 5,
    SEEN_CHILDREN = 1u << 6,
};

struct frame {
    enum frame_kind kind;
    struct dnode *node; /* NODE, CHILDREN, PERMS: the node they belong to */
    char *key;          /* the member being read (objects) */
    unsigned seen;      /* SEEN_* (TOP, NODE) */
    unsigned index;     /* the element being read (PERMS) */
    size_t depth_len;   /* bytes of the path below the dump's root (NODE) */
};

struct parser {
    yajl_handle y;
    struct frame *st;
    size_t depth, cap;
    bool started;
    struct dump_doc *doc;
    const char *path_override;
    char *msg;      /* the first problem found */
    size_t msg_off; /* where in the text */
    bool oom;
};

static struct frame *top(struct parser *p)
{
    return p->depth ? &p->st[p->depth - 1] : NULL;
}

/* "/node/children/a/perms/1": where in the JSON the parser stands. */
static char *json_pointer(struct parser *p)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    if (!f)
        return NULL;
    for (size_t i = 0; i < p->depth; i++) {
        const struct frame *fr = &p->st[i];

        if (fr->kind == FR_PERMS) {
            fprintf(f, "/%u", fr->index);
        } else if (fr->key) {
            /* RFC 6901 escapes; names with '/' or '~' are refused anyway,
             * but the pointer must still say where. */
            fputc('/', f);
            for (const char *c = fr->key; *c; c++) {
                if (*c == '~')
                    fputs("~0", f);
                else if (*c == '/')
                    fputs("~1", f);
                else if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    fprintf(f, "\\x%02x", (unsigned char)*c);
                else
                    fputc(*c, f);
            }
        }
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int fail_off(struct parser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_off(struct parser *p, size_t off, const char *fmt, ...)
{
    va_list ap;
    char *what = NULL, *where;

    if (p->msg || p->oom)
        return 0;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    where = json_pointer(p);
    if (!what || !where || asprintf(&p->msg, "at %s: %s", *where ? where : "(top)", what) < 0) {
        p->msg = NULL;
        p->oom = true;
    }
    p->msg_off = off;
    free(what);
    free(where);
    return 0; /* stops yajl */
}

#define FAIL(p, ...) fail_off((p), yajl_get_bytes_consumed((p)->y), __VA_ARGS__)

static bool push(struct parser *p, enum frame_kind kind, struct dnode *node, size_t depth_len)
{
    if (p->depth == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct frame *st = realloc(p->st, cap * sizeof(*st));

        if (!st)
            return false;
        p->st = st;
        p->cap = cap;
    }
    p->st[p->depth++] = (struct frame){.kind = kind, .node = node, .depth_len = depth_len};
    return true;
}

static void pop(struct parser *p)
{
    free(p->st[p->depth - 1].key);
    p->depth--;
}

static struct dnode *node_new(void)
{
    struct dnode *n = calloc(1, sizeof(*n));

    if (n && !(n->value = strdup(""))) {
        free(n);
        return NULL;
    }
    return n;
}

static void node_free(struct dnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nchildren; i++)
        node_free(n->children[i]);
    free(n->children);
    free(n->perms);
    free(n->value);
    free(n->name);
    free(n);
}

/* What the next value must be, from the container and member it is in. */
enum expect {
    EXP_DOC,      /* the whole document: an object */
    EXP_FORMAT,   /* integer */
    EXP_PATH,     /* string */
    EXP_NODE,     /* object */
    EXP_VALUE,    /* string */
    EXP_B64,      /* string */
    EXP_PERMS,    /* array */
    EXP_PERM,     /* string */
    EXP_CHILDREN, /* object */
    EXP_NOTHING,  /* after the document */
};

static enum expect expected(struct parser *p)
{
    struct frame *fr = top(p);

    if (!fr)
        return p->started ? EXP_NOTHING : EXP_DOC;
    switch (fr->kind) {
    case FR_TOP:
        return !strcmp(fr->key, DUMP_KEY_FORMAT) ? EXP_FORMAT
               : !strcmp(fr->key, DUMP_KEY_PATH) ? EXP_PATH
                                                 : EXP_NODE;
    case FR_NODE:
        return !strcmp(fr->key, DUMP_KEY_VALUE)       ? EXP_VALUE
               : !strcmp(fr->key, DUMP_KEY_VALUE_B64) ? EXP_B64
               : !strcmp(fr->key, DUMP_KEY_PERMS)     ? EXP_PERMS
                                                      : EXP_CHILDREN;
    case FR_CHILDREN:
        return EXP_NODE;
    case FR_PERMS:
        return EXP_PERM;
    }
    return EXP_NOTHING;
}

static const char *expect_name(enum expect e)
{
    switch (e) {
    case EXP_DOC: return "an object (an hvstore dump)";
    case EXP_FORMAT: return "the format version, an integer";
    case EXP_PATH: return "a path, a string";
    case EXP_NODE: return "a node, an object";
    case EXP_VALUE: return "a string";
    case EXP_B64: return "a base64 string";
    case EXP_PERMS: return "an array of permissions";
    case EXP_PERM: return "a permission, a string such as \"r5\"";
    case EXP_CHILDREN: return "an object of children";
    case EXP_NOTHING: break;
    }
    return "nothing";
}

static int wrong_type(struct parser *p, const char *got)
{
    return FAIL(p, "expected %s, found %s", expect_name(expected(p)), got);
}

/* After a value: arrays move on to their next element. */
static void value_done(struct parser *p)
{
    struct frame *fr = top(p);

    if (fr && fr->kind == FR_PERMS)
        fr->index++;
}

static int on_null(void *ctx)
{
    return wrong_type(ctx, "null");
}

static int on_boolean(void *ctx, int b)
{
    return wrong_type(ctx, b ? "true" : "false");
}

static int on_double(void *ctx, double d)
{
    (void)d;
    return wrong_type(ctx, "a number with a fraction or exponent");
}

static int on_integer(void *ctx, long long v)
{
    struct parser *p = ctx;

    if (expected(p) != EXP_FORMAT)
        return wrong_type(p, "a number");
    if (v != DUMP_FORMAT_VERSION)
        return FAIL(p, "format version %lld is not one this hvstore reads (%d)", v,
                    DUMP_FORMAT_VERSION);
    return 1;
}

/* Absolute, as the engine would take it; the engine has the last word. */
static bool abs_path_valid(const char *s, size_t len)
{
    if (len == 1 && s[0] == '/')
        return true;
    if (len < 2 || s[0] != '/' || len > HVS_PATH_MAX)
        return false;
    for (size_t i = 1; i < len;) {
        size_t j = i;

        while (j < len && s[j] != '/')
            j++;
        if (!name_valid(s + i, j - i))
            return false;
        i = j + 1;
        if (j + 1 == len)
            return false; /* trailing '/' */
    }
    return true;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct parser *p = ctx;
    struct frame *fr = top(p);
    enum expect e = expected(p);

    switch (e) {
    case EXP_PATH:
        if (memchr(s, '\0', len) || !abs_path_valid((const char *)s, len))
            return FAIL(p, "'%.*s' is not an absolute store path", (int)(len > 200 ? 200 : len),
                        s);
        free(p->doc->path);
        if (!(p->doc->path = strndup((const char *)s, len)))
            p->oom = true;
        return !p->oom;
    case EXP_VALUE: {
        char *v = malloc(len + 1);

        if (!v) {
            p->oom = true;
            return 0;
        }
        memcpy(v, s, len);
        v[len] = '\0';
        free(fr->node->value);
        fr->node->value = v;
        fr->node->len = len;
        return 1;
    }
    case EXP_B64: {
        unsigned char *v;
        size_t vlen;
        int err = b64_decode((const char *)s, len, &v, &vlen);

        if (err == -ENOMEM) {
            p->oom = true;
            return 0;
        }
        if (err < 0)
            return FAIL(p, "not base64 (RFC 4648 alphabet, '=' padding, no spaces)");
        free(fr->node->value);
        fr->node->value = (char *)v;
        fr->node->len = vlen;
        return 1;
    }
    case EXP_PERM: {
        struct dnode *n = fr->node;
        char text[32];
        hvs_perm_t perm;

        if (len >= sizeof(text) || memchr(s, '\0', len))
            return FAIL(p, "'%.*s' is not a permission (n, r, w or b, then a domid: r5)",
                        (int)(len > 40 ? 40 : len), s);
        memcpy(text, s, len);
        text[len] = '\0';
        if (hvs_perm_parse(text, &perm) < 0)
            return FAIL(p, "'%s' is not a permission (n, r, w or b, then a domid: r5)", text);
        hvs_perm_t *perms = realloc(n->perms, (n->nperms + 1) * sizeof(*perms));
        if (!perms) {
            p->oom = true;
            return 0;
        }
        n->perms = perms;
        n->perms[n->nperms++] = perm;
        value_done(p);
        return 1;
    }
    default:
        return wrong_type(p, "a string");
    }
}

static int on_start_map(void *ctx)
{
    struct parser *p = ctx;
    struct frame *fr = top(p);
    enum expect e = expected(p);

    switch (e) {
    case EXP_DOC:
        p->started = true;
        if (!push(p, FR_TOP, NULL, 0))
            p->oom = true;
        return !p->oom;
    case EXP_NODE: {
        struct dnode *n;
        size_t depth_len = 0;

        if (fr->kind == FR_TOP) {
            if (p->doc->root)
                return FAIL(p, "a second node"); /* not reached: keys are unique */
            if (!(n = p->doc->root = node_new())) {
                p->oom = true;
                return 0;
            }
        } else {
            /* The child was created at its key; now it gets its frame. */
            struct dnode *parent = fr->node;

            n = parent->children[parent->nchildren - 1];
            depth_len = fr->depth_len + 1 + strlen(n->name);
            /* Below the dump's root no path can be longer than the store
             * allows: this also bounds the nesting. */
            if (depth_len > HVS_PATH_MAX)
                return FAIL(p, "the path is longer than %d bytes", HVS_PATH_MAX);
        }
        p->doc->nodes++;
        if (!push(p, FR_NODE, n, depth_len))
            p->oom = true;
        return !p->oom;
    }
    case EXP_CHILDREN:
        if (!push(p, FR_CHILDREN, fr->node, fr->depth_len))
            p->oom = true;
        return !p->oom;
    default:
        return wrong_type(p, "an object");
    }
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    struct parser *p = ctx;
    struct frame *fr = top(p);
    char *key = strndup((const char *)s, len);

    if (!key) {
        p->oom = true;
        return 0;
    }
    free(fr->key);
    fr->key = key;
    if (memchr(s, '\0', len))
        return FAIL(p, "a member name with a NUL");

    static const struct {
        const char *name;
        unsigned bit;
        enum frame_kind in;
    } members[] = {
        {DUMP_KEY_FORMAT, SEEN_FORMAT, FR_TOP},     {DUMP_KEY_PATH, SEEN_PATH, FR_TOP},
        {DUMP_KEY_NODE, SEEN_NODE, FR_TOP},         {DUMP_KEY_VALUE, SEEN_VALUE, FR_NODE},
        {DUMP_KEY_VALUE_B64, SEEN_VALUE_B64, FR_NODE}, {DUMP_KEY_PERMS, SEEN_PERMS, FR_NODE},
        {DUMP_KEY_CHILDREN, SEEN_CHILDREN, FR_NODE},
    };

    if (fr->kind == FR_CHILDREN) {
        struct dnode *parent = fr->node, *child;

        if (!name_valid(key, len))
            return FAIL(p, "'%s' is not a node name (letters, digits, '_', '@', '-')", key);
        if (parent->nchildren == parent->cap) {
            size_t cap = parent->cap ? parent->cap * 2 : 8;
            struct dnode **c = realloc(parent->children, cap * sizeof(*c));

            if (!c) {
                p->oom = true;
                return 0;
            }
            parent->children = c;
            parent->cap = cap;
        }
        if (!(child = node_new()) || !(child->name = strdup(key))) {
            node_free(child);
            p->oom = true;
            return 0;
        }
        child->key_off = yajl_get_bytes_consumed(p->y);
        parent->children[parent->nchildren++] = child;
        return 1;
    }
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        if (members[i].in != fr->kind || strcmp(members[i].name, key))
            continue;
        if (fr->seen & members[i].bit)
            return FAIL(p, "\"%s\" given twice", key);
        if ((members[i].bit == SEEN_VALUE && (fr->seen & SEEN_VALUE_B64)) ||
            (members[i].bit == SEEN_VALUE_B64 && (fr->seen & SEEN_VALUE)))
            return FAIL(p, "both \"value\" and \"value_b64\"");
        fr->seen |= members[i].bit;
        return 1;
    }
    return FAIL(p, "unknown member \"%s\" (%s)", key,
                fr->kind == FR_TOP ? "expected hvstore_dump, path, node"
                                   : "expected value, value_b64, perms, children");
}

static int cmp_children(const void *a, const void *b)
{
    return strcmp((*(struct dnode *const *)a)->name, (*(struct dnode *const *)b)->name);
}

static int on_end_map(void *ctx)
{
    struct parser *p = ctx;
    struct frame *fr = top(p);

    switch (fr->kind) {
    case FR_TOP:
        if (!(fr->seen & SEEN_FORMAT))
            return FAIL(p, "not an hvstore dump (no \"%s\" member)", DUMP_KEY_FORMAT);
        if (!(fr->seen & SEEN_PATH) && !p->path_override)
            return FAIL(p, "no \"%s\" member (or give load -p PATH)", DUMP_KEY_PATH);
        if (!(fr->seen & SEEN_NODE))
            return FAIL(p, "no \"%s\" member", DUMP_KEY_NODE);
        break;
    case FR_CHILDREN: {
        struct dnode *n = fr->node;

        /* Sorted, a repeated name sits next to its twin: no quadratic scan
         * over large directories. */
        qsort(n->children, n->nchildren, sizeof(*n->children), cmp_children);
        for (size_t i = 1; i < n->nchildren; i++) {
            if (!strcmp(n->children[i - 1]->name, n->children[i]->name)) {
                struct dnode *a = n->children[i - 1], *b = n->children[i];

                free(fr->key);
                fr->key = strdup(a->name);
                return fail_off(p, a->key_off > b->key_off ? a->key_off : b->key_off,
                                "child \"%s\" given twice", a->name);
            }
        }
        break;
    }
    case FR_NODE:
    case FR_PERMS:
        break;
    }
    pop(p);
    value_done(p);
    return 1;
}

static int on_start_array(void *ctx)
{
    struct parser *p = ctx;
    struct frame *fr = top(p);

    if (expected(p) != EXP_PERMS)
        return wrong_type(p, "an array");
    if (!push(p, FR_PERMS, fr->node, 0))
        p->oom = true;
    return !p->oom;
}

static int on_end_array(void *ctx)
{
    struct parser *p = ctx;
    struct frame *fr = top(p);

    if (!fr->node->nperms)
        return FAIL(p, "no permissions (the first names the owner; leave \"perms\" out "
                       "to keep what the store gives)");
    pop(p);
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_integer = on_integer,
    .yajl_double = on_double,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

static void position(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Lengths once the root path is known: the parse only bounded them. */
static int check_lengths(const struct dnode *n, size_t len, char *err, size_t errlen,
                         const char *text)
{
    if (len > HVS_PATH_MAX) {
        size_t line, col;

        position(text, n->key_off, &line, &col);
        snprintf(err, errlen, "line %zu, column %zu: node \"%s\": its path is longer than %d bytes",
                 line, col, n->name ? n->name : "", HVS_PATH_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n->nchildren; i++) {
        const struct dnode *c = n->children[i];
        size_t clen = (len == 1 ? 1 : len + 1) + strlen(c->name);

        if (check_lengths(c, clen, err, errlen, text) < 0)
            return -EINVAL;
    }
    return 0;
}

int dump_read(const char *text, size_t len, const char *path, struct dump_doc *doc, char *err,
              size_t errlen)
{
    struct parser p = {.doc = doc, .path_override = path};
    int rc = 0;

    memset(doc, 0, sizeof(*doc));
    if (!(p.y = yajl_alloc(&callbacks, NULL, &p)))
        return -ENOMEM;
    yajl_status st = yajl_parse(p.y, (const unsigned char *)text, len);
    size_t off = yajl_get_bytes_consumed(p.y);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(p.y);
        off = len;
    }
    if (p.oom) {
        rc = -ENOMEM;
    } else if (st != yajl_status_ok || p.msg) {
        size_t line, col;
        char *ymsg = NULL;

        if (p.msg) {
            off = p.msg_off;
        } else {
            ymsg = (char *)yajl_get_error(p.y, 0, (const unsigned char *)text, len);
            /* yajl ends its message with a full stop and a newline. */
            for (size_t n = ymsg ? strlen(ymsg) : 0; n && strchr("\n .", ymsg[n - 1]);)
                ymsg[--n] = '\0';
        }
        position(text, off < len ? off : len, &line, &col);
        snprintf(err, errlen, "line %zu, column %zu (byte %zu): %s", line, col, off,
                 p.msg ? p.msg : ymsg ? ymsg : "not JSON");
        if (ymsg)
            yajl_free_error(p.y, (unsigned char *)ymsg);
        rc = -EINVAL;
    } else if (!doc->root) {
        snprintf(err, errlen, "empty input: not an hvstore dump");
        rc = -EINVAL;
    }
    while (p.depth)
        pop(&p);
    free(p.st);
    free(p.msg);
    yajl_free(p.y);

    if (!rc && path) {
        if (!abs_path_valid(path, strlen(path))) {
            snprintf(err, errlen, "-p %s: not an absolute store path", path);
            rc = -EINVAL;
        } else {
            free(doc->path);
            if (!(doc->path = strdup(path)))
                rc = -ENOMEM;
        }
    }
    if (!rc)
        rc = check_lengths(doc->root, strlen(doc->path), err, errlen, text);
    if (rc)
        dump_doc_free(doc);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    return rc;
}

void dump_doc_free(struct dump_doc *doc)
{
    node_free(doc->root);
    free(doc->path);
    memset(doc, 0, sizeof(*doc));
}
