#!/usr/bin/env bash
# Bounded fuzzing of the SSE parser, the stream converter, the request-body scan and the event-stream decoder (fuzz/README.md). Stable Rust runs cargo-fuzz with
# RUSTC_BOOTSTRAP=1; no sanitizer keeps the build and the runs short.
set -euo pipefail
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
for target in sse_parser stream_converter body_scan eventstream_decoder; do
  mkdir -p "corpus/$target"
  dict=()
  [ -f "$target.dict" ] && dict=("-dict=$target.dict")
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- -max_total_time=30 "${dict[@]}"
done
