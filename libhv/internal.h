/* SPDX-License-Identifier: MIT */
/* Internal structures of libhv, shared by its source files only. */
#ifndef LIBHV_INTERNAL_H
#define LIBHV_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "hv/abi.h"
#include "hv/hv.h"
#include "hv/hvstore.h"
#include "guest_mem.h"
#include "struct_io.h"

#define HV_HIDDEN __attribute__((visibility("hidden")))

struct hv_err_slot {
    pthread_t thread;
    char msg[512];
    struct hv_err_slot *next;
};

struct hv {
    int kvm_fd;
    int run_size;                 /* KVM_GET_VCPU_MMAP_SIZE */
    int kick_signal;
    hv_log_fn log;
    void *log_opaque;
    hv_log_level_t log_level;
    char *run_dir;
    char *store_uri;              /* NULL: no registry ("none") */
    char *state_dir;
    char *hvstored_path;          /* NULL: the installed one */

    pthread_mutex_t reg_lock;     /* connecting the registry */
    struct registry *reg;         /* registry.c; NULL until first needed */

    pthread_mutex_t lock;         /* domains list, domid counter, msr list */
    struct hv_domain *domains;
    uint32_t next_domid;

    struct kvm_msr_list *msrs;    /* readable MSRs, probed on first use */
    /* The process's CPU set at hv_open (HV_MAX_HOST_CPUS bits): where an
     * unpinned vCPU thread runs, whatever thread started it. NULL: unknown. */
    cpu_set_t *cpus_default;

    pthread_mutex_t err_lock;
    struct hv_err_slot *errs;
};

enum vcpu_run_state {
    VCPU_DOWN = 0,   /* no entry set, or brought down: not running */
    VCPU_RUNNING,    /* its thread executes guest code or a hypercall */
    VCPU_PARKED,     /* its thread acknowledged a pause */
    VCPU_EXITED,     /* its thread ended */
};

struct hv_vcpu {
    struct hv_domain *dom;
    uint32_t id;
    int fd;
    struct kvm_run *run;
    int wake_fd;                  /* eventfd: ends a POLL early */
    pthread_t thread;
    bool thread_started;
    bool entry_set;               /* has state to run from */
    bool io_pending;              /* KVM completes the last I/O exit on re-entry */
    enum vcpu_run_state state;    /* under dom->lock */
    uint64_t cpu_time_ns;         /* final CPU time once the thread ended */
    struct vcpu_affinity *affinity; /* vcpu_affinity.c; NULL: all host CPUs */
};

/* Bits of hv_domain.req, read by vCPU threads on every loop. */
#define REQ_PAUSE 1u
#define REQ_STOP  2u

struct hostcall {
    hv_hostcall_fn fn;
    void *opaque;
};

struct hv_domain {
    hv_t *hv;
    struct hv_domain *next;       /* in hv->domains (local handles only) */
    uint32_t domid;
    char name[64];
    uint8_t uuid[16];
    uint32_t nr_vcpus;

    /*
     * Non-NULL: a proxy from hv_domain_open (remote.c) for a domain in
     * another process. Only hv, domid, name, uuid and remote are set; every
     * public call checks it first and forwards or returns -EREMOTE.
     */
    struct remote *remote;
    struct service *svc;          /* service.c: the monitor's thread; NULL without registry */
    pthread_mutex_t ext_lock;     /* the two lists below */
    struct control *control;      /* control.c: the control socket */
    struct console_reader *console_reader; /* console_reader.c */
    struct registration *reg;     /* registry.c: our entries in the store */
    struct store_ring *store_ring; /* store_ring.c: the guest's store device */
    struct hv_device_desc devices[HV_MAX_DEVICES]; /* the start info's table */
    uint32_t nr_devices;
    uint64_t start_time_ns;       /* CLOCK_REALTIME at hv_domain_start */

    /* balloon.c: memory target and what the guest gave back, under lock */
    uint64_t mem_target;
    uint64_t mem_max;
    uint64_t mem_released;
    uint32_t vcpus_target;
    struct balloon *balloon;      /* balloon.c: which pages the guest gave back */

    int vm_fd;
    struct hv_guest_mem mem;      /* the memfd mapping */
    int mem_fd;
    uint32_t slot_flags;
    bool manual_dirty_protect;
    bool dirty_logging;

    pthread_mutex_t lock;
    pthread_cond_t cond;          /* vCPU state changes, exit */
    hv_domain_state_t state;
    atomic_uint req;
    hv_exit_t exit;
    int exit_fd;                  /* eventfd, readable once exited */

    /* Guest monotonic time = CLOCK_MONOTONIC - clock_offset_ns. */
    int64_t clock_offset_ns;
    uint64_t tsc_khz;
    /* The record last published, kept host-side: the copy in shared info is
     * the guest's to scribble on, so the host never reads it back. */
    struct hv_pvclock clock_pub;
    pthread_mutex_t clock_lock;

    pthread_mutex_t console_lock;    /* the history and the callback fields */
    pthread_mutex_t console_cb_lock; /* one callback at a time, in order */
    char *console;                /* ring of HV_CONSOLE_HISTORY bytes */
    uint64_t console_written;     /* total bytes ever written */
    hv_console_fn console_fn;
    void *console_opaque;

    struct hostcall hostcalls[HV_HC_VENDOR_LAST - HV_HC_VENDOR_FIRST + 1];

    struct hv_vcpu vcpus[];
};

/* error.c (errors and logs go through the public hv_error/hv_log) */
HV_HIDDEN void error_free_all(hv_t *hv);

/* kick.c */
HV_HIDDEN int kick_install(hv_t *hv);
HV_HIDDEN void kick_all(struct hv_domain *d);

/* kvm.c */
HV_HIDDEN int kvm_create_vm(hv_t *hv, int *vm_fd);
HV_HIDDEN int kvm_set_memslot(struct hv_domain *d, uint32_t flags);
HV_HIDDEN int kvm_create_vcpu(struct hv_domain *d, struct hv_vcpu *v);
HV_HIDDEN int kvm_msr_list(hv_t *hv, const struct kvm_msr_list **out);
HV_HIDDEN int kvm_set_cpuid(hv_t *hv, int vcpu_fd);

/* memory.c */
HV_HIDDEN int memory_create(struct hv_domain *d, uint64_t bytes);
HV_HIDDEN void memory_destroy(struct hv_domain *d);

/* clock.c */
HV_HIDDEN uint64_t clock_host_ns(void);
HV_HIDDEN uint64_t clock_guest_ns(struct hv_domain *d);
HV_HIDDEN int clock_init(struct hv_domain *d);
HV_HIDDEN void clock_publish(struct hv_domain *d);

/* console.c */
HV_HIDDEN int console_init(struct hv_domain *d);
HV_HIDDEN void console_fini(struct hv_domain *d);
HV_HIDDEN void console_put(struct hv_domain *d, const char *data, size_t len);

/* entry.c */
HV_HIDDEN int entry_apply(struct hv_vcpu *v, uint64_t rip, uint64_t rsp, uint64_t rdi);

/* vcpu.c */
HV_HIDDEN int vcpu_launch(struct hv_vcpu *v);
HV_HIDDEN bool vcpu_wait(struct hv_vcpu *v, bool settle_io);
HV_HIDDEN void vcpu_cpu_time(struct hv_vcpu *v, uint64_t *ns);

/* domain.c */
HV_HIDDEN void domain_exit(struct hv_domain *d, const hv_exit_t *e);

/* hypercall.c */
HV_HIDDEN void hypercall_dispatch(struct hv_vcpu *v, uint16_t port);

/* events.c */
HV_HIDDEN uint64_t events_take(struct hv_domain *d, uint64_t mask);
HV_HIDDEN int events_poll(struct hv_vcpu *v, uint64_t deadline_ns, uint64_t mask,
                          uint64_t *ready);
HV_HIDDEN void events_set(struct hv_domain *d, unsigned bit);

/* trap.c */
HV_HIDDEN void trap_install(struct hv_domain *d, uint64_t rip);

/* ---- Host-wide control (issue 4) ----------------------------------------- */

/* remote.c: proxies over a domain's control socket (docs/control-protocol.md) */
HV_HIDDEN int remote_open(hv_t *hv, uint32_t domid, struct hv_domain **out);
HV_HIDDEN void remote_close(struct hv_domain *d);
/* -EREMOTE with a message naming the call. */
HV_HIDDEN int remote_refuse(struct hv_domain *d, const char *call);
HV_HIDDEN int remote_pause(struct hv_domain *d);
HV_HIDDEN int remote_unpause(struct hv_domain *d);
HV_HIDDEN int remote_shutdown(struct hv_domain *d, uint32_t reason);
/* Destroys the domain, then frees the handle (as hv_domain_destroy). */
HV_HIDDEN int remote_destroy(struct hv_domain *d);
HV_HIDDEN int remote_wait(struct hv_domain *d, hv_exit_t *exit_info, int timeout_ms);
HV_HIDDEN int remote_info(struct hv_domain *d, hv_domain_info_t *info);
HV_HIDDEN int remote_vcpu_info(struct hv_domain *d, uint32_t vcpu, hv_vcpu_info_t *info);
HV_HIDDEN int remote_vcpu_affinity_set(struct hv_domain *d, uint32_t vcpu, const uint32_t *cpus,
                                       size_t ncpus);
HV_HIDDEN int remote_vcpu_affinity_get(struct hv_domain *d, uint32_t vcpu, uint32_t *cpus,
                                       size_t max);
HV_HIDDEN int remote_vcpus_set(struct hv_domain *d, uint32_t online);
HV_HIDDEN int remote_memory_target_set(struct hv_domain *d, uint64_t bytes);
HV_HIDDEN int remote_memory_max_set(struct hv_domain *d, uint64_t bytes);
HV_HIDDEN int remote_memory_open(struct hv_domain *d, int flags, int *fd, uint64_t *size);
HV_HIDDEN int remote_console_open(struct hv_domain *d, int *fd);
HV_HIDDEN size_t remote_dirty_log_size(const struct hv_domain *d);
HV_HIDDEN int remote_dirty_log_start(struct hv_domain *d);
HV_HIDDEN long remote_dirty_log_fetch(struct hv_domain *d, uint64_t *bitmap, size_t bytes);
HV_HIDDEN int remote_dirty_log_stop(struct hv_domain *d);
/* hv_domain_list's fan-out: info of each domid (ENOENT-gone ones skipped). */
HV_HIDDEN long remote_info_many(hv_t *hv, const uint32_t *domids, size_t n,
                                hv_domain_info_t *infos, size_t stride, size_t max);

/*
 * service.c: the monitor's per-domain thread, an epoll loop that serves the
 * control socket (control.c), the store ring (store_ring.c) and console
 * readers. Callbacks run on that thread, one at a time.
 */
typedef void (*service_fn)(struct hv_domain *d, int fd, uint32_t events, void *opaque);
HV_HIDDEN int service_start(struct hv_domain *d);
/* Runs stop hooks on no thread but the caller's; then joins. Idempotent. */
HV_HIDDEN void service_stop(struct hv_domain *d);
HV_HIDDEN int service_add(struct hv_domain *d, int fd, uint32_t events, service_fn fn,
                          void *opaque);
HV_HIDDEN int service_mod(struct hv_domain *d, int fd, uint32_t events);
HV_HIDDEN void service_del(struct hv_domain *d, int fd);
/* Runs fn(d, -1, 0, opaque) on the service thread soon (from any thread).
 * -ESHUTDOWN once that thread has ended: it then runs nothing more, and the
 * caller does the work itself. */
HV_HIDDEN int service_post(struct hv_domain *d, service_fn fn, void *opaque);

/* control.c: the control socket, on the service thread */
HV_HIDDEN int control_start(struct hv_domain *d);
HV_HIDDEN void control_stop(struct hv_domain *d);
/* Tell every connected client (from any thread): "paused", "unpaused", "exit". */
HV_HIDDEN void control_event(struct hv_domain *d, const char *event);
/* Console readers (hv_domain_console_open), served by the service thread. */
HV_HIDDEN int console_reader_open(struct hv_domain *d, int *fd);
HV_HIDDEN void console_reader_kick(struct hv_domain *d); /* new output (any thread) */
HV_HIDDEN void console_reader_stop(struct hv_domain *d);

/* registry.c: the host registry in the store (docs/host-control.md) */
HV_HIDDEN bool registry_enabled(hv_t *hv);
/* Picks a free domid and a unique name and writes the domain's entries. */
HV_HIDDEN int registry_claim(struct hv_domain *d);
/* Publishes a changed memory target (memory/target, KiB): best effort. */
HV_HIDDEN void registry_update(struct hv_domain *d);
HV_HIDDEN void registry_release(struct hv_domain *d);
HV_HIDDEN int registry_lookup(hv_t *hv, const char *name, uint32_t *domid);
/* The live domids in order (malloc'd); dead monitors' entries are reaped. */
HV_HIDDEN int registry_list(hv_t *hv, uint32_t **domids, size_t *n);
/* A new store handle on the registry's store acting as domid (for relays). */
HV_HIDDEN int registry_store_open(hv_t *hv, uint32_t domid, hvs_t **out);
HV_HIDDEN void registry_close(hv_t *hv);
/* $run_dir/domains/<domid>.sock */
HV_HIDDEN int registry_socket_path(hv_t *hv, uint32_t domid, char *buf, size_t len);

/* store_spawn.c: starts hvstored when none answers on socket_path */
HV_HIDDEN int store_spawn(hv_t *hv, const char *socket_path);

/* store_ring.c: the guest's store ring device, relayed to the registry */
HV_HIDDEN int store_ring_init(struct hv_domain *d);
HV_HIDDEN void store_ring_fini(struct hv_domain *d);

/* balloon.c: memory target, vCPU target, MEMORY_RELEASE/RECLAIM hypercalls */
HV_HIDDEN int balloon_init(struct hv_domain *d, uint64_t target_bytes, uint32_t vcpus_online);
HV_HIDDEN void balloon_fini(struct hv_domain *d);
/* With d->lock held: ORs the pages released since the last fetch into a
 * dirty bitmap (they read as zero now, which KVM's log does not see). */
HV_HIDDEN void balloon_dirty_merge(struct hv_domain *d, uint64_t *bitmap);
/* Writes the targets into shared info (the builder zeroes it): at start. */
HV_HIDDEN void balloon_publish(struct hv_domain *d);
HV_HIDDEN int64_t balloon_hypercall(struct hv_vcpu *v, uint32_t nr, uint64_t arg_gpa);

/* vcpu_affinity.c */
HV_HIDDEN int vcpu_affinity_apply(struct hv_vcpu *v); /* on its thread's start */
HV_HIDDEN void vcpu_affinity_free(struct hv_vcpu *v);
/* The host CPU its thread last ran on; -1 when it has no thread. */
HV_HIDDEN int32_t vcpu_affinity_host_cpu(struct hv_vcpu *v);

/* Per-thread: the vCPU this thread runs, so API calls from callbacks can tell. */
extern _Thread_local struct hv_vcpu *hv_current_vcpu HV_HIDDEN;

#endif
