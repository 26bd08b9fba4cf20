#!/bin/bash
# The install tree as a vendor sees it: configures a fresh build of the
# source tree with a temporary prefix, installs it, checks the libraries
# (SONAME, exported symbols, no build-tree RUNPATH), the headers and the
# pkg-config files, then builds examples/hello/hello.c out of tree with only
# `pkg-config --cflags --libs` and runs it on the test guest; likewise
# examples/store/store.c against libhvstore.
# Exits 77 (skip) only when everything but the run passed and /dev/kvm is
# missing.
# usage: install_test.sh  (env: HV_SOURCE_ROOT, HV_GUEST_DIR; MESON, CC)
set -euo pipefail

src=${HV_SOURCE_ROOT:?HV_SOURCE_ROOT is not set}
guest_dir=${HV_GUEST_DIR:?HV_GUEST_DIR is not set}
meson=${MESON:-meson}
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hv-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
failures=0

step() { printf '\n== %s\n' "$*"; }
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

step "configure, build and install $src into $prefix"
# The sanitizer and fuzzing flags of the outer build must not leak in.
env -u CFLAGS -u LDFLAGS -u CC "$meson" setup "$tmp/build" "$src" \
    --prefix="$prefix" -Dbuildtype=debugoptimized >"$tmp/setup.log" 2>&1 ||
    { cat "$tmp/setup.log"; echo "FAIL: meson setup" >&2; exit 1; }
"$meson" compile -C "$tmp/build" >"$tmp/compile.log" 2>&1 ||
    { tail -n 60 "$tmp/compile.log"; echo "FAIL: meson compile" >&2; exit 1; }
"$meson" install -C "$tmp/build" --no-rebuild >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "FAIL: meson install" >&2; exit 1; }
(cd "$prefix" && find . -type f -o -type l | sort)

step "pkg-config files"
pcdirs=$(find "$prefix" -name '*.pc' -printf '%h\n' | sort -u | paste -sd:)
[ -n "$pcdirs" ] || { echo "FAIL: no .pc file installed" >&2; exit 1; }
export PKG_CONFIG_PATH=$pcdirs
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
for pc in libhv libhvguest libhvstore; do
    if pkg-config --exists --print-errors "$pc"; then
        echo "$pc $(pkg-config --modversion "$pc"): $(pkg-config --cflags --libs "$pc")"
    else
        fail "$pc.pc is not installed or does not resolve"
    fi
done
[ "$failures" -eq 0 ] || exit 1
libdir=$(pkg-config --variable=libdir libhv)
includedir=$(pkg-config --variable=includedir libhv)
case $libdir in "$prefix"/*) ;; *) fail "libdir $libdir is outside $prefix" ;; esac
if pkg-config --cflags --libs libhv libhvguest libhvstore | grep -qF "$src"; then
    fail "pkg-config flags point into the source tree"
fi

step "headers under $includedir/hv"
for h in "$src"/include/hv/*.h; do
    if cmp -s "$h" "$includedir/hv/${h##*/}"; then
        echo "ok: hv/${h##*/}"
    else
        fail "hv/${h##*/} is not installed (or differs from the source)"
    fi
done

step "shared libraries in $libdir"
check_lib() { # NAME SYMBOL-PREFIX
    local so=$libdir/$1.so.0 soname runpath bad
    if [ ! -e "$so" ]; then
        fail "$so is missing"
        return
    fi
    [ -L "$libdir/$1.so" ] || fail "$libdir/$1.so (the link for -l) is missing"
    soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
    [ "$soname" = "$1.so.0" ] || fail "$1: SONAME is '$soname', want $1.so.0"
    runpath=$(readelf -d "$so" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\].*/\2/p')
    [ -z "$runpath" ] || fail "$1: installed with RUNPATH/RPATH '$runpath'"
    # Defined dynamic symbols, less the version-node names (type A).
    nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
        sort >"$tmp/$1.syms"
    bad=$(grep -v "^$2" "$tmp/$1.syms" || true)
    [ -z "$bad" ] || fail "$1 exports symbols outside $2*: ${bad//$'\n'/ }"
    [ -s "$tmp/$1.syms" ] || fail "$1 exports nothing"
    echo "$1: SONAME $soname, $(wc -l <"$tmp/$1.syms") symbols, all $2*"
}
check_lib libhv hv_
check_lib libhvguest hvg_
check_lib libhvstore hvs_
for bin in sbin/hvstored bin/hvstore; do
    [ -x "$prefix/$bin" ] || fail "$bin is not installed"
done
find "$prefix" -name hvstored.service | grep -q . || fail "hvstored.service is not installed"

step "build examples/store/store.c against the installed tree and run it"
# shellcheck disable=SC2046 # pkg-config output is a list of words
if "$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/store" \
    "$src/examples/store/store.c" $(pkg-config --cflags --libs libhvstore); then
    LD_LIBRARY_PATH=$libdir "$tmp/store" >"$tmp/store.log" 2>&1 || fail "store exited with status $?"
    grep -qxF 'state = running' "$tmp/store.log" || { cat "$tmp/store.log"; fail "store: no 'state = running' line"; }
else
    fail "cannot build examples/store/store.c with pkg-config's flags"
fi

step "build examples/hello/hello.c against the installed tree"
# libhv needs libhvstore: the linker finds it as ld.so would on an installed
# system, where libdir is a system library directory.
# shellcheck disable=SC2046 # pkg-config output is a list of words
if ! LD_LIBRARY_PATH=$libdir "$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/hello" \
    "$src/examples/hello/hello.c" $(pkg-config --cflags --libs libhvguest libhv); then
    fail "cannot build examples/hello/hello.c with pkg-config's flags"
fi
[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
LD_LIBRARY_PATH=$libdir ldd "$tmp/hello" | grep -E 'libhv' || true

step "run it on $guest_dir/hello"
set +e
LD_LIBRARY_PATH=$libdir "$tmp/hello" "$guest_dir/hello" >"$tmp/run.log" 2>&1
rc=$?
set -e
cat "$tmp/run.log"
if [ "$rc" -eq 77 ]; then
    echo "no usable /dev/kvm: the build checks passed, the run is skipped"
    exit 77
fi
[ "$rc" -eq 0 ] || fail "hello exited with status $rc"
grep -qxF 'hello from libhv guest' "$tmp/run.log" || fail "no 'hello from libhv guest' line"
[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "ok: install tree works"
