/* SPDX-License-Identifier: MIT */
/* Domain lifecycle: create, start, pause, unpause, shutdown, destroy, wait. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "internal.h"

static const char *const state_names[] = {"created", "running", "paused", "shutdown"};

static int check_config(hv_t *hv, const hv_domain_config_t *user,
                        hv_domain_config_t *cfg)
{
    int err = struct_in(cfg, sizeof(*cfg), user, sizeof(*cfg));
    if (err == -EINVAL)
        return hv_error(hv, err, "domain config: size %zu is too small "
                        "(set .size = sizeof(hv_domain_config_t))", user->size);
    if (err == -E2BIG)
        return hv_error(hv, err, "domain config: size %zu with fields this "
                        "libhv (%zu bytes) does not know set", user->size,
                        sizeof(*cfg));
    if (!cfg->name || !*cfg->name)
        return hv_error(hv, -EINVAL, "domain config: name is required");
    size_t n = strlen(cfg->name);
    if (n > 63)
        return hv_error(hv, -EINVAL, "domain config: name '%.20s...' is %zu "
                        "characters, at most 63", cfg->name, n);
    for (size_t i = 0; i < n; i++) {
        char c = cfg->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return hv_error(hv, -EINVAL, "domain config: name '%s' has '%c' at "
                            "%zu; use letters, digits, '_', '.', '-'",
                            cfg->name, c, i);
    }
    uint64_t bytes = cfg->memory_mb << 20;
    if (cfg->memory_mb > (HV_MAX_MEMORY >> 20) || bytes < HV_MIN_MEMORY ||
        bytes % HV_LARGE_PAGE_SIZE)
        return hv_error(hv, -EINVAL, "domain '%s': memory_mb %llu must be an even "
                        "number of MiB from %llu to %llu", cfg->name,
                        (unsigned long long)cfg->memory_mb,
                        (unsigned long long)(HV_MIN_MEMORY >> 20),
                        (unsigned long long)(HV_MAX_MEMORY >> 20));
    if (cfg->vcpus < 1 || cfg->vcpus > HV_MAX_VCPUS)
        return hv_error(hv, -EINVAL, "domain '%s': vcpus %u must be 1 to %d",
                        cfg->name, cfg->vcpus, HV_MAX_VCPUS);
    if (cfg->maxmem_mb && (cfg->maxmem_mb < cfg->memory_mb ||
                           cfg->maxmem_mb > (HV_MAX_MEMORY >> 20) || cfg->maxmem_mb % 2))
        return hv_error(hv, -EINVAL, "domain '%s': maxmem_mb %llu must be an even number "
                        "of MiB from memory_mb (%llu) to %llu", cfg->name,
                        (unsigned long long)cfg->maxmem_mb,
                        (unsigned long long)cfg->memory_mb,
                        (unsigned long long)(HV_MAX_MEMORY >> 20));
    if (cfg->vcpus_online > cfg->vcpus)
        return hv_error(hv, -EINVAL, "domain '%s': vcpus_online %u is more than vcpus (%u)",
                        cfg->name, cfg->vcpus_online, cfg->vcpus);
    return 0;
}

/* With hv->lock held. */
static int claim_identity(hv_t *hv, struct hv_domain *d, const char *name)
{
    for (struct hv_domain *o = hv->domains; o; o = o->next)
        if (!strcmp(o->name, name))
            return hv_error(hv, -EEXIST, "a domain named '%s' exists (domid %u)",
                            name, o->domid);
    for (uint32_t tries = 0; tries < 32751; tries++) {
        uint32_t id = hv->next_domid;
        hv->next_domid = id >= 32751 ? 1 : id + 1;
        bool used = false;
        for (struct hv_domain *o = hv->domains; o && !used; o = o->next)
            used = o->domid == id;
        if (!used) {
            d->domid = id;
            return 0;
        }
    }
    return hv_error(hv, -ENOSPC, "no free domid");
}

static void domain_free(struct hv_domain *d)
{
    for (uint32_t i = 0; i < d->nr_vcpus; i++) {
        struct hv_vcpu *v = &d->vcpus[i];
        if (v->run)
            munmap(v->run, d->hv->run_size);
        if (v->fd >= 0)
            close(v->fd);
        if (v->wake_fd >= 0)
            close(v->wake_fd);
        vcpu_affinity_free(v);
    }
    balloon_fini(d);
    memory_destroy(d);
    if (d->vm_fd >= 0)
        close(d->vm_fd);
    if (d->exit_fd >= 0)
        close(d->exit_fd);
    console_fini(d);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->clock_lock);
    pthread_mutex_destroy(&d->console_lock);
    pthread_mutex_destroy(&d->console_cb_lock);
    pthread_mutex_destroy(&d->ext_lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}

static struct hv_domain *domain_alloc(hv_t *hv, uint32_t nr_vcpus)
{
    struct hv_domain *d = calloc(1, sizeof(*d) + nr_vcpus * sizeof(d->vcpus[0]));
    if (!d)
        return NULL;
    d->hv = hv;
    d->nr_vcpus = nr_vcpus;
    d->vm_fd = d->mem_fd = -1;
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->clock_lock, NULL);
    pthread_mutex_init(&d->console_lock, NULL);
    pthread_mutex_init(&d->console_cb_lock, NULL);
    pthread_mutex_init(&d->ext_lock, NULL);
    /* hv_domain_wait's deadline is on CLOCK_MONOTONIC: wall clock steps
     * must not cut a wait short or stretch it. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    for (uint32_t i = 0; i < nr_vcpus; i++) {
        d->vcpus[i].dom = d;
        d->vcpus[i].id = i;
        d->vcpus[i].fd = d->vcpus[i].wake_fd = -1;
    }
    d->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->exit_fd < 0) {
        domain_free(d);
        return NULL;
    }
    return d;
}

HV_EXPORT int hv_domain_create(hv_t *hv, const hv_domain_config_t *user,
                               hv_domain_t **out)
{
    hv_domain_config_t c, *cfg = &c;
    int err;

    if (!hv || !user || !out)
        return hv ? hv_error(hv, -EINVAL, "hv_domain_create: NULL argument") : -EINVAL;
    *out = NULL;
    if ((err = check_config(hv, user, cfg)) < 0)
        return err;
    struct hv_domain *d = domain_alloc(hv, cfg->vcpus);
    if (!d)
        return hv_error(hv, -ENOMEM, "domain '%s': out of memory", cfg->name);
    strcpy(d->name, cfg->name);
    memcpy(d->uuid, cfg->uuid, 16);
    if (uuid_is_null(d->uuid))
        uuid_generate(d->uuid);

    /* With a registry, domids and names are unique host-wide (registry.c). */
    if (registry_enabled(hv) && (err = registry_claim(d)) < 0) {
        domain_free(d);
        return err;
    }
    pthread_mutex_lock(&hv->lock);
    err = d->reg ? 0 : claim_identity(hv, d, cfg->name);
    if (!err) {
        d->next = hv->domains;
        hv->domains = d;
    }
    pthread_mutex_unlock(&hv->lock);
    if (err) {
        domain_free(d);
        return err;
    }

    uint64_t maxmem_mb = cfg->maxmem_mb ? cfg->maxmem_mb : cfg->memory_mb;
    if ((err = kvm_create_vm(hv, &d->vm_fd)) < 0 ||
        (err = memory_create(d, maxmem_mb << 20)) < 0 ||
        (err = balloon_init(d, cfg->memory_mb << 20,
                            cfg->vcpus_online ? cfg->vcpus_online : cfg->vcpus)) < 0)
        goto fail;
    for (uint32_t i = 0; i < d->nr_vcpus; i++) {
        struct hv_vcpu *v = &d->vcpus[i];
        if ((err = kvm_create_vcpu(d, v)) < 0)
            goto fail;
        v->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (v->wake_fd < 0) {
            err = hv_error(hv, -errno, "domain %u: eventfd: %s", d->domid,
                           strerror(errno));
            goto fail;
        }
    }
    if ((err = clock_init(d)) < 0 || (err = console_init(d)) < 0)
        goto fail;
    /* The outside world's ways in: only for domains in the host registry. */
    if (d->reg && ((err = service_start(d)) < 0 || (err = store_ring_init(d)) < 0 ||
                   (err = control_start(d)) < 0))
        goto fail;
    hv_log(hv, HV_LOG_INFO, "domain %u '%s' created: %llu MiB, %u vCPUs",
           d->domid, d->name, (unsigned long long)cfg->memory_mb, d->nr_vcpus);
    *out = d;
    return 0;
fail:
    hv_domain_destroy(d);
    return err;
}

static bool on_own_vcpu(struct hv_domain *d)
{
    return hv_current_vcpu && hv_current_vcpu->dom == d;
}

static int bad_state(struct hv_domain *d, const char *op)
{
    return hv_error(d->hv, d->state == HV_DOMAIN_SHUTDOWN ? -ESRCH : -EINVAL,
                    "domain %u: cannot %s a %s domain", d->domid, op,
                    state_names[d->state]);
}

HV_EXPORT int hv_domain_start(hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    int err = 0;

    if (!dom)
        return -EINVAL;
    pthread_mutex_lock(&dom->lock);
    if (dom->state != HV_DOMAIN_CREATED) {
        err = dom->state == HV_DOMAIN_SHUTDOWN ? bad_state(dom, "start")
              : hv_error(dom->hv, -EALREADY, "domain %u is already started",
                         dom->domid);
        goto out;
    }
    if (!dom->vcpus[0].entry_set) {
        err = hv_error(dom->hv, -EINVAL, "domain %u: vCPU 0 has no entry state "
                       "(build it with hvg_build or restore its state first)",
                       dom->domid);
        goto out;
    }
    clock_publish(dom);
    balloon_publish(dom);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    dom->start_time_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    for (uint32_t i = 0; i < dom->nr_vcpus && !err; i++) {
        struct hv_vcpu *v = &dom->vcpus[i];
        if (!v->entry_set)
            continue;
        v->state = VCPU_RUNNING;
        if ((err = vcpu_launch(v)) < 0)
            v->state = VCPU_DOWN;
    }
    dom->state = HV_DOMAIN_RUNNING;
    if (err) {
        /* Some threads run: end them the normal way, with a reason. */
        pthread_mutex_unlock(&dom->lock);
        hv_exit_t e = {.size = sizeof(e), .reason = HV_EXIT_CRASH,
                       .vector = HV_CRASH_HOST, .error_code = (uint64_t)-err};
        domain_exit(dom, &e);
        return err;
    }
out:
    pthread_mutex_unlock(&dom->lock);
    return err;
}

static bool any_running(struct hv_domain *d)
{
    for (uint32_t i = 0; i < d->nr_vcpus; i++)
        if (d->vcpus[i].state == VCPU_RUNNING)
            return true;
    return false;
}

HV_EXPORT int hv_domain_pause(hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_pause(dom);
    int err = 0;

    if (!dom)
        return -EINVAL;
    if (on_own_vcpu(dom))
        return hv_error(dom->hv, -EDEADLK, "domain %u: pause from its own vCPU",
                        dom->domid);
    pthread_mutex_lock(&dom->lock);
    if (dom->state == HV_DOMAIN_RUNNING) {
        atomic_fetch_or(&dom->req, REQ_PAUSE);
        kick_all(dom);
        while (any_running(dom))
            pthread_cond_wait(&dom->cond, &dom->lock);
        if (dom->state == HV_DOMAIN_RUNNING)
            dom->state = HV_DOMAIN_PAUSED;
    } else if (dom->state != HV_DOMAIN_PAUSED) {
        err = bad_state(dom, "pause");
    }
    pthread_mutex_unlock(&dom->lock);
    if (!err)
        control_event(dom, "paused");
    return err;
}

HV_EXPORT int hv_domain_unpause(hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_unpause(dom);
    int err = 0;

    if (!dom)
        return -EINVAL;
    pthread_mutex_lock(&dom->lock);
    if (dom->state == HV_DOMAIN_PAUSED) {
        atomic_fetch_and(&dom->req, ~REQ_PAUSE);
        dom->state = HV_DOMAIN_RUNNING;
        pthread_cond_broadcast(&dom->cond);
    } else if (dom->state != HV_DOMAIN_RUNNING) {
        err = bad_state(dom, "unpause");
    }
    pthread_mutex_unlock(&dom->lock);
    if (!err)
        control_event(dom, "unpaused");
    return err;
}

HV_EXPORT int hv_domain_shutdown(hv_domain_t *dom, uint32_t reason)
{
    if (dom && dom->remote)
        return remote_shutdown(dom, reason);
    int err = 0;

    if (!dom)
        return -EINVAL;
    if (reason > HV_SHUTDOWN_CRASH)
        return hv_error(dom->hv, -EINVAL, "domain %u: unknown shutdown reason %u",
                        dom->domid, reason);
    pthread_mutex_lock(&dom->lock);
    if (dom->state == HV_DOMAIN_RUNNING || dom->state == HV_DOMAIN_PAUSED) {
        volatile struct hv_shared_info *si =
            (volatile struct hv_shared_info *)(dom->mem.base + HV_GPA_SHARED_INFO);
        si->shutdown_request = reason;
        events_set(dom, HV_EVT_SHUTDOWN);
    } else {
        err = bad_state(dom, "shut down");
    }
    pthread_mutex_unlock(&dom->lock);
    return err;
}

void domain_exit(struct hv_domain *d, const hv_exit_t *e)
{
    static const char *const reasons[] = {"none", "poweroff", "reboot", "crash", "destroyed"};

    bool first = false;

    pthread_mutex_lock(&d->lock);
    if (d->state != HV_DOMAIN_SHUTDOWN) {
        first = true;
        d->exit = *e;
        d->state = HV_DOMAIN_SHUTDOWN;
        atomic_fetch_or(&d->req, REQ_STOP);
        kick_all(d);
        uint64_t one = 1;
        if (write(d->exit_fd, &one, sizeof(one)) < 0)
            hv_log(d->hv, HV_LOG_WARN, "domain %u: exit eventfd: %s", d->domid,
                   strerror(errno));
        pthread_cond_broadcast(&d->cond);
    }
    pthread_mutex_unlock(&d->lock);
    if (first) {
        hv_log(d->hv, HV_LOG_INFO, "domain %u '%s' exited: %s (code %u)", d->domid,
               d->name, reasons[e->reason], e->code);
        control_event(d, "exit");
    }
}

HV_EXPORT int hv_domain_destroy(hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_destroy(dom);
    if (!dom)
        return -EINVAL;
    if (on_own_vcpu(dom))
        return hv_error(dom->hv, -EDEADLK, "domain %u: destroy from its own vCPU",
                        dom->domid);
    /* With REQ_STOP set under the lock no VCPU_UP launches another thread,
     * so the threads seen started here are all there will be. */
    pthread_mutex_lock(&dom->lock);
    atomic_fetch_or(&dom->req, REQ_STOP);
    kick_all(dom);
    pthread_cond_broadcast(&dom->cond);
    bool started[HV_MAX_VCPUS];
    for (uint32_t i = 0; i < dom->nr_vcpus; i++)
        started[i] = dom->vcpus[i].thread_started;
    pthread_mutex_unlock(&dom->lock);
    for (uint32_t i = 0; i < dom->nr_vcpus; i++)
        if (started[i])
            pthread_join(dom->vcpus[i].thread, NULL);

    /* Clients hear "exit" (reason "destroyed" unless the guest ended
     * first), then the socket goes; then the store entries. */
    control_stop(dom);
    service_stop(dom);
    store_ring_fini(dom);
    registry_release(dom);

    hv_t *hv = dom->hv;
    pthread_mutex_lock(&hv->lock);
    for (struct hv_domain **p = &hv->domains; *p; p = &(*p)->next)
        if (*p == dom) {
            *p = dom->next;
            break;
        }
    pthread_mutex_unlock(&hv->lock);
    hv_log(hv, HV_LOG_INFO, "domain %u '%s' destroyed", dom->domid, dom->name);
    domain_free(dom);
    return 0;
}

HV_EXPORT int hv_domain_wait(hv_domain_t *dom, hv_exit_t *exit_info, int timeout_ms)
{
    if (dom && dom->remote)
        return remote_wait(dom, exit_info, timeout_ms);
    struct timespec deadline;
    int err = 0;

    if (!dom || (exit_info && exit_info->size == 0))
        return -EINVAL;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&dom->lock);
    while (dom->state != HV_DOMAIN_SHUTDOWN && !err) {
        if (timeout_ms < 0)
            pthread_cond_wait(&dom->cond, &dom->lock);
        else if (pthread_cond_timedwait(&dom->cond, &dom->lock, &deadline) == ETIMEDOUT &&
                 dom->state != HV_DOMAIN_SHUTDOWN)
            err = -ETIMEDOUT;
    }
    if (!err && exit_info) {
        hv_exit_t e = dom->exit;
        struct_out(exit_info, &e, sizeof(e));
    }
    pthread_mutex_unlock(&dom->lock);
    return err;
}

HV_EXPORT int hv_domain_exit_fd(hv_domain_t *dom)
{
    if (dom && dom->remote)
        return remote_refuse(dom, __func__);
    return dom ? dom->exit_fd : -EINVAL;
}

/*
 * With d->lock held. Once the domain has exited no vCPU is online, even one
 * whose thread is still on its way out.
 */
static bool vcpu_online(const struct hv_domain *d, const struct hv_vcpu *v)
{
    if (d->state == HV_DOMAIN_CREATED)
        return v->entry_set;
    return d->state != HV_DOMAIN_SHUTDOWN &&
           (v->state == VCPU_RUNNING || v->state == VCPU_PARKED);
}

HV_EXPORT int hv_domain_info(hv_domain_t *dom, hv_domain_info_t *info)
{
    if (dom && dom->remote)
        return remote_info(dom, info);
    hv_domain_info_t i = {0};

    if (!dom || !info || info->size == 0)
        return -EINVAL;
    i.domid = dom->domid;
    memcpy(i.name, dom->name, sizeof(i.name));
    memcpy(i.uuid, dom->uuid, sizeof(i.uuid));
    i.memory_bytes = dom->mem.size;
    i.vcpus = dom->nr_vcpus;
    i.monitor_pid = (int32_t)getpid();
    pthread_mutex_lock(&dom->lock);
    i.state = dom->state;
    i.memory_target_bytes = dom->mem_target;
    i.memory_max_bytes = dom->mem_max;
    i.memory_actual_bytes = dom->mem.size - dom->mem_released;
    i.vcpus_target = dom->vcpus_target;
    i.start_time_ns = dom->start_time_ns;
    if (dom->state == HV_DOMAIN_SHUTDOWN) {
        i.exit_reason = dom->exit.reason;
        i.exit_code = dom->exit.code;
    }
    for (uint32_t n = 0; n < dom->nr_vcpus; n++) {
        struct hv_vcpu *v = &dom->vcpus[n];
        uint64_t ns;
        vcpu_cpu_time(v, &ns);
        i.cpu_time_ns += ns;
        i.vcpus_online += vcpu_online(dom, v);
    }
    pthread_mutex_unlock(&dom->lock);
    struct_out(info, &i, sizeof(i));
    return 0;
}

HV_EXPORT int hv_domain_devices(hv_domain_t *dom, struct hv_device_desc *out, uint32_t max)
{
    if (!dom || (max && !out))
        return -EINVAL;
    if (dom->remote)
        return remote_refuse(dom, __func__);
    for (uint32_t i = 0; i < dom->nr_devices && i < max; i++)
        out[i] = dom->devices[i];
    return (int)dom->nr_devices;
}

HV_EXPORT int hv_vcpu_info(hv_domain_t *dom, uint32_t vcpu, hv_vcpu_info_t *info)
{
    if (dom && dom->remote)
        return remote_vcpu_info(dom, vcpu, info);
    hv_vcpu_info_t i = {0};

    if (!dom || !info || info->size == 0)
        return -EINVAL;
    if (vcpu >= dom->nr_vcpus)
        return hv_error(dom->hv, -EINVAL, "domain %u has no vCPU %u (it has %u)",
                        dom->domid, vcpu, dom->nr_vcpus);
    struct hv_vcpu *v = &dom->vcpus[vcpu];
    i.vcpu = vcpu;
    pthread_mutex_lock(&dom->lock);
    i.online = vcpu_online(dom, v);
    vcpu_cpu_time(v, &i.cpu_time_ns);
    i.host_cpu = vcpu_affinity_host_cpu(v);
    pthread_mutex_unlock(&dom->lock);
    struct_out(info, &i, sizeof(i));
    return 0;
}
