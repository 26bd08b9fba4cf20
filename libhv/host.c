/* SPDX-License-Identifier: MIT */
/* The host handle: /dev/kvm, options, logging and the domains it owns. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_RUN_DIR "/run/hv"
#define DEFAULT_STATE_DIR "/var/lib/hv"

static int check_kvm(hv_t *hv, const char *path)
{
    int version = ioctl(hv->kvm_fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        return hv_error(hv, -ENOTSUP, "%s: KVM API version %d, need %d", path,
                        version, KVM_API_VERSION);
    static const struct {
        int cap;
        const char *name;
    } needed[] = {
        {KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS"},
        {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
        {KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"},
    };
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
        if (ioctl(hv->kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0)
            return hv_error(hv, -ENOTSUP, "%s lacks %s", path, needed[i].name);
    hv->run_size = ioctl(hv->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (hv->run_size < (int)sizeof(struct kvm_run))
        return hv_error(hv, -ENOTSUP, "%s: bad vCPU mmap size %d", path,
                        hv->run_size);
    return 0;
}

static int dup_opt(char **out, const char *opt, const char *env, const char *def)
{
    const char *v = opt ? opt : getenv(env);
    if (!v || !*v)
        v = def;
    if (!v)
        return 0;
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
}

/* Where the registry lives; see hv_options_t.store. */
static int host_store_options(hv_t *hv, const hv_options_t *o)
{
    char *store = NULL;
    int err;

    if ((err = dup_opt(&store, o->store, "HV_STORE", NULL)) < 0 ||
        (err = dup_opt(&hv->state_dir, o->state_dir, "HV_STATEDIR", DEFAULT_STATE_DIR)) < 0 ||
        (err = dup_opt(&hv->hvstored_path, o->hvstored_path, "HV_HVSTORED", NULL)) < 0) {
        free(store);
        return err;
    }
    if (store && !strcmp(store, "none")) {
        free(store);
        return 0;
    }
    if (!store) {
        size_t n = strlen(hv->run_dir) + sizeof("unix:/store.sock");
        if (!(store = malloc(n)))
            return -ENOMEM;
        snprintf(store, n, "unix:%s/store.sock", hv->run_dir);
    }
    hv->store_uri = store;
    return 0;
}

HV_EXPORT int hv_open(hv_t **out, const hv_options_t *opts)
{
    hv_options_t o = {0};
    int err;

    if (!out)
        return -EINVAL;
    *out = NULL;
    /* No handle yet to hold a message: a bad size is its own errno. */
    if (opts && (err = struct_in(&o, sizeof(o), opts, sizeof(o))) < 0)
        return err;
    hv_t *hv = calloc(1, sizeof(*hv));
    if (!hv)
        return -ENOMEM;
    pthread_mutex_init(&hv->lock, NULL);
    pthread_mutex_init(&hv->err_lock, NULL);
    hv->log = o.log;
    hv->log_opaque = o.log_opaque;
    hv->log_level = o.log ? o.log_level : HV_LOG_ERROR;
    hv->kick_signal = o.kick_signal ? o.kick_signal : SIGRTMIN + 4;
    hv->next_domid = 1;
    hv->kvm_fd = -1;

    const char *run_dir = o.run_dir ? o.run_dir : getenv("HV_RUNDIR");
    hv->run_dir = strdup(run_dir && *run_dir ? run_dir : DEFAULT_RUN_DIR);
    if (!hv->run_dir) {
        err = -ENOMEM;
        goto fail;
    }
    pthread_mutex_init(&hv->reg_lock, NULL);
    hv->cpus_default = CPU_ALLOC(HV_MAX_HOST_CPUS);
    if (hv->cpus_default &&
        sched_getaffinity(0, CPU_ALLOC_SIZE(HV_MAX_HOST_CPUS), hv->cpus_default) < 0) {
        CPU_FREE(hv->cpus_default);
        hv->cpus_default = NULL;
    }
    if ((err = host_store_options(hv, &o)) < 0)
        goto fail;
    const char *path = o.kvm_path ? o.kvm_path : "/dev/kvm";
    hv->kvm_fd = open(path, O_RDWR | O_CLOEXEC);
    if (hv->kvm_fd < 0) {
        err = hv_error(hv, -errno, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    if ((err = check_kvm(hv, path)) < 0 || (err = kick_install(hv)) < 0)
        goto fail;
    *out = hv;
    return 0;
fail:
    /* With no handle returned, the logger has already had the message. */
    hv_close(hv);
    return err;
}

HV_EXPORT void hv_close(hv_t *hv)
{
    if (!hv)
        return;
    while (hv->domains)
        hv_domain_destroy(hv->domains);
    registry_close(hv);
    pthread_mutex_destroy(&hv->reg_lock);
    if (hv->cpus_default)
        CPU_FREE(hv->cpus_default);
    free(hv->store_uri);
    free(hv->state_dir);
    free(hv->hvstored_path);
    if (hv->kvm_fd >= 0)
        close(hv->kvm_fd);
    free(hv->msrs);
    free(hv->run_dir);
    error_free_all(hv);
    pthread_mutex_destroy(&hv->lock);
    pthread_mutex_destroy(&hv->err_lock);
    free(hv);
}

HV_EXPORT hv_t *hv_domain_host(const hv_domain_t *dom)
{
    return dom ? dom->hv : NULL;
}

HV_EXPORT uint32_t hv_domain_id(const hv_domain_t *dom)
{
    return dom ? dom->domid : 0;
}
