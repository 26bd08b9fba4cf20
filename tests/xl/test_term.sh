#!/bin/bash
# SPDX-License-Identifier: MIT
# The terminal modes xl top and xl console change come back when a signal
# ends them; a background xl console leaves the terminal alone (and is not
# stopped for touching it). race_helper runs them on a pty of its own.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

cfg c.cfg ctr counter 'cmdline = "20"'
"$XL" create -q c.cfg || fail "create ctr"

out=$(timeout 60 "$RACE_HELPER" pty intr "xl top - " "$XL" top -d 600 2>&1) ||
    fail "xl top and Ctrl-C: $out"
out=$(timeout 60 "$RACE_HELPER" pty term "count=" "$XL" console ctr 2>&1) ||
    fail "xl console and SIGTERM: $out"
out=$(timeout 60 "$RACE_HELPER" pty bg-term "count=" "$XL" console ctr 2>&1) ||
    fail "xl console in the background: $out"
"$XL" destroy ctr || fail "destroy ctr"
exit 0
