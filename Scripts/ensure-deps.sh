#!/usr/bin/env bash
# Installs what SwiftPM and the C library's Makefile cannot: liburcu-dev,
# zlib1g-dev (and pkg-config) from Debian's packages, only when pkg-config
# cannot already find liburcu-bp, the flavor the core, its SwiftPM targets
# and the C library build against (liburcu-dev has every flavor), and zlib,
# which unwind-profile's pprof writer gzips with.
set -euo pipefail
flavors=(liburcu-bp zlib)
# libaio-dev has no pkg-config file: its header stands for it (the agent's
# io_getevents test links a program with -laio).
found() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "${flavors[@]}" && [ -e /usr/include/libaio.h ]; }
if found; then
    exit 0
fi
"$(dirname "$0")/apt-install.sh" liburcu-dev zlib1g-dev pkg-config libaio-dev
found || { echo "error: ${flavors[*]} (pkg-config) or libaio.h still not found" >&2; exit 2; }
