# SPDX-License-Identifier: MIT
# Sourced by the xl tests: "$1" is the xl binary, "$2" the hvstore CLI. Gives
# each test a private HV_RUNDIR/HV_STATEDIR and its own hvstored, and kills
# every process that carries that run dir in its environment on exit
# (monitors are detached: they are nobody's children).
set -u
XL=$(realpath "$1")
HVSTORE=$(realpath "$2")
CHECK=$(realpath "${3:-/dev/null}")
RACE_HELPER=$(realpath "${4:-/dev/null}")
GUESTS=${HV_GUEST_DIR:?HV_GUEST_DIR is not set}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "no usable /dev/kvm: skipped"
    exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/xltest.XXXXXX")
export HV_RUNDIR=$T/run HV_STATEDIR=$T/state
mkdir -p "$HV_RUNDIR" "$HV_STATEDIR"
unset HV_STORE
STORE_PID=

# Processes other than this shell whose environment has our run dir.
our_pids() {
    local e p self=$BASHPID
    for e in /proc/[0-9]*/environ; do
        p=${e#/proc/}
        p=${p%/environ}
        [ "$p" = "$$" ] || [ "$p" = "$self" ] && continue
        grep -qzx "HV_RUNDIR=$HV_RUNDIR" "$e" 2>/dev/null && echo "$p"
    done
}

cleanup() {
    local rc=$? pids
    trap - EXIT
    pids=$(our_pids)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    [ -n "$STORE_PID" ] && kill -9 "$STORE_PID" 2>/dev/null
    if [ $rc -ne 0 ] && [ -d "$HV_RUNDIR/logs" ]; then
        for f in "$HV_RUNDIR"/logs/*.log; do
            [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; } >&2
        done
    fi
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT

# Our own hvstored, in the foreground, on the run dir's default socket.
start_store() {
    local line
    exec {STORE_FD}< <(exec "$HV_HVSTORED" -f --socket "$HV_RUNDIR/store.sock" \
                            --data-dir "$HV_STATEDIR/store" 2>"$T/hvstored.err")
    STORE_PID=$!
    read -r -t 30 line <&"$STORE_FD" || fail "hvstored did not start: $(cat "$T/hvstored.err")"
    case $line in
    *ready*) ;;
    *) fail "hvstored said: $line" ;;
    esac
    export HV_STORE=unix:$HV_RUNDIR/store.sock
}

# cfg FILE NAME GUEST [xl.cfg lines...]
cfg() {
    local file=$1 name=$2 guest=$3
    shift 3
    {
        echo "name = \"$name\""
        echo "memory = 8"
        echo "kernel = \"$GUESTS/$guest\""
        for l in "$@"; do echo "$l"; done
    } >"$file"
}

# The table line of domain NAME, or nothing.
list_line() {
    "$XL" list | awk -v n="$1" '$1 == n'
}

# A field of `xl list -l` for the domain named NAME: domid, monitor_pid.
json_field() {
    "$XL" list -l "$1" | sed -n "s/^        \"$2\": \\([0-9]*\\),\$/\\1/p" | head -n 1
}
