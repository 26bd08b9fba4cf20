/* SPDX-License-Identifier: MIT */
/*
 * libhv: domain control on Linux KVM.
 *
 * Conventions (docs/api-conventions.md): opaque handles; functions return 0
 * (or a non-negative count) on success and a negative errno on failure; the
 * message of the calling thread's last failure on a host handle is
 * hv_last_error(); structs that cross the ABI start with `size_t size`, set by
 * the caller to sizeof the struct it was compiled with. All functions are
 * thread-safe unless their comment says otherwise.
 */
#ifndef HV_HV_H
#define HV_HV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HV_BUILDING_LIBRARY)
#define HV_EXPORT __attribute__((visibility("default")))
#else
#define HV_EXPORT
#endif

#define HV_VERSION_MAJOR 0
#define HV_VERSION_MINOR 1

typedef struct hv hv_t;
typedef struct hv_domain hv_domain_t;

/* ---- Host handle ------------------------------------------------------ */

typedef enum hv_log_level {
    HV_LOG_ERROR = 0,
    HV_LOG_WARN = 1,
    HV_LOG_INFO = 2,
    HV_LOG_DEBUG = 3,
} hv_log_level_t;

/*
 * Called from any libhv thread (vCPU threads included), possibly with
 * libhv's internal locks held: it must not call libhv functions, and must
 * not block long.
 */
typedef void (*hv_log_fn)(void *opaque, hv_log_level_t level, const char *msg);

typedef struct hv_options {
    size_t size;             /* sizeof(hv_options_t) */
    hv_log_fn log;           /* NULL: no logging */
    void *log_opaque;
    hv_log_level_t log_level; /* messages above this level are dropped */
    const char *run_dir;     /* NULL: $HV_RUNDIR, else /run/hv */
    const char *kvm_path;    /* NULL: /dev/kvm */
    /*
     * Signal that libhv sends to its own vCPU threads to pause or stop them.
     * 0: SIGRTMIN + 4. libhv installs a handler that does nothing for it
     * (it only needs the signal to interrupt KVM_RUN), once per process.
     */
    int kick_signal;
    /*
     * The host registry (docs/host-control.md). NULL: $HV_STORE if set, else
     * "unix:<run_dir>/store.sock", where libhv starts hvstored itself when no
     * daemon answers. "none": no registry and no control sockets, domains are
     * visible to this process only (domids from a counter in the handle).
     * Any other value is an hvs_open URI ("mem:", "file:PATH", "unix:PATH").
     */
    const char *store;
    const char *state_dir;     /* NULL: $HV_STATEDIR, else /var/lib/hv */
    const char *hvstored_path; /* NULL: $HV_HVSTORED, else the installed one */
} hv_options_t;

/* opts may be NULL for all defaults. */
HV_EXPORT int hv_open(hv_t **out, const hv_options_t *opts);
/* Destroys any domains still open on the handle. NULL is accepted. */
HV_EXPORT void hv_close(hv_t *hv);
/* The calling thread's last failure message on this handle, or "". */
HV_EXPORT const char *hv_last_error(hv_t *hv);

/*
 * For libraries layered on libhv (libhvguest and vendors' own): record a
 * failure on the handle and log it. Returns err (a negative errno), so that
 * `return hv_error(hv, -EINVAL, "...")` reads naturally.
 */
HV_EXPORT int hv_error(hv_t *hv, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
HV_EXPORT void hv_log(hv_t *hv, hv_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Domains ---------------------------------------------------------- */

typedef struct hv_domain_config {
    size_t size;          /* sizeof(hv_domain_config_t) */
    const char *name;     /* required: 1-63 of [A-Za-z0-9_.-] */
    uint8_t uuid[16];     /* all zero: a random UUID is generated */
    uint64_t memory_mb;   /* RAM; HV_MIN_MEMORY..HV_MAX_MEMORY of abi.h */
    uint32_t vcpus;       /* 1..HV_MAX_VCPUS */
    /*
     * RAM the domain may balloon up to; 0: memory_mb. The domain gets
     * maxmem_mb of RAM and memory_mb as its initial memory target, which the
     * guest runtime reaches by giving pages back (hv_domain_memory_target_set).
     */
    uint64_t maxmem_mb;
    /* vCPUs online at start (the others can be brought up with
     * hv_domain_vcpus_set); 0: vcpus. */
    uint32_t vcpus_online;
} hv_domain_config_t;

#define HV_MAX_VCPUS 64

typedef enum hv_domain_state {
    HV_DOMAIN_CREATED = 0, /* built, not started */
    HV_DOMAIN_RUNNING = 1,
    HV_DOMAIN_PAUSED = 2,
    HV_DOMAIN_SHUTDOWN = 3, /* exited; see hv_domain_wait() for why */
} hv_domain_state_t;

typedef enum hv_exit_reason {
    HV_EXIT_NONE = 0,
    HV_EXIT_POWEROFF = 1,
    HV_EXIT_REBOOT = 2,
    HV_EXIT_CRASH = 3,
    /* Another process destroyed it (hv_domain_destroy on a remote handle):
     * its monitor should now destroy it too. */
    HV_EXIT_DESTROYED = 4,
} hv_exit_reason_t;

/* Crash "vectors" that are not exceptions the guest reported. */
#define HV_CRASH_TRIPLE_FAULT 0x100u /* the CPU shut down */
#define HV_CRASH_GUEST        0x101u /* SHUTDOWN(crash) without a trap */
#define HV_CRASH_HOST         0x102u /* an exit libhv cannot continue from */

typedef struct hv_exit {
    size_t size;              /* sizeof(hv_exit_t) */
    hv_exit_reason_t reason;
    uint32_t code;            /* the guest's SHUTDOWN code */
    uint32_t vcpu;            /* the vCPU that ended the domain */
    uint32_t vector;          /* crash: exception vector or HV_CRASH_* */
    uint64_t error_code;
    uint64_t rip;
    uint64_t cr2;
} hv_exit_t;

HV_EXPORT int hv_domain_create(hv_t *hv, const hv_domain_config_t *cfg,
                               hv_domain_t **out);
/* Runs the vCPUs whose entry was set (hv_vcpu_set_entry/hv_vcpu_state_set). */
HV_EXPORT int hv_domain_start(hv_domain_t *dom);
/* Returns once no vCPU executes guest code. Idempotent. */
HV_EXPORT int hv_domain_pause(hv_domain_t *dom);
HV_EXPORT int hv_domain_unpause(hv_domain_t *dom);
/* Asks the guest to shut down (HV_EVT_SHUTDOWN); reason is HV_SHUTDOWN_*. */
HV_EXPORT int hv_domain_shutdown(hv_domain_t *dom, uint32_t reason);
/*
 * Stops the domain and frees it and the handle. Must not be called from one
 * of the domain's own callbacks (-EDEADLK).
 */
HV_EXPORT int hv_domain_destroy(hv_domain_t *dom);
/*
 * Waits until the domain has exited and describes why. timeout_ms < 0 waits
 * forever; -ETIMEDOUT when it has not exited in time.
 */
HV_EXPORT int hv_domain_wait(hv_domain_t *dom, hv_exit_t *exit_info,
                             int timeout_ms);
/* An fd that polls readable once the domain has exited; owned by libhv. */
HV_EXPORT int hv_domain_exit_fd(hv_domain_t *dom);

HV_EXPORT uint32_t hv_domain_id(const hv_domain_t *dom);
HV_EXPORT hv_t *hv_domain_host(const hv_domain_t *dom);

typedef struct hv_domain_info {
    size_t size;           /* sizeof(hv_domain_info_t) */
    uint32_t domid;
    hv_domain_state_t state;
    char name[64];
    uint8_t uuid[16];
    uint64_t memory_bytes;
    uint32_t vcpus;
    uint32_t vcpus_online;
    uint64_t cpu_time_ns;  /* sum over vCPU threads */
    /* Appended in 0.2 (issue 4). */
    uint64_t memory_target_bytes; /* what the guest is asked to use */
    uint64_t memory_max_bytes;    /* the target's ceiling (hv_domain_memory_max_set) */
    uint64_t memory_actual_bytes; /* RAM minus what the guest gave back */
    hv_exit_reason_t exit_reason; /* with HV_DOMAIN_SHUTDOWN: why */
    uint32_t exit_code;
    int32_t monitor_pid;          /* the process the domain lives in */
    uint32_t vcpus_target;        /* vCPUs the guest is asked to keep online */
    uint64_t start_time_ns;       /* CLOCK_REALTIME when it started; 0: not yet */
} hv_domain_info_t;

HV_EXPORT int hv_domain_info(hv_domain_t *dom, hv_domain_info_t *info);

/*
 * The devices libhv set up for the domain (the store ring, ...), as the
 * start info describes them (abi.h): fills up to max and returns how many
 * there are. The builder copies them into the start info.
 */
struct hv_device_desc;
HV_EXPORT int hv_domain_devices(hv_domain_t *dom, struct hv_device_desc *out, uint32_t max);

typedef struct hv_vcpu_info {
    size_t size;           /* sizeof(hv_vcpu_info_t) */
    uint32_t vcpu;
    uint32_t online;       /* brought up and not down */
    uint64_t cpu_time_ns;  /* CPU time of its host thread */
    /* Appended in 0.2 (issue 4). */
    int32_t host_cpu;      /* where its thread last ran; -1: no thread */
    uint32_t reserved;
} hv_vcpu_info_t;

HV_EXPORT int hv_vcpu_info(hv_domain_t *dom, uint32_t vcpu, hv_vcpu_info_t *info);

/*
 * The host CPUs a vCPU's thread may run on (sched_setaffinity of the thread;
 * kept for a thread not started yet). ncpus 0 means all host CPUs. CPU
 * numbers must be online host CPUs below HV_MAX_HOST_CPUS.
 */
#define HV_MAX_HOST_CPUS 1024
HV_EXPORT int hv_vcpu_affinity_set(hv_domain_t *dom, uint32_t vcpu, const uint32_t *cpus,
                                   size_t ncpus);
/* Fills up to max CPU numbers; returns how many there are (all: the host's). */
HV_EXPORT int hv_vcpu_affinity_get(hv_domain_t *dom, uint32_t vcpu, uint32_t *cpus,
                                   size_t max);

/*
 * Asks the guest to keep `online` vCPUs (1..vcpus) online: the count goes in
 * the shared info page with HV_EVT_VCPUS, and the guest runtime brings vCPUs
 * up or down with VCPU_UP/VCPU_DOWN. Returns once asked, not once done
 * (hv_domain_info's vcpus_online shows progress).
 */
HV_EXPORT int hv_domain_vcpus_set(hv_domain_t *dom, uint32_t online);

/*
 * Asks the guest to use `bytes` of RAM (rounded down to 4 KiB; at most the
 * memory max): the guest runtime gives pages back with MEMORY_RELEASE and the
 * host frees them (memory_actual_bytes falls), or takes them again when the
 * target grows. Returns once asked.
 */
HV_EXPORT int hv_domain_memory_target_set(hv_domain_t *dom, uint64_t bytes);
/* The target's ceiling, at most the domain's RAM; lowers the target if needed. */
HV_EXPORT int hv_domain_memory_max_set(hv_domain_t *dom, uint64_t bytes);

/* ---- Console ---------------------------------------------------------- */

/* Called on the vCPU thread that wrote; must not call hv_domain_destroy. */
typedef void (*hv_console_fn)(void *opaque, hv_domain_t *dom,
                              const char *data, size_t len);

HV_EXPORT int hv_domain_console_set_callback(hv_domain_t *dom, hv_console_fn fn,
                                             void *opaque);
/*
 * Reads console output from byte offset *pos of everything the guest wrote
 * (libhv keeps the last HV_CONSOLE_HISTORY bytes). Returns the number of
 * bytes copied and advances *pos past them; when *pos is older than the
 * history, reading starts at the oldest byte kept, so *pos jumps forward.
 */
#define HV_CONSOLE_HISTORY (64u * 1024u)
HV_EXPORT long hv_domain_console_read(hv_domain_t *dom, uint64_t *pos,
                                      void *buf, size_t len);

/* ---- vCPU state ------------------------------------------------------- */

typedef struct hv_vcpu_entry {
    size_t size;           /* sizeof(hv_vcpu_entry_t) */
    uint64_t rip;
    uint64_t rsp;
    uint64_t rdi;
} hv_vcpu_entry_t;

/* Puts a vCPU in the ABI's entry state (docs/guest-abi.md) at rip/rsp/rdi. */
HV_EXPORT int hv_vcpu_set_entry(hv_domain_t *dom, uint32_t vcpu,
                                const hv_vcpu_entry_t *entry);
/*
 * The full architectural state of a stopped vCPU (paused or not started) as
 * an opaque, versioned blob. With buf NULL or *len too small, returns
 * -ENOSPC and sets *len to the size needed.
 */
HV_EXPORT int hv_vcpu_state_get(hv_domain_t *dom, uint32_t vcpu, void *buf,
                                size_t *len);
/* Loads a blob from hv_vcpu_state_get into a vCPU of a domain not running. */
HV_EXPORT int hv_vcpu_state_set(hv_domain_t *dom, uint32_t vcpu,
                                const void *buf, size_t len);

/*
 * Before start: points the guest's trap vectors 0-31 at the table at rip, as
 * the guest's own SET_TRAP_ENTRY would (the builder does it for an image that
 * declares its table in an ELF note, which saves the guest an exit at boot).
 */
HV_EXPORT int hv_domain_trap_entry_set(hv_domain_t *dom, uint64_t rip);

/* Guest time, so a restored domain's clock continues where it stopped. */
typedef struct hv_clock {
    size_t size;           /* sizeof(hv_clock_t) */
    uint64_t guest_ns;     /* guest monotonic time */
    uint64_t kvm_clock_ns; /* KVM's VM clock */
} hv_clock_t;

HV_EXPORT int hv_domain_clock_get(hv_domain_t *dom, hv_clock_t *clock);
/* Only before hv_domain_start. */
HV_EXPORT int hv_domain_clock_set(hv_domain_t *dom, const hv_clock_t *clock);

/* ---- Guest memory ----------------------------------------------------- */

/*
 * A host pointer to guest-physical [gpa, gpa + len), valid until the domain
 * is destroyed; -EFAULT if the range is not all RAM.
 */
HV_EXPORT int hv_domain_memory_map(hv_domain_t *dom, uint64_t gpa, uint64_t len,
                                   void **ptr);
HV_EXPORT int hv_domain_memory_read(hv_domain_t *dom, uint64_t gpa, void *buf,
                                    size_t len);
HV_EXPORT int hv_domain_memory_write(hv_domain_t *dom, uint64_t gpa,
                                     const void *buf, size_t len);
/*
 * Guest memory on the guest's behalf, for host functions handed a guest
 * address: only what the guest itself may read (or write). Page 0 and the
 * builder's tables are refused, and the start info for writes, with -EFAULT
 * and no log message, so a guest cannot make the host do what its page
 * tables forbid, nor flood the logger.
 */
HV_EXPORT int hv_domain_guest_read(hv_domain_t *dom, uint64_t gpa, void *buf,
                                   size_t len);
HV_EXPORT int hv_domain_guest_write(hv_domain_t *dom, uint64_t gpa,
                                    const void *buf, size_t len);
/* A new O_CLOEXEC fd of the guest RAM memfd (the caller closes it). */
HV_EXPORT int hv_domain_memory_fd(hv_domain_t *dom, int *fd, uint64_t *size);

/*
 * Foreign mapping (libxc's): the guest RAM of any domain, local or remote
 * (the monitor passes the memfd over its control socket), as a new O_CLOEXEC
 * fd; only the monitor's uid and root get one. HV_MAP_READ gives an fd
 * opened read-only: it cannot be mapped writable or written. That is a
 * guard against mistakes, not a protection: its holder can reopen
 * /proc/self/fd/N with O_RDWR (a memfd's mode is 0777), and a process of
 * that uid could ptrace the monitor anyway. HV_MAP_WRITE gives a writable fd.
 */
#define HV_MAP_READ  1
#define HV_MAP_WRITE 2
HV_EXPORT int hv_domain_memory_open(hv_domain_t *dom, int flags, int *fd, uint64_t *size);
/* memory_open, then mmap(MAP_SHARED) of all of RAM; undo with munmap(*addr, *size). */
HV_EXPORT int hv_domain_foreign_map(hv_domain_t *dom, int flags, void **addr, uint64_t *size);

/* ---- Dirty page log --------------------------------------------------- */

/* Bytes of the bitmap hv_domain_dirty_log_fetch fills: a bit per 4 KiB page. */
HV_EXPORT size_t hv_domain_dirty_log_size(const hv_domain_t *dom);
HV_EXPORT int hv_domain_dirty_log_start(hv_domain_t *dom);
/*
 * Copies the pages written since the last fetch (or start) into bitmap and
 * clears them, so a page written after the call appears in the next one.
 * Returns the number of dirty pages.
 */
HV_EXPORT long hv_domain_dirty_log_fetch(hv_domain_t *dom, uint64_t *bitmap,
                                         size_t bitmap_bytes);
HV_EXPORT int hv_domain_dirty_log_stop(hv_domain_t *dom);

/* ---- Events and host functions ---------------------------------------- */

/* Sets bit in the guest's pending events and wakes a vCPU waiting in POLL. */
HV_EXPORT int hv_domain_event_raise(hv_domain_t *dom, unsigned bit);

/*
 * A vendor hypercall (nr in HV_HC_VENDOR_FIRST..HV_HC_VENDOR_LAST) runs fn on
 * the calling vCPU's thread with the guest-physical address the guest passed;
 * reach guest memory at that address only through hv_domain_guest_read/write.
 * The return value goes to the guest's RAX. Register before hv_domain_start.
 */
typedef int64_t (*hv_hostcall_fn)(void *opaque, hv_domain_t *dom, uint32_t vcpu,
                                  uint64_t arg_gpa);
HV_EXPORT int hv_domain_hostcall_register(hv_domain_t *dom, uint32_t nr,
                                          hv_hostcall_fn fn, void *opaque);

/* ---- Host-wide control (docs/host-control.md) -------------------------- */

/*
 * A handle on a domain that lives in another process (its monitor), found
 * by domid in the host registry; or the local handle when this process is
 * its monitor. A remote handle takes the calls of docs/control-protocol.md
 * over the domain's control socket; the others return -EREMOTE. -ENOENT: no
 * such domain; -ECONNREFUSED: its monitor is gone.
 */
HV_EXPORT int hv_domain_open(hv_t *hv, uint32_t domid, hv_domain_t **out);
/* Frees a handle from hv_domain_open without touching the domain (a local
 * one stays alive: only hv_domain_destroy ends it). NULL is accepted. */
HV_EXPORT void hv_domain_close(hv_domain_t *dom);
/* 1 for a handle from hv_domain_open on another process's domain, else 0. */
HV_EXPORT int hv_domain_is_remote(const hv_domain_t *dom);
/* The domid of the domain named name (-ENOENT if none). */
HV_EXPORT int hv_domain_lookup(hv_t *hv, const char *name, uint32_t *domid);

/*
 * Every domain of the host, in domid order: fills up to max entries of infos
 * (an array whose stride is infos[0].size, set by the caller as for one
 * hv_domain_info) and returns how many domains there are, which may be more
 * than max. infos may be NULL with max 0 to count.
 */
HV_EXPORT long hv_domain_list(hv_t *hv, hv_domain_info_t *infos, size_t max);

/*
 * A stream socket carrying the console: the kept history (up to
 * HV_CONSOLE_HISTORY bytes), then the guest's output as it comes. Works on
 * local and remote handles; one reader per domain at a time (-EBUSY). Close
 * the fd to detach.
 */
HV_EXPORT int hv_domain_console_open(hv_domain_t *dom, int *fd);

#ifdef __cplusplus
}
#endif

#endif /* HV_HV_H */
