#!/usr/bin/env bash
# apt-install.sh PACKAGE... - install Debian packages for the set-up scripts
# (ensure-deps.sh: liburcu-dev, pkg-config; model-check.sh: spin), with sudo
# only when not root.  Exit 2 when apt-get or root is unavailable.
set -euo pipefail
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get is not available; install: $*" >&2
    exit 2
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "error: need root (or sudo) to apt-get install $*" >&2
        exit 2
    fi
fi
echo "Installing $* with apt-get..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
