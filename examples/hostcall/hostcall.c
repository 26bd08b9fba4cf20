/* SPDX-License-Identifier: MIT */
/*
 * hostcall: a host function that a guest calls. The guest (guest/hostcall)
 * makes vendor hypercall 0x80 with the address of two numbers; the handler
 * reads them from guest memory and returns their sum, which the guest prints.
 * Usage: hostcall [KERNEL]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hv/abi.h>
#include <hv/hv.h>
#include <hv/hvguest.h>

#include "hostcall_abi.h"

#ifndef HV_EXAMPLE_GUEST_DIR
#define HV_EXAMPLE_GUEST_DIR "guest"
#endif

/* Runs on the vCPU thread; the guest pointer is only an address to check. */
static int64_t add(void *opaque, hv_domain_t *dom, uint32_t vcpu, uint64_t arg_gpa)
{
    struct hostcall_add args;

    (void)opaque, (void)vcpu;
    if (hv_domain_guest_read(dom, arg_gpa, &args, sizeof(args)) < 0)
        return -HV_EFAULT;
    return (int64_t)((uint64_t)args.a + (uint64_t)args.b); /* wraps, never UB */
}

static void on_console(void *opaque, hv_domain_t *dom, const char *data, size_t len)
{
    (void)opaque, (void)dom;
    fwrite(data, 1, len, stdout);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    hv_t *hv;
    hv_domain_t *dom;
    hv_domain_config_t cfg = {.size = sizeof(cfg), .name = "hostcall", .memory_mb = 64, .vcpus = 1};
    hvg_build_options_t build = {.size = sizeof(build),
                                 .kernel = argc > 1 ? argv[1] : HV_EXAMPLE_GUEST_DIR "/hostcall"};
    hv_exit_t ex = {.size = sizeof(ex)};

    int err = hv_open(&hv, NULL);
    if (err < 0) {
        fprintf(stderr, "hostcall: hv_open: %s\n", strerror(-err));
        return err == -ENOENT || err == -EACCES ? 77 : 1; /* 77: no KVM here */
    }
    if ((err = hv_domain_create(hv, &cfg, &dom)) < 0 ||
        (err = hv_domain_hostcall_register(dom, HOSTCALL_NR_ADD, add, NULL)) < 0 ||
        (err = hv_domain_console_set_callback(dom, on_console, NULL)) < 0 ||
        (err = hvg_build(dom, &build)) < 0 || (err = hv_domain_start(dom)) < 0 ||
        (err = hv_domain_wait(dom, &ex, -1)) < 0) {
        fprintf(stderr, "hostcall: %s\n", *hv_last_error(hv) ? hv_last_error(hv) : strerror(-err));
        hv_close(hv);
        return 1;
    }
    if (ex.reason != HV_EXIT_POWEROFF)
        fprintf(stderr, "hostcall: guest exit reason %d, vector %#x, rip %#llx\n",
                (int)ex.reason, ex.vector, (unsigned long long)ex.rip);
    hv_domain_destroy(dom);
    hv_close(hv);
    return ex.reason == HV_EXIT_POWEROFF ? 0 : 2;
}
