#!/bin/bash
# SPDX-License-Identifier: MIT
# on_reboot=restart really restarts (a new domain, same name and uuid);
# on_crash=preserve keeps the crashed domain, listed, until xl destroy.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

cfg r.cfg rb counter 'cmdline = "50"' 'on_reboot = "restart"'
"$XL" create -q r.cfg || fail "create rb"
old=$(json_field rb domid)
uuid=$("$XL" list -l rb | sed -n 's/^        "uuid": "\(.*\)",$/\1/p')

# The name index changes twice (released, claimed again): follow it.
exec {W}< <(exec "$HVSTORE" watch /tool/hv/name/rb)
read -r -t 10 first <&"$W" || fail "the watch did not start"
"$XL" reboot rb || fail "reboot"
new=$old
for _ in 1 2 3 4 5 6 7 8; do
    read -r -t 20 ev <&"$W" || fail "no restart: $("$XL" list)"
    new=$("$HVSTORE" read /tool/hv/name/rb 2>/dev/null) || continue
    [ "$new" != "$old" ] && break
done
[ "$new" != "$old" ] || fail "rb was not restarted"
set -- $(list_line rb)
[ "${2:-}" = "$new" ] && [ "${5:-}" = "r-----" ] || fail "restarted rb: $*"
[ "$("$XL" list -l rb | sed -n 's/^        "uuid": "\(.*\)",$/\1/p')" = "$uuid" ] ||
    fail "the restarted domain has another uuid"
timeout 30 "$XL" console rb | grep -m1 -q '^count=1 ' || fail "the new domain does not count from 1"
"$XL" destroy rb || fail "destroy rb"

# A guest that crashes: kept, as crashed, until destroyed. create -c returns
# at the crash since the domain stays.
cfg f.cfg flt fault 'on_crash = "preserve"'
out=$(timeout 30 "$XL" create -q -c f.cfg) || fail "create -c flt"
echo "$out" | grep -q '^fault: touching page 0' || fail "flt console: $out"
set -- $(list_line flt)
[ "${5:-}" = "----c-" ] || fail "flt is not listed as crashed: $*"
"$XL" list -l flt | grep -q '"state": "crashed"' || fail "list -l state"
"$XL" list -l flt | grep -q '"exit_reason": "crash"' || fail "list -l exit_reason"
"$XL" unpause flt 2>/dev/null && fail "unpause of a crashed domain succeeded"
"$XL" destroy flt || fail "destroy flt"
[ -z "$(list_line flt)" ] || fail "flt still listed after destroy"

# on_poweroff=preserve: shutdown -w returns at the exit, the domain stays.
cfg p.cfg po counter 'on_poweroff = "preserve"'
"$XL" create -q p.cfg || fail "create po"
"$XL" shutdown -w po || fail "shutdown -w po"
set -- $(list_line po)
[ "${5:-}" = "---s--" ] || fail "po is not listed as shut down: $*"
"$XL" destroy po || fail "destroy po"

# shutdown -w of a preserved domain whose record (xl/<domid>.json) is gone:
# nobody knows its actions, so its exit ends the wait.
"$XL" create -q p.cfg || fail "create po again"
id=$(json_field po domid)
rm "$HV_RUNDIR/xl/$id.json" || fail "no record of po"
timeout 30 "$XL" shutdown -w po || fail "shutdown -w po without a record: $?"
"$XL" destroy po || fail "destroy po again"
[ -z "$("$XL" list | sed 1d)" ] || fail "left: $("$XL" list)"

# A guest that powers off at once with on_poweroff=restart: its monitor
# restarts it ever more slowly and gives up after a few times...
monitor_of() { sed -n 's/.*xl-monitor\[\([0-9]*\)\].*/\1/p' "$HV_RUNDIR/logs/$1.log" | head -n 1; }
cfg l.cfg loop hello 'on_poweroff = "restart"'
"$XL" create -q l.cfg || fail "create loop"
pid=$(monitor_of loop)
[ -n "$pid" ] || fail "no monitor pid in loop.log"
timeout 60 tail --pid="$pid" -f /dev/null || fail "the monitor of loop restarts it forever"
grep -q "not restarting it again" "$HV_RUNDIR/logs/loop.log" || fail "no reason in loop.log"
[ -z "$(list_line loop)" ] || fail "loop still listed"

# ... and xl destroy NAME ends the loop before that (the name may be between
# two domains for a moment: then it is not found, and tried again).
: >"$HV_RUNDIR/logs/loop.log"
"$XL" create -q l.cfg || fail "create loop again"
pid=$(monitor_of loop)
timeout 30 bash -c 'until "$0" destroy loop 2>/dev/null; do :; done' "$XL" || fail "xl destroy loop"
timeout 30 tail --pid="$pid" -f /dev/null || fail "the monitor of loop lived on after xl destroy"
grep -q "not restarting it again" "$HV_RUNDIR/logs/loop.log" && fail "loop gave up, not destroyed"
exit 0
