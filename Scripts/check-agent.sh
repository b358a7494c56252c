#!/usr/bin/env bash
# Checks the unwind-profile agent the way a profiled program meets it:
#   Scripts/check-agent.sh [.build-c/libunwind_profile_agent.so]
#  1. nm -D --defined-only: exactly the names agent.map lists, which are
#     exactly the UP_EXPORT definitions in Profiler/Agent/*.c (no du_*, no
#     agent helper);
#  2. readelf -d: BIND_NOW and NOW (-z now), NODELETE, liburcu-bp NEEDED,
#     no Swift runtime;
#  3. a smoke run: Tests/C/programs/agent/agent_mix.c with the agent
#     preloaded writes a file that starts with the magic and ends with END;
#     without UNWIND_PROFILE_OUTPUT the agent is inert (no file, exit 0).
# Used by `make agent-check`.  Exits 1 with a FAIL line per problem.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib=$(realpath -m "${1:-$root/.build-c/libunwind_profile_agent.so}")
cd "$root"
CC=${CC:-cc}
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
ok() { echo "ok: $*"; }
[ -f "$lib" ] || { echo "FAIL: $lib missing (make agent)" >&2; exit 1; }

# ---- 1. exports ---------------------------------------------------------
exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
mapped=$(sed -e 's|/\*.*\*/||g' Profiler/Agent/agent.map |
    awk '/^global:/{g=1; next} /^local:/{g=0} g' | tr ';' '\n' | tr -d ' \t' | grep -v '^$' | sort -u)
defined=$(grep -ho 'UP_EXPORT [^(]*(' Profiler/Agent/*.c | sed -E 's/.*[ *]([A-Za-z_0-9]+)\($/\1/' | sort -u)
if [ "$exported" = "$mapped" ]; then ok "exports = agent.map ($(wc -l <<<"$exported") names)"
else fail "exports differ from agent.map: $(diff <(echo "$exported") <(echo "$mapped") | grep '^[<>]' | tr '\n' ' ')"; fi
if [ "$mapped" = "$defined" ]; then ok "agent.map = the UP_EXPORT definitions"
else fail "agent.map differs from the UP_EXPORT definitions: $(diff <(echo "$mapped") <(echo "$defined") | grep '^[<>]' | tr '\n' ' ')"; fi
if grep -q '^du_' <<<"$exported"; then fail "the core's du_* symbols are exported"; else ok "no du_* symbol exported"; fi

# ---- 2. dynamic section -------------------------------------------------
dyn=$(readelf -d "$lib")
grep -Eq '\(FLAGS\).*BIND_NOW' <<<"$dyn" && grep -Eq '\(FLAGS_1\).*NOW' <<<"$dyn" &&
    ok "BIND_NOW / NOW (-z now)" || fail "not linked with -z now"
grep -Eq '\(FLAGS_1\).*NODELETE' <<<"$dyn" && ok "NODELETE" || fail "not linked with -z nodelete"
grep -Eq 'NEEDED.*liburcu-bp\.so' <<<"$dyn" && ok "NEEDED liburcu-bp" || fail "liburcu-bp not NEEDED"
if grep -Eiq 'NEEDED.*(swift|dispatch|Foundation)' <<<"$dyn"; then fail "NEEDED names the Swift runtime"; fi

# ---- 3. smoke run -------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CC" -O1 -g -fno-omit-frame-pointer -pthread Tests/C/programs/agent/agent_mix.c -o "$tmp/mix"
if LD_PRELOAD="$lib" UNWIND_PROFILE_OUTPUT="$tmp/out.data" UNWIND_PROFILE_FREQUENCY=499 \
        "$tmp/mix" >"$tmp/stdout" 2>"$tmp/stderr"; then ok "profiled run exits 0"
else fail "profiled run failed: $(cat "$tmp/stderr")"; fi
[ -s "$tmp/stderr" ] && fail "the agent printed: $(cat "$tmp/stderr")"
if [ -f "$tmp/out.data" ]; then
    size=$(stat -c %s "$tmp/out.data")
    [ "$(head -c 8 "$tmp/out.data")" = DUPROFIL ] && ok "file starts with DUPROFIL" || fail "bad magic"
    end_type=$(od -An -tu2 -j $((size - 40)) -N2 "$tmp/out.data" | tr -d ' ')
    [ "$end_type" = 8 ] && ok "file ends with END ($size bytes)" || fail "last record is type $end_type, not END"
else
    fail "no record file written"
fi
if (cd "$tmp" && LD_PRELOAD="$lib" ./mix >/dev/null 2>"$tmp/stderr2") && [ ! -s "$tmp/stderr2" ]; then
    ok "inert without UNWIND_PROFILE_OUTPUT"
else
    fail "inert run failed: $(cat "$tmp/stderr2")"
fi
exit $failed
