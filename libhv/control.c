/* SPDX-License-Identifier: MIT */
/* The monitor's control socket (docs/control-protocol.md). STUB. */
#include <errno.h>

#include "internal.h"

int control_start(struct hv_domain *d) { (void)d; return 0; }
void control_stop(struct hv_domain *d) { (void)d; }
void control_event(struct hv_domain *d, const char *event) { (void)d; (void)event; }
