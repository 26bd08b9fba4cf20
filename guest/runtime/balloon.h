/* SPDX-License-Identifier: MIT */
/* The runtime's side of the host's memory and vCPU targets (balloon.c). */
#ifndef HVRT_BALLOON_H
#define HVRT_BALLOON_H

#include <stdint.h>

/* alloc.c: pages off the top of the allocator's free region, and back. */
/* Takes up to npages; returns how many, the first at *gpa. */
uint64_t hvrt_alloc_shrink(uint64_t npages, uint64_t *gpa);
/* Returns npages taken by hvrt_alloc_shrink (the most recent first). */
void hvrt_alloc_grow(uint64_t npages);

/* balloon.c */
/* The event bits the runtime handles itself (per the host's features). */
uint64_t hvrt_targets_mask(void);
/* Called by hv_poll with the runtime's bits that were ready (may be 0). */
void hvrt_targets_event(uint64_t ready);

/* The guest agent (agent.c), run by hv_poll before it may block. */
void hvrt_agent_tick(void);

#endif
