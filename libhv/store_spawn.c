/* SPDX-License-Identifier: MIT */
/* Starting hvstored when no store daemon answers (DESIGN.md section 3). STUB. */
#include <errno.h>

#include "internal.h"

int store_spawn(hv_t *hv, const char *socket_path) { (void)hv; (void)socket_path; return -ENOSYS; }
