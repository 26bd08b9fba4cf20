/* SPDX-License-Identifier: MIT */
/* Internal structures of libhv, shared by its source files only. */
#ifndef LIBHV_INTERNAL_H
#define LIBHV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "hv/abi.h"
#include "hv/hv.h"
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

    pthread_mutex_t lock;         /* domains list, domid counter, msr list */
    struct hv_domain *domains;
    uint32_t next_domid;

    struct kvm_msr_list *msrs;    /* readable MSRs, probed on first use */

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
    struct hv_domain *next;       /* in hv->domains */
    uint32_t domid;
    char name[64];
    uint8_t uuid[16];
    uint32_t nr_vcpus;

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

/* Per-thread: the vCPU this thread runs, so API calls from callbacks can tell. */
extern _Thread_local struct hv_vcpu *hv_current_vcpu HV_HIDDEN;

#endif
