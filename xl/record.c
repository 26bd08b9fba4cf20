/* SPDX-License-Identifier: MIT */
/*
 * The config each domain was created with, kept by its monitor for
 * `xl list -l` (libhv knows nothing of xl.cfg): $HV_RUNDIR/xl/<domid>.json.
 * A monitor killed by SIGKILL leaves its file behind; the uuid inside tells a
 * stale file from the current domain's, and the next owner of the domid
 * overwrites it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "config.h"
#include "xl.h"

#define RECORD_MAX (64u * 1024u)

static int record_path(uint32_t domid, char *buf, size_t len, bool mkdir)
{
    char dir[PATH_MAX];

    if (snprintf(dir, sizeof(dir), "%s/xl", xl_run_dir()) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    if (mkdir && xl_mkdir_p(dir, 0700) < 0)
        return -errno;
    if (snprintf(buf, len, "%s/%u.json", dir, domid) >= (int)len)
        return -ENAMETOOLONG;
    return 0;
}

static void gstr(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gkey_str(yajl_gen g, const char *k, const char *v)
{
    gstr(g, k);
    if (v)
        gstr(g, v);
    else
        yajl_gen_null(g);
}

static void gkey_int(yajl_gen g, const char *k, long long v)
{
    gstr(g, k);
    yajl_gen_integer(g, v);
}

int xl_record_write(uint32_t domid, const uint8_t uuid[16], const struct xl_config *cfg)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], u[37];
    const unsigned char *buf;
    size_t len;
    int err = 0;

    if ((err = record_path(domid, path, sizeof(path), true)) < 0)
        return err;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        return -ENOMEM;
    uuid_unparse_lower(uuid, u);
    yajl_gen_map_open(g);
    gkey_str(g, "uuid", u);
    gkey_str(g, "name", cfg->name);
    gkey_int(g, "memory", (long long)cfg->memory_mb);
    gkey_int(g, "maxmem", (long long)cfg->maxmem_mb);
    gkey_int(g, "vcpus", cfg->vcpus);
    gkey_int(g, "maxvcpus", cfg->maxvcpus);
    gkey_str(g, "cpus", cfg->cpus);
    gkey_int(g, "cpu_weight", cfg->cpu_weight);
    gkey_int(g, "cap", cfg->cap);
    gkey_str(g, "kernel", cfg->kernel);
    gkey_str(g, "cmdline", cfg->cmdline);
    gkey_str(g, "on_poweroff", xl_action_name(cfg->on_poweroff));
    gkey_str(g, "on_reboot", xl_action_name(cfg->on_reboot));
    gkey_str(g, "on_crash", xl_action_name(cfg->on_crash));
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);

    /* Written aside and renamed: a reader never sees half a file. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) < 0 ||
        rename(tmp, path) < 0) {
        err = -errno;
        if (fd >= 0)
            unlink(tmp);
    }
    yajl_gen_free(g);
    return err;
}


static void emit(yajl_gen g, yajl_val v)
{
    if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            gstr(g, v->u.object.keys[i]);
            emit(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            emit(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_STRING(v)) {
        gstr(g, v->u.string);
    } else if (YAJL_IS_INTEGER(v)) {
        yajl_gen_integer(g, YAJL_GET_INTEGER(v));
    } else if (YAJL_IS_DOUBLE(v)) {
        yajl_gen_double(g, YAJL_GET_DOUBLE(v));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else {
        yajl_gen_null(g);
    }
}

/* The recorded tree of domid if its uuid matches, else NULL. */
static yajl_val load(uint32_t domid, const uint8_t uuid[16])
{
    char path[PATH_MAX], u[37], *text;

    if (record_path(domid, path, sizeof(path), false) < 0)
        return NULL;
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    text = malloc(RECORD_MAX + 1);
    size_t n = text ? fread(text, 1, RECORD_MAX, f) : 0;
    fclose(f);
    if (!text)
        return NULL;
    text[n] = '\0';
    yajl_val tree = yajl_tree_parse(text, NULL, 0);
    free(text);
    const char *upath[] = {"uuid", NULL};
    yajl_val uv = tree ? yajl_tree_get(tree, upath, yajl_t_string) : NULL;
    const char *us = uv ? YAJL_GET_STRING(uv) : NULL;
    uuid_unparse_lower(uuid, u);
    if (!YAJL_IS_OBJECT(tree) || !us || strcasecmp(us, u) != 0) {
        yajl_tree_free(tree);
        return NULL;
    }
    return tree;
}

void xl_record_remove(uint32_t domid, const uint8_t uuid[16])
{
    char path[PATH_MAX];
    yajl_val tree = load(domid, uuid);

    /* Only our own: the file may be another domain's of the same domid
     * (a private domid space, or the next owner after a SIGKILL). */
    if (tree && record_path(domid, path, sizeof(path), false) == 0)
        unlink(path);
    yajl_tree_free(tree);
}

void xl_record_emit(struct yajl_gen_t *g, uint32_t domid, const uint8_t uuid[16])
{
    yajl_val tree = load(domid, uuid);

    if (tree)
        emit(g, tree);
    else
        yajl_gen_null(g);
    yajl_tree_free(tree);
}

int xl_record_get(uint32_t domid, const uint8_t uuid[16], const char *key, char *buf, size_t len)
{
    yajl_val tree = load(domid, uuid);
    const char *path[] = {key, NULL};
    yajl_val v = tree ? yajl_tree_get(tree, path, yajl_t_string) : NULL;
    const char *s = v ? YAJL_GET_STRING(v) : NULL;
    int err = s ? 0 : -ENOENT;

    if (s)
        snprintf(buf, len, "%s", s);
    yajl_tree_free(tree);
    return err;
}

bool xl_record_says(uint32_t domid, const uint8_t uuid[16], const char *key, const char *value)
{
    char s[64];

    return xl_record_get(domid, uuid, key, s, sizeof(s)) == 0 && strcmp(s, value) == 0;
}
