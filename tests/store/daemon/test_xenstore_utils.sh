#!/bin/bash
# The stock Debian xenstore-utils against hvstored, unchanged: libxenstore
# connects to the unix socket named by XENSTORED_PATH. Each tool runs with
# its exit code and output checked, errors included; then the store is
# checked again after a clean restart.
# usage: test_xenstore_utils.sh HVSTORED
set -u

hvstored=${1:-${HV_BUILD_ROOT:-}/libhvstore/hvstored/hvstored}
# Guards against hangs only.
guard=30

for tool in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-rm \
            xenstore-exists xenstore-chmod xenstore-watch; do
    if ! command -v "$tool" >/dev/null; then
        echo "skipped: $tool is not installed (Debian package xenstore-utils)"
        exit 77
    fi
done
if [ ! -x "$hvstored" ]; then
    echo "FAIL: no hvstored at '$hvstored'" >&2
    exit 1
fi

tmp=$(mktemp -d /tmp/hvstored-xs.XXXXXX) || exit 1
pid=
watch_pid=
cleanup() {
    [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" TERM INT

export XENSTORED_PATH=$tmp/sock
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# Starts the daemon and waits for its "ready" line on a fifo (no sleeping).
start_daemon() {
    rm -f "$tmp/ready"
    mkfifo "$tmp/ready" || exit 1
    "$hvstored" --foreground --socket "$XENSTORED_PATH" --data-dir "$tmp/data" \
        >"$tmp/ready" 2>>"$tmp/daemon.log" &
    pid=$!
    local line=
    if ! read -r -t "$guard" line <"$tmp/ready" || [ "$line" != "hvstored: ready on $XENSTORED_PATH" ]; then
        echo "FAIL: hvstored did not report ready (got '$line')" >&2
        cat "$tmp/daemon.log" >&2
        exit 1
    fi
}

stop_daemon() {
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    pid=
    [ "$rc" -eq 0 ] || fail "hvstored exited with $rc on SIGTERM"
    [ ! -e "$XENSTORED_PATH" ] || fail "hvstored left its socket behind"
}

# run EXPECTED_RC EXPECTED_STDOUT CMD...: exact exit code and stdout.
run() {
    local want_rc=$1 want_out=$2
    shift 2
    local out rc
    out=$(timeout "$guard" "$@" 2>"$tmp/stderr")
    rc=$?
    if [ "$rc" -ne "$want_rc" ]; then
        fail "'$*' exited $rc, expected $want_rc; stderr: $(cat "$tmp/stderr")"
    elif [ "$out" != "$want_out" ]; then
        fail "'$*' printed:"$'\n'"$out"$'\n'"expected:"$'\n'"$want_out"
    else
        local cmd="$*"
        echo "ok: ${cmd:0:100}"
    fi
}

# run_fails CMD...: a non-zero exit code (the tools use 1) and a message.
run_fails() {
    timeout "$guard" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
        fail "'$*' exited $rc, expected a failure"
    elif [ ! -s "$tmp/stderr" ]; then
        fail "'$*' failed without a message"
    else
        echo "ok: $* fails ($rc): $(head -n1 "$tmp/stderr")"
    fi
}

# absent PATH: xenstore-exists says so by its exit code alone.
absent() {
    timeout "$guard" xenstore-exists "$1" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$?
    if [ "$rc" -ne 1 ]; then
        fail "'xenstore-exists $1' exited $rc, expected 1: $(cat "$tmp/stderr")"
    else
        echo "ok: xenstore-exists $1 exits 1"
    fi
}

start_daemon

# ---- write, read, exists ----------------------------------------------------
run 0 "" xenstore-write /test/a hello /test/b "two words"
run 0 "hello" xenstore-read /test/a
run 0 "hello"$'\n'"two words" xenstore-read /test/a /test/b
run 0 "" xenstore-exists /test/a
absent /test/missing
run_fails xenstore-read /test/missing
run_fails xenstore-read /test/a /test/missing
# An invalid path is refused by the daemon (EINVAL), not by the tool.
run_fails xenstore-write '/test/bad//path' x
run_fails xenstore-write '/test/bad path' x

# ---- list, ls -----------------------------------------------------------------
run 0 "a"$'\n'"b" xenstore-list /test
run 0 "a = \"hello\""$'\n'"b = \"two words\"" xenstore-ls /test
run 0 "" xenstore-write /test/c/d/e deep
run 0 "d = \"\""$'\n'" e = \"deep\"" xenstore-ls /test/c
run_fails xenstore-list /test/missing
run_fails xenstore-ls /test/missing

# ---- chmod: perms as Xen spells them ------------------------------------------
run 0 "" xenstore-chmod /test/a r5 w7
run 0 "a = \"hello\" (r5,w7)" bash -c "xenstore-ls -p /test | grep '^a = '| tr -s ' .' ' '"
run 0 "" xenstore-chmod /test/a n0 b3
run 0 "a = \"hello\" (n0,b3)" bash -c "xenstore-ls -p /test | grep '^a = '| tr -s ' .' ' '"
run_fails xenstore-chmod /test/missing r0
run_fails xenstore-chmod /test/a x5

# ---- rm ------------------------------------------------------------------------
run 0 "" xenstore-rm /test/b
absent /test/b
run 0 "a"$'\n'"c" xenstore-list /test
run 0 "" xenstore-rm /test/c
# As Xen's xenstored: a missing node under an existing parent is removed
# already (OK); under a missing parent it is an error.
run 0 "" xenstore-rm /test/missing
run_fails xenstore-rm /test/missing/child
run_fails xenstore-read /test/c/d/e

# ---- a directory over one reply: libxenstore falls back to DIRECTORY_PART -------
args=()
for i in $(seq -w 1 600); do
    args+=("/big/node-with-a-longish-name-$i" "$i")
done
run 0 "" xenstore-write "${args[@]}"
out=$(timeout "$guard" xenstore-list /big)
rc=$?
want=$(for i in $(seq -w 1 600); do echo "node-with-a-longish-name-$i"; done)
if [ "$rc" -ne 0 ] || [ "$out" != "$want" ]; then
    fail "xenstore-list of 600 children (rc $rc) returned $(echo "$out" | wc -l) names"
else
    echo "ok: xenstore-list /big: 600 names (DIRECTORY_PART)"
fi
run 0 "600" bash -c "xenstore-ls /big | wc -l"

# ---- watch: fires once when set, then per change ----------------------------------
run 0 "" xenstore-write /test/w ""
rm -f "$tmp/watch"
mkfifo "$tmp/watch"
timeout "$guard" xenstore-watch -n 3 /test/w >"$tmp/watch" 2>"$tmp/watch.err" &
watch_pid=$!
exec 3<"$tmp/watch"
# The first event (the watch being set) says the watch is in place.
if read -r -t "$guard" line <&3 && [ "$line" = "/test/w" ]; then
    echo "ok: xenstore-watch: initial event"
else
    fail "xenstore-watch: no initial event /test/w (got '${line:-}')"
fi
run 0 "" xenstore-write /test/w/x 1
run 0 "" xenstore-rm /test/w/x
lines=()
while read -r -t "$guard" line <&3; do
    lines+=("$line")
done
exec 3<&-
wait "$watch_pid"
rc=$?
watch_pid=
if [ "$rc" -ne 0 ]; then
    fail "xenstore-watch -n 3 exited $rc: $(cat "$tmp/watch.err")"
elif [ "${lines[*]:-}" != "/test/w/x /test/w/x" ]; then
    fail "xenstore-watch printed '${lines[*]:-}', expected /test/w/x twice"
else
    echo "ok: xenstore-watch -n 3: /test/w, /test/w/x, /test/w/x"
fi

# ---- durable across a clean restart ------------------------------------------------
stop_daemon
run_fails xenstore-read /test/a
start_daemon
run 0 "hello" xenstore-read /test/a
run 0 "a = \"hello\" (n0,b3)" bash -c "xenstore-ls -p /test | grep '^a = '| tr -s ' .' ' '"
run 0 "600" xenstore-read /big/node-with-a-longish-name-600
absent /test/b
stop_daemon

if [ "$failures" -ne 0 ]; then
    echo "--- hvstored log" >&2
    cat "$tmp/daemon.log" >&2
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all xenstore-utils checks passed"
