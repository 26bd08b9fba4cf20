/* SPDX-License-Identifier: MIT */
/*
 * The vendor hypercalls of the hostcall and hcbench test guests, shared with
 * the host side (examples/hostcall, tests). Freestanding: <stdint.h> only.
 */
#ifndef HV_GUEST_HOSTCALL_ABI_H
#define HV_GUEST_HOSTCALL_ABI_H

#include <stdint.h>

/* RDI = gpa of struct hostcall_add; RAX = a + b (or -HV_E*). */
#define HOSTCALL_NR_ADD 0x80u
/* No argument (RDI = 0); RAX = 0. The hcbench guest calls it in a loop. */
#define HOSTCALL_NR_NOP 0x81u

struct hostcall_add {
    int64_t a;
    int64_t b;
};

_Static_assert(sizeof(struct hostcall_add) == 16, "struct hostcall_add is ABI");

#endif
