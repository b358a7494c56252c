#!/usr/bin/env bash
# Checks an installed C library (make install, Scripts/c-library.sh) the way a
# C user meets it:
#   Scripts/check-c-library.sh PREFIX
#  1. readelf -d: no Swift runtime in NEEDED, no RPATH/RUNPATH, SONAME
#     libdeferred_unwind.so.0, BIND_NOW and NOW (-z now), NODELETE
#     (-z nodelete), NEEDED liburcu-bp; the soname and dev links in place.
#  2. nm -D --defined-only: exactly the functions declared in the installed
#     deferred_unwind.h, each versioned DEFERRED_UNWIND_*, nothing else.
#  3. Examples/c/example.c and Tests/C/programs/core/link_test.c built with
#     `pkg-config --cflags --libs deferred_unwind` alone, then run.
# Used by `make check` and .ci/run.  Exits 1 with a FAIL line per problem.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX   (a prefix that 'make install PREFIX=...' filled)" >&2
    exit 2
fi
prefix=$(cd "$1" && pwd)
lib="$prefix/lib/libdeferred_unwind.so"
header="$prefix/include/deferred_unwind.h"
CC=${CC:-cc}
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
ok() { echo "ok: $*"; }

for f in "$lib" "$header" "$prefix/lib/pkgconfig/deferred_unwind.pc"; do
    [ -e "$f" ] || { echo "FAIL: $f missing: not an installed prefix" >&2; exit 1; }
done

# ---- 1. the dynamic section -------------------------------------------------
# The dev link and the soname link, as ldconfig and the linker expect them.
[ "$(readlink "$lib")" = libdeferred_unwind.so.0 ] ||
    fail "$lib should link to libdeferred_unwind.so.0 (got '$(readlink "$lib")')"
real=$(readlink "$prefix/lib/libdeferred_unwind.so.0" || true)
case "$real" in
    libdeferred_unwind.so.0.*) [ -f "$prefix/lib/$real" ] && [ ! -L "$prefix/lib/$real" ] ||
        fail "$prefix/lib/$real is not the library file" ;;
    *) fail "libdeferred_unwind.so.0 should link to libdeferred_unwind.so.0.<minor>.<patch> (got '$real')" ;;
esac

dyn=$(readelf -d "$lib")
needed=$(awk '/\(NEEDED\)/ { gsub(/[][]/, "", $NF); print $NF }' <<<"$dyn")
if grep -Eiq 'swift|dispatch|Foundation|BlocksRuntime' <<<"$needed"; then
    fail "NEEDED names the Swift runtime: $(tr '\n' ' ' <<<"$needed")"
else
    ok "NEEDED: $(tr '\n' ' ' <<<"$needed")(no Swift runtime)"
fi
grep -q '^liburcu-bp\.so\.' <<<"$needed" ||
    fail "NEEDED lacks liburcu-bp (the core's RCU flavor): $(tr '\n' ' ' <<<"$needed")"
if grep -Eq '\((RPATH|RUNPATH)\)' <<<"$dyn"; then
    fail "RPATH/RUNPATH set (a toolchain path would leak to users): $(grep -E 'RPATH|RUNPATH' <<<"$dyn")"
else
    ok "no RPATH/RUNPATH"
fi
soname=$(awk '/\(SONAME\)/ { gsub(/[][]/, "", $NF); print $NF }' <<<"$dyn")
[ "$soname" = libdeferred_unwind.so.0 ] && ok "SONAME $soname" ||
    fail "SONAME is '$soname', want libdeferred_unwind.so.0"
flags=$(awk '$2 == "(FLAGS)" { $1 = $2 = ""; sub(/^ +/, ""); print }' <<<"$dyn")
flags1=$(awk '$2 == "(FLAGS_1)" { $1 = $2 = ""; sub(/^ +Flags: */, ""); print }' <<<"$dyn")
grep -qw BIND_NOW <<<"$flags" && grep -qw NOW <<<"$flags1" && ok "FLAGS $flags, FLAGS_1 $flags1" ||
    fail "not linked with -z now (FLAGS '$flags', FLAGS_1 '$flags1'): a handler's first du_request would enter the dynamic linker"
grep -qw NODELETE <<<"$flags1" ||
    fail "not linked with -z nodelete (FLAGS_1 '$flags1'): dlclose could unmap code the key destructor and fork handlers run"

# ---- 2. exported symbols against the header ---------------------------------
# Functions the header declares: preprocess (no comments, no macros), split
# into declarations at ; { }, keep the first du_ identifier followed by ( in
# each one that is neither static (inline helpers) nor a typedef.
from_header=$("$CC" -E -P -x c "$header" |
    awk 'BEGIN { RS = "[;{}]" }
         { gsub(/\n/, " ") }
         $0 ~ /^[ \t]*(static|typedef)[ \t]/ { next }
         match($0, /du_[A-Za-z0-9_]+[ \t]*\(/) {
             name = substr($0, RSTART, RLENGTH); sub(/[ \t]*\($/, "", name); print name
         }' | sort -u)
[ -n "$from_header" ] || fail "no function found in $header (extraction broken)"
dynsyms=$(nm -D --defined-only "$lib")
# Version nodes appear as absolute symbols; everything else must be a
# function of a DEFERRED_UNWIND_ node.
exported=$(awk '$2 != "A" { print $3 }' <<<"$dynsyms" | sort)
unversioned=$(grep -v '@@\?DEFERRED_UNWIND_' <<<"$exported" || true)
[ -z "$unversioned" ] || fail "exported without a DEFERRED_UNWIND_ version: $(tr '\n' ' ' <<<"$unversioned")"
not_code=$(awk '$2 != "A" && $2 != "T" { print $3 " (" $2 ")" }' <<<"$dynsyms")
[ -z "$not_code" ] || fail "exported data or non-function symbols: $(tr '\n' ' ' <<<"$not_code")"
names=$(sed 's/@.*//' <<<"$exported" | sort -u)
extra=$(comm -13 <(echo "$from_header") <(echo "$names"))
missing=$(comm -23 <(echo "$from_header") <(echo "$names"))
[ -z "$extra" ] || fail "exported but not declared in deferred_unwind.h (add to Scripts/c-library/deferred_unwind.map only if public): $(tr '\n' ' ' <<<"$extra")"
[ -z "$missing" ] || fail "declared in deferred_unwind.h but not exported (add to Scripts/c-library/deferred_unwind.map): $(tr '\n' ' ' <<<"$missing")"
[ -n "$extra$missing" ] || ok "exports = header: $(wc -l <<<"$names") functions"
if nm -D --undefined-only "$lib" | grep -i swift; then
    fail "the library refers to Swift symbols"
fi

# ---- 3. both C programs with pkg-config alone -------------------------------
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pc=$(pkg-config --cflags --libs deferred_unwind) || { echo "FAIL: pkg-config deferred_unwind" >&2; exit 1; }
ok "pkg-config --cflags --libs deferred_unwind: $pc"
out=$(mktemp -d "${TMPDIR:-/tmp}/du-c-check.XXXXXX")
trap 'rm -rf "$out"' EXIT
for src in Examples/c/example.c Tests/C/programs/core/link_test.c; do
    bin="$out/$(basename "$src" .c)"
    # shellcheck disable=SC2086 # pkg-config output is a word list
    if ! "$CC" -std=gnu11 -Wall -Wextra -Werror -g "$src" -o "$bin" $pc; then
        fail "$src does not build with: $CC $src \$(pkg-config --cflags --libs deferred_unwind)"
        continue
    fi
    readelf -d "$bin" | grep -q 'Shared library: \[libdeferred_unwind.so.0\]' ||
        fail "$bin does not record NEEDED libdeferred_unwind.so.0"
    # The prefix is not on the loader's path: LD_LIBRARY_PATH, as a user of
    # a private prefix would (a system prefix needs ldconfig instead).
    resolved=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$bin" | awk '/libdeferred_unwind/ { print $3 }')
    [ "$resolved" = "$prefix/lib/libdeferred_unwind.so.0" ] ||
        fail "$bin loads '$resolved', not the installed library"
    if LD_LIBRARY_PATH="$prefix/lib" timeout 60 "$bin" >"$out/log" 2>&1; then
        ok "$src built with pkg-config alone and ran: $(tail -n 1 "$out/log")"
    else
        fail "$src exited $?: $(cat "$out/log")"
    fi
done

if [ "$failed" != 0 ]; then
    echo "FAIL: the installed C library in $prefix does not pass (see FAIL lines above)" >&2
    exit 1
fi
echo "C library in $prefix: all checks passed"
