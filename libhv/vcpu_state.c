/* SPDX-License-Identifier: MIT */
/*
 * vCPU state as an opaque, versioned blob: a header and tagged sections, each
 * the raw struct of one KVM state ioctl. A reader skips sections it does not
 * know and fails on a missing one it needs, so sections can be added later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "internal.h"

#define STATE_MAGIC 0x53435648u /* "HVCS" */
#define STATE_VERSION 1u

enum section_id {
    SEC_META = 1,
    SEC_REGS,
    SEC_SREGS,
    SEC_XSAVE,
    SEC_XCRS,
    SEC_MSRS,
    SEC_EVENTS,
    SEC_MP_STATE,
    SEC_DEBUGREGS,
};

struct state_header {
    uint32_t magic;
    uint16_t version;
    uint16_t sections;
    uint32_t total;   /* bytes including this header */
    uint32_t vcpu;
};

struct section {
    uint32_t id;
    uint32_t len;     /* payload bytes; the payload is padded to 8 */
};

struct state_meta {
    uint32_t online;
    uint32_t reserved;
};

static const struct {
    enum section_id id;
    unsigned long get, set;
    size_t size;
    const char *name;
} fixed[] = {
    {SEC_SREGS, KVM_GET_SREGS, KVM_SET_SREGS, sizeof(struct kvm_sregs), "SREGS"},
    {SEC_REGS, KVM_GET_REGS, KVM_SET_REGS, sizeof(struct kvm_regs), "REGS"},
    {SEC_XCRS, KVM_GET_XCRS, KVM_SET_XCRS, sizeof(struct kvm_xcrs), "XCRS"},
    {SEC_XSAVE, KVM_GET_XSAVE, KVM_SET_XSAVE, sizeof(struct kvm_xsave), "XSAVE"},
    {SEC_EVENTS, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,
     sizeof(struct kvm_vcpu_events), "VCPU_EVENTS"},
    {SEC_MP_STATE, KVM_GET_MP_STATE, KVM_SET_MP_STATE, sizeof(struct kvm_mp_state),
     "MP_STATE"},
    {SEC_DEBUGREGS, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS,
     sizeof(struct kvm_debugregs), "DEBUGREGS"},
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

struct writer {
    uint8_t *buf;
    size_t cap, len;
    uint16_t sections;
};

/* Reserves a section; NULL when only measuring (buf too small). */
static void *put(struct writer *w, enum section_id id, size_t len)
{
    size_t at = w->len;

    w->len += sizeof(struct section) + pad8(len);
    w->sections++;
    if (w->len > w->cap)
        return NULL;
    struct section s = {.id = id, .len = (uint32_t)len};
    memcpy(w->buf + at, &s, sizeof(s));
    memset(w->buf + at + sizeof(s), 0, pad8(len));
    return w->buf + at + sizeof(s);
}

static bool stopped(struct hv_domain *d)
{
    return d->state != HV_DOMAIN_RUNNING;
}

HV_EXPORT int hv_vcpu_state_get(hv_domain_t *dom, uint32_t vcpu, void *buf,
                                size_t *len)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    int err = 0;

    if (!dom || !len)
        return -EINVAL;
    if (vcpu >= dom->nr_vcpus)
        return hv_error(dom->hv, -EINVAL, "domain %u has no vCPU %u (it has %u)",
                        dom->domid, vcpu, dom->nr_vcpus);
    struct hv_vcpu *v = &dom->vcpus[vcpu];
    const struct kvm_msr_list *list;
    if ((err = kvm_msr_list(dom->hv, &list)) < 0)
        return err;

    pthread_mutex_lock(&dom->lock);
    if (!stopped(dom)) {
        err = hv_error(dom->hv, -EBUSY, "domain %u is running: pause it before "
                       "reading vCPU state", dom->domid);
        goto out;
    }
    struct writer w = {.buf = buf, .cap = buf ? *len : 0,
                       .len = sizeof(struct state_header)};
    struct state_meta *meta = put(&w, SEC_META, sizeof(*meta));
    if (meta)
        meta->online = v->state == VCPU_RUNNING || v->state == VCPU_PARKED ||
                       (dom->state == HV_DOMAIN_CREATED && v->entry_set);
    for (size_t i = 0; i < NFIXED; i++) {
        void *p = put(&w, fixed[i].id, fixed[i].size);
        if (p && ioctl(v->fd, fixed[i].get, p) < 0) {
            err = hv_error(dom->hv, -errno, "domain %u vCPU %u: KVM_GET_%s: %s",
                           dom->domid, vcpu, fixed[i].name, strerror(errno));
            goto out;
        }
    }
    size_t msr_len = sizeof(struct kvm_msrs) + list->nmsrs * sizeof(struct kvm_msr_entry);
    struct kvm_msrs *m = put(&w, SEC_MSRS, msr_len);
    if (m) {
        memset(m, 0, msr_len);
        m->nmsrs = list->nmsrs;
        for (uint32_t i = 0; i < list->nmsrs; i++)
            m->entries[i].index = list->indices[i];
        int n = ioctl(v->fd, KVM_GET_MSRS, m);
        if (n != (int)list->nmsrs) {
            err = hv_error(dom->hv, n < 0 ? -errno : -EIO,
                           "domain %u vCPU %u: KVM_GET_MSRS read %d of %u", dom->domid,
                           vcpu, n, list->nmsrs);
            goto out;
        }
    }
    if (w.len > w.cap) {
        *len = w.len;
        err = -ENOSPC; /* the documented way to ask for the size: no message */
        goto out;
    }
    struct state_header h = {.magic = STATE_MAGIC, .version = STATE_VERSION,
                             .sections = w.sections, .total = (uint32_t)w.len,
                             .vcpu = vcpu};
    memcpy(buf, &h, sizeof(h));
    *len = w.len;
out:
    pthread_mutex_unlock(&dom->lock);
    return err;
}

/* Finds section id in a blob already checked by parse_blob. */
static const struct section *find(const uint8_t *blob, size_t total,
                                  enum section_id id)
{
    for (size_t at = sizeof(struct state_header); at + sizeof(struct section) <= total;) {
        const struct section *s = (const struct section *)(blob + at);
        if (s->id == id)
            return s;
        at += sizeof(*s) + pad8(s->len);
    }
    return NULL;
}

static int parse_blob(struct hv_domain *d, const void *buf, size_t len)
{
    struct state_header h;

    if (len < sizeof(h) || ((uintptr_t)buf & 7))
        return hv_error(d->hv, -EINVAL, "vCPU state: %zu bytes is not a state "
                        "blob (or it is not 8-byte aligned)", len);
    memcpy(&h, buf, sizeof(h));
    if (h.magic != STATE_MAGIC)
        return hv_error(d->hv, -EINVAL, "vCPU state: bad magic 0x%08x", h.magic);
    if (h.version != STATE_VERSION)
        return hv_error(d->hv, -EINVAL, "vCPU state: version %u, this libhv reads %u",
                        h.version, STATE_VERSION);
    if (h.total != len)
        return hv_error(d->hv, -EINVAL, "vCPU state: header says %u bytes, got %zu",
                        h.total, len);
    size_t at = sizeof(h);
    for (unsigned i = 0; i < h.sections; i++) {
        struct section s;
        if (len - at < sizeof(s))
            return hv_error(d->hv, -EINVAL, "vCPU state: section %u truncated", i);
        memcpy(&s, (const uint8_t *)buf + at, sizeof(s));
        at += sizeof(s);
        if (len - at < pad8(s.len))
            return hv_error(d->hv, -EINVAL, "vCPU state: section %u (id %u, %u "
                            "bytes) runs past the end", i, s.id, s.len);
        at += pad8(s.len);
    }
    if (at != len)
        return hv_error(d->hv, -EINVAL, "vCPU state: %zu trailing bytes", len - at);
    for (size_t i = 0; i < NFIXED; i++) {
        const struct section *s = find(buf, len, fixed[i].id);
        if (!s || s->len != fixed[i].size)
            return hv_error(d->hv, -EINVAL, "vCPU state: section %s %s",
                            fixed[i].name, s ? "has the wrong size" : "is missing");
    }
    const struct section *m = find(buf, len, SEC_MSRS);
    const struct section *meta = find(buf, len, SEC_META);
    if (!meta || meta->len != sizeof(struct state_meta))
        return hv_error(d->hv, -EINVAL, "vCPU state: section META is missing");
    if (!m || m->len < sizeof(struct kvm_msrs) ||
        ((const struct kvm_msrs *)(m + 1))->nmsrs >
            (m->len - sizeof(struct kvm_msrs)) / sizeof(struct kvm_msr_entry))
        return hv_error(d->hv, -EINVAL, "vCPU state: section MSRS is malformed");
    return 0;
}

HV_EXPORT int hv_vcpu_state_set(hv_domain_t *dom, uint32_t vcpu, const void *buf,
                                size_t len)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    int err;

    if (!dom)
        return -EINVAL;
    if (!buf)
        return hv_error(dom->hv, -EINVAL, "hv_vcpu_state_set: no state blob (NULL)");
    if (vcpu >= dom->nr_vcpus)
        return hv_error(dom->hv, -EINVAL, "domain %u has no vCPU %u (it has %u)",
                        dom->domid, vcpu, dom->nr_vcpus);
    if ((err = parse_blob(dom, buf, len)) < 0)
        return err;
    struct hv_vcpu *v = &dom->vcpus[vcpu];

    pthread_mutex_lock(&dom->lock);
    if (dom->state != HV_DOMAIN_CREATED) {
        err = hv_error(dom->hv, -EBUSY, "domain %u: vCPU state can be loaded only "
                       "before start", dom->domid);
        goto out;
    }
    /* AVX state is kept by SET_XSAVE only once CPUID says the vCPU has AVX. */
    if ((err = kvm_set_cpuid(dom->hv, v->fd)) < 0) {
        hv_error(dom->hv, err, "domain %u vCPU %u: KVM_SET_CPUID2: %s", dom->domid,
                 vcpu, strerror(-err));
        goto out;
    }
    for (size_t i = 0; i < NFIXED; i++) {
        const struct section *s = find(buf, len, fixed[i].id);
        if (ioctl(v->fd, fixed[i].set, s + 1) < 0) {
            err = hv_error(dom->hv, -errno, "domain %u vCPU %u: KVM_SET_%s: %s",
                           dom->domid, vcpu, fixed[i].name, strerror(errno));
            goto out;
        }
    }
    const struct section *s = find(buf, len, SEC_MSRS);
    const struct kvm_msrs *m = (const struct kvm_msrs *)(s + 1);
    int n = ioctl(v->fd, KVM_SET_MSRS, m);
    if (n != (int)m->nmsrs) {
        uint32_t bad = n >= 0 && (uint32_t)n < m->nmsrs
                           ? m->entries[n].index : 0;
        err = hv_error(dom->hv, n < 0 ? -errno : -EINVAL,
                       "domain %u vCPU %u: KVM_SET_MSRS stopped at %d of %u "
                       "(MSR 0x%x)", dom->domid, vcpu, n, m->nmsrs, bad);
        goto out;
    }
    const struct state_meta *meta = (const void *)(find(buf, len, SEC_META) + 1);
    v->entry_set = meta->online != 0;
out:
    pthread_mutex_unlock(&dom->lock);
    return err;
}
