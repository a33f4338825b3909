#!/usr/bin/env bash
# Virtual keys across replicas with a real Redis: the tests `cargo test` skips (#[ignore]) because they need
# redis-server — the Lua admission script against book.rs (differential), and three gatehouse processes sharing
# one Redis (exact limits, revocation within a second, Redis outage and recovery). Installs Redis when missing
# (Debian/Ubuntu), then runs them.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v redis-server >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
fi
redis-server --version

cargo test --test keys_redis -- --ignored
# One at a time: each starts three gatehouse processes and times its requests.
cargo test --test keys_cluster -- --ignored --test-threads 1
