#!/bin/bash
# SPDX-License-Identifier: MIT
# 20 `xl create` at once: all succeed, with 20 distinct domids.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

N=20
pids=()
for i in $(seq 1 $N); do
    cfg "c$i.cfg" "c$i" sleep 'memory = 4' 'cmdline = "600000"'
done
# memory appears twice otherwise: the helper's line goes, ours stays.
sed -i '/^memory = 8$/d' c*.cfg
for i in $(seq 1 $N); do
    "$XL" create -q "c$i.cfg" 2>"c$i.err" &
    pids+=($!)
done
for i in $(seq 1 $N); do
    wait "${pids[$((i - 1))]}" || fail "create c$i: $(cat "c$i.err")"
done
"$XL" list | sed 1d >list.txt
[ "$(wc -l <list.txt)" = $N ] || fail "not $N domains: $(cat list.txt)"
[ "$(awk '{ print $2 }' list.txt | sort -u | wc -l)" = $N ] || fail "domids repeat: $(cat list.txt)"
[ "$(awk '{ print $1 }' list.txt | sort -u | wc -l)" = $N ] || fail "names repeat"
awk '$3 != 4 || $5 != "r-----" { exit 1 }' list.txt || fail "not all 4 MiB and running: $(cat list.txt)"

for i in $(seq 1 $N); do
    "$XL" destroy "c$i" &
    pids[$((i - 1))]=$!
done
for i in $(seq 1 $N); do
    wait "${pids[$((i - 1))]}" || fail "destroy c$i"
done
[ -z "$("$XL" list | sed 1d)" ] || fail "left: $("$XL" list)"
exit 0
