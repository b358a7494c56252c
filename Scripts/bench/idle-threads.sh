#!/usr/bin/env bash
# What idle threads cost under the agent (Docs/ProfilerPerformance.md, the
# idle-threads row; Docs/Agent.md, "Parked threads"):
#
#   Scripts/bench/idle-threads.sh <agent before.so> [repetitions (5)] [seconds (5)] [idle threads (200)]
#
# Runs Tests/C/programs/agent/agent_idle.c (N idle threads blocked in
# pthread_cond_wait / read / nanosleep, plus one busy thread that spins
# until it used the given seconds of CPU: the same work in every run, so
# runs compare on a loaded machine; the handler's time on the busy thread
# counts in its budget, so its own samples' cost is not in the figures,
# the idle threads' cost is all in), unprofiled and under two agents (`before`: the one given, e.g.
# built from main; `after`: this tree's `make agent`) at 99 and 999 Hz.  In
# each repetition every configuration runs once, in an order rotated from
# one repetition to the next.  CPU time = user + sys of the whole process
# from wait4 (Benchmarks/profiler/cpurun.c).  Per run: one `IDLE run` line
# (CPU, wall, the record file's size, SAMPLE records, LOST count).  Then per
# configuration the extra CPU over the same repetition's unprofiled run, in
# seconds and in % of it: median [min..max] over the repetitions.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
before=${1:?usage: idle-threads.sh <agent before.so> [reps] [seconds] [threads]}
reps=${2:-5}
secs=${3:-5}
threads=${4:-200}
out="$root/Benchmarks/.build-idle"
mkdir -p "$out"
make agent >/dev/null
after="$root/.build-c/libunwind_profile_agent.so"
cc -O2 -g -Wall -Wextra -o "$out/cpurun" Benchmarks/profiler/cpurun.c
cc -O1 -g -fno-omit-frame-pointer -pthread -Wall -Wextra -Werror -o "$out/agent_idle" \
    Tests/C/programs/agent/agent_idle.c

# stats <record file>: "bytes=.. samples=.. lost=.." (LOST records' counts summed).
stats() {
    python3 - "$1" <<'EOF'
import os, struct, sys
b = open(sys.argv[1], 'rb').read()
off, samples, lost = 16, 0, 0
while off + 8 <= len(b):
    t, _, size = struct.unpack_from('<HHI', b, off)
    if size < 8:
        break
    if t == 2:
        samples += 1
    elif t == 6:
        lost += struct.unpack_from('<Q', b, off + 16)[0]
    off += size
print(f"bytes={len(b)} samples={samples} lost={lost}")
EOF
}

configs=(off before99 after99 before999 after999)
echo "IDLE machine $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)," \
    "$threads idle threads + 1 busy, $secs s, $reps repetitions; before=$before ($(sha256sum "$before" | cut -c1-12))," \
    "after=$after ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Profiler || echo +dirty))"
for ((rep = 0; rep < reps; rep++)); do
    for ((k = 0; k < ${#configs[@]}; k++)); do
        cfg=${configs[$(((k + rep) % ${#configs[@]}))]}
        tag="$out/$cfg"
        rm -f "$tag.data" "$tag.data.log" "$tag.cpu"
        case $cfg in
        off) "$out/cpurun" "$tag.cpu" "$out/agent_idle" "$secs" "$threads" >"$tag.stdout" ;;
        *)
            lib=$after
            [ "${cfg:0:6}" = before ] && lib=$before
            hz=${cfg##*[a-z]}
            # env after cpurun: the agent goes into agent_idle, not cpurun.
            "$out/cpurun" "$tag.cpu" env LD_PRELOAD="$lib" UNWIND_PROFILE_OUTPUT="$tag.data" \
                UNWIND_PROFILE_FREQUENCY="$hz" "$out/agent_idle" "$secs" "$threads" >"$tag.stdout"
            ;;
        esac
        grep -q '^done$' "$tag.stdout" || { echo "error: $cfg did not finish" >&2; exit 1; }
        line=$(cat "$tag.cpu")
        extra=""
        [ "$cfg" != off ] && extra=" $(stats "$tag.data")"
        echo "IDLE run rep=$rep cfg=$cfg ${line#CPURUN }$extra"
    done
done | tee "$out/runs.txt"

python3 - "$out/runs.txt" <<'EOF'
import re, sys, statistics
runs = {}
for line in open(sys.argv[1]):
    if not line.startswith('IDLE run'):
        continue
    f = dict(kv.split('=', 1) for kv in line.split()[2:])
    runs.setdefault(int(f['rep']), {})[f['cfg']] = f
def span(v, fmt):
    v = sorted(v)
    return f"{fmt(statistics.median(v))} [{fmt(v[0])}..{fmt(v[-1])}]"
for cfg in ['before99', 'after99', 'before999', 'after999']:
    ex, pct, lost, size, samples = [], [], [], [], []
    for rep, r in sorted(runs.items()):
        off = float(r['off']['cpu']); c = r[cfg]
        ex.append(float(c['cpu']) - off); pct.append(100 * (float(c['cpu']) - off) / off)
        lost.append(int(c['lost'])); size.append(int(c['bytes'])); samples.append(int(c['samples']))
    offs = [float(r['off']['cpu']) for r in runs.values()]
    print(f"IDLE result cfg={cfg} extra_cpu_s={span(ex, lambda x: f'{x:.3f}')} "
          f"extra_cpu_pct={span(pct, lambda x: f'{x:+.2f}%')} lost={span(lost, str)} "
          f"file_bytes={span(size, str)} sample_records={span(samples, str)} "
          f"unprofiled_cpu_s={span(offs, lambda x: f'{x:.3f}')}")
EOF
