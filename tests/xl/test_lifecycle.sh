#!/bin/bash
# SPDX-License-Identifier: MIT
# xl create, list, console, pause/unpause from other processes (remote
# handles), vcpu-list, uptime, info, top, shutdown -w, destroy.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

cfg ctr.cfg ctr counter 'cmdline = "50"'
cfg hello.cfg hi hello

out=$("$XL" create ctr.cfg 2>&1) || fail "create: $out"
[ "$out" = "Parsing config from ctr.cfg" ] || fail "create said: $out"
line=$(list_line ctr)
[ -n "$line" ] || fail "list does not show ctr: $("$XL" list)"
set -- $line
[ "${5:-}" = "r-----" ] || fail "ctr is not running: $line"
[ "${3:-}" = 8 ] || fail "ctr's memory is not 8 MiB: $line"
id=$2
"$XL" list "$id" | grep -q '^ctr ' || fail "list by domid"
"$XL" list ctr | grep -q '^ctr ' || fail "list by name"

# The console from another process: counter's lines.
timeout 30 "$XL" console ctr | grep -m1 -q '^count=' || fail "console shows no count= line"

# create -c: the whole output of a short guest, then xl returns.
out=$(timeout 30 "$XL" create -q -c hello.cfg) || fail "create -c: $?"
[ "$out" = "hello from libhv guest" ] || fail "create -c printed: $out"

# Each xl is a second process: pause goes through the remote handle.
"$XL" pause ctr || fail "pause"
set -- $(list_line ctr)
[ "${5:-}" = "--p---" ] || fail "not paused: $*"
"$XL" pause ctr || fail "pause twice"
"$XL" unpause "$id" || fail "unpause by domid"
set -- $(list_line ctr)
[ "${5:-}" = "r-----" ] || fail "not running again: $*"

"$XL" vcpu-list ctr | awk -v id="$id" '$1 == "ctr" && $2 == id && $3 == 0 { f = 1 } END { exit !f }' ||
    fail "vcpu-list: $("$XL" vcpu-list ctr)"
"$XL" uptime | awk '$1 == "ctr" { f = 1 } END { exit !f }' || fail "uptime"
"$XL" info | grep -q '^nr_domains *: 1$' || fail "info: $("$XL" info)"
"$XL" info | grep -q "^store *: unix:$HV_RUNDIR/store.sock\$" || fail "info store"
out=$("$XL" top -b -i 2 -d 0.05) || fail "top"
[ "$(echo "$out" | grep -c '^ *ctr r-----')" = 2 ] || fail "top: $out"

# shutdown -w returns once the domain is gone.
"$XL" shutdown -w ctr || fail "shutdown -w"
[ -z "$(list_line ctr)" ] || fail "ctr still listed after shutdown -w"
"$XL" shutdown ctr 2>/dev/null && fail "shutdown of a gone domain succeeded"

# destroy returns once the domain is gone, by name or domid.
"$XL" create -q ctr.cfg || fail "create again"
"$XL" destroy ctr || fail "destroy"
[ -z "$(list_line ctr)" ] || fail "ctr still listed after destroy"
"$XL" create -q ctr.cfg || fail "create a third time"
id=$(json_field ctr domid)
"$XL" destroy "$id" || fail "destroy by domid"
[ -z "$("$XL" list | sed 1d)" ] || fail "domains left: $("$XL" list)"
[ -z "$(ls "$HV_RUNDIR/domains" 2>/dev/null)" ] || fail "sockets left: $(ls "$HV_RUNDIR/domains")"
exit 0
