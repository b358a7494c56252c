#!/bin/sh
# Instruction counts (repeatable) for (1), (2), (4) and (5) with valgrind's callgrind.
#   Scripts/bench/callgrind.sh [N]
# valgrind 3.19 cannot read the DWARF 5 that Swift's clang emits, so the driver
# and libCDeferredUnwindShared.so are copied and stripped of debug info (symbols stay).
# request_first_sp is the shipped du_request, first in its context (public API:
# request + safe point; fn counts du_request alone); request_first is the
# white-box duv_ loop the timed suite uses; request_first_dus the shipped
# request source compiled into the driver with the same reset (row 1s).
# CALLGRIND_SELF=1 also prints the self (exclusive) instructions per call of
# du_request, du_request_claim and du_cookie_get in request_first_sp.
# Per op: "loop" = all instructions inside the k_* loop / N (includes the loop
# and, for (1), the white-box reset); "fn" = inclusive cost of the library
# function (du_request, du_safe_point) or of lb_kernel / bt1, per call.
set -e
N=${1:-100000}
cd "$(dirname "$0")/../../Benchmarks" # the benchmark package; this script is in Scripts/bench
swift build -c release --scratch-path .build --product du-bench-driver >/dev/null
T=$(mktemp -d)
cp .build/release/du-bench-driver .build/release/libCDeferredUnwindShared.so "$T"/
strip --strip-debug "$T"/du-bench-driver "$T"/libCDeferredUnwindShared.so
printf '%-16s %8s %12s %10s  %s\n' kernel N loop/op fn/call fn
run() { # kernel n fn calls_per_op [loop function]
    valgrind --tool=callgrind --callgrind-out-file="$T/$1.out" --toggle-collect="${5:-k_$1}" \
        "$T"/du-bench-driver op "$1" "$2" >/dev/null 2>"$T/$1.err" || { cat "$T/$1.err"; exit 1; }
    callgrind_annotate --inclusive=yes "$T/$1.out" >"$T/$1.txt"
    total=$(awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}' "$T/$1.txt")
    fn=$(awk -v f=":$3 " '$0 ~ f {gsub(",","",$1); print $1; exit}' "$T/$1.txt")
    awk -v k="$1" -v n="$2" -v t="$total" -v f="${fn:-0}" -v c="$4" -v name="$3" \
        'BEGIN { printf "%-16s %8d %12.1f %10.1f  %s\n", k, n, t / n, f / (n * c), name }'
}
run request_first_sp $((N / 10)) du_request 1
run request_first "$N" duv_request 1
run lower_bound "$N" lb_kernel 1
run request_repeat "$N" du_request 1
run safepoint_idle "$N" du_safe_point 1
run safepoint_k1 $((N / 100)) du_safe_point 1 k_safepoint_k
run backtrace_k1 $((N / 100)) bt1 1 k_backtrace_k
run safepoint_k8 $((N / 100)) du_safe_point 1 k_safepoint_k
run backtrace_k8 $((N / 100)) bt1 8 k_backtrace_k
# Added after the thread-owned cookie: the shipped request.c + cookie.c
# compiled into the driver (dus_, white-box reset; the timed row (1s)).
run request_first_dus "$N" dus_request 1
if [ "${CALLGRIND_SELF:-0}" = 1 ]; then
    n=$((N / 10))
    # --tree=caller: each function's self cost ("*" line) follows the costs
    # of the calls into it, per caller ("<" lines).  du_cookie_get is also
    # called by the safe point's dispatch: only the call from du_request_claim.
    callgrind_annotate --tree=caller "$T/request_first_sp.out" | awk -v n="$n" '
        /^$/ { from = "" }
        / < \?\?\?:du_request_claim / { from = $1 }
        / \*  \?\?\?:(du_request|du_request_claim) / {
            c = $1; gsub(",", "", c); f = $0; sub(/.*\?\?\?:/, "", f); sub(/ .*/, "", f)
            printf "self %-30s %8.1f\n", f, c / n }
        / \*  \?\?\?:du_cookie_get / {
            gsub(",", "", from); printf "self %-30s %8.1f\n", "du_cookie_get (from the claim)", from / n }'
fi
rm -rf "$T"
