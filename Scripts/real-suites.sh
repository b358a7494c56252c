#!/usr/bin/env bash
# real-suites.sh [--short] [--out DIR] [--hz N] [--keep-records] - run real programs' own test
# suites (Debian's Python 3.11 regression tests and GLib's installed tests)
# without and with the unwind-profile agent, interleaved chunk by chunk
# (each test binary / test module: without, then with the agent), and report
# the difference: the goal is zero tests failing only with the agent.
#
# Set-up (done here when needed): libpython3.11-testsuite and
# libglib2.0-tests through Scripts/apt-install.sh, `make agent`, and
# `swift build --product unwind-profile` (to check every profiled run's
# record file with `unwind-profile report`).
#
# Each chunk runs as its own process; with the agent it is
#   timeout ... env LD_PRELOAD=<agent> UNWIND_PROFILE_OUTPUT=<chunk>.with.data \
#       UNWIND_PROFILE_FREQUENCY=999 <program>
# so the test program's main process is profiled (children it execs keep
# LD_PRELOAD but stay inert: the agent removes its variables). Python's
# regrtest is run sequentially (no -j), so the tests run in the profiled
# process, not in exec'd workers.
#
# Output (stdout), one grep-able line per suite, then the tests that failed
# only with the agent, then the record-file check:
#   SUITE glib without: passed=N failed=M skipped=K | with agent (999 Hz): passed=N failed=M skipped=K | new failures: 0
#   AGENT-ONLY-FAILURE <suite> <chunk> <test>
#   RECORDS <suite>: N profiled runs, N valid with END, N cut short, N agent log files,
#           N child processes' files cut short by the program (killed, or descriptors closed)
# Raw outputs (TAP, regrtest -v, JUnit XML, agent logs, report summaries,
# exit statuses, wall times) are kept in DIR (default: a new directory under
# /tmp); the record files are deleted once checked (up to hundreds of MB
# each) unless --keep-records.
# --summary-only: no set-up and no runs, the summary of the outputs in DIR.
# REAL_SUITES_GLIB / REAL_SUITES_PY (space-separated) replace the chunk lists.
# Exit status: 0 when no test failed only with the agent and every record
# file is valid, 1 otherwise, 2 on a set-up error.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
short=0
summary_only=0
keep=0
hz=999
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --short) short=1 ;;
        --out) out="$2"; shift ;;
        --hz) hz="$2"; shift ;;
        --keep-records) keep=1 ;;
        --summary-only) summary_only=1 ;;
        -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--short] [--out DIR] [--hz N] [--keep-records] [--summary-only]" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$out" ] || out=$(mktemp -d /tmp/real-suites.XXXXXX)
mkdir -p "$out/glib" "$out/python"
out=$(cd "$out" && pwd)

PY=/usr/bin/python3.11
GLIB_DIR=/usr/libexec/installed-tests/glib

if [ $summary_only = 0 ]; then
# ---- set-up ---------------------------------------------------------------
need=()
for p in libpython3.11-testsuite libglib2.0-tests python3.11; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    "$here/Scripts/apt-install.sh" "${need[@]}" || exit 2
fi
(cd "$here" && make -s agent >/dev/null) || { echo "error: make agent failed" >&2; exit 2; }
agent="$here/.build-c/libunwind_profile_agent.so"
# release: reading records of millions of samples takes minutes in debug
(cd "$here" && swift build -c release --product unwind-profile >"$out/swift-build.log" 2>&1) \
    || { echo "error: swift build -c release --product unwind-profile failed (see $out/swift-build.log)" >&2; exit 2; }
up="$here/.build/release/unwind-profile"
[ -x "$up" ] || { echo "error: $up not built" >&2; exit 2; }

fi
# ---- the chunks -----------------------------------------------------------
# GLib: main loop, unix signals (glib-unix), timeouts, threads, spawn and
# GSubprocess, GIO streams, sockets, cancellables, tasks, D-Bus over a peer
# socket. Left out: `file` (aborts as root without the agent at
# test_replace, hiding the tests after it) and the CPU-bound lock stress
# binaries mutex, rec-mutex, rwlock, 1bit-mutex (dozens of threads spinning
# on locks: minutes per run on a loaded 2-core machine and records of
# hundreds of MB at 999 Hz; they passed with the agent when tried).
#
# Python: a chunk is a regrtest module, "label=module args" to pass -m
# filters. _test_eintr is run directly (test_eintr would run it in an exec'd,
# unprofiled child): every blocking call interrupted by a 100 ms itimer.
if [ $short = 1 ]; then
    glib_tests=(unix mainloop asyncqueue spawn-singlethread socket
        unix-streams cancellable task contexts gdbus-peer)
    py_tests=(_test_eintr test_signal test_threadsignals test_select
        test_fcntl test_epoll
        "test_socket-interrupted=test_socket -m Interrupted*")
else
    glib_tests=(unix mainloop timeout thread thread-pool cond once asyncqueue
        private threadtests spawn-singlethread spawn-multithreaded spawn-test
        spawn-path-search gsubprocess socket socket-service socket-listener
        gsocketclient-slow network-address unix-streams unix-fd io-stream
        pollable cancellable task contexts sleepy-stream io-channel readwrite
        converter-stream async-close-output-stream async-splice-output-stream
        buffered-input-stream data-input-stream stream-rw_all live-g-file
        testfilemonitor timer gdbus-peer gdbus-connection-flush
        gdbus-non-socket gdbus-close-pending gdbus-export)
    # test_socket: the signal-interrupted timeouts, TCP/UDP/socketpair
    # basics, non-blocking, file objects, sendfile, fd passing (the whole
    # module takes over 10 minutes here).
    py_tests=(_test_eintr test_signal test_threadsignals test_threading
        test_thread test_select test_selectors test_poll test_epoll test_fcntl
        test_time test_subprocess
        "test_socket-part=test_socket -m Interrupted* -m BasicTCPTest -m BasicUDPTest -m NonBlockingTCPTests -m FileObjectClassTestCase -m SendfileUsingSendTest -m SendrecvmsgUnixStreamTest* -m RecvmsgIntoSCMRightsStreamTest -m SocketPairTest -m TCPTimeoutTest"
        test_io test_os test_file_eintr test_queue test_sched test_mmap
        test_pty test_faulthandler test_asyncio.test_events
        test_asyncio.test_subprocess test_asyncio.test_unix_events
        test_asyncio.test_sock_lowlevel)
fi
# Override the chunks (e.g. to rerun one): space-separated names.
[ -n "${REAL_SUITES_GLIB+x}" ] && read -r -a glib_tests <<<"$REAL_SUITES_GLIB"
[ -n "${REAL_SUITES_PY+x}" ] && read -r -a py_tests <<<"$REAL_SUITES_PY"
GLIB_TIMEOUT=600
PY_TIMEOUT=1200

with_agent() { # with_agent DATA COMMAND... - run COMMAND profiled
    local data=$1; shift
    rm -f "$data" "$data.log"
    timeout -k 10 "$T" env LD_PRELOAD="$agent" UNWIND_PROFILE_OUTPUT="$data" \
        UNWIND_PROFILE_FREQUENCY="$hz" "$@"
}
without_agent() { timeout -k 10 "$T" "$@"; }

check_record() { # check_record DATA - report's summary line into DATA.report
    if [ -s "$1" ]; then
        "$up" report "$1" --format folded -o /dev/null >"$1.report" 2>&1
        echo "exit=$? size=$(stat -c %s "$1")" >>"$1.report"
    else
        echo "no record file" >"$1.report"
    fi
    [ $keep = 1 ] || rm -f "$1" "$1".[0-9]* # and its child processes' files
}

run_glib() { # run_glib NAME
    local t=$1 mode rc
    for mode in without with; do
        local base="$out/glib/$t.$mode"
        local s=$(date +%s.%N)
        if [ $mode = without ]; then
            without_agent "$GLIB_DIR/$t" --tap >"$base.tap" 2>&1; rc=$?
        else
            with_agent "$base.data" "$GLIB_DIR/$t" --tap >"$base.tap" 2>&1; rc=$?
        fi
        local e=$(date +%s.%N)
        echo "$rc" >"$base.rc"; echo "$e - $s" | bc >"$base.time"
        printf 'glib   %-28s %-7s rc=%-3s %7.1fs\n' "$t" "$mode" "$rc" "$(echo "$e - $s" | bc)" >&2
        [ $mode = with ] && check_record "$base.data"
    done
}

run_py() { # run_py "MODULE" | "LABEL=MODULE ARGS..."
    local spec=$1 m mode rc args
    if [[ $spec == *=* ]]; then m=${spec%%=*}; read -r -a args <<<"${spec#*=}"
    else m=$spec; args=("$spec"); fi
    for mode in without with; do
        local base="$out/python/$m.$mode"
        rm -f "$base.xml"
        local s=$(date +%s.%N)
        # -v: per-test lines; --junit-xml: per-test status for the counts.
        # No -j: the tests run in this (profiled) process.
        local cmd=("$PY" -m test -v --timeout 900 --junit-xml "$base.xml" "${args[@]}")
        if [ $mode = without ]; then
            (cd "$out/python" && without_agent "${cmd[@]}") >"$base.out" 2>&1; rc=$?
        else
            (cd "$out/python" && with_agent "$base.data" "${cmd[@]}") >"$base.out" 2>&1; rc=$?
        fi
        local e=$(date +%s.%N)
        echo "$rc" >"$base.rc"; echo "$e - $s" | bc >"$base.time"
        printf 'python %-28s %-7s rc=%-3s %7.1fs\n' "$m" "$mode" "$rc" "$(echo "$e - $s" | bc)" >&2
        [ $mode = with ] && check_record "$base.data"
    done
}

if [ $summary_only = 0 ]; then
echo "real-suites: $( [ $short = 1 ] && echo short || echo full ) set, agent at $hz Hz, raw outputs in $out" >&2
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
start=$(date +%s)
T=$GLIB_TIMEOUT
for t in "${glib_tests[@]}"; do run_glib "$t"; done
T=$PY_TIMEOUT
for m in "${py_tests[@]}"; do run_py "$m"; done
end=$(date +%s)
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); wall time $((end - start)) s" >&2
fi
py_labels=()
for m in "${py_tests[@]}"; do py_labels+=("${m%%=*}"); done

# ---- the difference -------------------------------------------------------
"$PY" - "$out" "$hz" "${glib_tests[*]}" "${py_labels[*]}" <<'PYEOF' | tee "$out/summary.txt"
import os, re, sys
import xml.etree.ElementTree as ET

out, hz, glib_tests, py_tests = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()

def rc_of(base):
    try:
        return int(open(base + ".rc").read().strip())
    except Exception:
        return -1

def glib_results(base, chunk):
    """{test: 'pass'|'fail'|'skip'} from GTest's TAP, plus the exit status."""
    res = {}
    try:
        text = open(base + ".tap", errors="replace").read()
    except OSError:
        text = ""
    for line in text.splitlines():
        m = re.match(r"^(not ok|ok) \d+ (\S.*?)\s*$", line)
        if not m:
            continue
        name, status = m.group(2), m.group(1)
        skip = False
        if " # SKIP" in name or " # skip" in name:
            name, skip = re.split(r" # (?:SKIP|skip)", name, 1)[0].strip(), True
        if " # TODO" in name:
            name = name.split(" # TODO")[0].strip()
            status = "ok"  # TODO failures are expected
        res[name] = "skip" if skip else ("pass" if status == "ok" else "fail")
    rc = rc_of(base)
    # 77: GTest's "all skipped"; anything else non-zero without a "not ok"
    # (an abort, a timeout, a bail out) fails the binary as a whole.
    if rc not in (0, 77) and "fail" not in res.values():
        res["(%s exit status %d%s)" % (chunk, rc, ", timeout" if rc == 124 else "")] = "fail"
    return res

def py_results(base, chunk):
    res = {}
    try:
        root = ET.parse(base + ".xml").getroot()
    except Exception:
        root = None
    if root is not None:
        for tc in root.iter("testcase"):
            name = tc.get("name", "?")
            # a failing subtest is reported under "<id> (<params>)": keep the test id
            name = name.split(" ", 1)[0]
            if tc.find("error") is not None or tc.find("failure") is not None:
                st = "fail"
            elif tc.find("skipped") is not None:
                st = "skip"
            else:
                st = "pass"
            if res.get(name) == "fail":
                continue
            res[name] = st
    if root is None:
        # no JUnit XML (regrtest killed, e.g. by its --timeout after a hang):
        # the verbose lines "name (id) ... ok|FAIL|ERROR|skipped|Timeout"
        try:
            text = open(base + ".out", errors="replace").read()
        except OSError:
            text = ""
        for m in re.finditer(r"^\S+ \(([\w.]+)\)(?: .*)? \.\.\. (.*)$", text, re.M):
            v = m.group(2)
            st = ("pass" if v.startswith(("ok", "expected failure")) else
                  "skip" if v.startswith("skipped") else "fail")
            if res.get(m.group(1)) != "fail":
                res[m.group(1)] = st
    rc = rc_of(base)
    if root is None or (rc != 0 and "fail" not in res.values()):
        # regrtest's own verdict when no test failed: a crash, a timeout, an
        # environment change ("env changed" exits 3), a module-level error
        try:
            text = open(base + ".out", errors="replace").read()
        except OSError:
            text = ""
        why = re.findall(r"^(?:Result|== Tests result): (.*)$", text, re.M)
        res["(%s exit status %d%s%s)" % (chunk, rc, ", timeout" if rc == 124 else "",
                                         (": " + why[-1]) if why else "")] = "fail"
    return res

def counts(res):
    return tuple(sum(1 for v in res.values() if v == k) for k in ("pass", "fail", "skip"))

def records(suite, chunks):
    n = valid = cut = logs = child_cut = 0
    msgs = []
    for c in chunks:
        data = os.path.join(out, suite, c + ".with.data")
        n += 1
        try:
            rep = open(data + ".report", errors="replace").read()
        except OSError:
            rep = "no report"
        if "unwind-profile report:" in rep and "exit=0" in rep:
            # The test program's own file (the root: "[root]" when children
            # were profiled too) must end with END; a child's may be cut
            # short by the program (killed by a test, or its descriptors
            # closed before an exec), which is counted, not failed.
            lines = [l for l in rep.splitlines() if l.startswith("unwind-profile report:") and "warning:" not in l]
            root = next((l for l in lines if "[root]" in l), lines[0] if lines else "")
            children = [l for l in lines if l is not root and " process " in l and "cut short" in l]
            child_cut += len(children)
            if "cut short" in root:
                cut += 1
                msgs.append("%s: %s" % (c, root))
            else:
                valid += 1
        else:
            msgs.append("%s: record not readable: %s" % (c, " / ".join(rep.strip().splitlines()[-2:])))
        if os.path.exists(data + ".log"):
            logs += 1
            for l in open(data + ".log", errors="replace").read().splitlines():
                msgs.append("%s: log: %s" % (c, l))
    print("RECORDS %s: %d profiled runs, %d valid with END, %d cut short, %d agent log files, "
          "%d child processes' files cut short by the program" % (suite, n, valid, cut, logs, child_cut))
    for m in msgs:
        print("  RECORD-NOTE %s %s" % (suite, m))
    return n == valid

all_ok = True
for suite, label, chunks, parse in (("glib", "glib (installed-tests)", glib_tests, glib_results),
                                    ("python", "python3.11", py_tests, py_results)):
    tot = {"without": [0, 0, 0], "with": [0, 0, 0]}
    new, fixed = [], []
    for c in chunks:
        r = {}
        for mode in ("without", "with"):
            r[mode] = parse(os.path.join(out, suite, c + "." + mode), c)
            for i, v in enumerate(counts(r[mode])):
                tot[mode][i] += v
        fw = {t for t, s in r["without"].items() if s == "fail"}
        fa = {t for t, s in r["with"].items() if s == "fail"}
        new += [(c, t) for t in sorted(fa - fw)]
        fixed += [(c, t) for t in sorted(fw - fa)]
    w, a = tot["without"], tot["with"]
    tw = ta = 0.0
    slow = []
    for c in chunks:
        try:
            x = float(open(os.path.join(out, suite, c + ".without.time")).read())
            y = float(open(os.path.join(out, suite, c + ".with.time")).read())
        except Exception:
            continue
        tw += x; ta += y
        slow.append((y - x, c, x, y))
    slow.sort(reverse=True)
    print("SUITE %s without: passed=%d failed=%d skipped=%d | with agent (%s Hz): passed=%d failed=%d skipped=%d | new failures: %d"
          % (label, w[0], w[1], w[2], hz, a[0], a[1], a[2], len(new)))
    for c, t in new:
        print("  AGENT-ONLY-FAILURE %s %s %s" % (suite, c, t))
    for c, t in fixed:
        print("  WITHOUT-ONLY-FAILURE %s %s %s" % (suite, c, t))
    print("TIME %s: without %.0f s, with agent %.0f s; most slowed: %s"
          % (suite, tw, ta, ", ".join("%s %.1f->%.1f s" % (c, x, y) for _, c, x, y in slow[:3])))
    if new:
        all_ok = False
    if not records(suite, chunks):
        all_ok = False
sys.exit(0 if all_ok else 1)
PYEOF
exit "${PIPESTATUS[0]}"
