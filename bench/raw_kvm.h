/* SPDX-License-Identifier: MIT */
/*
 * The raw-KVM baseline of bench/lifecycle: the same minimal work as libhv,
 * written directly against <linux/kvm.h> with no libhv code. A memfd-backed
 * MAP_SHARED guest RAM, one vCPU in the CPL3 long-mode entry state of
 * docs/guest-abi.md (2 MiB user pages, a GDT with user segments and a TSS
 * whose I/O bitmap opens the hypercall ports), KVM_CAP_SYNC_REGS to read RDI
 * and write RAX on every exit, as libhv's vCPU loop does.
 */
#ifndef BENCH_RAW_KVM_H
#define BENCH_RAW_KVM_H

#include <stdint.h>

/* The /dev/kvm fd stays open across iterations, as libhv keeps its hv_t. */
struct raw_kvm {
    int kvm_fd;
    int run_size;  /* KVM_GET_VCPU_MMAP_SIZE */
};

/* 0, or -ENOENT/-EACCES/... when /dev/kvm cannot be opened or is unusable. */
int raw_kvm_open(struct raw_kvm *k, const char *path);
void raw_kvm_close(struct raw_kvm *k);

/* Where a lifecycle's time went, in ns (CLOCK_MONOTONIC). */
enum raw_kvm_phase {
    RAW_PHASE_CREATE,   /* VM, memfd RAM, memslot, vCPU, kvm_run mapping */
    RAW_PHASE_BUILD,    /* GDT, TSS, page tables, code; sregs, regs */
    RAW_PHASE_RUN,      /* KVM_RUN to the first hypercall exit */
    RAW_PHASE_DESTROY,  /* munmap and close everything */
    RAW_PHASES,
};

/*
 * One lifecycle: create a VM with mem_bytes of RAM and one vCPU, set up the
 * guest, run it to its first hypercall exit (an `out` to port 0x500), then
 * destroy everything. phase_ns (may be NULL) receives the duration of each
 * phase. 0 or a negative errno.
 */
int raw_kvm_lifecycle(struct raw_kvm *k, uint64_t mem_bytes,
                      uint64_t phase_ns[RAW_PHASES]);

/*
 * Creates a VM whose guest does `calls` hypercalls (`out` to 0x500) in a
 * loop then one `out` to 0x501, runs it to the end, and stores the mean
 * round trip between the first and the last of the loop's exits, in ns
 * ((t_N - t_1) / (N - 1)). calls >= 2. 0 or a negative errno.
 */
int raw_kvm_hcloop(struct raw_kvm *k, uint64_t mem_bytes, uint32_t calls,
                   double *ns_per_call);

#endif
