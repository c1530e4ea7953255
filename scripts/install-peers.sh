#!/usr/bin/env bash
# Installs the peers percore-bench compares against (HAProxy, nginx with its stream module
# for the TCP scenarios) and the load tools (wrk, socat, h2load) from Debian packages.
# Idempotent: installs only what is missing.
set -euo pipefail
need=()
for pair in haproxy:haproxy nginx:nginx wrk:wrk socat:socat h2load:nghttp2-client; do
    cmd=${pair%%:*}; pkg=${pair##*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
        need+=("$pkg")
    fi
done
# nginx's stream {} (TCP proxying) is a separate module package on Debian.
if ! [ -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
    need+=(libnginx-mod-stream)
fi
if [ ${#need[@]} -eq 0 ]; then
    echo "install-peers: haproxy, nginx (+ stream module), wrk, socat and h2load are already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-peers: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
# The benchmark starts its own instances; the distribution's services are not wanted.
for svc in haproxy nginx; do
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-peers: done"
