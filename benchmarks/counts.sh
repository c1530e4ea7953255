#!/usr/bin/env bash
# Noise-free cost counts: system calls and io_uring operations per round trip (tcp-echo) or
# per request (http-keepalive) of one proxy, for a given number of seconds of closed-loop
# load. Unlike CPU time these do not depend on what else runs on the machine.
#
#   [RATE=20000] [OPCODES=1] [WORKLOAD=http-close] benchmarks/counts.sh percore|haproxy tcp|http [seconds] [percore binary]
#
# WORKLOAD: the load generator's workload for http (default http, keep-alive; http-close
# opens a connection per request). RATE: open loop at that many requests/s instead of closed loop (batching, and so the counts
# per request, depend on load: compare proxies at the same rate). OPCODES: break the
# submitted io_uring SQEs down by opcode instead of counting syscalls.
#
# Proxy on CPU 1, origin + load generator (percore-bench) on CPU 0, 32 connections, 64-byte
# echo or GET with a 1 KiB body. perf counts tracepoints of the proxy's threads only
# (`perf stat -p`), over the whole load run; the load runs without warm-up so that every
# counted operation belongs to a reported round trip. Needs perf and root.
set -euo pipefail
who=${1:?percore|haproxy}; mode=${2:?tcp|http}; secs=${3:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH:-$here/target/release/percore-bench}
percore=${4:-$here/target/release/percore}
dir=$(mktemp -d /tmp/counts.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
oport=$(free_port); pport=$(free_port)
if [ "$mode" = tcp ]; then kind=echo; workload=echo; else kind=http; workload=${WORKLOAD:-http}; fi
setsid taskset -c 0 "$bench" origin --listen "127.0.0.1:$oport" --kind "$kind" --body 1k --cpus 0 \
    >"$dir/origin.log" 2>&1 & pids+=($!)
case "$who" in
percore)
    cat >"$dir/p.yaml" <<Y
global: { shards: [1], maxconn: 9900, grace: 1s, tune: { bufsize: 16k } }
defaults:
  mode: $mode
  timeout: { connect: 2s, client: 30s, server: 30s$( [ "$mode" = http ] && echo ', http_request: 30s, http_keep_alive: 30s' ) }
frontends:
  fe: { bind: "127.0.0.1:$pport", default_backend: app }
backends:
  app:
    balance: roundrobin
$( [ "$mode" = http ] && echo '    http_reuse: always' )
    servers:
      - { name: s1, address: "127.0.0.1:$oport" }
Y
    setsid taskset -c 1 "$percore" run -c "$dir/p.yaml" >"$dir/proxy.log" 2>&1 & pids+=($!) ;;
haproxy)
    cat >"$dir/h.cfg" <<Y
global
    nbthread 1
    cpu-map 1/1 1
    maxconn 9900
    tune.bufsize 16384
defaults
    mode $mode
$( [ "$mode" = http ] && printf '    option http-keep-alive\n    http-reuse always\n    timeout http-keep-alive 30s\n    timeout http-request 30s\n' )
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$pport
    default_backend app
backend app
    server s1 127.0.0.1:$oport
Y
    setsid taskset -c 1 haproxy -f "$dir/h.cfg" -db >"$dir/proxy.log" 2>&1 & pids+=($!) ;;
*) echo "unknown proxy $who" >&2; exit 2 ;;
esac
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && break; sleep 0.1
done
sleep 0.5
ppid=${pids[1]}
events='raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_membarrier,io_uring:io_uring_submit_req,io_uring:io_uring_complete,io_uring:io_uring_poll_arm,io_uring:io_uring_task_add'
if [ -n "${OPCODES:-}" ]; then
    # Which io_uring operations: one sample per submitted SQE, grouped by opcode.
    perf record -q -e io_uring:io_uring_submit_req -p "$ppid" -o "$dir/perf.data" 2>/dev/null &
else
    perf stat -x, -e "$events" -p "$ppid" -o "$dir/perf.txt" &
fi
perfpid=$!
sleep 0.3
out=$(taskset -c 0 "$bench" load --target "127.0.0.1:$pport" --workload "$workload" -c 32 \
    --duration "${secs}s" --warmup 0s --body 1k --cpus 0 ${RATE:+--rate $RATE})
sleep 0.2
kill -INT $perfpid; wait $perfpid 2>/dev/null || true
ops=$(echo "$out" | sed -n 's/.*(\([0-9]*\) in .*/\1/p')
echo "$who $mode: $out"
if [ -n "${OPCODES:-}" ]; then
    perf script -i "$dir/perf.data" -F trace 2>/dev/null |
        sed -n 's/.*opcode \([A-Z_0-9]*\).*/\1/p' | sort | uniq -c | sort -rn |
        awk -v ops="$ops" '{ printf "  SQE %-20s %10d  %8.3f per op\n", $2, $1, $1/ops }'
    exit 0
fi
awk -F, -v ops="$ops" '!/^#/ && NF>2 && $1 ~ /^[0-9]+$/ { printf "  %-40s %12d  %8.3f per op\n", $3, $1, $1/ops }' "$dir/perf.txt"
