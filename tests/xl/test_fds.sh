#!/bin/bash
# SPDX-License-Identifier: MIT
# What xl create's caller has open: the monitor keeps none of it (a pipe it
# inherited would hang the pipeline for the domain's whole life), and closed
# stdio does not take the place of the monitor's report socket.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

# HV_STORE=none: domids are private to the process, from 1; the record of
# the registry's domain 1 is not another domain's to overwrite or remove.
cfg k.cfg keep sleep 'cmdline = "600000"'
"$XL" create -q k.cfg || fail "create keep"
[ "$(json_field keep domid)" = 1 ] || fail "keep is not domain 1: $("$XL" list)"
cfg h.cfg priv hello
HV_STORE=none timeout 30 "$XL" create -F -q h.cfg >/dev/null || fail "create -F priv"
"$XL" list -l keep | grep -q '^        "config": {$' || fail "keep lost its record: $("$XL" list -l keep)"
"$XL" list -l keep | grep -q '^            "name": "keep",$' || fail "keep's record: $("$XL" list -l keep)"

cfg s1.cfg fd1 sleep 'cmdline = "600000"'
cfg s2.cfg fd2 sleep 'cmdline = "600000"'

# fd 3 and 7 of the caller are the pipe to cat: cat ends when xl create does.
timeout 30 bash -c '{ "$0" create -q "$1"; } 3>&1 7>&1 | cat' "$XL" s1.cfg ||
    fail "create with an inherited pipe on fd 3 and 7 did not return: $?"
[ -n "$(list_line fd1)" ] || fail "fd1 is not running: $("$XL" list)"
pid=$(json_field fd1 monitor_pid)
[ -n "$pid" ] || fail "no monitor_pid"
fds=$(ls /proc/"$pid"/fd)
for fd in $fds; do
    t=$(readlink /proc/"$pid"/fd/"$fd")
    case $t in
    pipe:*) fail "the monitor holds a pipe on fd $fd" ;;
    esac
done

# stdin and stdout closed: socketpair would return 0 and 1.
out=$(timeout 30 "$XL" create -q s2.cfg <&- 2>&1 >&-) || fail "create with stdin/stdout closed: $out"
set -- $(list_line fd2)
[ "${5:-}" = "r-----" ] || fail "fd2 is not running: $("$XL" list)"
exit 0
