#!/usr/bin/env bash
# Mutation check of the model's switches against the C code (Docs/Model.md, "Each slip in the C code").
#
#   Scripts/mutation-check.sh                  every switch
#   Scripts/mutation-check.sh NAME...          only these switches
#   Scripts/mutation-check.sh --list           the table: switch, kind, tests
#
# Each "fail" switch of Scripts/model-check.sh is a one-line slip of the
# design.  Here each is the same slip made in the C code, kept as a patch,
# Benchmarks/mutations/<SWITCH>.diff (git apply), or, for the historical
# designs the stress harness already builds (--variant), that variant.  For
# each patch: apply it in a scratch copy of the tree, build (debug, with the
# tests), run the named tests (swift test --filter, one filter after the
# other, stopping at the first that fails), revert.  For each variant: run
# the release harness on the scenario that catches it.  One line per switch:
#
#   MUTATION <SWITCH>: KILLED by <test> (<first failure line>) [<seconds>s]
#   MUTATION <SWITCH>: SURVIVED <tests> [<seconds>s]
#   MUTATION <SWITCH>: n/a (<reason>)
#
# then `MUTATION summary: killed=K survived=S n/a=N total=...s`.  Exit 0 when
# no switch survived, 1 otherwise, 2 on a usage or build error of the
# unpatched tree.  The scratch copy is $MUT_DIR (default
# ${TMPDIR:-/tmp}/du-mutation-<user>-<hash>, outside the repository, kept
# between runs so later builds are incremental); its first build takes a
# few minutes.  The checked-out tree is never modified.
# Environment: MUT_TEST_TIMEOUT (s per swift test, default 900),
# MUT_HARNESS_SECONDS (per variant, default 10), MUT_SEED (default 1),
# MUT_TESTS (filters to run for every patch instead of its own), MUT_SKIP
# (swift test --skip regex), e.g. to run the older tests alone:
#   MUT_TESTS=DeferredUnwindTests MUT_SKIP=ModelSlipTests Scripts/mutation-check.sh SPEC_DRAW
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
hash=$(printf '%s' "$root" | cksum | cut -d' ' -f1)
mut=${MUT_DIR:-${TMPDIR:-/tmp}/du-mutation-$(id -un)-$hash}
tree=$mut/tree
patches=$root/Benchmarks/mutations
timeout_s=${MUT_TEST_TIMEOUT:-900}
harness_s=${MUT_HARNESS_SECONDS:-10}
seed=${MUT_SEED:-1}

# Tests (swift test --filter regexes, tried left to right; ';' separates).
# An entry ENV=VALUE before a filter is set for that run only.
SP='CoreStepPointTests'
SLIP='ModelSlipTests'
IL='InterleavingTests/everyInterleaving\('
# SWITCH | kind | what
#   patch:   tests (filters, ';'-separated)
#   variant: harness variant | scenario
#   n/a:     reason
table=(
    "COOKIE48|variant|cookie48|wrap"
    "RETURN_LOCAL|patch|$SP"
    "RETURN_LOCAL|variant|return-local|first-cookie"
    "NAIVE_PERCPU|variant|naive-percpu|migration"
    "PENDING_LATE|patch|$SP"
    "PENDING_LATE|variant|pending-late|dispatch-requests"
    "NONATOMIC_CLAIM|patch|$SLIP/nestedAtEveryInstruction"
    "NONATOMIC_CLAIM|variant|nonatomic-claim|claim-race"
    "PLAIN_RESET|patch|$SP"
    "PLAIN_RESET|variant|plain-reset|reset-race"
    "NO_COMPLETED|patch|$SP"
    "NO_COMPLETED|variant|no-completed|second-tracer"
    "CANCEL_NO_WAIT|patch|$SLIP/cancelAtEveryInstruction\\(;CoreTests/cancelWaitsForARequestInProgress"
    "CANCEL_NO_WAIT|variant|cancel-no-wait|cancel-callback"
    "CANCEL_NO_SCRUB|patch|CoreTests/bitReuseAfterCancelSeesNoStaleRequest"
    "CANCEL_NO_SCRUB|variant|cancel-no-scrub|bit-reuse"
    "EXIT_DROPS_PENDING|patch|$SP"
    "EXIT_DROPS_PENDING|variant|exit-drops-pending|thread-exit"
    "MUTEX_DISPATCH|patch|cancelDoesNotWaitForAnotherTracersCallback"
    "GLOBAL_GP|patch|cancelDoesNotWaitForAnotherTracersCallback"
    "REORDER_SCRUB_BEFORE_SYNC|patch|$SLIP/cancelAtEveryInstructionOfTheDispatch;DU_IL_SCENARIO=reuse-in-same-context $IL"
    "REORDER_SCRUB_BEFORE_REQWAIT|patch|$SLIP/cancelAtEveryInstruction\\(;CoreTests/cancelWaitsForARequestInProgress"
    "REORDER_FREE_BEFORE_SCRUB|patch|$SLIP/freeBeforeScrub"
    "REORDER_FREE_BEFORE_QUIET|patch|$SLIP/freeBeforeCallbackWait;CoreTests/secondCancelWaitsForTheFirstToFinish"
    "REORDER_QUIET_BEFORE_SYNC|patch|InterleavingTests/everyInterleavingConservative"
    "REORDER_MARK_AFTER_WAITS|patch|CoreTests/cancelWaitsForARequestInProgress"
    "SKIP_REQUEST_WAIT|patch|$SLIP/cancelAtEveryInstruction\\(;CoreTests/cancelWaitsForARequestInProgress"
    "SKIP_SYNC|patch|DU_IL_SCENARIO=cancel-vs-dispatch $IL;$SLIP/cancelAtEveryInstructionOfTheDispatch"
    "SKIP_QUIET|patch|$SLIP/cancelAtEveryInstructionOfTheDispatch;CoreTests/cancelWaitsForASleepingCallback"
    "COOKIE_PLAIN_STORE|patch|$SLIP/nestedAtEveryInstruction"
    "R1_PLAIN|patch|$SP"
    "R3_PLAIN|patch|$SP"
    "SKIP_R2|patch|$SP"
    "CLAIM_AFTER_LIVE|patch|$SLIP/cancelAtEveryInstruction\\("
    "DISPATCH_NO_RECHECK|patch|$SLIP/cancelAtEveryInstructionOfTheDispatch;DU_IL_SCENARIO=reuse-in-same-context $IL"
    "CALLING_AFTER_UNLOCK|patch|$SLIP/cancelAtEveryInstructionOfTheDispatch;DU_IL_SCENARIO=cancel-vs-dispatch $IL"
    "SPEC_DRAW|patch|$SLIP/specDraw"
    "SPEC_SCRUB_ORDER|patch|$SLIP/scrubOrder"
    "CAPPED_LOOK|patch|InterleavingTests/everyInterleavingThreeThreads"
    "LEAVE_NO_WAIT|patch|ProxyTests/leaveWaits"
    "LEAVE_NO_WAIT|variant|leave-no-wait|proxy"
    "REGION_SAFE_POINT|patch|ProxyTests/deliversOnce"
    "REGION_SAFE_POINT|variant|region-safe-point|proxy"
    "PROXY_RELEASE_EARLY|patch|ProxyTests/leaveWaits"
    "PROXY_CLAIM_UNLOCKED|patch|ProxyTests/detachWaitsForThePeek"
    "PROXY_NO_RECHECK|patch|ProxyTests/bitReuse"
    "DROPPED_EXACT|n/a|a property, not a change: the dropped count is a documented lower bound (deferred_unwind.h), which the shipped code keeps"
    "REORDER_REQWAIT_AFTER_SYNC|n/a|a pass switch (harmless reordering); its patch is kept and must pass: --pass"
    "REORDER_REQWAIT_AFTER_QUIET|n/a|a pass switch (harmless reordering); its patch is kept and must pass: --pass"
    "NO_SLEEP|n/a|a pass switch (with REORDER_FREE_BEFORE_QUIET: callbacks never sleep), not a slip of the code"
    "MUTEX_DISPATCH|n/a|harness variant mutex-dispatch is correct there (no sleeping callbacks), a throughput scenario: the patch above stands for it"
)
# --pass: the pass switches' patches, which the named tests must survive.
# Not the interleavings: il_script.c takes the wait after cancel.synced for
# the callback wait, so a request wait moved there is reported as waiting for
# another tracer's callback (a checker assumption, not a slip).
pass_table=(
    "REORDER_REQWAIT_AFTER_SYNC|pass|CoreTests/cancel;CoreTests/bitReuse;CoreTests/secondCancel;$SLIP"
    "REORDER_REQWAIT_AFTER_QUIET|pass|CoreTests/cancel;CoreTests/bitReuse;CoreTests/secondCancel;$SLIP"
)

if [ "${1:-}" = --list ]; then
    printf '%s\n' "${table[@]}" "${pass_table[@]}"
    exit 0
fi
run_pass=0
if [ "${1:-}" = --pass ]; then run_pass=1; shift; fi
only=" $* "
selected() { [ "$only" = "  " ] || [[ "$only" == *" $1 "* ]]; }

log=$mut/logs
mkdir -p "$log"
start=$(date +%s)

# ---- the scratch copy: the working tree's files (tracked and untracked,
# not ignored), outside the repository so that git apply patches it as a
# plain directory --------------------------------------------------------
sync_tree() {
    mkdir -p "$tree"
    # Files the repository no longer has go (tar keeps the others' times,
    # so the build stays incremental); the build directory stays.
    find "$tree" -mindepth 1 -maxdepth 1 ! -name .build -exec rm -rf {} +
    (cd "$root" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | (cd "$tree" && tar -xpf -)
    # A header added to an umbrella directory does not invalidate the
    # module cache: touch them so the test module sees every one.
    touch "$tree"/Tests/C/include/*.h
    # Reuse the resolved dependencies of the checked-out tree (no network).
    if [ -d "$root/.build/checkouts" ] && [ ! -d "$tree/.build/checkouts" ]; then
        mkdir -p "$tree/.build"
        cp -a "$root/.build/checkouts" "$root/.build/repositories" "$tree/.build/" 2>/dev/null || true
        cp -a "$root/.build/workspace-state.json" "$tree/.build/" 2>/dev/null || true
        [ -f "$root/Package.resolved" ] && cp -a "$root/Package.resolved" "$tree/"
    fi
}
# The pristine sources, restored after every patch.
restore_sources() {
    (cd "$root" && git ls-files -z Sources | tar --null -cf - -T -) | (cd "$tree" && tar -xpf -)
}

build() { (cd "$tree" && swift build --build-tests > "$1" 2>&1); }

first_failure() { # first failure line of a swift test log
    grep -m1 -E '✘ .*(recorded an issue|failed)|Expectation failed|error:|Fatal error|Crash|timed out' "$1" \
        | sed -e 's/^[[:space:]]*//' | cut -c1-300
}

# run_tests NAME TESTS: 0 all passed, 1 one failed (its filter in $killer,
# its line in $why)
run_tests() {
    local name=$1 tests=$2 i=0 spec envs filter rc
    killer="" why=""
    IFS=';' read -r -a specs <<< "$tests"
    for spec in "${specs[@]}"; do
        i=$((i + 1))
        envs=() filter=""
        for word in $spec; do
            case "$word" in *=*) envs+=("$word") ;; *) filter=$word ;; esac
        done
        local out=$log/$name.test$i.txt
        (cd "$tree" && env "${envs[@]}" timeout -k 10 "$timeout_s" swift test --skip-build --filter "$filter" \
            ${MUT_SKIP:+--skip "$MUT_SKIP"} > "$out" 2>&1)
        rc=$?
        if [ $rc -ne 0 ]; then
            killer="${envs[*]:+${envs[*]} }$filter"
            why=$(first_failure "$out")
            [ $rc -eq 124 ] && why="timed out after ${timeout_s}s; ${why}"
            [ -n "$why" ] || why="exit $rc (log $out)"
            return 1
        fi
        if ! grep -qE 'Test run with [1-9][0-9]* tests? .*passed|Executed [1-9]' "$out"; then
            killer="$filter" why="no test matched the filter (log $out)"
            return 2
        fi
    done
    return 0
}

killed=0 survived=0 na=0 errors=0
report() { echo "$1"; echo "$1" >> "$log/summary.txt"; }
: > "$log/summary.txt"

echo "mutation-check: scratch tree $tree"
sync_tree
restore_sources
if ! build "$log/build-pristine.txt"; then
    echo "error: the unpatched tree does not build (log $log/build-pristine.txt)" >&2
    exit 2
fi

need_harness=0
for e in "${table[@]}"; do
    IFS='|' read -r sw kind _ <<< "$e"
    selected "$sw" && [ "$kind" = variant ] && need_harness=1
done
if [ $need_harness = 1 ]; then
    if ! (cd "$tree" && swift build -c release --product unwind-stress > "$log/build-release.txt" 2>&1); then
        echo "error: unwind-stress (release) does not build (log $log/build-release.txt)" >&2
        exit 2
    fi
fi

entries=("${table[@]}")
[ $run_pass = 1 ] && entries=("${pass_table[@]}")
for e in "${entries[@]}"; do
    IFS='|' read -r sw kind a b <<< "$e"
    selected "$sw" || continue
    t0=$(date +%s)
    case "$kind" in
    n/a)
        na=$((na + 1))
        report "MUTATION $sw: n/a ($a)"
        ;;
    variant)
        out=$log/$sw.variant-$a.txt
        (cd "$tree" && timeout -k 10 $((harness_s + 60)) .build/release/unwind-stress --variant "$a" \
            --scenario "$b" --duration "$harness_s" --seed "$seed" > "$out" 2>&1)
        rc=$?
        secs=$(( $(date +%s) - t0 ))
        inv=$(grep -m1 -oE 'VIOLATION of invariant [0-9]+ \([^)]*\)' "$out")
        what="harness --variant $a --scenario $b --duration $harness_s --seed $seed"
        if [ $rc -eq 1 ]; then
            killed=$((killed + 1)); report "MUTATION $sw: KILLED by $what ($inv) [${secs}s]"
        else
            survived=$((survived + 1)); report "MUTATION $sw: SURVIVED $what (exit $rc) [${secs}s]"
        fi
        ;;
    patch|pass)
        p=$patches/$sw.diff
        if ! (cd "$tree" && git apply "$p"); then
            errors=$((errors + 1)); report "MUTATION $sw: ERROR patch does not apply ($p)"
            restore_sources; continue
        fi
        if ! build "$log/$sw.build.txt"; then
            errors=$((errors + 1)); report "MUTATION $sw: ERROR the slipped tree does not build (log $log/$sw.build.txt)"
            restore_sources; continue
        fi
        run_tests "$sw" "${MUT_TESTS:-$a}"
        rc=$?
        secs=$(( $(date +%s) - t0 ))
        if [ "$kind" = pass ]; then
            if [ $rc -eq 0 ]; then report "MUTATION $sw: PASSED (pass switch) $a [${secs}s]"
            else errors=$((errors + 1)); report "MUTATION $sw: FAILED (pass switch) by $killer ($why) [${secs}s]"; fi
        elif [ $rc -eq 1 ]; then
            killed=$((killed + 1)); report "MUTATION $sw: KILLED by $killer ($why) [${secs}s]"
        elif [ $rc -eq 2 ]; then
            errors=$((errors + 1)); report "MUTATION $sw: ERROR $killer: $why"
        else
            survived=$((survived + 1)); report "MUTATION $sw: SURVIVED $a [${secs}s]"
        fi
        restore_sources
        ;;
    esac
done
# Leave the scratch build matching the pristine sources.
build "$log/build-pristine.txt" || true

total=$(( $(date +%s) - start ))
report "MUTATION summary: killed=$killed survived=$survived n/a=$na errors=$errors total=${total}s"
[ $survived -eq 0 ] && [ $errors -eq 0 ] && exit 0
exit 1
