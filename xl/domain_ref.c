/* SPDX-License-Identifier: MIT */
/* A DOMAIN operand: a domid (all digits) or a name (never all digits). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xl.h"

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int gone(hv_t *hv, int err, uint32_t domid)
{
    if (err == -ENOENT)
        return xl_fail("domain %u does not exist", domid);
    return xl_fail_hv(hv, err, "domain %u", domid);
}

int xl_domain_resolve(hv_t *hv, const char *ref, uint32_t *domid)
{
    if (all_digits(ref)) {
        if (xl_u32_parse(ref, domid) < 0)
            return xl_fail("domain %s does not exist", ref);
        return XL_OK;
    }
    int err = hv_domain_lookup(hv, ref, domid);
    if (err == -ENOENT)
        return xl_fail("no domain named '%s'", ref);
    if (err < 0)
        return xl_fail_hv(hv, err, "looking up '%s'", ref);
    return XL_OK;
}

/* A name whose domain went between the lookup and the open may have been
 * claimed again meanwhile (a restart): looked up again, a few times. */
#define NAME_RETRIES 5

int xl_domain_get(hv_t *hv, const char *ref, hv_domain_t **dom)
{
    uint32_t domid;
    int err;

    for (int i = 0;; i++) {
        if (xl_domain_resolve(hv, ref, &domid) != XL_OK)
            return XL_FAIL;
        err = hv_domain_open(hv, domid, dom);
        if (err != -ENOENT || all_digits(ref))
            break;
        if (i == NAME_RETRIES)
            return xl_fail("no domain named '%s'", ref); /* gone since the lookup */
    }
    if (err < 0)
        return gone(hv, err, domid);
    return XL_OK;
}

int xl_domain_list(hv_t *hv, hv_domain_info_t **out, size_t *n)
{
    size_t cap = 64;

    for (;;) {
        hv_domain_info_t *v = calloc(cap, sizeof(*v));
        if (!v)
            return xl_fail("out of memory");
        v[0].size = sizeof(*v);
        long got = hv_domain_list(hv, v, cap);
        if (got < 0) {
            free(v);
            return xl_fail_hv(hv, (int)got, "listing domains");
        }
        if ((size_t)got <= cap) {
            *out = v;
            *n = (size_t)got;
            return XL_OK;
        }
        free(v);
        cap = (size_t)got + 16; /* more domains came meanwhile: retry bigger */
    }
}

int xl_domain_infos(hv_t *hv, char **refs, int nref, hv_domain_info_t **out, size_t *n)
{
    if (nref == 0)
        return xl_domain_list(hv, out, n);
    hv_domain_info_t *v = calloc((size_t)nref, sizeof(*v));
    if (!v)
        return xl_fail("out of memory");
    for (int i = 0; i < nref; i++) {
        hv_domain_t *dom;
        if (xl_domain_get(hv, refs[i], &dom) != XL_OK) {
            free(v);
            return XL_FAIL;
        }
        v[i].size = sizeof(v[i]);
        int err = hv_domain_info(dom, &v[i]);
        hv_domain_close(dom);
        if (err < 0) {
            free(v);
            return xl_fail_hv(hv, err, "domain %s", refs[i]);
        }
    }
    *out = v;
    *n = (size_t)nref;
    return XL_OK;
}
