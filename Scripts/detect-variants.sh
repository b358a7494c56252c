#!/usr/bin/env bash
# detect-variants.sh - run every historical variant with its default scenario
# set for several seeds and print the table: variant, seed, seconds to
# detection (wall clock of the whole process), invariant reported.
# Fails (exit 1) if any variant is not caught (exit status 1) within the bound.
#   usage: Scripts/detect-variants.sh [binary] [seeds...]
# The binary defaults to .build/release/unwind-stress (swift build -c release).
set -u
BIN=${1:-.build/release/unwind-stress}
shift 2>/dev/null || true
SEEDS=${*:-"1 2 3 4 5"}
BOUND=${BOUND:-10}
# The variants come from the harness's own list (`--list`, generated from
# duv_variant_list.h), minus the two that are designs, not bugs: none (the
# shipped design) and mutex-dispatch (correct, slow).
if [ -z "${VARIANTS:-}" ]; then
  VARIANTS=$("$BIN" --list | awk -F'\t' '$2 == "variant" && $1 != "none" && $1 != "mutex-dispatch" { print $1 }') || {
    echo "detect-variants.sh: $BIN --list failed" >&2; exit 2; }
  [ -n "$VARIANTS" ] || { echo "detect-variants.sh: no variants in $BIN --list" >&2; exit 2; }
fi
fail=0
printf "%-20s %-6s %-8s %s\n" variant seed seconds invariant
for v in $VARIANTS; do
  for s in $SEEDS; do
    out=$(mktemp)
    t0=$(date +%s%N)
    timeout $((BOUND + 20)) "$BIN" --variant "$v" --seed "$s" --duration "$BOUND" >"$out" 2>&1
    rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    inv=$(grep -oE 'VIOLATION of invariant [0-9]+ \([^)]*\)' "$out" | head -1 | sed 's/VIOLATION of //')
    if [ "$rc" != 1 ] || [ "$ms" -gt $((BOUND * 1000)) ]; then
      fail=1
      inv="NOT DETECTED (exit $rc) $inv"
    fi
    printf "%-20s %-6s %4d.%02d   %s\n" "$v" "$s" $((ms / 1000)) $(((ms % 1000) / 10)) "$inv"
    rm -f "$out"
  done
done
exit $fail
