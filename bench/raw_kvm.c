/* SPDX-License-Identifier: MIT */
/*
 * The raw-KVM baseline: see raw_kvm.h. Deliberately self-contained (no libhv
 * headers, not even abi.h) so the baseline shares no code with what it is
 * compared against; the constants below are the ones of the ABI and of
 * ../shared/docs/kvm-host-notes.md ("Setup that works for a CPL3 long-mode
 * guest").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "raw_kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GPA_GDT   0x1000ull
#define GPA_TSS   0x3000ull
#define GPA_PML4  0x6000ull
#define GPA_PDPT  0x7000ull
#define GPA_PD    0x9000ull
#define GPA_START 0x10000ull  /* what RDI points at, as libhv's start info */
#define GPA_CODE  0x100000ull

#define TSS_IOMAP_OFF   0x68u
#define TSS_IOMAP_BYTES 8192u
#define PORT_FIRST      0x500u
#define PORT_LAST       0x6ffu
#define PORT_HC         0x500u
#define PORT_END        0x501u

#define LARGE_PAGE (2ull << 20)

#define SEL_USER_CS 0x1b
#define SEL_USER_DS 0x23
#define SEL_TSS     0x28

/* mov $0x10000,%edi; mov $0x500,%edx; out %al,%dx; jmp . */
static const uint8_t code_once[] = {
    0xbf, 0x00, 0x00, 0x01, 0x00,
    0xba, 0x00, 0x05, 0x00, 0x00,
    0xee,
    0xeb, 0xfe,
};

/*
 * mov $0x10000,%edi; mov $0x500,%edx; mov $N,%ecx;
 * 1: out %al,%dx; dec %ecx; jnz 1b;
 * mov $0x501,%edx; out %al,%dx; jmp .
 */
#define LOOP_N_OFF 11
static const uint8_t code_loop[] = {
    0xbf, 0x00, 0x00, 0x01, 0x00,
    0xba, 0x00, 0x05, 0x00, 0x00,
    0xb9, 0x00, 0x00, 0x00, 0x00,
    0xee,
    0xff, 0xc9,
    0x75, 0xfb,
    0xba, 0x01, 0x05, 0x00, 0x00,
    0xee,
    0xeb, 0xfe,
};

struct raw_vm {
    int vm_fd;
    int mem_fd;
    uint8_t *mem;
    uint64_t mem_bytes;
    int vcpu_fd;
    struct kvm_run *run;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int raw_kvm_open(struct raw_kvm *k, const char *path)
{
    k->kvm_fd = open(path ? path : "/dev/kvm", O_RDWR | O_CLOEXEC);
    if (k->kvm_fd < 0)
        return -errno;
    int err = 0;
    if (ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        err = -ENOTSUP;
        goto fail;
    }
    int sync = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    if (sync < 0 || !(sync & KVM_SYNC_X86_REGS)) {
        err = -ENOTSUP;
        goto fail;
    }
    k->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (k->run_size <= 0) {
        err = k->run_size < 0 ? -errno : -EINVAL;
        goto fail;
    }
    return 0;
fail:
    close(k->kvm_fd);
    k->kvm_fd = -1;
    return err;
}

void raw_kvm_close(struct raw_kvm *k)
{
    if (k->kvm_fd >= 0)
        close(k->kvm_fd);
    k->kvm_fd = -1;
}

static void put_gdt(uint8_t *mem)
{
    uint64_t *gdt = (uint64_t *)(mem + GPA_GDT);
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFFull; /* 0x08 kernel code64 */
    gdt[2] = 0x00CF92000000FFFFull; /* 0x10 kernel data */
    gdt[3] = 0x00AFFA000000FFFFull; /* 0x18 user code64, DPL3 */
    gdt[4] = 0x00CFF2000000FFFFull; /* 0x20 user data, DPL3 */
    /* 0x28: 64-bit available TSS (type 9, present), 16 bytes. */
    uint64_t base = GPA_TSS;
    uint64_t limit = TSS_IOMAP_OFF + TSS_IOMAP_BYTES; /* + the 0xff byte - 1 */
    gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[6] = base >> 32;
}

static void put_tss(uint8_t *mem)
{
    uint8_t *tss = mem + GPA_TSS;
    memset(tss, 0, TSS_IOMAP_OFF);
    uint16_t iomap = TSS_IOMAP_OFF;
    memcpy(tss + 102, &iomap, sizeof iomap);
    uint8_t *bm = tss + TSS_IOMAP_OFF;
    memset(bm, 0xff, TSS_IOMAP_BYTES + 1);
    /* PORT_FIRST and PORT_LAST + 1 are multiples of 8: clear whole bytes. */
    memset(bm + PORT_FIRST / 8, 0, (PORT_LAST + 1 - PORT_FIRST) / 8);
}

static void put_page_tables(uint8_t *mem, uint64_t mem_bytes)
{
    uint64_t *pml4 = (uint64_t *)(mem + GPA_PML4);
    uint64_t *pdpt = (uint64_t *)(mem + GPA_PDPT);
    uint64_t *pd = (uint64_t *)(mem + GPA_PD);
    pml4[0] = GPA_PDPT | 0x7;
    pdpt[0] = GPA_PD | 0x7;
    for (uint64_t i = 0; i < mem_bytes / LARGE_PAGE && i < 512; i++)
        pd[i] = i * LARGE_PAGE | 0x87;
}

static void seg_user_data(struct kvm_segment *s)
{
    *s = (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = SEL_USER_DS,
        .type = 3, .present = 1, .dpl = 3, .db = 1, .s = 1, .g = 1,
    };
}

static int vcpu_setup(struct raw_vm *vm, uint64_t rip)
{
    struct kvm_sregs sr;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
        return -errno;
    sr.cs = (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = SEL_USER_CS,
        .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1,
    };
    seg_user_data(&sr.ds);
    seg_user_data(&sr.es);
    seg_user_data(&sr.fs);
    seg_user_data(&sr.gs);
    seg_user_data(&sr.ss);
    sr.tr = (struct kvm_segment){
        .base = GPA_TSS, .limit = TSS_IOMAP_OFF + TSS_IOMAP_BYTES,
        .selector = SEL_TSS, .type = 11, .present = 1,
    };
    sr.gdt.base = GPA_GDT;
    sr.gdt.limit = 7 * 8 - 1;
    sr.idt.base = 0;
    sr.idt.limit = 0;
    sr.cr0 = 0x80000033ull;
    sr.cr3 = GPA_PML4;
    sr.cr4 = 0x620ull;
    sr.efer = 0x500ull;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sr) < 0)
        return -errno;

    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = rip;
    r.rsp = vm->mem_bytes;
    r.rdi = GPA_START;
    r.rflags = 0x202;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    /* Every exit brings the registers in kvm_run, as libhv asks for. */
    vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    return 0;
}

static void vm_free(struct raw_kvm *k, struct raw_vm *vm)
{
    if (vm->run)
        munmap(vm->run, (size_t)k->run_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->mem)
        munmap(vm->mem, vm->mem_bytes);
    if (vm->mem_fd >= 0)
        close(vm->mem_fd);
}

static int vm_create(struct raw_kvm *k, struct raw_vm *vm, uint64_t mem_bytes)
{
    *vm = (struct raw_vm){ .vm_fd = -1, .mem_fd = -1, .vcpu_fd = -1,
                           .mem_bytes = mem_bytes };
    int err;
    vm->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        goto errno_fail;
    vm->mem_fd = memfd_create("raw-kvm-ram", MFD_CLOEXEC);
    if (vm->mem_fd < 0)
        goto errno_fail;
    if (ftruncate(vm->mem_fd, (off_t)mem_bytes) < 0)
        goto errno_fail;
    void *mem = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                     vm->mem_fd, 0);
    if (mem == MAP_FAILED)
        goto errno_fail;
    vm->mem = mem;

    struct kvm_userspace_memory_region region = {
        .slot = 0, .flags = 0, .guest_phys_addr = 0,
        .memory_size = mem_bytes, .userspace_addr = (uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        goto errno_fail;

    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        goto errno_fail;
    void *run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED, vm->vcpu_fd, 0);
    if (run == MAP_FAILED)
        goto errno_fail;
    vm->run = run;
    return 0;
errno_fail:
    err = -errno;
    vm_free(k, vm);
    return err;
}

/* Writes the guest's low memory and code and its boot vCPU state. */
static int vm_build(struct raw_kvm *k, struct raw_vm *vm, const uint8_t *code,
                    size_t code_len)
{
    put_gdt(vm->mem);
    put_tss(vm->mem);
    put_page_tables(vm->mem, vm->mem_bytes);
    memcpy(vm->mem + GPA_CODE, code, code_len);
    int err = vcpu_setup(vm, GPA_CODE);
    if (err)
        vm_free(k, vm);
    return err;
}

/*
 * Runs until an exit that is not a hypercall on PORT_HC. Each PORT_HC exit
 * does what libhv does per hypercall: read the port and RDI from kvm_run,
 * write the result to RAX through the synced registers. Returns the port of
 * the last exit, or a negative errno.
 */
static int vm_run(struct raw_vm *vm, uint32_t stop_after, uint32_t mark_at,
                  uint64_t *t_first, uint64_t *t_mark)
{
    struct kvm_run *run = vm->run;
    uint32_t seen = 0;
    for (;;) {
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        if (run->exit_reason != KVM_EXIT_IO ||
            run->io.direction != KVM_EXIT_IO_OUT) {
            fprintf(stderr, "raw_kvm: unexpected exit %u (rip 0x%llx)\n",
                    run->exit_reason, (unsigned long long)run->s.regs.regs.rip);
            return -EIO;
        }
        uint16_t port = run->io.port;
        if (port != PORT_HC)
            return port;
        seen++;
        if (seen == 1 && t_first)
            *t_first = now_ns();
        if (seen == mark_at && t_mark)
            *t_mark = now_ns();
        /* Read RDI as libhv does (the compiler must not drop it). */
        uint64_t rdi = run->s.regs.regs.rdi;
        __asm__ volatile("" : : "r"(rdi));
        if (seen == stop_after)
            return port;
        run->s.regs.regs.rax = 0;
        run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
    }
}

int raw_kvm_lifecycle(struct raw_kvm *k, uint64_t mem_bytes,
                      uint64_t phase_ns[RAW_PHASES])
{
    struct raw_vm vm;
    uint64_t t[RAW_PHASES + 1];
    t[0] = now_ns();
    int err = vm_create(k, &vm, mem_bytes);
    if (err)
        return err;
    t[1] = now_ns();
    err = vm_build(k, &vm, code_once, sizeof code_once);
    if (err)
        return err;
    t[2] = now_ns();
    int port = vm_run(&vm, 1, 0, NULL, NULL);
    t[3] = now_ns();
    vm_free(k, &vm);
    t[4] = now_ns();
    if (phase_ns)
        for (int i = 0; i < RAW_PHASES; i++)
            phase_ns[i] = t[i + 1] - t[i];
    return port == PORT_HC ? 0 : port < 0 ? port : -EIO;
}

int raw_kvm_hcloop(struct raw_kvm *k, uint64_t mem_bytes, uint32_t calls,
                   double *ns_per_call)
{
    if (calls < 2 || calls > INT32_MAX)
        return -EINVAL;
    uint8_t code[sizeof code_loop];
    memcpy(code, code_loop, sizeof code);
    memcpy(code + LOOP_N_OFF, &calls, sizeof calls);
    struct raw_vm vm;
    int err = vm_create(k, &vm, mem_bytes);
    if (!err)
        err = vm_build(k, &vm, code, sizeof code);
    if (err)
        return err;
    uint64_t t1 = 0, tn = 0;
    int port = vm_run(&vm, 0, calls, &t1, &tn);
    vm_free(k, &vm);
    if (port < 0)
        return port;
    if (port != PORT_END || !t1 || !tn)
        return -EIO;
    *ns_per_call = (double)(tn - t1) / (double)(calls - 1);
    return 0;
}
