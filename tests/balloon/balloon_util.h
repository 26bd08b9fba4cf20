/* SPDX-License-Identifier: MIT */
/* Shared by the balloon tests: domains of the balloon guest with a config. */
#ifndef TESTS_BALLOON_UTIL_H
#define TESTS_BALLOON_UTIL_H

#include "testutil.h"

/* The balloon guest with cmdline, registered with env (teardown destroys it). */
hv_domain_t *bu_domain(struct tu_env *env, const char *cmdline, uint64_t mem_mb,
                       uint64_t maxmem_mb, uint32_t vcpus, uint32_t vcpus_online,
                       struct tu_console **con);
/* Waits for the next "balloon: pages=P vcpus=V" line matching; asserts. */
void bu_wait_state(struct tu_console *con, uint64_t pages, uint32_t vcpus);

#endif
