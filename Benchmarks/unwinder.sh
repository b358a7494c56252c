#!/usr/bin/env bash
# Cost per frame of the core's unwinder (glibc backtrace(), DWARF CFI)
# against a bounded, checked frame-pointer walk, and the walk's correctness
# across a frame without a frame pointer (Docs/Performance.md, "Unwinder
# cost per frame").  Times from one run; then instruction counts per call
# at depth 8 and 64 from callgrind (repeatable on a shared machine).
set -euo pipefail
cd "$(dirname "$0")/unwinder"
out=../.build-unwinder
mkdir -p "$out"
cc -O2 -g -fomit-frame-pointer -c nofp.c -o "$out/nofp.o"
cc -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -rdynamic \
    unwinder_bench.c fp_walk.c "$out/nofp.o" -o "$out/unwinder_bench"
"$out/unwinder_bench" "${1:-20000}"
if command -v valgrind >/dev/null; then
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$out/unwinder_bench" 200 >/dev/null 2>&1
    # Inclusive instructions of the 800 measured calls of each (200 per depth).
    callgrind_annotate --inclusive=yes "$out/cg.out" 2>/dev/null | awk '
        /backtrace\.c:backtrace \[/ && !bt { bt = $1; gsub(",", "", bt) }
        /fp_walk\.c:fp_walk \[/ && !fp { fp = $1; gsub(",", "", fp) }
        END { printf "UNWINDER callgrind backtrace_Ir=%d fp_Ir=%d ratio=%.1f (800 calls, depths 8/16/32/64)\n", bt, fp, bt / fp }'
fi
