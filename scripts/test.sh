#!/usr/bin/env bash
# The test command from the README: the whole workspace, unit and integration tests.
# Integration tests start the real percore binary on loopback; nothing else is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace "$@"
