#!/usr/bin/env python3
"""Writes a large, valid percore configuration for timing `percore check` (issue 18):
200 backends of 100 servers each (20 000 servers, loopback addresses that are never
contacted by `check`), with HTTP checks, and one frontend routing to every backend.

    scripts/gen-servers-config.py /tmp/servers20k.yaml [backends] [servers_per_backend]
    time ./target/release/percore check -c /tmp/servers20k.yaml
"""
import sys


def main() -> None:
    path = sys.argv[1]
    n_backends = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    out = ["global:", "  shards: 1", "defaults:", "  mode: http",
           "  timeout: { connect: 2s, client: 30s, server: 30s }",
           "frontends:", "  web:", '    bind: ["127.0.0.1:18080"]', "    default_backend: b0",
           "    use_backend:"]
    for b in range(1, n_backends):
        out.append(f"      - {{ backend: b{b}, when: {{ path_prefix: /b{b}/ }} }}")
    out.append("backends:")
    for b in range(n_backends):
        out += [f"  b{b}:", "    balance: roundrobin",
                "    check: { type: http, path: /health, inter: 2s, rise: 2, fall: 3 }",
                "    servers:"]
        for s in range(per):
            i = b * per + s
            out.append(f'      - {{ name: s{s}, address: "127.{i // 65536 % 256}.'
                       f'{i // 256 % 256}.{i % 256 + 1 if i % 256 < 255 else 1}:80", '
                       f"weight: {1 + s % 100}, maxconn: 1000 }}")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
