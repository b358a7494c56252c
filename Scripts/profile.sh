#!/usr/bin/env bash
# Profile a command's wall-clock time, off-CPU and on-CPU, and draw it:
#
#   Scripts/profile.sh [record options] -- <program> [args...]
#
# Set-up included: installs liburcu-dev and zlib1g-dev when missing, builds
# the preloaded agent (`make agent`) and `unwind-profile` (release), then
#   unwind-profile record [record options] -o unwind-profile.data -- <program> [args...]
#   unwind-profile report unwind-profile.data --format svg -o unwind-profile.svg
# in the current directory (a previous unwind-profile.data becomes .old).
# Open the SVG in a browser; for the other formats run the report again
# (`.build/release/unwind-profile report --help`).  Record options:
# `-F <Hz>` (default 99).  Exit status: the program's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
"$root/Scripts/ensure-deps.sh"
make -s -C "$root" agent
log=$(mktemp)
if ! swift build -c release --package-path "$root" --product unwind-profile >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "error: swift build of unwind-profile failed" >&2
    exit 2
fi
rm -f "$log"
bin="$root/.build/release/unwind-profile"
status=0
"$bin" record --agent "$root/.build-c/libunwind_profile_agent.so" -o unwind-profile.data "$@" || status=$?
"$bin" report unwind-profile.data --format svg -o unwind-profile.svg
echo "flame graph: $PWD/unwind-profile.svg" >&2
exit "$status"
