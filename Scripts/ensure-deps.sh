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
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${flavors[*]} not found by pkg-config and apt-get is not available;" \
         "install liburcu (>= 0.13) and pkg-config" >&2
    exit 2
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "error: need root (or sudo) to apt-get install liburcu-dev pkg-config" >&2
        exit 2
    fi
fi
echo "Installing liburcu-dev and pkg-config with apt-get..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq liburcu-dev pkg-config >/dev/null
found || { echo "error: ${flavors[*]} still not found by pkg-config" >&2; exit 2; }
