#!/bin/sh
# Compiles a translation unit that includes only HEADER (twice, to check its
# include guard) with the strict flags a vendor might use.
# usage: header_check.sh [--freestanding] HEADER INCLUDE_DIR CC [CC_ARGS...]
set -eu

mode=hosted
if [ "${1-}" = --freestanding ]; then
    mode=freestanding
    shift
fi
if [ $# -lt 3 ]; then
    echo "usage: $0 [--freestanding] HEADER INCLUDE_DIR CC [CC_ARGS...]" >&2
    exit 2
fi
header=$1
incdir=$2
shift 2
name=hv/$(basename "$header")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hv-header.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' \
    "$name" "$name" >"$tmp/t.c"

set -- "$@" -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$incdir"
if [ "$mode" = freestanding ]; then
    # Only the compiler's own headers (stdint.h, stddef.h): no libc.
    builtin_inc=$("$@" -print-file-name=include)
    if [ ! -d "$builtin_inc" ]; then
        echo "$0: cannot find the compiler's include directory" >&2
        exit 1
    fi
    set -- "$@" -ffreestanding -nostdinc -isystem "$builtin_inc"
fi

echo "$* -c t.c  # includes <$name>"
"$@" -c "$tmp/t.c" -o "$tmp/t.o"
echo "ok: <$name> compiles on its own ($mode)"
