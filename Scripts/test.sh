#!/usr/bin/env bash
# The test suite: unit tests, exhaustive step-point tests, Swift API tests and
# the C-only example.  Extra arguments go to swift build and swift test, e.g.
#   Scripts/test.sh --sanitize=thread --scratch-path .build-tsan
# Plain `swift test`, parallel like every Swift developer runs it: the suites
# that touch process-wide state (the 61-bit tracer registry, attached
# threads, signal handlers, cookie counters) are nested under one serialized
# parent suite, LibraryStateTests, and run one at a time; the pure value
# suites run alongside (Tests/DeferredUnwindTests/LibraryStateTests.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/ensure-deps.sh
# Under --sanitize=address: leak checking on (it is ASan's Linux default; said
# here so the choice is explicit), and a leak fails the run, in this process
# and in the programs the tests build and run.  The only leaks let through
# are the toolchain's own (XCTest, Foundation, Swift Testing's async main),
# listed with why in
# Scripts/lsan-suppressions.txt.  Without ASan these variables are unused.
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$PWD/Scripts/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
swift test "$@"
