/* SPDX-License-Identifier: MIT */
/* hello: boot a guest on libhv and show its console. Usage: hello [KERNEL] */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hv/hv.h>
#include <hv/hvguest.h>

#ifndef HV_EXAMPLE_GUEST_DIR
#define HV_EXAMPLE_GUEST_DIR "guest"
#endif

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
    hv_domain_config_t cfg = {.size = sizeof(cfg), .name = "hello", .memory_mb = 64, .vcpus = 1};
    hvg_build_options_t build = {.size = sizeof(build),
                                 .kernel = argc > 1 ? argv[1] : HV_EXAMPLE_GUEST_DIR "/hello"};
    hv_exit_t ex = {.size = sizeof(ex)};
    static const char *const reasons[] = {"none", "poweroff", "reboot", "crash"};

    int err = hv_open(&hv, NULL); /* NULL: default options */
    if (err < 0) {
        fprintf(stderr, "hello: hv_open: %s\n", strerror(-err));
        return err == -ENOENT || err == -EACCES ? 77 : 1; /* 77: no KVM here */
    }
    if ((err = hv_domain_create(hv, &cfg, &dom)) < 0 ||
        (err = hv_domain_console_set_callback(dom, on_console, NULL)) < 0 ||
        (err = hvg_build(dom, &build)) < 0 || (err = hv_domain_start(dom)) < 0 ||
        (err = hv_domain_wait(dom, &ex, -1)) < 0) {
        fprintf(stderr, "hello: %s\n", *hv_last_error(hv) ? hv_last_error(hv) : strerror(-err));
        hv_close(hv); /* also destroys the domain */
        return 1;
    }
    if (ex.reason != HV_EXIT_POWEROFF)
        fprintf(stderr, "hello: guest exit: %s, code %u, vector %#x, rip %#llx\n",
                (unsigned)ex.reason < 4 ? reasons[ex.reason] : "?", ex.code, ex.vector,
                (unsigned long long)ex.rip);
    hv_domain_destroy(dom);
    hv_close(hv);
    return ex.reason == HV_EXIT_POWEROFF ? 0 : 2;
}
