#!/usr/bin/env bash
# Metrics checked with the tools operators run: promtool, a real Prometheus server, and the dashboard in headless
# Chromium (screenshot in test-output/dashboard.png). Installs what is missing (Debian packages), then runs the
# ignored tests of tests/metrics.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
promtool --version 2>&1 | head -1
/usr/bin/chromium --version 2>/dev/null || true

# One at a time: the Prometheus and Chromium tests each start a gateway, a mock and an external process.
cargo test --test metrics -- --ignored --test-threads=1
