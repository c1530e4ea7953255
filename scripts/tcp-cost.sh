#!/usr/bin/env bash
# Rough TCP-mode cost: wrk keep-alive GETs to an nginx origin, direct vs through percore
# (TCP frontend) vs through HAProxy (mode tcp), on loopback. Proxies are pinned to CPU 1;
# wrk and the origin share CPU 0. Prints requests/s and proxy CPU µs per request
# (utime+stime from /proc over the run ÷ requests). Needs scripts/install-peers.sh and a
# release build. Until percore-bench compare exists, this is the measurement to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10}; CONNS=${CONNS:-32}
BIN=./target/release/percore
[ -x "$BIN" ] || cargo build --release
WORK=$(mktemp -d /tmp/percore-tcpcost.XXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; nginx -c "$WORK/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cat > "$WORK/nginx.conf" <<NG
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:18080 reuseport backlog=4096; keepalive_requests 1000000;
  location / { return 200 "hello world\n"; } } }
NG
taskset -c 0 nginx -c "$WORK/nginx.conf" & sleep 0.5
cat > "$WORK/percore.yaml" <<YML
global: { shards: [1], maxconn: 10000, grace: 1s }
defaults: { mode: tcp }
frontends: { fe: { bind: "127.0.0.1:18081", default_backend: app } }
backends: { app: { servers: [ { name: s1, address: "127.0.0.1:18080" } ] } }
YML
cat > "$WORK/haproxy.cfg" <<HA
global
  nbthread 1
  cpu-map 1/1 1
  maxconn 5000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:18082
  default_backend app
backend app
  server s1 127.0.0.1:18080
HA
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # name port pid
  local out t0 t1 reqs
  t0=$( [ -n "$3" ] && cpu_ticks "$3" || echo 0)
  out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$2/")
  t1=$( [ -n "$3" ] && cpu_ticks "$3" || echo 0)
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local hz; hz=$(getconf CLK_TCK)
  local us="-"; [ -n "$3" ] && us=$(awk -v d=$((t1-t0)) -v r="$reqs" -v hz="$hz" 'BEGIN{printf "%.2f", d*1e6/hz/r}')
  local p99; p99=$(echo "$out" | awk '/Latency/ {print $2}')
  printf "%-10s %12s req/s  %8s CPU us/req  avg latency %s\n" "$1" "$rps" "$us" "$p99"
}
run direct 18080 ""
$BIN run -c "$WORK/percore.yaml" 2>"$WORK/percore.log" & PP=$!; sleep 1
run percore 18081 "$PP"
kill $PP; wait $PP 2>/dev/null || true
taskset -c 1 haproxy -f "$WORK/haproxy.cfg" -db 2>"$WORK/haproxy.log" & HP=$!; sleep 1
run haproxy 18082 "$HP"
kill $HP; wait $HP 2>/dev/null || true
