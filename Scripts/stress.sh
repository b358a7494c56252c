#!/usr/bin/env bash
# The main job: the stress harness.  Installs liburcu-dev first when
# pkg-config cannot find liburcu, builds the C library product next to the
# harness (scenario dlopen-cycle loads .build/release/libCDeferredUnwindShared.so),
# then runs `swift run -c release unwind-stress` with the arguments given
# (default: all scenarios, 60 s, 2 x cores threads; see --help, --list).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/ensure-deps.sh
swift build -c release --product CDeferredUnwindShared
exec swift run -c release unwind-stress "$@"
