#!/bin/bash
# The hvstore CLI, run as a user would: against an embedded file: store in a
# temporary directory, and against hvstored too when it has been built.
# usage: cli_test.sh HVSTORE [HVSTORED]
# Waits block on pipes (read -t guards against hangs only); nothing sleeps.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 HVSTORE [HVSTORED]" >&2
    exit 2
fi
HVSTORE=$1
HVSTORED=${2:-${HV_BUILD_ROOT:-}/libhvstore/hvstored/hvstored}
T=${TU_TIMEOUT_S:-60}

tmp=$(mktemp -d /tmp/hvstore-cli.XXXXXX) || exit 1
daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ]; then
        kill "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

checks=0
fail() {
    echo "FAIL: $*" >&2
    for f in out err; do
        if [ -s "$tmp/$f" ]; then
            echo "--- $f:" >&2
            head -c 4000 "$tmp/$f" >&2
        fi
    done
    exit 1
}
ok() { checks=$((checks + 1)); }

# run RC CMD...: runs CMD with stdout in $tmp/out and stderr in $tmp/err and
# checks its exit status.
run() {
    local want=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    [ "$rc" -eq "$want" ] || fail "$* exited $rc, expected $want"
    ok
}
# out TEXT: stdout is exactly TEXT (plus the final newline).
out() {
    printf '%s\n' "$1" | cmp -s - "$tmp/out" || fail "stdout is not '$1'"
    ok
}
out_empty() {
    [ ! -s "$tmp/out" ] || fail "stdout is not empty"
    ok
}
# err_has TEXT: stderr has TEXT (fixed string).
err_has() {
    grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1'"
    ok
}

A="$tmp/a.lmdb"
# Every run is bounded (a guard against hangs only).
hv() { timeout "$T" "$HVSTORE" "$@"; }
hs() { hv -f "$A" "$@"; }

# ---- Nodes ----------------------------------------------------------------

run 0 hs write /t/a 1 /t/b "hello world"
run 0 hs read /t/a /t/b
out $'1\nhello world'
run 1 hs read /t/none
out_empty
[ "$(cat "$tmp/err")" = "hvstore: read /t/none: No such file or directory" ] ||
    fail "read of a missing node: unexpected message"
ok
run 1 hs read /t/a /t/none /t/b
out "1"
err_has "read /t/none: No such file or directory"
run 1 hs read 'a//b'
err_has "read a//b: Invalid argument"
run 0 hs mkdir /t/d /t/d
run 0 hs read /t/d
out ""
run 0 hs write /t/d/e/f x /t/q $'tab\t"q"\\'
run 0 hs ls /t
out $'a = "1"\nb = "hello world"\nd = ""\nq = "tab\\t\\"q\\"\\\\"'
run 0 hs ls -R /t
out $'a = "1"\nb = "hello world"\nd = ""\n e = ""\n  f = "x"\nq = "tab\\t\\"q\\"\\\\"'
run 0 hs ls -R -p /t/d
out $'e = ""  (n0)\n f = "x"  (n0)'
run 0 hs rm /t/d /t/q
run 0 hs ls -R /t
out $'a = "1"\nb = "hello world"'
# As xenstored: removing what is gone succeeds while its parent exists.
run 0 hs rm /t/d
run 1 hs rm /t/d/e
err_has "rm /t/d/e: No such file or directory"
run 1 hs ls /t/d
err_has "ls /t/d: No such file or directory"

# ---- Permissions ----------------------------------------------------------

run 0 hs chmod /t/a n0 r5
run 0 hs perms /t/a
out "n0 r5"
run 0 hs -D 5 read /t/a
out "1"
run 1 hs -D 6 read /t/a
err_has "read /t/a: Permission denied"
err_has "domain 6"
run 1 hs -D 5 write /t/a 2
err_has "write /t/a: Permission denied"
run 0 hs write /t/r/x/y 1
run 0 hs chmod -r /t/r b0 r7
for p in /t/r /t/r/x /t/r/x/y; do
    run 0 hs perms "$p"
    out "b0 r7"
done
run 0 hs chmod /t/r n0
run 0 hs perms /t/r/x
out "b0 r7"
run 0 hs ls -R -p /t/r
out $'x = ""  (b0,r7)\n y = "1"  (b0,r7)'
run 0 hs ls -p /t/r
out 'x = ""  (b0,r7)'
run 1 hs chmod /t/none b0
err_has "chmod /t/none: No such file or directory"

# A value over a domain's quota: the message names the quota.
run 0 hs chmod /t b0 b5
run 1 hs -D 5 write /t/big "$(head -c 3000 /dev/zero | tr '\0' x)"
err_has "write /t/big: Disk quota exceeded"
err_has "quota 'value_size'"

# ---- Usage errors: exit 2, and the store is not even opened ----------------

nostore="unix:$tmp/no-such.sock"
for args in "" "frob" "read" "write /a" "write /a 1 /b" "ls -Z" "ls /a /b" "rm" "mkdir" \
    "watch" "watch -n x /a" "watch -n 0 /a" "watch -d -2 /a" "watch -n" "chmod /a" \
    "chmod /a x5" "chmod /a r" "chmod -z /a r0" "perms" "perms /a /b" "dump /a /b" \
    "load a b" "load -x" "-D x read /a" "-q read /a" "-s"; do
    # shellcheck disable=SC2086
    run 2 hv -s "$nostore" $args
    err_has "hvstore: "
done
run 2 hv -s "$nostore" ls -R -x
err_has "unknown option -x"
run 2 hv -s "$nostore" chmod /a q5
err_has "bad permission 'q5'"
run 0 hv help
grep -q "^usage: hvstore" "$tmp/out" || fail "help prints no usage"
ok
# Operations against a missing daemon fail (1), naming the socket.
run 1 hv -s "$nostore" read /a
err_has "open $nostore"

# ---- Watches (embedded: only the initial firing, one process) -------------

run 0 hs watch -n 1 /t
out "/t /t"
run 0 hs watch -n 2 /t /t/a
out $'/t /t\n/t/a /t/a'

# ---- Dump and load ---------------------------------------------------------

# A value with every byte, a text value with a NUL, UTF-8 text, and a large
# directory.
for i in $(seq 0 255); do
    # shellcheck disable=SC2059
    printf "\\$(printf %03o "$i")"
done >"$tmp/bytes"
[ "$(wc -c <"$tmp/bytes")" -eq 256 ] || fail "could not make the 256-byte value"
b64=$(base64 -w0 "$tmp/bytes")
ndir=3000
{
    printf '{"hvstore_dump": 1, "path": "/big", "node": {"perms": ["n0", "r3"], "children": {\n'
    printf '  "bin": {"value_b64": "%s"},\n' "$b64"
    printf '  "nul": {"value": "a\\u0000b"},\n'
    printf '  "utf8": {"value": "h\\u00e9llo \xe2\x9c\x93", "perms": ["b4"]},\n'
    printf '  "dir": {"children": {\n'
    for i in $(seq 1 $ndir); do
        printf '    "c%05d": {"value": "v%d"}%s\n' "$i" "$i" "$([ "$i" -lt $ndir ] && echo ,)"
    done
    printf '  }}}}}\n'
} >"$tmp/in.json"
nodes=$((ndir + 5))

run 0 hs load "$tmp/in.json"
out "loaded $nodes nodes at /big ($nodes changed)"
run 0 hs read /big/bin
head -c 256 "$tmp/out" | cmp -s - "$tmp/bytes" || fail "the 256-byte value did not survive load"
ok
run 0 hs read /big/nul
printf 'a\0b\n' | cmp -s - "$tmp/out" || fail "a value with a NUL did not survive load"
ok
run 0 hs read /big/utf8
out "héllo ✓"
run 0 hs read /big/dir/c02999
out "v2999"
run 0 hs perms /big/utf8
out "b4"
run 0 hs perms /big/dir
out "n0 r3"
run 0 hs ls -R /big/dir
[ "$(wc -l <"$tmp/out")" -eq $ndir ] || fail "ls -R /big/dir: not $ndir lines"
ok
run 0 hs ls /big
grep -qxF 'nul = "a\x00b"' "$tmp/out" || fail "ls does not escape a NUL as \\x00"
ok

# The same dump again changes nothing.
run 0 hs load <"$tmp/in.json"
out "loaded $nodes nodes at /big (0 changed)"

run 0 hs dump /big
cp "$tmp/out" "$tmp/d1.json"
grep -qF '"value": "héllo ✓"' "$tmp/d1.json" || fail "UTF-8 text is not dumped as text"
ok
grep -qF "\"value_b64\": \"$b64\"" "$tmp/d1.json" || fail "the binary value is not base64"
ok
grep -qF '"value": "a\u0000b"' "$tmp/d1.json" || fail "a NUL is not dumped as \\u0000"
ok
B="$tmp/b.lmdb"
run 0 hv -f "$B" load "$tmp/d1.json"
out "loaded $nodes nodes at /big ($nodes changed)"
run 0 hv -f "$B" dump /big
cmp -s "$tmp/out" "$tmp/d1.json" || fail "dump, load, dump: the dumps differ"
ok

# The whole store, root included, into a fresh store.
run 0 hs dump
cp "$tmp/out" "$tmp/all1.json"
grep -q '"path": "/"' "$tmp/all1.json" || fail "dump without PATH is not of /"
ok
C="$tmp/c.lmdb"
run 0 hv -f "$C" load "$tmp/all1.json"
run 0 hv -f "$C" dump /
cmp -s "$tmp/out" "$tmp/all1.json" || fail "dump /, load, dump /: the dumps differ"
ok

# A value far over the wire limit, in an embedded store: nothing truncated.
head -c 200000 /dev/urandom >"$tmp/huge"
printf '{"hvstore_dump": 1, "path": "/huge", "node": {"value_b64": "%s"}}' \
    "$(base64 -w0 "$tmp/huge")" >"$tmp/huge.json"
run 0 hs load "$tmp/huge.json"
run 0 hs read /huge
head -c 200000 "$tmp/out" | cmp -s - "$tmp/huge" || fail "a 200000-byte value did not survive"
ok
run 0 hs dump /huge
printf '"value_b64": "%s"\n' "$(base64 -w0 "$tmp/huge")" >"$tmp/huge.pat"
grep -qFf "$tmp/huge.pat" "$tmp/out" ||
    fail "the dump of a 200000-byte value differs from what was loaded"
ok

# Elsewhere with -p; relative paths are the acting domain's.
run 0 hv -f "$C" load -p /copy "$tmp/d1.json"
run 0 hv -f "$C" read /copy/dir/c00001
out "v1"
run 0 hs write /local/domain/0/rel/x 1
run 0 hs dump rel
grep -qF '"path": "/local/domain/0/rel"' "$tmp/out" || fail "a relative dump path is not absolute"
ok
run 1 hs dump /no/such
err_has "dump /no/such: No such file or directory"

# ---- Bad input: exit 1, the problem named, nothing loaded ------------------

run 0 hs dump /
cp "$tmp/out" "$tmp/before.json"
# bad_load WHAT JSON: loading JSON fails with WHAT in the message and the
# store unchanged.
bad_load() {
    printf '%s' "$2" >"$tmp/bad.json"
    run 1 hs load "$tmp/bad.json"
    err_has "load $tmp/bad.json: "
    err_has "$1"
    err_has "nothing loaded"
    run 0 hs dump /
    cmp -s "$tmp/out" "$tmp/before.json" || fail "a bad load changed the store ($1)"
    ok
}
good='"hvstore_dump": 1, "path": "/m"'
bad_load "line 1, column" "{$good, \"node\": {\"value\": \"x\""
bad_load "line 3, column" $'{\n'"$good"$',\n"node": {"value": x}}'
bad_load "at /node/children/a/perms/1: 'q5' is not a permission" \
    "{$good, \"node\": {\"children\": {\"a\": {\"perms\": [\"n0\", \"q5\"]}}}}"
bad_load "at /node/value_b64: not base64" "{$good, \"node\": {\"value_b64\": \"@@@@\"}}"
bad_load "at /node/value_b64: not base64" "{$good, \"node\": {\"value_b64\": \"QR==\"}}"
bad_load 'at /node/vaule: unknown member "vaule"' "{$good, \"node\": {\"vaule\": \"x\"}}"
bad_load 'both "value" and "value_b64"' "{$good, \"node\": {\"value\": \"\", \"value_b64\": \"\"}}"
bad_load 'at /node/children/a: child "a" given twice' \
    "{$good, \"node\": {\"children\": {\"a\": {}, \"b\": {}, \"a\": {}}}}"
bad_load "'a.b' is not a node name" "{$good, \"node\": {\"children\": {\"a.b\": {}}}}"
bad_load "format version 2" '{"hvstore_dump": 2, "path": "/m", "node": {}}'
bad_load "not an hvstore dump" '{"path": "/m", "node": {}}'
bad_load "expected an object (an hvstore dump), found an array" '[]'
bad_load "expected a string, found a number" "{$good, \"node\": {\"value\": 5}}"
bad_load "is not an absolute store path" '{"hvstore_dump": 1, "path": "m", "node": {}}'
bad_load "no permissions" "{$good, \"node\": {\"perms\": []}}"
bad_load "premature EOF" ""
bad_load "trailing garbage" "{$good, \"node\": {}} {}"
# Many good nodes before the mistake: none of them is written.
{
    printf '{"hvstore_dump": 1, "path": "/m", "node": {"children": {\n'
    for i in $(seq 1 500); do printf '"n%d": {"value": "%d"},\n' "$i" "$i"; done
    printf '"z": {"perms": ["r0", "x"]}}}}\n'
} >"$tmp/late.json"
bad_load "line 502, column" "$(cat "$tmp/late.json")"
bad_load "at /node/children/z/perms/1: 'x' is not a permission" "$(cat "$tmp/late.json")"

# A failure while writing (permission) rolls back what came before it.
run 0 hs mkdir /t5 /t5/ro
run 0 hs chmod /t5 n0 b5
run 0 hs chmod /t5/ro n0 r5
run 0 hs dump /
cp "$tmp/out" "$tmp/before.json"
printf '%s' '{"hvstore_dump": 1, "path": "/t5", "node": {"children": {
  "a": {"value": "1"}, "ro": {"children": {"y": {"value": "2"}}}}}}' >"$tmp/t5.json"
run 1 hs -D 5 load "$tmp/t5.json"
err_has "/t5/ro/y: Permission denied"
err_has "nothing loaded"
run 1 hs read /t5/a
run 0 hs dump /
cmp -s "$tmp/out" "$tmp/before.json" || fail "a load refused half-way changed the store"
ok
# A domain may load into a node it may write but not read.
run 0 hs mkdir /wo
run 0 hs chmod /wo n0 w5
printf '%s' '{"hvstore_dump": 1, "path": "/wo", "node": {"value": "x"}}' >"$tmp/wo.json"
run 0 hs -D 5 load "$tmp/wo.json"
out "loaded 1 node at /wo (1 changed)"
run 0 hs read /wo
out "x"
run 1 hs load "$tmp/no-such.json"
err_has "load $tmp/no-such.json: No such file or directory"

# ---- Against the daemon ----------------------------------------------------

if [ ! -x "$HVSTORED" ]; then
    echo "ok: $checks checks (embedded); hvstored not built, daemon cases skipped"
    exit 0
fi

run_dir="$tmp/run"
mkdir -p "$run_dir" "$tmp/data"
sock="$run_dir/store.sock"
mkfifo "$tmp/daemon.fifo"
"$HVSTORED" --socket "$sock" --data-dir "$tmp/data" --foreground >"$tmp/daemon.fifo" 2>&1 &
daemon_pid=$!
exec 3<"$tmp/daemon.fifo"
ready=
while IFS= read -r -t "$T" line <&3; do
    echo "$line" >>"$tmp/daemon.log"
    case $line in *"hvstored: ready on $sock"*) ready=1; break ;; esac
done
[ -n "$ready" ] || { cat "$tmp/daemon.log" >&2; fail "hvstored did not get ready"; }
# Keep draining its output so that it never blocks on a full pipe.
cat <&3 >>"$tmp/daemon.log" &
exec 3<&-
ok

D="unix:$sock"
hd() { hv -s "$D" "$@"; }

# The default URI: $HVSTORE_URI, else the socket in $HV_RUNDIR.
run 0 env -u HVSTORE_URI HV_RUNDIR="$run_dir" "$HVSTORE" write /d/a 1
run 0 env HVSTORE_URI="$D" HV_RUNDIR=/nonexistent "$HVSTORE" read /d/a
out "1"
run 1 hd read /d/none
err_has "read /d/none: No such file or directory"
run 0 hd ls -R /d
out 'a = "1"'

# Quota messages travel in the ERROR reply.
run 0 hd chmod /d b0 b5
run 1 hd -D 5 write /d/big "$(head -c 3000 /dev/zero | tr '\0' x)"
err_has "Disk quota exceeded"
err_has "quota 'value_size'"
run 1 hd -D 6 read /d/a
err_has "Permission denied"

# A watch sees its initial firing, then a concurrent write. (/w exists
# first: creating it would fire too.)
run 0 hd mkdir /w
mkfifo "$tmp/watch.fifo"
timeout "$T" "$HVSTORE" -s "$D" watch -n 2 /w >"$tmp/watch.fifo" 2>"$tmp/watch.err" &
wpid=$!
exec 4<"$tmp/watch.fifo"
IFS= read -r -t "$T" l1 <&4 || fail "watch: no initial firing"
[ "$l1" = "/w /w" ] || fail "watch: initial firing is '$l1'"
ok
run 0 hd write /w/x 1
IFS= read -r -t "$T" l2 <&4 || fail "watch: no event for the write"
[ "$l2" = "/w/x /w" ] || fail "watch: event is '$l2'"
ok
wait "$wpid" || fail "watch -n 2 exited $?: $(cat "$tmp/watch.err")"
exec 4<&-
ok

# Depth 0: a write below the node does not fire, one at the node does.
timeout "$T" "$HVSTORE" -s "$D" watch -n 2 -d 0 /w >"$tmp/watch.fifo" 2>"$tmp/watch.err" &
wpid=$!
exec 4<"$tmp/watch.fifo"
IFS= read -r -t "$T" l1 <&4 || fail "watch -d 0: no initial firing"
run 0 hd write /w/y 1
run 0 hd write /w 2
IFS= read -r -t "$T" l2 <&4 || fail "watch -d 0: no event for the write"
[ "$l2" = "/w /w" ] || fail "watch -d 0: event is '$l2' (a change below fired)"
ok
wait "$wpid" || fail "watch -n 2 -d 0 exited $?: $(cat "$tmp/watch.err")"
exec 4<&-

# Dump and load through the wire: large directories come in pieces.
run 0 hd load "$tmp/d1.json"
out "loaded $nodes nodes at /big ($nodes changed)"
run 0 hd dump /big
cmp -s "$tmp/out" "$tmp/d1.json" || fail "daemon: the dump differs from the file store's"
ok
run 0 hd read /big/bin
head -c 256 "$tmp/out" | cmp -s - "$tmp/bytes" || fail "daemon: the 256-byte value differs"
ok
run 0 hd dump /
cp "$tmp/out" "$tmp/before.json"
run 1 hd load "$tmp/late.json"
run 0 hd dump /
cmp -s "$tmp/out" "$tmp/before.json" || fail "daemon: a bad load changed the store"
ok
# Over the wire limit: refused whole, nothing loaded.
run 1 hd load "$tmp/huge.json"
err_has "load $tmp/huge.json: write /huge: Argument list too long"
run 1 hd read /huge
run 0 hd mkdir /t5 /t5/ro
run 0 hd chmod /t5 n0 b5
run 0 hd chmod /t5/ro n0 r5
run 0 hd dump /
cp "$tmp/out" "$tmp/before.json"
run 1 hd -D 5 load "$tmp/t5.json"
err_has "/t5/ro/y: Permission denied"
run 0 hd dump /
cmp -s "$tmp/out" "$tmp/before.json" || fail "daemon: a load refused half-way changed the store"
ok

echo "ok: $checks checks (embedded and daemon)"
