/* SPDX-License-Identifier: MIT */
/*
 * smp [N]: runs N vCPUs (the boot one and 1..N-1 via VCPU_UP), each counting
 * to COUNT in its own cache line, and reports each count.
 */
#include <hvrt.h>

#define COUNT 20000000ull
#define MAX_VCPUS 64

struct slot {
    volatile uint64_t count;
    char pad[64 - sizeof(uint64_t)];
} __attribute__((aligned(64)));

static struct slot slots[MAX_VCPUS];
static uint32_t done;

static void count(uint32_t id)
{
    for (uint64_t i = 0; i < COUNT; i++)
        slots[id].count = slots[id].count + 1;
    __atomic_add_fetch(&done, 1, __ATOMIC_RELEASE);
}

static void secondary(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;

    printf("smp: vcpu %u up\n", id);
    count(id);
}

int main(int argc, char **argv)
{
    uint64_t n = hv_arg_u64(argc, argv, 1, 4);
    uint32_t nr = hv_nr_vcpus();

    if (n == 0 || n > MAX_VCPUS) {
        printf("smp: bad vcpu count %lu (1..%u)\n", (unsigned long)n, MAX_VCPUS);
        return 1;
    }
    if (n > nr) {
        printf("smp: only %u vcpus\n", nr);
        return 1;
    }
    for (uint32_t id = 1; id < n; id++) {
        int r = hv_vcpu_start(id, secondary, (void *)(uintptr_t)id);
        if (r < 0) {
            printf("smp: vcpu %u start failed %d\n", id, r);
            return 1;
        }
    }
    count(0);
    while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < n)
        hv_sleep_ms(1);

    bool ok = true;
    for (uint32_t id = 0; id < n; id++) {
        printf("smp: vcpu %u counted %lu\n", id, (unsigned long)slots[id].count);
        ok = ok && slots[id].count == COUNT;
    }
    if (!ok) {
        printf("smp: bad count\n");
        return 1;
    }
    printf("smp: ok %u\n", (unsigned)n);
    return 0;
}
