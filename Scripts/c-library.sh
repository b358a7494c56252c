#!/usr/bin/env bash
# The C library in one command: installs liburcu-dev and pkg-config when
# missing (Scripts/ensure-deps.sh), builds libdeferred_unwind.so with the
# root Makefile (no Swift toolchain needed) and installs it, the header and
# deferred_unwind.pc into PREFIX (default .build-c/prefix):
#   Scripts/c-library.sh [PREFIX]
#   PKG_CONFIG_PATH=PREFIX/lib/pkgconfig cc tracer.c $(pkg-config --cflags --libs deferred_unwind)
# Docs/CLibrary.md has the details; `make check` also checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/ensure-deps.sh
prefix=${1:-.build-c/prefix}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd) # the .pc file records it: absolute
make --no-print-directory -j"$(nproc)"
make --no-print-directory install PREFIX="$prefix"
echo "installed into $prefix; build C tracers with:"
echo "  PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc tracer.c \$(pkg-config --cflags --libs deferred_unwind)"
echo "  and run them with LD_LIBRARY_PATH=$prefix/lib (or install to a prefix ldconfig knows)"
