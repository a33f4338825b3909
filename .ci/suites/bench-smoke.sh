#!/usr/bin/env bash
# Smoke of the benchmark harness: `bench/run --smoke --debug` runs every scenario for a few seconds against debug
# builds (no 15-minute LTO build), and `bench/instructions --debug` counts a few requests under callgrind, so the
# harness does not rot. It fails only when the harness breaks (a service that
# does not start, a wrong answer through a gateway, a tool that fails), never on a missed performance target.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v wrk >/dev/null || ! command -v redis-server >/dev/null \
  || ! { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk redis-server
fi
bench/run --smoke --debug

# bench/instructions (callgrind instruction counts per request) on the same debug builds.
if ! command -v valgrind >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
fi
bench/instructions --debug --requests 30
