/* SPDX-License-Identifier: MIT */
/*
 * Waiting until a domain has left the registry, so that `xl destroy` and
 * `xl shutdown -w` return when `xl list` no longer shows it, as in Xen. The
 * registry's removal fires @releaseDomain; the domain's own /vm link tells it
 * from a new domain that got the same domid meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "hv/hvstore.h"
#include "xl.h"

static void fired(void *opaque, const char *path, const char *token)
{
    (void)opaque;
    (void)path;
    (void)token;
}

/* 1 while /local/domain/<domid>/vm still names uuid's /vm entry. */
static int present(hvs_t *h, uint32_t domid, const char *vm)
{
    char path[64], *val = NULL;

    snprintf(path, sizeof(path), "/local/domain/%u/vm", domid);
    int err = hvs_read(h, HVS_TX_NONE, path, &val, NULL);
    if (err < 0)
        return err == -ENOENT ? 0 : err;
    int same = strcasecmp(val, vm) == 0;
    free(val);
    return same;
}

int xl_domain_wait_gone(uint32_t domid, const uint8_t uuid[16])
{
    char uri[4096], vm[64], u[37];
    hvs_t *h;

    xl_store_uri(uri, sizeof(uri));
    if (strcmp(uri, "none") == 0)
        return 0; /* no registry: nothing outside this process to wait for */
    if (hvs_open(&h, uri, NULL) < 0)
        return -ENOTCONN;
    uuid_unparse_lower(uuid, u);
    snprintf(vm, sizeof(vm), "/vm/%s", u);
    int err = hvs_watch(h, "@releaseDomain", "release", 0, fired, NULL);
    while (err >= 0 && (err = present(h, domid, vm)) > 0)
        err = hvs_wait(h, -1);
    hvs_close(h);
    return err < 0 ? err : 0;
}
