#!/usr/bin/env bash
# Bedrock and Vertex with real clients (tests/cloud_clients.rs, ignored by plain `cargo test`): mock Bedrock and Vertex
# upstreams in Python that verify SigV4 (botocore) and service-account JWTs (PyJWT + cryptography), the official
# anthropic SDK's AnthropicBedrock / AnthropicVertex / Anthropic clients (AnthropicBedrock signs through boto3;
# google-auth drives the mock token endpoint in its self-test), and Claude Code in Bedrock and Vertex modes.
set -euo pipefail
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  anthropic boto3 botocore google-auth cryptography pyjwt
if [ ! -x /opt/claude-code/node_modules/.bin/claude ]; then
  mkdir -p /opt/claude-code
  (cd /opt/claude-code && npm install --no-audit --no-fund --loglevel=error @anthropic-ai/claude-code)
fi
/opt/claude-code/node_modules/.bin/claude --version
# One at a time: each test starts its own mocks and gatehouse, and Claude Code is heavy on a small machine.
cargo test --test cloud_clients -- --ignored --test-threads=1
