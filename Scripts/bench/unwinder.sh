#!/usr/bin/env bash
# Cost per frame of glibc backtrace() (DWARF CFI, the core's unwinder before
# ehu and its fallback) against libunwind's cached unw_backtrace, a bounded,
# checked frame-pointer walk and ehu (Sources/CDeferredUnwind/ehu.c: the
# core's rule cache built from .eh_frame), and the walks' correctness across a frame without a frame
# pointer (Docs/Performance.md, "Unwinder cost per frame").  Times from one
# run; then instruction counts per call from callgrind (repeatable on a
# shared machine): the 800 calls at depths 8/16/32/64, and per 20-frame
# stack.  Then ehu's validation suite (Benchmarks/unwinder/validate.sh) unless
# UNWINDER_NO_VALIDATE=1.
set -euo pipefail
cd "$(dirname "$0")/../../Benchmarks/unwinder"
out=../.build-unwinder
mkdir -p "$out"
. ./ehu-objects.sh # the core's unwinder, built alone: $out/ehu*.o
ehu_objects
cc -O2 -g -fomit-frame-pointer -c nofp.c -o "$out/nofp.o"
cc -O2 -g -I$core -fno-omit-frame-pointer -fno-optimize-sibling-calls -rdynamic \
    unwinder_bench.c fp_walk.c "$out/nofp.o" "$out/ehu.o" "$out/ehu_cfi.o" "$out/ehu_fork.o" -o "$out/unwinder_bench" -lpthread
"$out/unwinder_bench" "${1:-20000}"
# The costs behind ehu's choices (FDE lookup, dlclose check, miss, flush).
cc $W -O2 -g ehu_costs.c "$out/ehu.o" "$out/ehu_cfi.o" "$out/ehu_fork.o" -o "$out/ehu_costs" -ldl -lpthread -lgcc_s
"$out/ehu_costs" 100000
if command -v valgrind >/dev/null; then
    # Inclusive instructions of one function (an awk regex) in a callgrind
    # profile.  libunwind's unw_backtrace shows as "backtrace" (an alias).
    ir() { callgrind_annotate --inclusive=yes "$1" 2>/dev/null | awk -v f="$2" '
        $0 ~ f && !v { v = $1; gsub(",", "", v) } END { print v + 0 }'; }
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$out/unwinder_bench" 200 >/dev/null 2>&1
    bt=$(ir "$out/cg.out" "backtrace\\.c:backtrace \\[")
    fp=$(ir "$out/cg.out" "fp_walk\\.c:fp_walk \\[")
    eh=$(ir "$out/cg.out" "ehu\\.c:ehu__entry \\[")
    lu=$(ir "$out/cg.out" ":(unw_)?backtrace \\[.*libunwind")
    echo "UNWINDER callgrind backtrace_Ir=$bt libunwind_Ir=$lu fp_Ir=$fp ehu_Ir=$eh ratio=$(awk -v a="$bt" -v b="$fp" 'BEGIN{printf "%.1f", a/b}') ehu_ratio=$(awk -v a="$bt" -v b="$eh" 'BEGIN{printf "%.1f", a/b}') (800 calls, depths 8/16/32/64)"
    n=2000
    valgrind --tool=callgrind --callgrind-out-file="$out/cg20.out" "$out/unwinder_bench" $n stack20 >/dev/null 2>&1
    bt=$(ir "$out/cg20.out" "backtrace\\.c:backtrace \\[")
    fp=$(ir "$out/cg20.out" "fp_walk\\.c:fp_walk \\[")
    eh=$(ir "$out/cg20.out" "ehu\\.c:ehu__entry \\[")
    ng=$(ir "$out/cg20.out" "ehu\\.c:ehu_backtrace_from \\[")
    lu=$(ir "$out/cg20.out" ":(unw_)?backtrace \\[.*libunwind")
    awk -v n=$n -v bt="$bt" -v lu="$lu" -v fp="$fp" -v eh="$eh" -v ng="$ng" 'BEGIN {
        printf "UNWINDER callgrind-stack20 per_call_Ir backtrace=%.0f libunwind=%.0f fp=%.0f ehu=%.0f ehu_nogen=%.0f ehu_per_frame=%.1f bt_over_ehu=%.1f\n",
            bt / n, lu / n, fp / n, eh / n, ng / n, eh / n / 20, bt / eh }'
fi
if [ "${UNWINDER_NO_VALIDATE:-0}" != 1 ]; then
    bash ./validate.sh
fi
