#!/bin/bash
# SPDX-License-Identifier: MIT
# Exit codes and messages: usage errors (2), failures (1) with "xl: ...",
# config errors naming the file, the line and the key.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

# expect STATUS STDERR-PATTERN xl ARGS...
expect() {
    local want=$1 pat=$2 err rc
    shift 2
    err=$("$XL" "$@" 2>&1 >/dev/null)
    rc=$?
    [ $rc -eq "$want" ] || fail "xl $*: exit $rc, not $want ($err)"
    echo "$err" | grep -q -- "$pat" || fail "xl $*: said '$err', not /$pat/"
}

expect 2 'usage: xl' 
expect 2 "unknown command 'frob'" frob
expect 2 'usage: xl list' list -x
expect 2 'usage: xl create' create
expect 2 'usage: xl pause' pause
expect 2 'usage: xl destroy' destroy a b
expect 2 'usage: xl mem-set' mem-set d 12q
expect 2 'usage: xl vcpu-pin' vcpu-pin d 0 1-x
expect 2 'usage: xl vcpu-set' vcpu-set d 0
expect 2 'usage: xl top' top -i 0
expect 2 "'nokey' is not KEY=VALUE" create x.cfg nokey
"$XL" help list | grep -q 'usage: xl list' || fail "help list"
expect 2 "unknown command 'bogus'" help bogus

expect 1 "^xl: no domain named 'nosuch'\$" pause nosuch
expect 1 '^xl: domain 4242 does not exist$' destroy 4242
expect 1 "^xl: no domain named 'nosuch'\$" list nosuch
expect 1 "^xl: no domain named 'nosuch'\$" console nosuch

printf 'name = "e"\nfrobnicate = 1\nkernel = "%s"\n' "$GUESTS/hello" >unknown.cfg
expect 1 '^unknown.cfg:2: frobnicate' create unknown.cfg
printf 'name = "e"\nkernel = "%s"\n\nmemory = abc\n' "$GUESTS/hello" >badnum.cfg
expect 1 '^badnum.cfg:4: memory' create badnum.cfg
printf 'name = "e"\n' >nokernel.cfg
expect 1 '^nokernel.cfg: kernel' create nokernel.cfg
printf 'name = "e"\nkernel = "%s"\n' "$GUESTS/hello" >ok.cfg
expect 1 '^command line: vcpus' create ok.cfg vcpus=0
expect 1 'nosuch.cfg' create nosuch.cfg
printf 'name = "e"\nkernel = "/nonexistent/guest"\n' >nofile.cfg
expect 1 '^xl: nofile.cfg: kernel: /nonexistent/guest' create nofile.cfg
expect 1 'rename-restart is not supported' create ok.cfg 'on_crash="rename-restart"'
expect 1 'cpus: "3-1"' create ok.cfg 'cpus="3-1"'
expect 1 '^xl: ok.cfg: cpus: "5000"' create ok.cfg 'cpus="5000"'
# A name taken: the second create fails, naming it.
cfg s.cfg same sleep 'cmdline = "600000"'
"$XL" create -q s.cfg || fail "create same"
err=$("$XL" create -q s.cfg 2>&1) && fail "a second 'same' was created"
echo "$err" | grep -q "^xl: .*same" || fail "duplicate name: $err"
[ "$("$XL" list | grep -c '^same ')" = 1 ] || fail "two 'same': $("$XL" list)"

# Without a registry a detached domain could not be reached: refused.
HV_STORE=none expect 1 '^xl: HV_STORE=none: only `xl create -F` makes sense$' create ok.cfg
[ -z "$(ls "$HV_RUNDIR/logs" 2>/dev/null | grep '^e.log$')" ] || fail "a monitor was started for e"

# -F without a registry: the foreground monitor, console on stdout.
out=$(HV_STORE=none "$XL" create -F -c -q ok.cfg 'kernel="'"$GUESTS/hello"'"') || fail "create -F"
[ "$out" = "hello from libhv guest" ] || fail "create -F -c printed: $out"
exit 0
