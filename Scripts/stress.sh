#!/bin/sh
# stress.sh - the README quick start's way to run the stress harness.
# Installs liburcu (Debian/Ubuntu: liburcu-dev) when pkg-config cannot find
# liburcu-memb, then runs `swift run -c release unwind-stress` with the
# arguments given (e.g. --duration 600, --variant plain-reset, --list).
set -eu
cd "$(dirname "$0")/.."
if ! pkg-config --exists liburcu-memb 2>/dev/null; then
    echo "stress.sh: liburcu-memb not found; installing liburcu-dev" >&2
    if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -q >&2
    $SUDO apt-get install -y -q liburcu-dev pkg-config >&2 || {
        echo "stress.sh: could not install liburcu-dev; install liburcu (memb flavor) and pkg-config, then retry" >&2
        exit 2
    }
fi
exec swift run -c release unwind-stress "$@"
