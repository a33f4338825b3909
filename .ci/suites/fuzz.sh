#!/usr/bin/env bash
# Bounded fuzzing of the SSE parser and the stream converter (fuzz/README.md). Stable Rust runs cargo-fuzz with
# RUSTC_BOOTSTRAP=1; no sanitizer keeps the build and the runs short.
set -euo pipefail
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
for target in sse_parser stream_converter; do
  mkdir -p "corpus/$target"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- -max_total_time=30
done
