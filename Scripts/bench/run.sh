#!/bin/sh
# Run the DeferredUnwind benchmark suite from anywhere: Scripts/bench/run.sh [extra benchmark args]
# Builds in Benchmarks/.build (release), runs package-benchmark, then the C
# driver's interleaved ratios, then liburcu bp vs memb (timed rows; with
# instruction and system-call counts: Scripts/bench/urcu-flavors.sh).
# About 1.5 minutes on 2 cores after the first build (~3 for that).
set -e
cd "$(dirname "$0")/../../Benchmarks" # the benchmark package; this script is in Scripts/bench
swift package --scratch-path .build benchmark --no-progress "$@"
swift build -c release --scratch-path .build --product du-bench-driver
./.build/release/du-bench-driver footprint
./.build/release/du-bench-driver ratios 31
./.build/release/du-bench-driver urcu-flavors 31
