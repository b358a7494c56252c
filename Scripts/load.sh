#!/usr/bin/env bash
# Scripts/load.sh - a saturating CPU load for the timing tests: two
# CPU-bound busy loops per core (`nproc` * 2, or the count given), each a
# plain shell loop with no I/O.  Runs in the foreground until killed (TERM,
# INT or HUP) and then kills its loops; meant to be started in the
# background and killed by a trap, as .ci/run's load stage does:
#
#   Scripts/load.sh & load=$!
#   trap 'kill $load; wait $load' EXIT
#
# Prints one line when the loops run: how many and their pids.  Nothing is
# left running once it has been killed (its loops get TERM, then it waits).
set -euo pipefail

n=${1:-$(( $(nproc) * 2 ))}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [busy loops, default nproc*2]" >&2
    exit 2
fi

pids=()
stop() {
    trap - TERM INT HUP EXIT
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    exit 0
}
trap stop TERM INT HUP EXIT

for ((i = 0; i < n; i++)); do
    # A subshell spinning on arithmetic: CPU-bound, no system calls.
    ( trap - TERM INT HUP EXIT; while :; do :; done ) &
    pids+=($!)
done
echo "load.sh: $n busy loops on $(nproc) cores (pids ${pids[*]})"
# Wait for a signal; `wait` returns when one arrives and the trap runs.
while :; do wait || true; done
