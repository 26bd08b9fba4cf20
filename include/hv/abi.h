/* SPDX-License-Identifier: MIT */
/*
 * libhv guest <-> host ABI, version 1.
 *
 * Freestanding: guests include this header too, so it uses only compiler
 * builtins and <stdint.h>. Every struct here has a fixed layout (checked by
 * the static assertions at the bottom); structs that may grow are
 * append-only and carry a size or version field. The prose specification is
 * docs/guest-abi.md.
 */
#ifndef HV_ABI_H
#define HV_ABI_H

#include <stdint.h>

#define HV_ABI_VERSION 1u
#define HV_START_MAGIC 0x49535648u /* "HVSI" little-endian */

#define HV_PAGE_SIZE 4096ull
#define HV_LARGE_PAGE_SIZE (2ull << 20)

/* ---- Guest-physical memory layout ------------------------------------ */
/* 0x0000-0x0fff is never mapped: a NULL dereference faults. */
#define HV_GPA_GDT         0x1000ull  /* builder-owned, supervisor-only */
#define HV_GPA_IDT         0x2000ull  /* 256 x 16-byte gates */
#define HV_GPA_TSS         0x3000ull  /* 0x68-byte TSS, I/O bitmap follows */
#define HV_TSS_IOMAP_OFF   0x68u
#define HV_TSS_IOMAP_BYTES 8192u      /* + one terminating 0xff byte */
#define HV_GPA_PML4        0x6000ull
#define HV_GPA_PDPT        0x7000ull
#define HV_GPA_PT0         0x8000ull  /* 4 KiB pages of the first 2 MiB */
#define HV_GPA_PD          0x9000ull  /* one page directory per GiB */
#define HV_MAX_PDS         7u
#define HV_GPA_START_INFO  0x10000ull /* read-only to the guest */
#define HV_GPA_SHARED_INFO 0x11000ull /* read-write, shared with the host */
#define HV_GPA_RINGS       0x12000ull /* device rings, up to HV_GPA_KERNEL */
#define HV_GPA_KERNEL      0x100000ull /* lowest address of a loaded image */

#define HV_MIN_MEMORY (4ull << 20)
#define HV_MAX_MEMORY ((uint64_t)HV_MAX_PDS << 30)

/* ---- CPU state at entry ---------------------------------------------- */
#define HV_SEL_KERNEL_CS 0x08u
#define HV_SEL_KERNEL_DS 0x10u
#define HV_SEL_USER_CS   0x1bu /* GDT index 3, RPL 3 */
#define HV_SEL_USER_DS   0x23u /* GDT index 4, RPL 3 */
#define HV_SEL_TSS       0x28u /* 16-byte descriptor, indexes 5-6 */
#define HV_GDT_ENTRIES   7u
#define HV_ENTRY_CR0     0x80000033ull /* PG|NE|ET|MP|PE */
#define HV_ENTRY_CR4     0x620ull      /* PAE|OSFXSR|OSXMMEXCPT */
#define HV_ENTRY_EFER    0x500ull      /* LME|LMA */
#define HV_ENTRY_RFLAGS  0x202ull

/* Port range that the TSS I/O bitmap opens to the guest. */
#define HV_PORT_FIRST 0x500u
#define HV_PORT_LAST  0x6ffu

/* ---- Hypercalls ------------------------------------------------------- */
/*
 * A hypercall is `out %al, %dx` with DX = HV_HC_PORT(nr) and RDI = the
 * guest-physical address of the argument struct (0 where nr takes none).
 * The result comes back in RAX: >= 0 on success, -HV_E* on failure; every
 * other register and RFLAGS are preserved. Output fields of the argument
 * struct are written before the guest resumes.
 */
#define HV_HC_BASE 0x500u
#define HV_HC_PORT(nr) (HV_HC_BASE + (nr))

#define HV_HC_CONSOLE_WRITE  0u
#define HV_HC_SHUTDOWN       1u
#define HV_HC_POLL           2u
#define HV_HC_WALLCLOCK      3u
#define HV_HC_VCPU_UP        4u
#define HV_HC_SET_TRAP_ENTRY 5u
#define HV_HC_CRASH          6u
#define HV_HC_VCPU_DOWN      7u
#define HV_HC_MEMORY_RELEASE 8u   /* give pages back to the host (balloon) */
#define HV_HC_MEMORY_RECLAIM 9u   /* take given-back pages again */
#define HV_HC_NR_CORE        10u  /* first unassigned core number */
#define HV_HC_VENDOR_FIRST   0x80u /* vendor host functions: 0x80-0xff */
#define HV_HC_VENDOR_LAST    0xffu

/* Doorbell ports of devices (ioeventfd), described by the device table. */
#define HV_DOORBELL_FIRST 0x600u
#define HV_DOORBELL_LAST  0x6ffu

/* Errors returned in RAX, negated. Same numbers as Linux errno. */
#define HV_ENOENT   2
#define HV_EFAULT  14
#define HV_EBUSY   16
#define HV_EINVAL  22
#define HV_ERANGE  34
#define HV_ENOSYS  38
#define HV_EALREADY 114

#define HV_CONSOLE_WRITE_MAX 4096u

struct hv_hc_console_write {
    uint64_t buf;   /* guest-physical address of the bytes */
    uint64_t len;   /* at most HV_CONSOLE_WRITE_MAX */
};

#define HV_SHUTDOWN_POWEROFF 0u
#define HV_SHUTDOWN_REBOOT   1u
#define HV_SHUTDOWN_CRASH    2u

struct hv_hc_shutdown {
    uint32_t reason; /* HV_SHUTDOWN_* */
    uint32_t code;   /* guest-chosen exit code, reported to the host */
};

#define HV_POLL_FOREVER UINT64_MAX

struct hv_hc_poll {
    uint64_t deadline_ns; /* guest monotonic time; 0 = do not block */
    uint64_t mask;        /* event bits that end the wait */
    uint64_t ready;       /* out: pending & mask, cleared atomically */
};

struct hv_hc_wallclock {
    uint64_t wall_ns;     /* out: nanoseconds since the Unix epoch */
    uint64_t mono_ns;     /* out: guest monotonic time at the same instant */
};

struct hv_hc_vcpu_up {
    uint32_t vcpu;        /* 1 .. nr_vcpus-1 */
    uint32_t reserved;
    uint64_t rip;         /* entry at CPL3, state as the boot vCPU's */
    uint64_t rsp;
    uint64_t arg;         /* passed in RDI */
};

/*
 * MEMORY_RELEASE: the host frees the pages (their contents are lost: they
 * read as zero when touched again) and counts them as given back;
 * MEMORY_RECLAIM counts them as in use again. gpa is page-aligned, the range
 * is RAM above HV_GPA_KERNEL. Returns the pages counted, or -HV_EINVAL /
 * -HV_EFAULT.
 */
struct hv_hc_memory {
    uint64_t gpa;
    uint64_t npages;
};

/*
 * The trap table: vector v (0..31) enters at rip + v * HV_TRAP_STRIDE at CPL3
 * on the current stack (so guests are built without a red zone). The CPU
 * pushes SS, RSP, RFLAGS, CS, RIP and, for vectors 8, 10-14, 17, 21, 29 and
 * 30, an error code.
 */
#define HV_TRAP_STRIDE  16u
#define HV_TRAP_VECTORS 32u

struct hv_hc_set_trap_entry {
    uint64_t rip;
};

struct hv_hc_crash {
    uint32_t vector;
    uint32_t reserved;
    uint64_t error_code;
    uint64_t rip;         /* faulting RIP as pushed by the CPU */
    uint64_t rsp;
};

/* ---- Start info (read-only page at HV_GPA_START_INFO) ------------------ */
#define HV_CMDLINE_MAX 1024u
#define HV_MAX_DEVICES 32u

#define HV_FEAT_SMP        (1ull << 0) /* VCPU_UP/VCPU_DOWN available */
#define HV_FEAT_TRAP_ENTRY (1ull << 1)
#define HV_FEAT_PVCLOCK    (1ull << 2)
#define HV_FEAT_BALLOON    (1ull << 3) /* memory target + MEMORY_RELEASE/RECLAIM */
#define HV_FEAT_VCPU_TARGET (1ull << 4) /* vcpus_target in shared info */

#define HV_DEV_NONE    0u
#define HV_DEV_CONSOLE 1u
#define HV_DEV_STORE   2u
#define HV_DEV_BLOCK   3u
#define HV_DEV_NET     4u

struct hv_device_desc {
    uint32_t type;          /* HV_DEV_* */
    uint32_t id;
    uint64_t ring_gpa;
    uint32_t ring_pages;
    uint16_t doorbell_port; /* in HV_DOORBELL_FIRST..LAST */
    uint8_t event_bit;      /* bit in hv_shared_info.evt_pending */
    uint8_t flags;
    uint64_t reserved[2];
};

struct hv_start_info {
    uint32_t magic;         /* HV_START_MAGIC */
    uint32_t version;       /* HV_ABI_VERSION */
    uint32_t size;          /* bytes the host filled; append-only */
    uint32_t nr_vcpus;
    uint64_t features;      /* HV_FEAT_* */
    uint64_t mem_size;      /* bytes of RAM from gpa 0 */
    uint64_t shared_info;   /* gpa of struct hv_shared_info */
    uint64_t image_start;   /* lowest byte of the loaded image */
    uint64_t image_end;     /* first byte past it: free memory begins here */
    uint64_t stack_top;     /* the boot vCPU's initial RSP */
    uint32_t domid;
    uint32_t nr_devices;
    uint8_t uuid[16];
    char cmdline[HV_CMDLINE_MAX]; /* NUL-terminated */
    struct hv_device_desc devices[HV_MAX_DEVICES];
    /* Nonzero: the builder already pointed the trap vectors at this table
     * (the image's HV_ELFNOTE_TRAP_ENTRY), so no SET_TRAP_ENTRY is needed. */
    uint64_t trap_entry;
};

/* ---- Store ring (device HV_DEV_STORE) --------------------------------- */
/*
 * One page at the device's ring_gpa, shared with the host. The guest writes
 * xenstore wire messages (docs/store.md: 16-byte header {type, req_id,
 * tx_id, len}, then len <= 4096 bytes) into req and rings the doorbell (an
 * `out` of any value to doorbell_port); the host answers in rsp and raises
 * event_bit. Indices are free-running byte counts: the producer bumps *_prod
 * after writing the bytes, the consumer bumps *_cons after reading them; the
 * bytes at index i live at [i % HV_STORE_RING_SIZE]. Watch events arrive in
 * rsp as WATCH_EVENT messages. The host serves the guest as its own domid,
 * so the store's permissions and quotas apply.
 */
#define HV_STORE_RING_SIZE 1024u

struct hv_store_ring {
    char req[HV_STORE_RING_SIZE];
    char rsp[HV_STORE_RING_SIZE];
    uint32_t req_cons;
    uint32_t req_prod;
    uint32_t rsp_cons;
    uint32_t rsp_prod;
};

/* ---- ELF notes of a guest image -------------------------------------- */
/*
 * Notes named HV_ELFNOTE_NAME in a PT_NOTE segment tell the builder about an
 * image before it runs (as Xen's ELF notes do). Unknown types are ignored.
 */
#define HV_ELFNOTE_NAME "libhv"
/* desc: uint64_t, the trap table that SET_TRAP_ENTRY would be given. */
#define HV_ELFNOTE_TRAP_ENTRY 1u

/* ---- Shared info (read-write page at HV_GPA_SHARED_INFO) -------------- */
/*
 * Monotonic time: ns = ns_base + scale(rdtsc() - tsc_base), where scale()
 * shifts the delta left by `shift` (right by -shift when negative), then
 * multiplies by mul / 2^32. Read under the seqlock: `version` is odd while
 * the host writes; retry if it is odd or changed.
 */
struct hv_pvclock {
    uint32_t version;
    uint32_t mul;
    uint64_t tsc_base;
    uint64_t ns_base;
    int64_t wall_offset_ns; /* wall time = monotonic + wall_offset_ns */
    int8_t shift;
    uint8_t reserved[7];
};

#define HV_EVT_SHUTDOWN 0u  /* the host asks for shutdown_request */
#define HV_EVT_HOST     1u  /* a generic notification from the host */
#define HV_EVT_MEMORY   2u  /* mem_target_pages changed */
#define HV_EVT_VCPUS    3u  /* vcpus_target changed */
#define HV_EVT_DEVICE_FIRST 8u

struct hv_shared_info {
    uint64_t evt_pending;   /* host sets bits atomically; POLL clears */
    uint32_t shutdown_request; /* HV_SHUTDOWN_* valid with HV_EVT_SHUTDOWN */
    uint32_t reserved0;
    struct hv_pvclock clock;
    /* Written by the host, read by the guest after the matching event. */
    uint64_t mem_target_pages; /* 4 KiB pages of RAM the guest should use */
    uint32_t vcpus_target;     /* vCPUs the guest should keep online */
    uint32_t reserved1;
    uint64_t reserved[14];
};

/* ---- Layout checks ---------------------------------------------------- */
#define HV_ABI_ASSERT_SIZE(type, bytes) \
    _Static_assert(sizeof(type) == (bytes), #type " is ABI: its size is fixed")
HV_ABI_ASSERT_SIZE(struct hv_hc_console_write, 16);
HV_ABI_ASSERT_SIZE(struct hv_hc_shutdown, 8);
HV_ABI_ASSERT_SIZE(struct hv_hc_poll, 24);
HV_ABI_ASSERT_SIZE(struct hv_hc_wallclock, 16);
HV_ABI_ASSERT_SIZE(struct hv_hc_vcpu_up, 32);
HV_ABI_ASSERT_SIZE(struct hv_hc_set_trap_entry, 8);
HV_ABI_ASSERT_SIZE(struct hv_hc_crash, 32);
HV_ABI_ASSERT_SIZE(struct hv_hc_memory, 16);
HV_ABI_ASSERT_SIZE(struct hv_store_ring, 2064);
HV_ABI_ASSERT_SIZE(struct hv_device_desc, 40);
HV_ABI_ASSERT_SIZE(struct hv_pvclock, 40);
HV_ABI_ASSERT_SIZE(struct hv_shared_info, 184);
HV_ABI_ASSERT_SIZE(struct hv_start_info, 72 + 16 + HV_CMDLINE_MAX + 40 * HV_MAX_DEVICES + 8);
_Static_assert(sizeof(struct hv_start_info) <= HV_PAGE_SIZE, "start info fits its page");

#endif /* HV_ABI_H */
