/* SPDX-License-Identifier: MIT */
/*
 * The host registry in the store (docs/host-control.md):
 *
 *   /local/domain/<domid>        owner dom0, readable by the domain
 *       name, domid, vm, vcpus, memory/{target,static-max} (KiB, as Xen),
 *       hv/{monitor-pid,socket}  how to reach the domain's monitor
 *       data/                    the guest's own (it owns them: its quota)
 *   /vm/<uuid>/{name,uuid,domid}
 *   /tool/hv/name/<name> = domid the unique-name index
 *   /tool/hv/next-domid          the allocation cursor
 *
 * A domid and a name are claimed in one transaction that reads and writes
 * the cursor, so concurrent creators conflict on it and retry: no two get the
 * same domid, whatever the interleaving. The entries are tied to our store
 * handle (hvs_domain_own), so the store removes them when the monitor dies.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "internal.h"

#define DOMID_MAX 32751u
#define CLAIM_TRIES 200 /* transaction conflicts before giving up */

struct registry {
    hvs_t *h;
    char *uri;            /* as opened (mem: made unique per host handle) */
};

struct registration {
    char vm_path[64];
    char name_path[128];
};

static void store_log(void *opaque, hvs_log_level_t level, const char *msg)
{
    hv_log(opaque, (hv_log_level_t)level, "store: %s", msg);
}

bool registry_enabled(hv_t *hv)
{
    return hv->store_uri != NULL;
}

static int open_store(hv_t *hv, const char *uri, hvs_t **out)
{
    hvs_options_t o = {.size = sizeof(o), .log = store_log, .log_opaque = hv,
                       .log_level = (hvs_log_level_t)hv->log_level};
    return hvs_open(out, uri, &o);
}

/* The registry's store, connected (and hvstored started) on first use. */
static int registry_get(hv_t *hv, struct registry **out)
{
    int err = 0;

    pthread_mutex_lock(&hv->reg_lock);
    if (hv->reg)
        goto out;
    struct registry *r = calloc(1, sizeof(*r));
    if (!r) {
        err = hv_error(hv, -ENOMEM, "registry: out of memory");
        goto out;
    }
    /* An anonymous mem: store would be a new one at every open: name it so
     * the store relays of this handle's domains reach the same one. */
    if (!strcmp(hv->store_uri, "mem:")) {
        char buf[64];
        snprintf(buf, sizeof(buf), "mem:hv-registry-%p", (void *)hv);
        r->uri = strdup(buf);
    } else {
        r->uri = strdup(hv->store_uri);
    }
    if (!r->uri) {
        free(r);
        err = hv_error(hv, -ENOMEM, "registry: out of memory");
        goto out;
    }
    err = open_store(hv, r->uri, &r->h);
    if ((err == -ENOENT || err == -ECONNREFUSED) && !strncmp(r->uri, "unix:", 5)) {
        /* No daemon: start one (the embedded default). */
        if ((err = store_spawn(hv, r->uri + 5)) == 0)
            err = open_store(hv, r->uri, &r->h);
    }
    if (err < 0) {
        if (!hv_last_error(hv)[0] || err == -ENOENT || err == -ECONNREFUSED)
            hv_error(hv, err, "registry: cannot open the store %s: %s", r->uri,
                     hvs_open_error());
        else
            hv_error(hv, err, "registry: cannot open the store %s: %s", r->uri,
                     hvs_open_error()[0] ? hvs_open_error() : hv_last_error(hv));
        free(r->uri);
        free(r);
        goto out;
    }
    hv->reg = r;
out:
    if (!err)
        *out = hv->reg;
    pthread_mutex_unlock(&hv->reg_lock);
    return err;
}

void registry_close(hv_t *hv)
{
    struct registry *r = hv->reg;
    if (!r)
        return;
    hvs_close(r->h);
    free(r->uri);
    free(r);
    hv->reg = NULL;
}

int registry_store_open(hv_t *hv, uint32_t domid, hvs_t **out)
{
    struct registry *r;
    int err = registry_get(hv, &r);

    if (err < 0)
        return err;
    if ((err = open_store(hv, r->uri, out)) < 0)
        return hv_error(hv, err, "domain %u: cannot open the store %s: %s", domid, r->uri,
                        hvs_open_error());
    if ((err = hvs_act_as(*out, domid)) < 0) {
        err = hv_error(hv, err, "domain %u: store act-as: %s", domid, hvs_last_error(*out));
        hvs_close(*out);
        *out = NULL;
    }
    return err;
}

int registry_socket_path(hv_t *hv, uint32_t domid, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/domains/%u.sock", hv->run_dir, domid);
    if (n < 0 || (size_t)n >= len)
        return hv_error(hv, -ENAMETOOLONG, "run dir %s: socket path of domain %u is too long",
                        hv->run_dir, domid);
    return 0;
}

/* ---- Claiming a domid and a name -------------------------------------------- */

/* A read that may find nothing: 1 found (value in buf), 0 not, or -errno. */
static int read_opt(hvs_t *h, hvs_tx_t tx, const char *path, char *buf, size_t len)
{
    char *v;
    size_t n;
    int rc = hvs_read(h, tx, path, &v, &n);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    snprintf(buf, len, "%.*s", (int)n, v);
    free(v);
    return 1;
}

static int parse_domid(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > DOMID_MAX)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int write_str(hvs_t *h, hvs_tx_t tx, const char *path, const char *value)
{
    return hvs_write(h, tx, path, value, strlen(value));
}

static int writef(hvs_t *h, hvs_tx_t tx, const char *fmt_path, uint32_t domid,
                  const char *value)
{
    char path[256];
    snprintf(path, sizeof(path), fmt_path, domid);
    return write_str(h, tx, path, value);
}

/* The domain's entries, inside tx. */
static int write_entries(hvs_t *h, hvs_tx_t tx, struct hv_domain *d, const char *uuid,
                         const struct registration *g)
{
    char base[48], path[128], buf[PATH_MAX];
    int rc;

    snprintf(base, sizeof(base), "/local/domain/%u", d->domid);
    if ((rc = hvs_write(h, tx, base, "", 0)) < 0)
        return rc;
    hvs_perm_t perms[2] = {{.domid = 0, .perm = HVS_PERM_NONE},
                           {.domid = d->domid, .perm = HVS_PERM_READ}};
    if ((rc = hvs_perms_set(h, tx, base, perms, 2)) < 0)
        return rc;
    snprintf(buf, sizeof(buf), "%u", d->domid);
    if ((rc = writef(h, tx, "/local/domain/%u/name", d->domid, d->name)) < 0 ||
        (rc = writef(h, tx, "/local/domain/%u/domid", d->domid, buf)) < 0 ||
        (rc = writef(h, tx, "/local/domain/%u/vm", d->domid, g->vm_path)) < 0)
        return rc;
    snprintf(buf, sizeof(buf), "%u", d->nr_vcpus);
    if ((rc = writef(h, tx, "/local/domain/%u/vcpus", d->domid, buf)) < 0)
        return rc;
    snprintf(buf, sizeof(buf), "%" PRIu64, d->mem_target >> 10);
    if ((rc = writef(h, tx, "/local/domain/%u/memory/target", d->domid, buf)) < 0)
        return rc;
    snprintf(buf, sizeof(buf), "%" PRIu64, d->mem.size >> 10);
    if ((rc = writef(h, tx, "/local/domain/%u/memory/static-max", d->domid, buf)) < 0)
        return rc;
    snprintf(buf, sizeof(buf), "%d", (int)getpid());
    if ((rc = writef(h, tx, "/local/domain/%u/hv/monitor-pid", d->domid, buf)) < 0 ||
        (rc = registry_socket_path(d->hv, d->domid, buf, sizeof(buf))) < 0 ||
        (rc = writef(h, tx, "/local/domain/%u/hv/socket", d->domid, buf)) < 0)
        return rc;
    /* The guest's own corner: it owns what it writes there. */
    snprintf(path, sizeof(path), "%s/data", base);
    hvs_perm_t own = {.domid = d->domid, .perm = HVS_PERM_NONE};
    if ((rc = hvs_write(h, tx, path, "", 0)) < 0 || (rc = hvs_perms_set(h, tx, path, &own, 1)) < 0)
        return rc;

    snprintf(path, sizeof(path), "%s/name", g->vm_path);
    if ((rc = write_str(h, tx, path, d->name)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/uuid", g->vm_path);
    if ((rc = write_str(h, tx, path, uuid)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/domid", g->vm_path);
    snprintf(buf, sizeof(buf), "%u", d->domid);
    if ((rc = write_str(h, tx, path, buf)) < 0)
        return rc;
    return write_str(h, tx, g->name_path, buf);
}

/*
 * An entry whose monitor process is gone (it died before tying the entry
 * to its store handle, or while hvstored was down): 1 stale, 0 live or
 * unknown. A reused pid only makes us keep a stale entry, never drop a live
 * one.
 */
static int entry_stale(hvs_t *h, hvs_tx_t tx, uint32_t domid)
{
    char path[80], buf[32];
    snprintf(path, sizeof(path), "/local/domain/%u/hv/monitor-pid", domid);
    if (read_opt(h, tx, path, buf, sizeof(buf)) <= 0)
        return 0;
    char *end;
    long pid = strtol(buf, &end, 10);
    if (*end || pid <= 0)
        return 0;
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Removes a stale entry inside tx: its /local/domain and /vm nodes. */
static int drop_stale(hvs_t *h, hvs_tx_t tx, uint32_t domid)
{
    char path[80], vm[80];
    snprintf(path, sizeof(path), "/local/domain/%u/vm", domid);
    if (read_opt(h, tx, path, vm, sizeof(vm)) > 0 && !strncmp(vm, "/vm/", 4)) {
        int rc = hvs_rm(h, tx, vm);
        if (rc < 0 && rc != -ENOENT)
            return rc;
    }
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    int rc = hvs_rm(h, tx, path);
    return rc == -ENOENT ? 0 : rc;
}

/*
 * One attempt; the transaction is ended either way. -EAGAIN: a concurrent
 * creator changed what we read; try again.
 */
static int claim_once(hvs_t *h, struct hv_domain *d, const char *uuid,
                      const struct registration *g, uint32_t *conflict_domid)
{
    char buf[64], path[96];
    hvs_tx_t tx;
    int rc;

    if ((rc = hvs_tx_begin(h, &tx)) < 0)
        return rc;
    /* The name: taken, unless the index points at an entry of another name
     * (left by a crash of the store between two writes of ours). */
    rc = read_opt(h, tx, g->name_path, buf, sizeof(buf));
    uint32_t other;
    if (rc > 0 && parse_domid(buf, &other) == 0) {
        char name[80];
        snprintf(path, sizeof(path), "/local/domain/%u/name", other);
        int found = read_opt(h, tx, path, name, sizeof(name));
        if (found > 0 && !strcmp(name, d->name)) {
            if (entry_stale(h, tx, other)) {
                rc = drop_stale(h, tx, other);
            } else {
                *conflict_domid = other;
                rc = -EEXIST;
            }
        } else if (found < 0) {
            rc = found;
        }
    }
    if (rc < 0)
        goto abort;
    /* The UUID, likewise: /vm/<uuid> is one domain's. */
    snprintf(path, sizeof(path), "%s/domid", g->vm_path);
    rc = read_opt(h, tx, path, buf, sizeof(buf));
    if (rc > 0 && parse_domid(buf, &other) == 0) {
        char vm[80], lpath[80];
        snprintf(lpath, sizeof(lpath), "/local/domain/%u/vm", other);
        int found = read_opt(h, tx, lpath, vm, sizeof(vm));
        if (found > 0 && !strcmp(vm, g->vm_path) && !entry_stale(h, tx, other)) {
            *conflict_domid = other;
            rc = -EADDRINUSE; /* told apart from a name in use */
            goto abort;
        }
        if (found < 0) {
            rc = found;
            goto abort;
        }
    }
    if (rc < 0)
        goto abort;
    if (rc > 0 && (rc = hvs_rm(h, tx, g->vm_path)) < 0 && rc != -ENOENT)
        goto abort;

    uint32_t cursor = 1;
    if ((rc = read_opt(h, tx, "/tool/hv/next-domid", buf, sizeof(buf))) < 0)
        goto abort;
    if (rc > 0 && parse_domid(buf, &cursor) < 0)
        cursor = 1;
    uint32_t id = 0;
    for (uint32_t i = 0; i < DOMID_MAX && !id; i++) {
        uint32_t cand = (cursor - 1 + i) % DOMID_MAX + 1;
        snprintf(path, sizeof(path), "/local/domain/%u", cand);
        rc = read_opt(h, tx, path, buf, sizeof(buf));
        if (rc < 0)
            goto abort;
        if (rc == 0)
            id = cand;
    }
    if (!id) {
        rc = -ENOSPC;
        goto abort;
    }
    d->domid = id;
    snprintf(buf, sizeof(buf), "%u", id % DOMID_MAX + 1);
    if ((rc = write_str(h, tx, "/tool/hv/next-domid", buf)) < 0 ||
        (rc = write_entries(h, tx, d, uuid, g)) < 0)
        goto abort;
    return hvs_tx_commit(h, tx);
abort:
    hvs_tx_abort(h, tx);
    return rc;
}

int registry_claim(struct hv_domain *d)
{
    hv_t *hv = d->hv;
    struct registry *r;
    char uuid[37];
    int rc;

    if ((rc = registry_get(hv, &r)) < 0)
        return rc;
    struct registration *g = calloc(1, sizeof(*g));
    if (!g)
        return hv_error(hv, -ENOMEM, "domain '%s': out of memory", d->name);
    uuid_unparse_lower(d->uuid, uuid);
    snprintf(g->vm_path, sizeof(g->vm_path), "/vm/%s", uuid);
    snprintf(g->name_path, sizeof(g->name_path), "/tool/hv/name/%s", d->name);

    uint32_t other = 0;
    for (int tries = 0;; tries++) {
        rc = claim_once(r->h, d, uuid, g, &other);
        if (rc != -EAGAIN || tries == CLAIM_TRIES)
            break;
    }
    if (rc == 0) {
        /* Entries the store removes if we die before releasing them. */
        const char *paths[] = {g->vm_path, g->name_path};
        rc = hvs_domain_introduce(r->h, d->domid);
        if (rc == -EEXIST)
            rc = 0;
        if (rc == 0)
            rc = hvs_domain_own(r->h, d->domid, paths, 2);
        if (rc < 0) {
            const char *msg = hvs_last_error(r->h);
            d->reg = g;
            registry_release(d);
            return hv_error(hv, rc, "domain %u '%s': registry: %s", d->domid, d->name, msg);
        }
        d->reg = g;
        return 0;
    }
    free(g);
    if (rc == -EEXIST)
        return hv_error(hv, -EEXIST, "a domain named '%s' exists (domid %u)", d->name, other);
    if (rc == -EADDRINUSE)
        return hv_error(hv, -EEXIST, "domain '%s': UUID %s is in use by domain %u", d->name,
                        uuid, other);
    if (rc == -ENOSPC)
        return hv_error(hv, -ENOSPC, "domain '%s': no free domid (all %u in use)", d->name,
                        DOMID_MAX);
    if (rc == -EAGAIN)
        return hv_error(hv, -EAGAIN, "domain '%s': the registry stayed busy through %d tries",
                        d->name, CLAIM_TRIES);
    return hv_error(hv, rc, "domain '%s': registry (%s): %s", d->name, r->uri,
                    hvs_last_error(r->h));
}

void registry_update(struct hv_domain *d)
{
    struct registry *r = d->hv->reg;
    char buf[32];

    if (!d->reg || !r)
        return;
    pthread_mutex_lock(&d->lock);
    uint64_t target = d->mem_target;
    pthread_mutex_unlock(&d->lock);
    snprintf(buf, sizeof(buf), "%" PRIu64, target >> 10);
    if (writef(r->h, HVS_TX_NONE, "/local/domain/%u/memory/target", d->domid, buf) < 0)
        hv_log(d->hv, HV_LOG_WARN, "domain %u: registry: memory/target: %s", d->domid,
               hvs_last_error(r->h));
}

void registry_release(struct hv_domain *d)
{
    struct registration *g = d->reg;
    struct registry *r = d->hv->reg;

    if (!g || !r)
        return;
    hvs_t *h = r->h;
    char buf[64];
    /* The name index only while it is still ours. */
    if (read_opt(h, HVS_TX_NONE, g->name_path, buf, sizeof(buf)) > 0) {
        uint32_t id;
        if (parse_domid(buf, &id) == 0 && id == d->domid)
            hvs_rm(h, HVS_TX_NONE, g->name_path);
    }
    if (hvs_rm(h, HVS_TX_NONE, g->vm_path) < 0 && hvs_domain_introduced(h, d->domid) < 0)
        hv_log(d->hv, HV_LOG_WARN, "domain %u: registry: rm %s: %s", d->domid, g->vm_path,
               hvs_last_error(h));
    /* Removes /local/domain/<domid>, unties it from our handle in the same
     * step (so our death cannot touch a successor) and tells
     * @releaseDomain watchers. */
    if (hvs_domain_release(h, d->domid) < 0) {
        snprintf(buf, sizeof(buf), "/local/domain/%u", d->domid);
        hvs_rm(h, HVS_TX_NONE, buf);
        hvs_domain_disown(h, d->domid);
    }
    free(g);
    d->reg = NULL;
}

/* ---- Lookups ---------------------------------------------------------------------- */

int registry_lookup(hv_t *hv, const char *name, uint32_t *domid)
{
    if (!registry_enabled(hv)) {
        int rc = -ENOENT;
        pthread_mutex_lock(&hv->lock);
        for (struct hv_domain *o = hv->domains; o; o = o->next)
            if (!strcmp(o->name, name)) {
                *domid = o->domid;
                rc = 0;
            }
        pthread_mutex_unlock(&hv->lock);
        return rc < 0 ? hv_error(hv, rc, "no domain named '%s'", name) : 0;
    }
    struct registry *r;
    char path[160], buf[80];
    int rc = registry_get(hv, &r);

    if (rc < 0)
        return rc;
    if (strlen(name) > 63 || strchr(name, '/'))
        return hv_error(hv, -ENOENT, "no domain named '%.63s'", name);
    snprintf(path, sizeof(path), "/tool/hv/name/%s", name);
    uint32_t id;
    rc = read_opt(r->h, HVS_TX_NONE, path, buf, sizeof(buf));
    if (rc > 0 && parse_domid(buf, &id) == 0) {
        snprintf(path, sizeof(path), "/local/domain/%u/name", id);
        if (read_opt(r->h, HVS_TX_NONE, path, buf, sizeof(buf)) > 0 && !strcmp(buf, name)) {
            *domid = id;
            return 0;
        }
    }
    if (rc < 0)
        return hv_error(hv, rc, "registry: %s", hvs_last_error(r->h));
    return hv_error(hv, -ENOENT, "no domain named '%s'", name);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int registry_list(hv_t *hv, uint32_t **domids, size_t *n)
{
    struct registry *r;
    char **names;
    int rc;

    *domids = NULL;
    *n = 0;
    if ((rc = registry_get(hv, &r)) < 0)
        return rc;
    rc = hvs_directory(r->h, HVS_TX_NONE, "/local/domain", &names);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return hv_error(hv, rc, "registry: list /local/domain: %s", hvs_last_error(r->h));
    size_t count = 0;
    while (names[count])
        count++;
    uint32_t *ids = malloc((count ? count : 1) * sizeof(*ids));
    if (!ids) {
        hvs_list_free(names);
        return hv_error(hv, -ENOMEM, "registry: out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (parse_domid(names[i], &ids[k]) == 0)
            k++;
    hvs_list_free(names);
    qsort(ids, k, sizeof(*ids), cmp_u32);
    *domids = ids;
    *n = k;
    return 0;
}

HV_EXPORT int hv_domain_lookup(hv_t *hv, const char *name, uint32_t *domid)
{
    if (!hv || !name || !domid)
        return -EINVAL;
    return registry_lookup(hv, name, domid);
}
