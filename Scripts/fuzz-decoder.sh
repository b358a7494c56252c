#!/usr/bin/env bash
# Fuzz the record-file decoder and stitcher (Profiler/Fuzz/DecoderFuzz.swift)
# with libFuzzer + ASan for SECONDS (default 60):
#   Scripts/fuzz-decoder.sh [SECONDS] [extra libFuzzer arguments...]
# Seeds: the committed corpus Tests/ProfileTests/Fuzz/corpus/.  New inputs go
# to the scratch corpus .build-fuzz/corpus/ (kept between runs), crashes,
# timeouts and OOMs to .build-fuzz/crashes/.  Exits 1 on a finding and prints
# the input and the command that replays it; the last line is always
#   FUZZ decoder seconds=N execs=N corpus=N crashes=N result=PASS|FAIL
# Environment:
#   FUZZ_SEEDS=1  first regenerate the named seeds (Profiler/Fuzz/SeedCorpus.swift)
#                 into the committed corpus
#   FUZZ_MERGE=1  after fuzzing, merge the scratch corpus into the committed
#                 corpus: libFuzzer's -merge=1 adds only inputs with new
#                 coverage (SECONDS=0 merges without fuzzing)
# A finding's input belongs in Tests/ProfileTests/Fuzz/crashes/, named for what
# it found, once fixed: FuzzRegressionTests replays it on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
case $seconds in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] [libFuzzer args...]" >&2; exit 2 ;;
esac

out=.build-fuzz
fuzzer=$out/decoder-fuzz
seeds=Tests/ProfileTests/Fuzz/corpus
scratch=$out/corpus
crashes=$out/crashes
log=$out/fuzz.log
mkdir -p "$out" "$scratch" "$crashes" "$seeds"
# libFuzzer and ASan print the stack of a finding.  Swift's own crash
# backtracer would also start on a trap, and its swift-backtrace helper was
# seen to outlive the fuzzer and hang libFuzzer's -minimize_crash: off.
export SWIFT_BACKTRACE=enable=no

# swiftc's own libFuzzer and ASan; ld.gold's 'Cannot export local symbol
# __asan_*' warnings are harmless and filtered, anything else is shown.
build() {  # build OUTPUT SWIFTC-ARGS...
    local output=$1; shift
    if ! swiftc -parse-as-library "$@" -o "$output" 2>"$output.build.log"; then
        grep -v "Cannot export local symbol '__asan" "$output.build.log" >&2 || true
        echo "fuzz-decoder: building $output failed" >&2
        exit 1
    fi
    grep -v "Cannot export local symbol '__asan" "$output.build.log" >&2 || true
}

t0=$(date +%s)
build "$fuzzer" -sanitize=fuzzer,address -O -g \
    Profiler/ProfileFormat/*.swift Profiler/Fuzz/DecoderFuzz.swift
echo "fuzz-decoder: built $fuzzer in $(( $(date +%s) - t0 )) s"

if [[ ${FUZZ_SEEDS:-0} == 1 ]]; then
    build "$out/seed-corpus" -O Profiler/ProfileFormat/*.swift Profiler/Fuzz/SeedCorpus.swift
    "$out/seed-corpus" "$seeds"
fi

before=$(ls "$crashes" | sort)
status=0
execs=0 corpus=0
if (( seconds > 0 )); then
    echo "fuzz-decoder: fuzzing for $seconds s (log: $log)"
    # The scratch corpus comes first: libFuzzer writes new inputs there only.
    "$fuzzer" "$scratch" "$seeds" \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -dict=Profiler/Fuzz/record.dict -artifact_prefix="$crashes/" \
        -print_final_stats=1 "$@" >"$log" 2>&1 || status=$?
    # The last status lines (cov = covered edges, ft = features) and stats.
    grep -E '^#[0-9]+' "$log" | tail -n 3 || true
    grep -E '^stat::' "$log" || true
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    corpus=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
fi

new=$(comm -13 <(echo "$before") <(ls "$crashes" | sort) | grep -v '^$' || true)
ncrashes=$(printf '%s' "$new" | grep -c . || true)
if (( status != 0 || ncrashes > 0 )); then
    echo "fuzz-decoder: FINDING (libFuzzer exit status $status); from $log:" >&2
    # From the report's first line, without ASan's shadow-byte map.
    awk '/ERROR: |Fatal error|deadly signal/ { on = 1 }
         /^Shadow bytes around/ { skip = 1 } /^==[0-9]+==ABORTING/ { skip = 0 }
         on && !skip && !/^#[0-9]+|^stat::/' "$log" | head -n 60 >&2 || true
    for f in $new; do
        echo "fuzz-decoder: input: $crashes/$f" >&2
        echo "fuzz-decoder: replay: $fuzzer $crashes/$f" >&2
    done
    (( ncrashes > 0 )) || ncrashes=1
    result=FAIL
else
    result=PASS
fi

if [[ ${FUZZ_MERGE:-0} == 1 && $result == PASS ]]; then
    n0=$(ls "$seeds" | wc -l)
    "$fuzzer" -merge=1 -max_len=8192 -timeout=10 -rss_limit_mb=2048 "$seeds" "$scratch" >"$out/merge.log" 2>&1 || {
        tail -n 20 "$out/merge.log" >&2
        echo "fuzz-decoder: merge failed" >&2
        exit 1
    }
    echo "fuzz-decoder: merged $(( $(ls "$seeds" | wc -l) - n0 )) inputs with new coverage into $seeds ($(ls "$seeds" | wc -l) files, $(du -sh --apparent-size "$seeds" | cut -f1))"
fi

echo "FUZZ decoder seconds=$seconds execs=${execs:-0} corpus=${corpus:-0} crashes=$ncrashes result=$result"
[[ $result == PASS ]]
