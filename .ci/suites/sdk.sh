#!/usr/bin/env bash
# The official client SDKs against a real gatehouse (tests/sdk_clients.rs, ignored by plain `cargo test`).
set -euo pipefail
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore anthropic openai
cargo test --test sdk_clients -- --ignored
