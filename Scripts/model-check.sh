#!/usr/bin/env bash
# Exhaustive Spin check of Model/deferred_unwind.pml (Docs/Model.md).
#
#   Scripts/model-check.sh              default model (six bound sets) + every switch
#   Scripts/model-check.sh --default    default model only
#   Scripts/model-check.sh --switches   switches only
#
# The default model must check clean (errors: 0, full search); every switch
# in the "fail" list must be caught (errors > 0, a trail that replays), every
# switch in the "pass" list must check clean.  Exit status: 0 all as
# expected, 1 otherwise, 2 usage or environment error.  Work files go to
# Model/.out (or $MODEL_OUT); nothing there is committed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
model=$root/Model/deferred_unwind.pml
out=${MODEL_OUT:-$root/Model/.out}
jobs=${MODEL_JOBS:-2}
do_default=1 do_switches=1
case "${1:-}" in
    "") ;;
    --default) do_switches=0 ;;
    --switches) do_default=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--default|--switches]" >&2; exit 2 ;;
esac

# ---- spin (Debian package), as Scripts/ensure-deps.sh does for liburcu ----
if ! command -v spin >/dev/null 2>&1; then
    "$root/Scripts/apt-install.sh" spin
    command -v spin >/dev/null 2>&1 || { echo "error: spin still not found" >&2; exit 2; }
fi
command -v gcc >/dev/null 2>&1 || { echo "error: gcc not found" >&2; exit 2; }

# ---- bound sets (Docs/Model.md, "Bounds") --------------------------------
# LIST_HEAD: the thread at the head of the thread list (the other is behind it).
declare -A cfg=(
    [nest]="-DNCTX0=2 -DNCTX1=0 -DFIRE01=1 -DFIRE02=1 -DFIRE11=0 -DFIRE12=0 -DLIST_HEAD=1"
    [cross]="-DNCTX0=1 -DNCTX1=0 -DFIRE01=1 -DFIRE02=0 -DFIRE11=1 -DFIRE12=0 -DLIST_HEAD=0"
    [trio]="-DNCTX0=0 -DNCTX1=0 -DFIRE01=1 -DFIRE02=1 -DFIRE11=1 -DFIRE12=0 -DLIST_HEAD=1"
    [pair]="-DNCTX0=1 -DNCTX1=1 -DFIRE01=0 -DFIRE02=0 -DFIRE11=0 -DFIRE12=0 -DLIST_HEAD=1"
    [small]="-DNCTX0=1 -DNCTX1=0 -DFIRE01=0 -DFIRE02=0 -DFIRE11=0 -DFIRE12=0 -DLIST_HEAD=1"
    [medium]="-DNCTX0=1 -DNCTX1=0 -DFIRE01=1 -DFIRE02=0 -DFIRE11=0 -DFIRE12=0 -DLIST_HEAD=1"
    # frozen region + proxy (NSERVE: the proxy's serves; T1 is the proxy)
    [proxy]="-DNSERVE=2 -DNCTX0=1 -DNCTX1=0 -DFIRE01=1 -DFIRE02=1 -DFIRE11=0 -DFIRE12=0 -DLIST_HEAD=1"
    [proxy2]="-DNSERVE=2 -DNCTX0=2 -DNCTX1=0 -DFIRE01=2 -DFIRE02=0 -DFIRE11=0 -DFIRE12=0 -DLIST_HEAD=1"
)
default_sets="nest cross trio pair proxy2 proxy"   # longest first
PAN_DEPTH=5000      # the deepest search is ~490 steps; pan reports if this is too small

# switch(es) | bound set | expect [| extra gcc flags for pan]
# (-DREVERSE: pan tries the processes lowest first, which reaches
# CAPPED_LOOK's three-party trail after ~2 M states instead of ~6 M, and
# PROXY_NO_RECHECK's after 0.6 M instead of 2.2 M)
switches=(
    "COOKIE48|nest|fail" "RETURN_LOCAL|nest|fail" "NAIVE_PERCPU|nest|fail"
    "PENDING_LATE|nest|fail" "NONATOMIC_CLAIM|nest|fail" "PLAIN_RESET|nest|fail"
    "NO_COMPLETED|nest|fail" "CANCEL_NO_WAIT|small|fail" "CANCEL_NO_SCRUB|small|fail"
    "EXIT_DROPS_PENDING|nest|fail" "MUTEX_DISPATCH|small|fail" "GLOBAL_GP|small|fail"
    "REORDER_SCRUB_BEFORE_SYNC|small|fail" "REORDER_SCRUB_BEFORE_REQWAIT|small|fail"
    "REORDER_FREE_BEFORE_SCRUB|small|fail" "REORDER_FREE_BEFORE_QUIET|small|fail"
    "REORDER_QUIET_BEFORE_SYNC|small|fail" "REORDER_MARK_AFTER_WAITS|small|fail"
    "SKIP_REQUEST_WAIT|small|fail" "SKIP_SYNC|small|fail" "SKIP_QUIET|small|fail"
    "COOKIE_PLAIN_STORE|nest|fail" "R1_PLAIN|nest|fail" "R3_PLAIN|nest|fail"
    "SKIP_R2|nest|fail" "CLAIM_AFTER_LIVE|small|fail" "DISPATCH_NO_RECHECK|small|fail"
    "CALLING_AFTER_UNLOCK|small|fail"
    "SPEC_DRAW|nest|fail" "SPEC_SCRUB_ORDER|small|fail" "DROPPED_EXACT|small|fail"
    "CAPPED_LOOK|trio|fail|-DREVERSE"
    "LEAVE_NO_WAIT|proxy|fail" "REGION_SAFE_POINT|proxy|fail"
    "PROXY_RELEASE_EARLY|proxy|fail" "PROXY_CLAIM_UNLOCKED|proxy|fail"
    "LEAVE_NO_WAIT,NO_CLAIM_ASSERTS|proxy|fail" "REGION_SAFE_POINT,NO_CLAIM_ASSERTS|proxy|fail"
    "PROXY_RELEASE_EARLY,NO_CLAIM_ASSERTS|proxy|fail" "PROXY_NO_RECHECK|proxy|fail|-DREVERSE"
    "REORDER_REQWAIT_AFTER_SYNC|medium|pass" "REORDER_REQWAIT_AFTER_QUIET|medium|pass"
    "REORDER_FREE_BEFORE_QUIET,NO_SLEEP|medium|pass"
)

# Property named by pan's first error line.
property() {
    local s=${1// /}
    case "$s" in
        *"invalidendstate"*) echo "P10 cancel(X) waits for Y/Z (deadlock)" ;;
        *"(ck!=0)"*) echo "P1 nonzero cookie" ;;
        *"ckh[i]!=ck"*) echo "P4 distinct contexts, distinct cookies" ;;
        *"(ck==gck[t])"*) echo "P3 one cookie per context" ;;
        *"(zero[t]&(1<<h))==0"*) echo "P6 at most one 0 per (context, tracer)" ;;
        *"(zero[t]&(1<<h))!=0"*) echo "P6 a 1 follows a 0 of the context" ;;
        *"((1<<2)|(1<<3))"*) echo "P2 accepted request never called back" ;;
        *"||marked"*) echo "P2 X's request lost before its cancel" ;;
        *"||counted[t]"*) echo "P9' dropped counts every lost context" ;;
        *"(acc[t]&(1<<inst))!=0"*) echo "P5 callback without a request" ;;
        *"(cbd[t]&(1<<inst))==0"*) echo "P2 callback twice" ;;
        *"(inst==1)&&cret"*) echo "P7 X's callback after cancel(X) returned" ;;
        *"rounds[t]"*) echo "P8 bounded rounds" ;;
        *"(pserving[t]==0)"*) echo "P11 leave returned while the proxy serves" ;;
        *"!(pserving[t])"*) echo "P12 own dispatch while the proxy serves" ;;
        *"attached[t]"*) echo "P13 proxy touches an unlinked thread" ;;
        *"acc[th]"*|*"lostctx"*|*"(acc[t]&(1<<1))!=0)&&"*) echo "P9 dropped never counts a delivered request" ;;
        *) echo "?" ;;
    esac
}

# run NAME DEFINES OPT: spin -a + gcc + pan in $out/NAME; prints pan's output file.
run_pan() {
    local name=$1 defs=$2 opt=$3 dir=$out/$1
    rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
    spin $defs -a "$model" > spin.txt 2>&1 || { cat spin.txt >&2; return 1; }
    gcc $opt -DSAFETY -DCOLLAPSE -o pan pan.c 2> gcc.txt || { cat gcc.txt >&2; return 1; }
    local t0=$(date +%s.%N)
    ./pan -m$PAN_DEPTH -w26 > pan.txt 2>&1 || true
    local t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > wall.txt
}

field() { # field FILE: errors states transitions seconds depth-ok
    local f=$1
    local errors=$(grep -oE 'errors: [0-9]+' "$f" | grep -oE '[0-9]+' || echo "?")
    local states=$(awk '/states, stored/ { print $1; exit }' "$f")
    local trans=$(awk '/transitions \(= stored\+matched\)/ { print $1; exit }' "$f")
    local secs=$(awk '/elapsed time/ { print $4; exit }' "$f")
    local depth=$(grep -oE 'depth reached [0-9]+' "$f" | grep -oE '[0-9]+' || echo "?")
    echo "$errors ${states:-?} ${trans:-?} ${secs:-?} $depth"
}

default_job() {
    local set=$1
    run_pan "default-$set" "${cfg[$set]}" -O2
    local f=$out/default-$set/pan.txt
    read -r errors states trans secs depth < <(field "$f")
    local status=ok
    [ "$errors" = 0 ] || status=FAIL
    grep -q "max search depth too small" "$f" && status=FAIL
    grep -q "search not completed\|Search not completed" "$f" && status=FAIL
    echo "MODEL default/$set: errors=$errors states=$states transitions=$trans depth=$depth time=${secs}s status=$status" \
        > "$out/default-$set/result.txt"
}

switch_job() {
    local spec=$1 sw set expect extra
    IFS='|' read -r sw set expect extra <<< "$spec"
    local name=${sw//,/+} defs="-D${sw//,/ -D} ${cfg[$set]}"
    if [ "$expect" = pass ]; then run_pan "$name" "$defs" "-O2 $extra"; else run_pan "$name" "$defs" "-O0 $extra"; fi
    local dir=$out/$name f=$out/$name/pan.txt
    read -r errors states trans secs depth < <(field "$f")
    local line=$(grep -m1 -E '^pan:1: ' "$f" || true)
    local prop=- steps=- status
    if [ "$expect" = fail ]; then
        status=CAUGHT
        if [ "$errors" = 0 ] || [ "$errors" = "?" ] || [ ! -s "$dir/deferred_unwind.pml.trail" ]; then
            status=MISSED
        else
            prop=$(property "$line")
            # replay the trail: it must end in the same error
            (cd "$dir" && spin $defs -t -k deferred_unwind.pml.trail "$model" > replay.txt 2>&1) || true
            steps=$(grep -oE 'trail ends after [0-9]+ steps' "$dir/replay.txt" | grep -oE '[0-9]+' || echo "?")
            if ! grep -qE 'assertion violated|trail ends' "$dir/replay.txt"; then status=NO-TRAIL; fi
        fi
    else
        status=CLEAN
        [ "$errors" = 0 ] || status=FAILED
        grep -q "max search depth too small" "$f" && status=FAILED
        prop="(none: $states states)"
    fi
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$sw" "$set" "$expect" "$prop" "$steps" "$(cat "$dir/wall.txt")" "$status" \
        > "$dir/result.txt"
}

mkdir -p "$out"
start=$(date +%s.%N)
throttle() { while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done; }

if [ $do_default = 1 ]; then
    for set in $default_sets; do throttle; ( default_job "$set" ) & done
fi
if [ $do_switches = 1 ]; then
    for spec in "${switches[@]}"; do throttle; ( switch_job "$spec" ) & done
fi
wait

rc=0
if [ $do_default = 1 ]; then
    for set in $default_sets; do
        r=$(cat "$out/default-$set/result.txt" 2>/dev/null || echo "MODEL default/$set: no result status=FAIL")
        echo "$r"
        case "$r" in *status=ok*) ;; *) rc=1 ;; esac
    done
fi
if [ $do_switches = 1 ]; then
    echo
    printf '%-40s | %-6s | %-46s | %-5s | %-7s | %s\n' switch bounds "property (first error)" steps "time" status
    printf '%s\n' "-----------------------------------------+--------+------------------------------------------------+-------+---------+-------"
    for spec in "${switches[@]}"; do
        IFS='|' read -r sw _ _ <<< "$spec"
        r=$(cat "$out/${sw//,/+}/result.txt" 2>/dev/null || echo "$sw|?|?|?|?|?|NO-RESULT")
        IFS='|' read -r sw set expect prop steps secs status <<< "$r"
        printf '%-40s | %-6s | %-46s | %-5s | %-7s | %s\n' "$sw" "$set" "$prop" "$steps" "${secs}s" "$status"
        case "$status" in CAUGHT|CLEAN) ;; *) rc=1 ;; esac
    done
fi
total=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
echo
echo "MODEL summary: total=${total}s jobs=$jobs result=$([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
