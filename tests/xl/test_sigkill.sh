#!/bin/bash
# SPDX-License-Identifier: MIT
# A monitor killed by SIGKILL: within 1 s @releaseDomain fires, the domain's
# store subtree is gone and xl list no longer shows it; its domid can be used
# again.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

cfg k.cfg victim counter 'cmdline = "100"'
cfg o.cfg other sleep 'cmdline = "600000"'
"$XL" create -q o.cfg || fail "create other"
"$XL" create -q k.cfg || fail "create victim"
id=$(json_field victim domid)
pid=$(json_field victim monitor_pid)
[ -n "$id" ] && [ -n "$pid" ] || fail "no domid/monitor_pid in list -l: $("$XL" list -l)"
"$HVSTORE" ls "/local/domain/$id" >/dev/null || fail "no /local/domain/$id"

# The watch fires once when set: wait for that, then for the release.
exec {W}< <(exec "$HVSTORE" watch -n 2 @releaseDomain)
read -r -t 10 first <&"$W" || fail "the watch did not start"
kill -9 "$pid"
read -r -t 1 ev <&"$W" || fail "no @releaseDomain within 1 s of SIGKILL"
case $ev in
@releaseDomain*) ;;
*) fail "watch said: $ev" ;;
esac
"$HVSTORE" ls "/local/domain/$id" >/dev/null 2>&1 && fail "/local/domain/$id is still there"
[ -z "$(list_line victim)" ] || fail "victim still listed: $("$XL" list)"
[ -n "$(list_line other)" ] || fail "the other domain went too"
[ -e "$HV_RUNDIR/domains/$id.sock" ] && fail "the control socket of $id is left"
"$XL" pause "$id" 2>/dev/null && fail "pause of a dead domain succeeded"

# The name is free again.
"$XL" create -q k.cfg || fail "create victim again"
[ -n "$(list_line victim)" ] || fail "victim not listed again"

# SIGTERM: the monitor destroys its domain itself and exits.
pid=$(json_field victim monitor_pid)
exec {W2}< <(exec "$HVSTORE" watch -n 2 @releaseDomain)
read -r -t 10 first <&"$W2" || fail "the second watch did not start"
kill -TERM "$pid"
read -r -t 10 ev <&"$W2" || fail "no @releaseDomain after SIGTERM"
[ -z "$(list_line victim)" ] || fail "victim still listed after SIGTERM"
grep -q "signal 15: destroying the domain" "$HV_RUNDIR/logs/victim.log" ||
    fail "the monitor did not log the signal: $(tail -n 5 "$HV_RUNDIR/logs/victim.log")"
exit 0
