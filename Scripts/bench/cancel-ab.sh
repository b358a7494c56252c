#!/bin/sh
# Cancel rows (7a) and (7b), this core against an older one, interleaved.
#   Scripts/bench/cancel-ab.sh [OLD_REV [ROUNDS]]    (default b8041f8~1, 11)
# Builds du-cancel-bench (public API only: Sources/CCancelBench) twice: here,
# and in a detached worktree of OLD_REV (OLD_TREE, default
# /tmp/du-cancel-ab-<rev>) into which this Benchmarks/ package is copied, so
# both binaries run the same benchmark source against their own core.
# Then, on the same machine in one run:
#   (7a) ROUNDS rounds, each: new and old `cancel-idle 2000 OTHERS` (order
#        alternating per round), for OTHERS = 1 and 8; reports the median over
#        rounds of each run's p50, and the max over every sample;
#   (7b) 3 rounds of `cancel-sleep 21 100` for each (alternating): the cancel
#        of tracer X while tracer S's callback sleeps 100 ms on another thread;
#        median and max over all 63 cancels of each build.
set -e
OLD_REV=${1:-b8041f8~1}
ROUNDS=${2:-11}
cd "$(dirname "$0")/../../Benchmarks" # the benchmark package; this script is in Scripts/bench
BENCH=$(pwd)
REPO=$(git rev-parse --show-toplevel)
OLD_SHA=$(git rev-parse --short "$OLD_REV")
OLD_TREE=${OLD_TREE:-/tmp/du-cancel-ab-$OLD_SHA}
if [ ! -d "$OLD_TREE" ]; then
    git -C "$REPO" worktree add --detach "$OLD_TREE" "$OLD_SHA" >/dev/null
fi
[ "$(git -C "$OLD_TREE" rev-parse --short HEAD)" = "$OLD_SHA" ] ||
    { echo "$OLD_TREE is not at $OLD_SHA" >&2; exit 1; }
# This benchmark package (not its .build) over the old tree's Benchmarks/.
(cd "$BENCH" && tar cf - --exclude=./.build --exclude=./.swiftpm .) | (cd "$OLD_TREE/Benchmarks" && tar xf -)
swift build -c release --scratch-path .build --product du-cancel-bench >/dev/null
swift build -c release --package-path "$OLD_TREE/Benchmarks" --scratch-path "$OLD_TREE/Benchmarks/.build" \
    --product du-cancel-bench >/dev/null
NEW="$BENCH/.build/release/du-cancel-bench"
OLD="$OLD_TREE/Benchmarks/.build/release/du-cancel-bench"
T=$(mktemp -d)
echo "new: core $(git -C "$REPO" log -1 --format=%h -- Sources) (HEAD $(git -C "$REPO" rev-parse --short HEAD), $(git -C "$REPO" status --porcelain -- Sources | wc -l) uncommitted files in Sources/)"
echo "old: $OLD_SHA"
echo "nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"

# field VALUE after WORD on a line
get() { awk -v w="$2" '{for (i = 1; i < NF; i++) if ($i == w) {print $(i + 1); exit}}' "$1"; }

for others in 1 8; do
    : >"$T/new.$others"; : >"$T/old.$others"
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        if [ $((r % 2)) -eq 0 ]; then order="new old"; else order="old new"; fi
        for which in $order; do
            if [ $which = new ]; then bin=$NEW; else bin=$OLD; fi
            "$bin" cancel-idle 2000 "$others" >"$T/run"
            # p50 and max of the "cancel alone" and "register+cancel" lines
            rc=$(grep 'register+cancel' "$T/run"); c=$(grep 'cancel alone' "$T/run")
            echo "$(echo "$rc" | awk '{for(i=1;i<NF;i++){if($i=="p50")a=$(i+1);if($i=="max")b=$(i+1)}} END{print a, b}') \
$(echo "$c" | awk '{for(i=1;i<NF;i++){if($i=="p50")a=$(i+1);if($i=="max")b=$(i+1)}} END{print a, b}')" >>"$T/$which.$others"
        done
        r=$((r + 1))
    done
done
med() { sort -g | awk '{v[NR]=$1} END {print v[int((NR + 1) / 2)]}'; }
mx() { sort -g | tail -1; }
echo
printf '%-44s %10s %10s %8s %10s %10s\n' "(7a) no callback running, 2000 samples/run" "new p50" "old p50" "new/old" "new max" "old max"
for others in 1 8; do
    for col in 1 3; do
        if [ $col = 1 ]; then what="register+cancel"; else what="cancel alone"; fi
        n=$(cut -d' ' -f$col "$T/new.$others" | med); o=$(cut -d' ' -f$col "$T/old.$others" | med)
        nm=$(cut -d' ' -f$((col + 1)) "$T/new.$others" | mx); om=$(cut -d' ' -f$((col + 1)) "$T/old.$others" | mx)
        printf '%-44s %10s %10s %8.3f %10s %10s\n' "$what, $others other attached (us)" "$n" "$o" \
            "$(awk -v a="$n" -v b="$o" 'BEGIN{print a / b}')" "$nm" "$om"
    done
done
echo "(median over $ROUNDS interleaved runs of each run's p50; max over all samples)"

echo
: >"$T/snew"; : >"$T/sold"
for r in 1 2 3; do
    if [ $((r % 2)) -eq 1 ]; then order="new old"; else order="old new"; fi
    for which in $order; do
        if [ $which = new ]; then bin=$NEW; else bin=$OLD; fi
        "$bin" cancel-sleep 21 100 >"$T/run"
        grep -v 'samples' "$T/run" | sed "s/^/$which: /"
        grep 'samples' "$T/run" | cut -d: -f2 | tr ' ' '\n' | grep . >>"$T/s$which"
    done
done
echo
printf '%-44s %10s %10s %10s %10s\n' "(7b) cancel X, S's callback sleeps 100 ms" "new p50" "new max" "old p50" "old max"
printf '%-44s %10s %10s %10s %10s\n' "(us, $(wc -l <"$T/snew") / $(wc -l <"$T/sold") cancels pooled)" \
    "$(med <"$T/snew")" "$(mx <"$T/snew")" "$(med <"$T/sold")" "$(mx <"$T/sold")"

# Instructions (callgrind, repeatable): one register and one cancel of (7a),
# 1 other attached thread, 1000 rounds (+5 warm-up), inclusive cost of the
# out-of-line wrappers per call.  valgrind 3.19 cannot read Swift clang's
# DWARF 5: stripped copies.
if command -v valgrind >/dev/null; then
    echo
    printf '%-44s %10s %10s %8s\n' "(7a) callgrind Ir per call, 1 other attached" new old new/old
    for which in new old; do
        if [ $which = new ]; then bin=$NEW; else bin=$OLD; fi
        mkdir "$T/cg$which"
        cp "$bin" "$(dirname "$bin")/libCDeferredUnwindShared.so" "$T/cg$which/"
        strip --strip-debug "$T/cg$which/du-cancel-bench" "$T/cg$which/libCDeferredUnwindShared.so"
        for fn in cb_register_one cb_cancel_one; do
            valgrind --tool=callgrind --callgrind-out-file="$T/$which.$fn" --toggle-collect=$fn \
                "$T/cg$which/du-cancel-bench" cancel-idle 1000 1 >/dev/null 2>"$T/$which.$fn.err" ||
                { cat "$T/$which.$fn.err"; exit 1; }
            callgrind_annotate "$T/$which.$fn" | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1 / 1005}' \
                >"$T/$which.$fn.ir"
        done
    done
    for fn in cb_register_one cb_cancel_one; do
        n=$(cat "$T/new.$fn.ir"); o=$(cat "$T/old.$fn.ir")
        printf '%-44s %10.1f %10.1f %8.3f\n' "${fn#cb_}" "$n" "$o" "$(awk -v a="$n" -v b="$o" 'BEGIN{print a / b}')"
    done
fi
rm -rf "$T"
