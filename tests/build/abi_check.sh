#!/bin/bash
# Compares a built library's ABI with its committed baseline (abi/*.abi).
# Any change to what the baseline has (a function or type removed or
# changed, a struct layout moved) fails; new functions pass with a note.
# After an intended change, refresh the baseline:
#   abidw --no-corpus-path --no-show-locs --headers-dir include/hv \
#         --out-file abi/libhv.abi build/libhv/libhv.so.0.1.0
# Usage: abi_check.sh BASELINE LIBRARY HEADERS_DIR
set -u
baseline=$1 lib=$2 headers=$3
if ! command -v abidiff >/dev/null; then
    echo "abidiff not installed (Debian package abigail-tools): skipped"
    exit 77
fi
# abidiff's status bits: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
abidiff --no-added-syms --headers-dir2 "$headers" "$baseline" "$lib"
rc=$?
if [ $((rc & 3)) -ne 0 ]; then
    echo "abi_check: abidiff failed (status $rc)"
    exit 1
fi
if [ $((rc & 12)) -ne 0 ]; then
    echo "abi_check: ${lib##*/} changes the ABI of $baseline (see above)."
    echo "A break needs a new SONAME; an intended compatible change, a new baseline."
    exit 1
fi
if ! abidiff --headers-dir2 "$headers" "$baseline" "$lib" >/dev/null; then
    echo "abi_check: functions added since $baseline: refresh it when they are final"
fi
exit 0
