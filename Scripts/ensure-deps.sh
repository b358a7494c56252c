#!/usr/bin/env bash
# Installs what SwiftPM and the C library's Makefile cannot: liburcu-dev (and
# pkg-config) from Debian's packages, only when pkg-config cannot already
# find liburcu-bp, the flavor the core, its SwiftPM targets and the C library
# build against (liburcu-dev has every flavor).
set -euo pipefail
flavors=(liburcu-bp)
found() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "${flavors[@]}"; }
if found; then
    exit 0
fi
"$(dirname "$0")/apt-install.sh" liburcu-dev pkg-config
found || { echo "error: ${flavors[*]} still not found by pkg-config" >&2; exit 2; }
