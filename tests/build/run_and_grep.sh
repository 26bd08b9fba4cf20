#!/bin/sh
# Runs CMD and checks that its output (stdout and stderr) has a line that is
# exactly EXPECTED. Exit status 77 (no /dev/kvm: skip) is passed through.
# usage: run_and_grep.sh EXPECTED CMD [ARGS...]
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 EXPECTED CMD [ARGS...]" >&2
    exit 2
fi
expected=$1
shift

tmp=$(mktemp "${TMPDIR:-/tmp}/hv-run.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT

"$@" >"$tmp" 2>&1
rc=$?
cat "$tmp"
if [ "$rc" -eq 77 ]; then
    echo "skipped: $1 exited 77"
    exit 77
fi
if [ "$rc" -ne 0 ]; then
    echo "FAIL: $1 exited with status $rc" >&2
    exit 1
fi
if ! grep -qxF -- "$expected" "$tmp"; then
    echo "FAIL: no line '$expected' in the output of $1" >&2
    exit 1
fi
echo "ok: found '$expected'"
