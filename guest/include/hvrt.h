/* SPDX-License-Identifier: MIT */
/*
 * hvrt: the libhv guest runtime, a tiny library OS for guests that run on
 * libhv (docs/guest-abi.md). A guest provides
 *
 *     int main(int argc, char **argv);
 *
 * and links with the runtime. _start checks the start info, installs the trap
 * table (an exception is reported to the host with CRASH), splits the command
 * line on spaces into argv (argv[0] is "guest"), calls main, and powers the
 * domain off with main's return value as the exit code.
 *
 * Everything here may be called from any vCPU at any time, unless noted.
 */
#ifndef HVRT_H
#define HVRT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/abi.h>

#define HVRT_PRINTF(f, a) __attribute__((format(__printf__, f, a)))

int main(int argc, char **argv);

/* ---- Start info, shared info ----------------------------------------- */
const struct hv_start_info *hv_start_info(void);
volatile struct hv_shared_info *hv_shared_info(void);
uint32_t hv_nr_vcpus(void);

/* ---- Hypercalls ------------------------------------------------------- */
/*
 * Any hypercall, core or vendor (nr <= HV_HC_VENDOR_LAST, else -HV_ENOSYS
 * without calling the host). arg is the argument struct (RAM is identity
 * mapped, so its address is its gpa) or NULL. Returns RAX: >= 0 or -HV_E*.
 */
int64_t hv_hypercall(uint32_t nr, void *arg);
/* reason is HV_SHUTDOWN_*. Never returns (falls back to a crash). */
__attribute__((noreturn)) void hv_shutdown(uint32_t reason, uint32_t code);
/* (Re)installs the runtime's trap table with SET_TRAP_ENTRY. */
int64_t hv_trap_install(void);

/* ---- Console ---------------------------------------------------------- */
/* Writes in chunks of at most HV_CONSOLE_WRITE_MAX; returns len or -HV_E*. */
int64_t hv_console_write(const char *buf, size_t len);
/*
 * printf output of up to 512 bytes goes to the console as
 * one CONSOLE_WRITE, so lines printed by concurrent vCPUs never interleave.
 * Conversions: d i u x X o p s c %, flags - 0 + space #, width and precision
 * (also *), length hh h l ll z j t. No floating point.
 */
int printf(const char *fmt, ...) HVRT_PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap) HVRT_PRINTF(1, 0);
int snprintf(char *buf, size_t size, const char *fmt, ...) HVRT_PRINTF(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) HVRT_PRINTF(3, 0);

/* ---- libc subset ------------------------------------------------------ */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
/* C semantics: base 0 (prefix 0x -> 16, 0 -> 8, else 10) or 2..36; saturates. */
unsigned long strtoul(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);
/*
 * Strict parse of a whole string: decimal, or hexadecimal with 0x. Returns 0,
 * or -HV_EINVAL (empty, junk, overflow) leaving *out alone.
 */
int hv_parse_u64(const char *s, uint64_t *out);
/* argv[i] parsed by hv_parse_u64, or def if i >= argc or it does not parse. */
uint64_t hv_arg_u64(int argc, char **argv, int i, uint64_t def);

/* ---- Time ------------------------------------------------------------- */
/* Guest monotonic nanoseconds (pvclock + rdtsc, no exit). */
uint64_t hv_monotonic_ns(void);
/* Nanoseconds since the Unix epoch: monotonic + the clock's wall offset. */
uint64_t hv_wallclock_ns(void);
/* The WALLCLOCK hypercall; either pointer may be NULL. 0 or -HV_E*. */
int64_t hv_wallclock(uint64_t *wall_ns, uint64_t *mono_ns);

/* ---- Events, sleep ---------------------------------------------------- */
/*
 * Waits until an event in mask is pending or the monotonic deadline passes
 * (0: do not block, HV_POLL_FOREVER: no deadline), and returns the pending
 * bits of mask, cleared. HV_EVT_SHUTDOWN is always watched: when it comes,
 * the domain shuts down with shared_info->shutdown_request (no return).
 */
uint64_t hv_poll(uint64_t deadline_ns, uint64_t mask);
/* Sleeps in the host (POLL), never busy-waits. */
void hv_sleep_ns(uint64_t ns);
void hv_sleep_ms(uint64_t ms);

/* ---- Memory ----------------------------------------------------------- */
/*
 * Page-aligned memory from a bump allocator over the RAM between the image
 * and the boot stack (the top HVRT_BOOT_STACK_RESERVE bytes); never freed.
 * NULL when exhausted.
 */
#define HVRT_BOOT_STACK_RESERVE (64u << 10)
void *hv_alloc_pages(size_t npages);

/* ---- SMP -------------------------------------------------------------- */
#define HVRT_MAX_VCPUS 1024u
#define HVRT_VCPU_STACK_SIZE (64u << 10)
/*
 * Starts vCPU id (1 .. nr_vcpus-1) running fn(arg) on its own stack
 * (HVRT_VCPU_STACK_SIZE, allocated once per vCPU and reused). When fn
 * returns the vCPU goes down (VCPU_DOWN) and may be started again. Returns 0,
 * -HV_EINVAL (bad id or fn), -HV_EBUSY (it still runs fn), -HV_ERANGE (no
 * memory for the stack) or the host's error (-HV_EALREADY: the host still
 * runs that vCPU, e.g. one started without the runtime).
 */
int hv_vcpu_start(uint32_t id, void (*fn)(void *arg), void *arg);

static inline void hv_cpu_relax(void)
{
    __builtin_ia32_pause();
}

/* ---- Balloon and vCPU targets ----------------------------------------- */
/*
 * The runtime honours the host's targets itself, inside hv_poll (which then
 * may return 0 before its deadline): HV_EVT_MEMORY (shared_info->
 * mem_target_pages): free pages off the top of hv_alloc_pages' region go back
 * to the host with MEMORY_RELEASE, or are taken again with MEMORY_RECLAIM;
 * HV_EVT_VCPUS (shared_info->vcpus_target): vCPUs 1..target-1 are started
 * on an idle loop that sleeps in hv_poll, and those above the target go
 * down (within 20 ms). vCPU 0 always stays. A vCPU the guest runs itself
 * (hv_vcpu_start) is left alone. Nothing happens before the first such event.
 * These two bits are the runtime's: hv_poll never returns them, so a guest
 * cannot wait for them itself (read hv_balloon_pages/hv_vcpus_online).
 */
/* Pages given back to the host now. */
uint64_t hv_balloon_pages(void);
/* vCPU 0 plus the vCPUs the runtime keeps online for the host's target. */
uint32_t hv_vcpus_online(void);

/* ---- Store ------------------------------------------------------------ */
/*
 * A synchronous client of the host's store over the HV_DEV_STORE ring
 * (docs/guest-abi.md "Store ring"). The host serves it as this domain, so
 * relative paths ("data/x") are below /local/domain/<domid> and the store's
 * permissions and quotas apply. Calls return >= 0 or -HV_E* (the store's
 * errno names mapped to numbers), -HV_ENODEV without a store device,
 * -HV_ETIMEDOUT if the host does not answer within 30 s. One request at a
 * time: calls from several vCPUs take turns.
 */
#define HV_EPERM      1
#define HV_EIO        5
#define HV_E2BIG      7
#define HV_EAGAIN    11
#define HV_ENOMEM    12
#define HV_EACCES    13
#define HV_EEXIST    17
#define HV_ENODEV    19
#define HV_EISDIR    21
#define HV_ENOSPC    28
#define HV_EROFS     30
#define HV_ENOTEMPTY 39
#define HV_EISCONN  106
#define HV_ENOTCONN 107
#define HV_ETIMEDOUT 110
#define HV_EDQUOT   122

bool hv_store_present(void);
/* Copies the value into buf, NUL-terminated when it leaves room; returns
 * its length, or -HV_ERANGE when it is longer than buflen. */
int hv_store_read(const char *path, char *buf, size_t buflen);
int hv_store_write(const char *path, const void *data, size_t len);
int hv_store_mkdir(const char *path);
int hv_store_rm(const char *path);
/* The children's names, each NUL-terminated, one after the other; returns
 * the bytes used, or -HV_ERANGE. */
int hv_store_directory(const char *path, char *buf, size_t buflen);
/* A watch fires once when set, then on every change at or below path. */
int hv_store_watch(const char *path, const char *token);
int hv_store_unwatch(const char *path, const char *token);
/*
 * The next watch event (path and token, NUL-terminated): 0, or -HV_ETIMEDOUT
 * at the monotonic deadline (0: do not block; HV_POLL_FOREVER), -HV_ERANGE
 * when a buffer is too small (the event is dropped).
 */
int hv_store_wait_watch(char *path, size_t pathlen, char *token, size_t tokenlen,
                        uint64_t deadline_ns);
/*
 * Any request (docs/store.md "Wire protocol"): payload as the wire has it.
 * Returns the reply's length with the payload in reply and its type in
 * *reply_type (may be NULL), or the ERROR reply's error.
 */
int64_t hv_store_request(uint32_t type, uint32_t tx_id, const void *payload, size_t len,
                         void *reply, size_t replymax, uint32_t *reply_type);
/* "EACCES" for -HV_EACCES, and so on. */
const char *hv_store_strerror(int err);

/*
 * The guest agent: at most once a second writes data/uptime (whole seconds
 * since boot), without waiting for the reply. Called by the runtime before
 * it blocks; does nothing without a store device or while the store is busy.
 */
void hvrt_agent_tick(void);
/* A WRITE that never blocks (-HV_EBUSY, -HV_EAGAIN: try later); its reply
 * is dropped. For the agent. */
int hvrt_store_post_write(const char *path, const void *data, size_t len);

#endif /* HVRT_H */
