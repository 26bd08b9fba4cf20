#!/bin/bash
# SPDX-License-Identifier: MIT
# A fresh machine: no hvstored runs and HV_STORE is unset; xl create works,
# libhv starting the daemon on the run dir's socket (killed by lib.sh's
# cleanup: it carries our HV_RUNDIR in its environment).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

[ -z "${HV_STORE+set}" ] || fail "HV_STORE is set"
cfg h.cfg fresh hello
out=$(timeout 30 "$XL" create -q -c h.cfg) || fail "create -c on a fresh machine"
[ "$out" = "hello from libhv guest" ] || fail "create -c printed: $out"
[ -S "$HV_RUNDIR/store.sock" ] || fail "no store socket in the run dir"
"$XL" info | grep -q "^store *: unix:$HV_RUNDIR/store.sock\$" || fail "info: $("$XL" info)"
cfg c.cfg fresh2 counter
"$XL" create -q c.cfg || fail "create fresh2"
[ -n "$(list_line fresh2)" ] || fail "fresh2 not listed"
"$XL" destroy fresh2 || fail "destroy fresh2"
exit 0
