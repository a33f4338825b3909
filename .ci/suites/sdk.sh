#!/usr/bin/env bash
# Real clients against a real gatehouse (tests/sdk_clients.rs, ignored by plain `cargo test`): the official
# anthropic and openai Python SDKs, and Claude Code itself (npm package; its binary ships in the package).
set -euo pipefail
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore anthropic openai
if [ ! -x /opt/claude-code/node_modules/.bin/claude ]; then
  mkdir -p /opt/claude-code
  (cd /opt/claude-code && npm install --no-audit --no-fund --loglevel=error @anthropic-ai/claude-code)
fi
/opt/claude-code/node_modules/.bin/claude --version
cargo test --test sdk_clients --test sdk_keys -- --ignored
