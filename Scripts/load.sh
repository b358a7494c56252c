#!/usr/bin/env bash
# Scripts/load.sh - a saturating CPU load for the timing tests: two
# CPU-bound busy loops per core (`nproc` * 2, or the count given), each a
# shell loop doing arithmetic, with no I/O.  Runs until killed (TERM, INT or
# HUP), then kills its loops; meant to be started in the background and
# killed by a trap, as .ci/run's load stage does:
#
#   Scripts/load.sh & load=$!
#   trap 'kill $load; wait $load' EXIT
#
# Prints one line when the loops run: how many and their pids.  Nothing is
# left running: killed, it kills its loops and waits for them; should it die
# otherwise (SIGKILL) or lose its parent (the script that started it), the
# loops and it stop by themselves within about a second.
set -euo pipefail

n=${1:-$(( $(nproc) * 2 ))}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [busy loops, default nproc*2]" >&2
    exit 2
fi

main=$$
parent=$PPID
pids=()
stop() {
    trap - TERM INT HUP EXIT
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    exit 0
}
trap stop TERM INT HUP EXIT

for ((i = 0; i < n; i++)); do
    # CPU-bound; every ~100k iterations (well under a second) a look at
    # whether load.sh is still there.
    (
        trap - TERM INT HUP EXIT
        while kill -0 "$main" 2>/dev/null; do
            for ((j = 0; j < 100000; j++)); do :; done
        done
    ) &
    pids+=($!)
done
echo "load.sh: $n busy loops on $(nproc) cores (pids ${pids[*]}; load.sh $main)"
# Until a signal (the trap stops everything) or the parent is gone.
while kill -0 "$parent" 2>/dev/null && [ "$(cut -d' ' -f4 /proc/$main/stat)" = "$parent" ]; do
    sleep 1 &
    wait $! || true
done
stop
