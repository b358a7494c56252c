#!/usr/bin/env bash
# real-programs.sh [--short] [--reps N] [--out DIR] - profile programs nobody
# here wrote, each under its own load, without and with the agent in the same
# run, and check what a user would check (Docs/ProfilerPerformance.md, "Real
# programs"):
#   nginx      a forking web server (master + 2 workers) under wrk
#   redis      an in-memory store with background threads under redis-benchmark
#   pipeline   a shell-wrapped pipeline: sh -c 'seq | gzip | gzip -d | sort | sha1sum'
#   python     a multi-threaded Python 3 program (Debian's /usr/bin/python3)
# Each repetition runs the program unprofiled, at 99 Hz and at 999 Hz, in a
# rotating order (the machine's load drifts: interleaving spreads it evenly).
# Profiled runs use the agent as `record` does (LD_PRELOAD and
# UNWIND_PROFILE_OUTPUT; children profile themselves into <file>.<pid>).
#
# Checks, per program (one grep-able line each):
#   REAL <prog>: processes=P threads=T stack_lost=L% oncpu=X% measured=Y% \
#        overhead99=M% [lo..hi] overhead999=M% [lo..hi] identical=yes|no result=PASS|FAIL
# - every process and thread appears (at least the program's known count);
# - [stack lost] <= 1 % of the periods;
# - the on-CPU share within 5 points of the measured CPU share (CPU time of
#   the profiled processes / the sampled threads' wall time);
# - outputs identical to the unprofiled run (a server: the bodies it served,
#   its data after the load, no failed request) and the same exit status;
# - overhead: CPU per unit of work (per request, or per run), profiled over
#   unprofiled, median and range over the repetitions; checked (<= 2 % at
#   99 Hz) only with 3 or more repetitions, printed always.
# Set-up: apt-get of nginx, wrk, redis-server, redis-tools, python3 when
# missing; `make agent`; `swift build -c release --product unwind-profile`.
# --short: 1 repetition, shorter loads (CI).  Raw outputs stay in DIR.
# Exit status: 0 all checks pass, 1 a check failed, 2 set-up error.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
short=0
reps=3
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --short) short=1; reps=1 ;;
        --reps) reps="$2"; shift ;;
        --out) out="$2"; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--short] [--reps N] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$out" ] || out=$(mktemp -d /tmp/real-programs.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
PROGRAMS=${REAL_PROGRAMS:-"nginx redis pipeline python"}

# ---- set-up -------------------------------------------------------------
need=()
for p in nginx wrk redis-server redis-tools python3 time curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    "$here/Scripts/apt-install.sh" "${need[@]}" || exit 2
fi
"$here/Scripts/ensure-deps.sh" || exit 2
(cd "$here" && make -s agent >/dev/null) || { echo "error: make agent failed" >&2; exit 2; }
agent="$here/.build-c/libunwind_profile_agent.so"
(cd "$here" && swift build -c release --product unwind-profile >"$out/swift-build.log" 2>&1) ||
    { echo "error: swift build -c release --product unwind-profile failed (see $out/swift-build.log)" >&2; exit 2; }
up="$here/.build/release/unwind-profile"
PY=/usr/bin/python3
. "$here/Scripts/real-programs-lib.sh"

if [ $short = 1 ]; then dur=3; redis_n=40000; seq_n=600000; py_iter=60; else
    dur=8; redis_n=150000; seq_n=2000000; py_iter=200; fi

status=0
for prog in $PROGRAMS; do
    rp_program "$prog" || status=1
done
echo "REAL summary: programs=\"$PROGRAMS\" repetitions=$reps out=$out result=$([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
