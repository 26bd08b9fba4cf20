#!/bin/bash
# SPDX-License-Identifier: MIT
# vcpu-pin / vcpu-list affinity, vcpu-set (vCPUs online through the guest
# runtime), mem-set (the guest gives pages back) and mem-max.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

# until N CMD...: runs CMD up to N times until it succeeds (no sleeping: each
# run is a real xl call that asks the monitor again).
until_ok() {
    local n=$1
    shift
    for ((k = 0; k < n; k++)); do
        "$@" && return 0
    done
    return 1
}

cfg r.cfg res sleep 'cmdline = "600000"' 'maxvcpus = 2' 'maxmem = 32'
sed -i 's/^memory = 8$/memory = 16/' r.cfg
"$XL" create -q r.cfg || fail "create"
set -- $(list_line res)
[ "${3:-}" = 16 ] && [ "${4:-}" = 1 ] || fail "not 16 MiB with 1 vCPU online: $*"

last=$(($(nproc) - 1))
"$XL" vcpu-pin res 0 "$last" || fail "vcpu-pin"
"$XL" vcpu-list res | awk -v c="$last" '$3 == 0 && $NF == c { f = 1 } END { exit !f }' ||
    fail "affinity not shown: $("$XL" vcpu-list res)"
"$XL" vcpu-pin res all all || fail "vcpu-pin all"
"$XL" vcpu-list res | awk '$3 == 0 && $NF == "all" { f = 1 } END { exit !f }' ||
    fail "affinity not reset: $("$XL" vcpu-list res)"
"$XL" vcpu-pin res 7 0 2>/dev/null && fail "vcpu-pin of vCPU 7 of 2 succeeded"

vcpus_online() { [ "$(list_line res | awk '{ print $4 }')" = "$1" ]; }
"$XL" vcpu-set res 2 || fail "vcpu-set 2"
until_ok 3000 vcpus_online 2 || fail "vCPU 1 did not come up: $("$XL" list)"
"$XL" vcpu-set res 3 2>/dev/null && fail "vcpu-set beyond maxvcpus succeeded"
"$XL" vcpu-set res 1 || fail "vcpu-set 1"
until_ok 3000 vcpus_online 1 || fail "vCPU 1 did not go down: $("$XL" list)"

mem_is() { [ "$(list_line res | awk '{ print $3 }')" = "$1" ]; }
"$XL" mem-set res 8m || fail "mem-set 8m"
until_ok 3000 mem_is 8 || fail "memory did not fall to 8 MiB: $("$XL" list)"
"$XL" list -l res | grep -q '"target": 8388608,' || fail "target not 8 MiB"
"$XL" mem-set res 24 || fail "mem-set 24 (MiB by default)"
until_ok 3000 mem_is 24 || fail "memory did not grow to 24 MiB: $("$XL" list)"
"$XL" mem-max res 20m || fail "mem-max"
"$XL" list -l res | grep -q '"max": 20971520,' || fail "max not 20 MiB: $("$XL" list -l res)"
"$XL" mem-set res 30 2>/dev/null && fail "mem-set above mem-max succeeded"
exit 0
