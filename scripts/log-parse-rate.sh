#!/usr/bin/env bash
# Measures how much of percore's syslog output HAProxy's log tools read: runs the release
# percore with a UDP syslog target captured by socat, sends a bounded mixed load (wrk
# against a percore-bench origin, 1000 bad requests, 503s during maintenance, killed
# streams), takes the first LINES lines and has haproxy-log-analysis (PyPI,
# `pip install haproxy-log-analysis`) parse them. Prints valid/total per kind of line.
# Usage: scripts/log-parse-rate.sh [LINES]   (default 100000; needs wrk, socat, python3)
set -euo pipefail
lines=${1:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release
dir=$(mktemp -d /tmp/percore-lograte.XXXXXX)
# Ports below the ephemeral range, so that no outgoing connection holds them.
fe=21391 origin=21392 syslog=21393 hold_srv=21394 hold_fe=21395
cargo build --release -q -p percore -p percore-bench --manifest-path "$root/Cargo.toml"
cd "$dir"
cat > p.yaml <<EOF
global:
  shards: 2
  admin: { socket: ./admin.sock }
  log: { target: "udp://127.0.0.1:$syslog", access: true }
defaults:
  mode: http
frontends:
  web: { bind: "127.0.0.1:$fe", default_backend: app }
  hold: { bind: "127.0.0.1:$hold_fe", default_backend: hold }
backends:
  app:
    servers: [{ name: o1, address: "127.0.0.1:$origin" }]
  hold:
    servers: [{ name: h1, address: "127.0.0.1:$hold_srv" }]
EOF
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
socat -u "UDP-RECV:$syslog,rcvbuf=8388608" - > syslog.log & pids+=($!)
socat "TCP-LISTEN:$hold_srv,bind=127.0.0.1,fork,reuseaddr" SYSTEM:'sleep 60' & pids+=($!)
"$bin/percore-bench" origin --listen "127.0.0.1:$origin" --cpus 1 >/dev/null 2>&1 & pids+=($!)
"$bin/percore" run -c p.yaml 2> percore.err & pids+=($!)
for _ in $(seq 100); do [ -S admin.sock ] && break; sleep 0.1; done
admin() { echo "$1" | socat - UNIX-CONNECT:admin.sock >/dev/null; }
# Killed streams: requests the hold server never answers, then shutdown sessions.
python3 - "$hold_fe" <<'EOF' &
import socket, sys, time
held = []
for i in range(300):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /held/%d HTTP/1.1\r\nhost: t\r\n\r\n" % i)
    held.append(s)
time.sleep(5)
EOF
sleep 1
admin "shutdown sessions server hold/h1"
for _ in $(seq 1000); do
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$fe; printf 'GARBAGE\r\n\r\n' >&3; cat <&3 >/dev/null"
done
admin "disable server app/o1"
wrk -t1 -c2 -d1s "http://127.0.0.1:$fe/maint" >/dev/null
admin "enable server app/o1"
# Normal traffic until the capture holds enough lines (bounded: at most 60 rounds).
for _ in $(seq 60); do
    [ "$(wc -l < syslog.log)" -ge "$lines" ] && break
    wrk -t1 -c4 -d1s "http://127.0.0.1:$fe/index?x=1" >/dev/null
done
sleep 1
head -n "$lines" syslog.log > sample.log
python3 - sample.log <<'EOF'
import re, sys
from haproxy.line import parse_line
kinds, total, valid = {}, 0, 0
for raw in open(sys.argv[1], encoding="utf-8"):
    total += 1
    ok = parse_line(raw).is_valid
    valid += ok
    kind = ("state" if ("Server " in raw or "has no server" in raw) else
            "badreq" if "<BADREQ>" in raw else "killed" if re.search(r" K[RCHDQ]-- ", raw) else
            "503" if " 503 " in raw else "ok")
    n = kinds.setdefault(kind, [0, 0]); n[0] += 1; n[1] += ok
print(f"{sys.argv[1]}: {valid}/{total} valid = {100 * valid / total:.3f} %")
for kind, (n, ok) in sorted(kinds.items()):
    print(f"  {kind:7} {ok:7}/{n}")
EOF
echo "capture and logs in $dir"
