/* SPDX-License-Identifier: MIT */
/* The arithmetic of the pvclock record (struct hv_pvclock). */
#include "rt.h"

/* scale(delta): shift left by shift (right by -shift), then * mul / 2^32. */
uint64_t hvrt_pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift >= 0)
        delta = shift < 64 ? delta << shift : 0;
    else
        delta = shift > -64 ? delta >> -shift : 0;
    return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

/* A TSC reading before tsc_base (another vCPU's record update racing
 * with this read) counts as delta 0: time never runs backwards. */
uint64_t hvrt_pvclock_ns(uint64_t tsc, uint64_t tsc_base, uint64_t ns_base,
                         uint32_t mul, int8_t shift)
{
    uint64_t delta = (int64_t)(tsc - tsc_base) > 0 ? tsc - tsc_base : 0;

    return ns_base + hvrt_pvclock_scale(delta, mul, shift);
}
