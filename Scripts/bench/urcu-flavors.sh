#!/bin/sh
# liburcu bp vs memb in one run: the registry's move to the bp flavor.
#   Scripts/bench/urcu-flavors.sh [ROUNDS]
# 1. timed table (du-bench-driver urcu-flavors ROUNDS, default 31): each row
#    alternates memb and bp in one process, bp/memb = ratio of medians (p50).
# 2. instructions per op, callgrind (repeatable): read pair and
#    synchronize_rcu() with --toggle-collect on the kernel (fn = inclusive cost
#    of the liburcu functions per op); thread rows by difference, all
#    instructions of a run with 400 threads minus one with 200, over 200 (bp's
#    unregistration runs in glibc's thread exit, outside any kernel function;
#    200 first threads leave one-time costs out).
# 3. system calls per op, strace -f -c, same difference (N minus 0, over N).
set -e
R=${1:-31}
cd "$(dirname "$0")/../../Benchmarks" # the benchmark package; this script is in Scripts/bench
swift build -c release --scratch-path .build --product du-bench-driver >/dev/null
echo "liburcu $(pkg-config --modversion liburcu-bp), $(valgrind --version), nproc $(nproc)"
./.build/release/du-bench-driver urcu-flavors "$R"

# valgrind 3.19 cannot read the DWARF 5 of Swift's clang: stripped copies.
T=$(mktemp -d)
cp .build/release/du-bench-driver .build/release/libCDeferredUnwindShared.so "$T"/
strip --strip-debug "$T"/du-bench-driver "$T"/libCDeferredUnwindShared.so
D="$T/du-bench-driver"
ir() { # out-file toggle(or "") urcu-op-args...: callgrind, then annotate into out-file.txt
    out=$1; shift; tog=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$out" ${tog:+--toggle-collect=$tog} \
        "$D" urcu-op "$@" >/dev/null 2>"$out.err" || { cat "$out.err"; exit 1; }
    callgrind_annotate --inclusive=yes "$out" >"$out.txt"
}
fnsum() { # annotate-file fn... : sum of the inclusive counts of the functions
    f=$1; shift
    for fn; do awk -v f=":$fn " '$0 ~ f {gsub(",","",$1); print $1; exit}' "$f"; done |
        awk '{s += $1} END {print s + 0}'
}
total() { awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}' "$1"; }

echo
printf '%-20s %8s %12s %12s %8s\n' "callgrind Ir/op" N loop/op fn/op bp/memb
for row in "memb_read 100000 urcu_memb_read_lock urcu_memb_read_unlock" \
           "bp_read 100000 urcu_bp_read_lock urcu_bp_read_unlock" \
           "memb_sync 1000 urcu_memb_synchronize_rcu" \
           "bp_sync 1000 urcu_bp_synchronize_rcu" \
           "memb_sync_idle 1000 urcu_memb_synchronize_rcu" \
           "bp_sync_idle 1000 urcu_bp_synchronize_rcu"; do
    set -- $row; k=$1; n=$2; shift 2
    case $k in *read) tog=k_${k%_read}_read ;; *) tog=k_${k%%_*}_sync ;; esac
    ir "$T/$k.out" "$tog" "$k" "$n"
    fn=$(fnsum "$T/$k.out.txt" "$@")
    case $k in memb*) m=$fn; ratio="" ;; *) ratio=$(awk -v a="$fn" -v b="$m" 'BEGIN{printf "%.2f", a/b}') ;; esac
    awk -v k="$k" -v n="$n" -v t="$(total "$T/$k.out.txt")" -v f="$fn" -v r="$ratio" \
        'BEGIN { printf "%-20s %8d %12.1f %12.1f %8s\n", k, n, t / n, f / n, r }'
done
thread_ir() { # kernel: instructions per thread, steady state (400 minus 200 threads)
    ir "$T/$1.a" "" "$1" 200
    ir "$T/$1.b" "" "$1" 400
    awk -v a="$(total "$T/$1.a.txt")" -v b="$(total "$T/$1.b.txt")" 'BEGIN { print (b - a) / 200 }'
}
th_memb=$(thread_ir memb_thread); th_bp=$(thread_ir bp_thread); th_bare=$(thread_ir bare_thread)
awk -v m="$th_memb" -v b="$th_bp" -v z="$th_bare" 'BEGIN {
    printf "%-20s %8d %12.1f\n%-20s %8d %12.1f\n%-20s %8d %12.1f\n", "memb_thread", 200, m, "bp_thread", 200, b, "bare_thread", 200, z
    printf "%-20s %8s %12.1f %12.1f %8.2f   (memb / bp)\n", "thread minus bare", "", m - z, b - z, (b - z) / (m - z) }'

echo
command -v strace >/dev/null || { echo "(strace not installed: no system-call counts)"; rm -rf "$T"; exit 0; }
printf '%-20s %8s %10s %10s %10s\n' "syscalls/op" N all sigprocmask membarrier
sc() { awk -v s="$2" '$NF == s {print $4}' "$1" | head -1; }
for k in memb_sync bp_sync memb_thread bp_thread bare_thread; do
    strace -f -c -o "$T/$k.s0" "$D" urcu-op "$k" 0 >/dev/null
    strace -f -c -o "$T/$k.sn" "$D" urcu-op "$k" 1000 >/dev/null
    awk -v k="$k" -v a="$(sc "$T/$k.s0" total)" -v b="$(sc "$T/$k.sn" total)" \
        -v c="$(sc "$T/$k.s0" rt_sigprocmask)" -v d="$(sc "$T/$k.sn" rt_sigprocmask)" \
        -v e="$(sc "$T/$k.s0" membarrier)" -v f="$(sc "$T/$k.sn" membarrier)" \
        'BEGIN { printf "%-20s %8d %10.2f %10.2f %10.2f\n", k, 1000, (b-a)/1000, (d-c)/1000, (f-e)/1000 }'
done
rm -rf "$T"
