# real-programs-lib.sh - the programs and the checks of real-programs.sh
# (sourced; uses its variables: out, reps, dur, redis_n, seq_n, py_iter,
# agent, up, PY, here).
#
# A run: rp_<prog> MODE DIR runs the program once, MODE "none" or a
# frequency in Hz, and leaves in DIR: cpu ("wall user sys" of the program's
# whole process tree, /usr/bin/time), work (units of work done: requests, or
# 1), digest (what must be identical across modes), status (exit status),
# and with the agent data (the root record; children's files next to it).

rp_free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# rp_env MODE DATA - the prefix that profiles a command (nothing for "none").
rp_env() {
    [ "$1" = none ] && return 0
    printf '%s\n' env "LD_PRELOAD=$agent" "UNWIND_PROFILE_OUTPUT=$2" "UNWIND_PROFILE_FREQUENCY=$1"
}

# rp_wait_until SECONDS WHAT COMMAND... - poll COMMAND until it succeeds.
rp_wait_until() {
    local limit=$1 what=$2 i=0; shift 2
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt $((limit * 10)) ]; then
            echo "real-programs: waited ${limit}s for $what: not ready" >&2
            return 1
        fi
        sleep 0.1
    done
}

rp_nginx() {
    local mode=$1 d=$2 port pid
    port=$(rp_free_port)
    mkdir -p "$d/logs"
    cat >"$d/nginx.conf" <<EOF
worker_processes 2;
master_process on;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    server { listen 127.0.0.1:$port; root $rp_www; }
}
EOF
    mkdir -p "$d/tmp"
    mapfile -t pre < <(rp_env "$mode" "$d/data")
    /usr/bin/time -f '%e %U %S' -o "$d/cpu" "${pre[@]}" nginx -e "$d/logs/error.log" -p "$d" -c "$d/nginx.conf" \
        >"$d/stdout" 2>"$d/stderr" &
    pid=$!
    rp_wait_until 30 "nginx on port $port" curl -sf "http://127.0.0.1:$port/index.html" || { kill $pid; wait $pid; return 1; }
    wrk -t2 -c16 -d"${dur}s" "http://127.0.0.1:$port/index.html" >"$d/wrk.txt" 2>&1
    { curl -s "http://127.0.0.1:$port/index.html" | sha1sum | cut -c1-40
      grep -E "Non-2xx|Socket errors" "$d/wrk.txt" || echo "wrk: no error"; } >"$d/digest"
    kill -QUIT "$(cat "$d/nginx.pid")"
    wait $pid
    echo $? >"$d/status"
    awk '/requests in/ { print $1 }' "$d/wrk.txt" >"$d/work"
}

rp_redis() {
    local mode=$1 d=$2 port pid
    port=$(rp_free_port)
    mapfile -t pre < <(rp_env "$mode" "$d/data")
    /usr/bin/time -f '%e %U %S' -o "$d/cpu" "${pre[@]}" redis-server --port "$port" --save '' --appendonly no \
        --dir "$d" >"$d/stdout" 2>"$d/stderr" &
    pid=$!
    rp_wait_until 30 "redis-server on port $port" redis-cli -p "$port" ping || { kill $pid; wait $pid; return 1; }
    redis-benchmark -p "$port" -q -n "$redis_n" -c 20 -t set,get,lpush,incr >"$d/bench.txt" 2>&1
    { redis-cli -p "$port" dbsize; redis-cli -p "$port" get 'counter:__rand_int__'
      redis-cli -p "$port" llen mylist; } >"$d/digest"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
    wait $pid
    echo $? >"$d/status"
    echo $((4 * redis_n)) >"$d/work"
}

rp_pipeline() {
    local mode=$1 d=$2
    mapfile -t pre < <(rp_env "$mode" "$d/data")
    /usr/bin/time -f '%e %U %S' -o "$d/cpu" "${pre[@]}" sh -c "seq 1 $seq_n | gzip -1 | gzip -dc | sort -n | sha1sum" \
        >"$d/digest" 2>"$d/stderr"
    echo $? >"$d/status"
    echo 1 >"$d/work"
}

# Eight threads: hashing (hashlib drops the GIL for large buffers), short
# sleeps, a queue to the main thread; the output is a digest of the results.
RP_PY_PROGRAM='
import hashlib, queue, sys, threading, time
n = int(sys.argv[1]); q = queue.Queue()
def work(k):
    h = hashlib.sha256(b"%d" % k); block = bytes(range(256)) * 4096
    for i in range(n):
        for _ in range(4): h.update(block)
        if i % 8 == 0: time.sleep(0.002)
        q.put((k, i, h.hexdigest()[:8]))
ts = [threading.Thread(target=work, args=(k,), name="worker-%d" % k) for k in range(8)]
for t in ts: t.start()
seen = {}
for _ in range(8 * n):
    k, i, d = q.get(); seen[(k, i)] = d
for t in ts: t.join()
print(hashlib.sha256(repr(sorted(seen.items())).encode()).hexdigest())
'

rp_python() {
    local mode=$1 d=$2
    mapfile -t pre < <(rp_env "$mode" "$d/data")
    /usr/bin/time -f '%e %U %S' -o "$d/cpu" "${pre[@]}" "$PY" -c "$RP_PY_PROGRAM" "$py_iter" \
        >"$d/digest" 2>"$d/stderr"
    echo $? >"$d/status"
    echo 1 >"$d/work"
}

# Expected at least: processes, threads.
rp_expect() {
    case "$1" in
        nginx) echo "3 3" ;;     # master + 2 workers, one thread each
        redis) echo "1 4" ;;     # main + 3 bio threads
        pipeline) echo "6 6" ;;  # sh + seq, gzip, gzip -d, sort, sha1sum
        python) echo "1 9" ;;    # main + 8 workers
    esac
}

# rp_analyse DIR HZ - one profiled run: "processes threads lost% oncpu% measured%".
rp_analyse() {
    local d=$1 hz=$2 files
    # Processes: the root's file and one pid per child's file
    # (data.<pid>, or data.<pid>.<n> for a program it exec'd).
    files=$( (ls "$d"/data >/dev/null 2>&1 && echo root
              ls "$d" | sed -n 's/^data\.\([0-9][0-9]*\)\(\.[0-9][0-9]*\)\{0,1\}$/\1/p') | sort -u | wc -l)
    "$up" report "$d/data" --format folded --per-thread -o "$d/folded" >"$d/report.txt" 2>&1
    read -r _ user sys <"$d/cpu"
    awk -v files="$files" -v hz="$hz" -v cpu="$(echo "$user + $sys" | bc -l)" '
        { n = $NF; total += n; line = $0; sub(/ [0-9]+$/, "", line)
          if (line ~ /\[stack lost\]/) lost += n
          if (line ~ /(^|;)\[on-cpu\]/) on += n
          k = split(line, f, ";")
          for (i = 1; i <= k && i <= 2; i++) if (f[i] ~ /\([0-9]+\)$/ && f[i] !~ /^\[/) { key = f[i] }
          threads[key] = 1 }
        END { nt = 0; for (t in threads) nt++
              if (total == 0) { print files, nt, "NaN NaN NaN"; exit }
              printf "%d %d %.2f %.1f %.1f\n", files, nt, 100 * lost / total, 100 * on / total, 100 * cpu * hz / total }' \
        "$d/folded"
}

rp_median_range() { # numbers on stdin -> "median [lo..hi]"
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%+.1f%% [%+.1f..%+.1f]\n", m, v[1], v[NR] }'
}

rp_program() {
    local prog=$1 base="$out/$1" rep mode modes fail=0
    mkdir -p "$base"
    if [ "$prog" = nginx ]; then
        # nginx's workers drop to `nobody`: the page lives in a directory
        # they can read (DIR may sit under a private one, e.g. a CI clone).
        rp_www=$(mktemp -d /tmp/real-programs-www.XXXXXX)
        chmod 755 "$rp_www"
        head -c 12288 /dev/zero | tr '\0' 'x' | fold -w 64 >"$rp_www/index.html"
        chmod 644 "$rp_www/index.html"
    fi
    for rep in $(seq 1 "$reps"); do
        case $((rep % 3)) in 1) modes="none 99 999" ;; 2) modes="99 999 none" ;; 0) modes="999 none 99" ;; esac
        for mode in $modes; do
            local d="$base/$rep-$mode"
            rm -rf "$d"; mkdir -p "$d"
            "rp_$prog" "$mode" "$d" || { echo "REAL $prog: run $rep-$mode failed to start" >&2; fail=1; }
        done
    done
    [ "$prog" = nginx ] && rm -rf "$rp_www"
    read -r want_p want_t <<<"$(rp_expect "$prog")"
    local ident=yes o99="" o999="" p=0 t=99999 lostmax=0 on="" meas="" sharebad=0
    for rep in $(seq 1 "$reps"); do
        local none="$base/$rep-none"
        for mode in 99 999; do
            local d="$base/$rep-$mode"
            cmp -s "$none/digest" "$d/digest" && cmp -s "$none/status" "$d/status" || {
                ident=no; echo "REAL $prog: $rep-$mode differs: $(cat "$d/digest" "$d/status" 2>/dev/null | tr '\n' ' ')vs $(cat "$none/digest" "$none/status" 2>/dev/null | tr '\n' ' ')" >&2; }
            local c0 c1 w0 w1
            c0=$(awk '{ print $2 + $3 }' "$none/cpu" 2>/dev/null); c1=$(awk '{ print $2 + $3 }' "$d/cpu" 2>/dev/null)
            w0=$(cat "$none/work" 2>/dev/null); w1=$(cat "$d/work" 2>/dev/null)
            local ov
            ov=$(awk -v c0="$c0" -v c1="$c1" -v w0="$w0" -v w1="$w1" 'BEGIN { if (c0 > 0 && w0 > 0 && w1 > 0) print 100 * ((c1 / w1) / (c0 / w0) - 1) }')
            [ $mode = 99 ] && o99="$o99$ov"$'\n' || o999="$o999$ov"$'\n'
            read -r fp ft fl fo fm <<<"$(rp_analyse "$d" "$mode")"
            echo "$fp $ft $fl $fo $fm" >"$d/analysis"
            [ "$fp" -gt "$p" ] 2>/dev/null && p=$fp
            [ "$ft" -lt "$t" ] 2>/dev/null && t=$ft
            awk -v a="$fl" -v b="$lostmax" 'BEGIN { exit !(a > b) }' && lostmax=$fl
            on="$on $fo"; meas="$meas $fm"
            awk -v o="$fo" -v m="$fm" 'BEGIN { d = o - m; exit !(d > 5 || d < -5 || o != o) }' && sharebad=1
        done
    done
    [ "$t" = 99999 ] && t=0
    local result=PASS why=""
    [ $fail = 1 ] && { result=FAIL; why="$why runs-failed"; }
    [ "$ident" = yes ] || { result=FAIL; why="$why outputs-differ"; }
    [ "$p" -ge "$want_p" ] || { result=FAIL; why="$why processes<$want_p"; }
    [ "$t" -ge "$want_t" ] || { result=FAIL; why="$why threads<$want_t"; }
    awk -v l="$lostmax" 'BEGIN { exit !(l > 1) }' && { result=FAIL; why="$why stack-lost>1%"; }
    [ $sharebad = 1 ] && { result=FAIL; why="$why oncpu-share"; }
    local m99 m999
    m99=$(printf '%s' "$o99" | grep . | rp_median_range); m999=$(printf '%s' "$o999" | grep . | rp_median_range)
    if [ "$reps" -ge 3 ]; then
        printf '%s' "$o99" | grep . | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; exit !(m > 2) }' &&
            { result=FAIL; why="$why overhead99>2%"; }
    fi
    echo "REAL $prog: processes=$p threads=$t stack_lost=${lostmax}% oncpu=[${on# }]% measured=[${meas# }]% overhead99=$m99 overhead999=$m999 identical=$ident result=$result${why:+ (${why# })}"
    [ $result = PASS ]
}
