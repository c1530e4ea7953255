#!/usr/bin/env bash
# Data-path cost of the control plane: wrk keep-alive GETs through a percore TCP frontend
# (proxy on CPU 1, wrk + nginx origin on CPU 0), once with an idle admin socket and once
# while a client hammers it with `show stat` and `shutdown sessions server app/idle`
# (a broadcast to every shard's control task) every 10 ms. Prints req/s and proxy CPU per
# request for both, and the ratio. Needs scripts/install-peers.sh and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-8}; CONNS=${CONNS:-32}
BIN=./target/release/percore
[ -x "$BIN" ] || cargo build --release
WORK=$(mktemp -d /tmp/percore-ctlcost.XXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; nginx -c "$WORK/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cat > "$WORK/nginx.conf" <<NG
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:18090 reuseport backlog=4096; keepalive_requests 1000000;
  location / { return 200 "hello world\n"; } } }
NG
taskset -c 0 nginx -c "$WORK/nginx.conf" & sleep 0.5
cat > "$WORK/percore.yaml" <<YML
global: { shards: [1], maxconn: 5000, grace: 1s, admin: { socket: "$WORK/admin.sock" } }
defaults: { mode: tcp }
frontends: { fe: { bind: "127.0.0.1:18091", default_backend: app } }
backends: { app: { servers: [ { name: s1, address: "127.0.0.1:18090" }, { name: idle, address: "127.0.0.1:18090", weight: 0 } ] } }
YML
$BIN run -c "$WORK/percore.yaml" 2>"$WORK/percore.log" & PP=$!; sleep 1
cpu_ticks() { awk '{print $14+$15}' /proc/$PP/stat; }
measure() {
  local t0 t1 out reqs
  t0=$(cpu_ticks)
  out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DUR}s" http://127.0.0.1:18091/)
  t1=$(cpu_ticks)
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(awk -v d=$((t1-t0)) -v r="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", d*1e6/hz/r}')"
}
read -r RPS0 CPU0 < <(measure)
taskset -c 0 python3 - "$WORK/admin.sock" "$DUR" > "$WORK/admin.out" <<'PY' &
import socket, sys, time
path, dur = sys.argv[1], float(sys.argv[2]) + 1
end = time.time() + dur; n = 0; lat = []
while time.time() < end:
    for cmd in (b"show stat\n", b"shutdown sessions server app/idle\n"):
        t = time.time(); s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(cmd)
        while s.recv(65536): pass
        s.close(); lat.append(time.time() - t); n += 1
    time.sleep(0.01)
lat.sort()
print(f"{n} admin commands, reply p50 {lat[len(lat)//2]*1e3:.2f} ms p99 {lat[int(len(lat)*0.99)]*1e3:.2f} ms")
PY
sleep 0.5
read -r RPS1 CPU1 < <(measure)
wait %3 2>/dev/null || sleep 1.5
printf "idle control plane : %10s req/s %6s us CPU/req\n" "$RPS0" "$CPU0"
printf "busy control plane : %10s req/s %6s us CPU/req   (%s)\n" "$RPS1" "$CPU1" "$(cat "$WORK/admin.out")"
awk -v a="$RPS0" -v b="$RPS1" -v c="$CPU0" -v d="$CPU1" 'BEGIN{printf "ratio busy/idle   : req/s x%.3f, CPU/req x%.3f\n", b/a, d/c}'
