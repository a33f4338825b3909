#!/usr/bin/env bash
# Bounded soak test (tests/soak.rs): 20,000 mixed requests through the real binary, memory and fds stay flat.
set -euo pipefail
cargo test --test soak -- --ignored --nocapture
