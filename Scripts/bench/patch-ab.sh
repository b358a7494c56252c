#!/bin/sh
# A proposed core change, measured against this core in one run.
#   Scripts/bench/patch-ab.sh PATCH [ROUNDS]     e.g. Benchmarks/proposals/first-request.diff, 3
# Makes a detached worktree of HEAD (PATCH_TREE, default /tmp/du-patch-ab),
# applies PATCH there (a diff of Sources/ from the repo root, `git apply`),
# copies this Benchmarks/ package over its Benchmarks/, and builds
# du-bench-driver in both trees.  Then, alternating the two binaries ROUNDS
# times (order swapped every round): `du-bench-driver ratios 31`, printing
# rows (1) and (1s) of each (A/B = against the lower bound in the same
# process).  Last, `callgrind.sh` in both (instruction counts, repeatable).
# Nothing here changes Sources/ of this tree.
set -e
PATCH=$(realpath "$1")
ROUNDS=${2:-3}
cd "$(dirname "$0")/../../Benchmarks" # the benchmark package; this script is in Scripts/bench
BENCH=$(pwd)
REPO=$(git rev-parse --show-toplevel)
TREE=${PATCH_TREE:-/tmp/du-patch-ab}
if [ -d "$TREE" ]; then
    git -C "$TREE" checkout -q --detach "$(git rev-parse HEAD)"
    git -C "$TREE" checkout -q -- Sources
else
    git -C "$REPO" worktree add --detach "$TREE" HEAD >/dev/null
fi
git -C "$TREE" apply "$PATCH"
(cd "$BENCH" && tar cf - --exclude=./.build --exclude=./.swiftpm .) | (cd "$TREE/Benchmarks" && tar xf -)
swift build -c release --scratch-path .build --product du-bench-driver >/dev/null
swift build -c release --package-path "$TREE/Benchmarks" --scratch-path "$TREE/Benchmarks/.build" \
    --product du-bench-driver >/dev/null
echo "base: $(git -C "$REPO" rev-parse --short HEAD); patched: + $(basename "$PATCH")"
echo "nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
r=0
while [ $r -lt "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 0 ]; then order="base patched"; else order="patched base"; fi
    for which in $order; do
        if [ $which = base ]; then d=$BENCH; else d=$TREE/Benchmarks; fi
        "$d/.build/release/du-bench-driver" ratios 31 | grep -E '^\(1s?\) ' | sed "s/^/$which  /"
    done
    r=$((r + 1))
done
for which in base patched; do
    if [ $which = base ]; then d=$BENCH; else d=$TREE/Benchmarks; fi
    echo "callgrind ($which):"
    CALLGRIND_SELF=1 "$d/../Scripts/bench/callgrind.sh" | grep -E '^kernel|request_first|lower_bound|request_repeat|^self'
done
