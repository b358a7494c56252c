#!/usr/bin/env bash
# The test suite: unit tests, exhaustive step-point tests, Swift API tests and
# the C-only example.  Extra arguments go to swift build and swift test, e.g.
#   Scripts/test.sh --sanitize=thread --scratch-path .build-tsan
# Tests run one at a time (--no-parallel): the tracer registry is process-wide
# with 61 bits, and the registry-full and bit-reuse tests need it to themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/ensure-deps.sh
swift test --no-parallel "$@"
