#!/usr/bin/env bash
# Admin API across replicas with a real Redis: the tests `cargo test` skips (#[ignore]) because they need
# redis-server. Installs it when missing (Debian/Ubuntu), then runs them.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v redis-server >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
fi
redis-server --version

cargo test --test admin_redis -- --ignored
