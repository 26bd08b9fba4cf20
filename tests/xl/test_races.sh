#!/bin/bash
# SPDX-License-Identifier: MIT
# A destroy that reaches a preserved domain's monitor between the guest's exit
# and the monitor's handling of it is not lost: the monitor is held there by
# its own log (a pipe kept full by race_helper), the destroy is answered, then
# the log is let go; the domain must go.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

mkdir -p "$HV_RUNDIR/logs"
coproc GATE { exec "$RACE_HELPER" gate "$HV_RUNDIR/logs/pr.log" 64 2>"$T/pr.log"; }
read -r -t 10 line <&"${GATE[0]}" && [ "$line" = ready ] || fail "gate: $line"

cfg p.cfg pr counter 'on_poweroff = "preserve"'
"$XL" create -q p.cfg || fail "create pr"
id=$(json_field pr domid)
[ -n "$id" ] || fail "no domid"

# From here on libhv's "exited" line fits in the log, the monitor's does not.
echo close >&"${GATE[1]}"
read -r -t 10 line <&"${GATE[0]}" && [ "$line" = closed ] || fail "gate close: $line"
"$XL" shutdown pr || fail "shutdown pr"
# Until the guest has exited (the control thread still answers).
timeout 30 bash -c 'until "$0" list pr | grep -q " ---s-- "; do :; done' "$XL" ||
    fail "pr did not shut down: $("$XL" list)"

exec {D}< <(exec timeout 30 "$RACE_HELPER" destroy "$HV_RUNDIR/domains/$id.sock")
read -r -t 30 line <&"$D" && [ "$line" = replied ] || fail "destroy: $line"
echo open >&"${GATE[1]}"
read -r -t 30 line <&"$D" && [ "$line" = closed ] ||
    fail "the monitor did not destroy pr after a destroy during its exit"
[ -z "$(list_line pr)" ] || fail "pr still listed: $("$XL" list)"
exit 0
