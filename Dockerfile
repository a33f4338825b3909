# syntax=docker/dockerfile:1
#
# gatehouse container image: a Rust builder stage, then a small Debian runtime with the same glibc (bookworm).
#
#   docker build -t gatehouse .
#   docker run --rm -p 8082:8082 -e OPENAI_API_KEY=sk-... \
#     -v "$PWD/deploy/gatehouse.toml:/etc/gatehouse/gatehouse.toml:ro" gatehouse
#
# docker-compose.yml builds it and runs three replicas behind nginx; see docs/scaling.md.

ARG RUST_VERSION=1

# ---------------------------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build

# The build context holds only what the release binary needs (.dockerignore lists it). Test, bench and example
# targets are declared in Cargo.toml but their files are not in the context, and cargo refuses a manifest whose
# declared targets are missing: both builds below use the manifest without those tables (the awk line).

# 1. Dependencies, in their own layer: rebuilt only when Cargo.toml or Cargo.lock change, not for a source edit.
COPY Cargo.toml Cargo.lock ./
RUN awk '/^\[/ { skip = /^\[\[(bench|test|example)\]\]/ } !skip' Cargo.toml > Cargo.bin.toml \
 && mv Cargo.bin.toml Cargo.toml \
 && mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src target/release/gatehouse target/release/deps/gatehouse-* target/release/deps/libgatehouse-* \
           target/release/.fingerprint/gatehouse-*

# 2. The gateway itself. COPY keeps the files' own (older) modification times, so the entry points are touched:
#    otherwise cargo could take the stub build above for an up-to-date one.
COPY . .
RUN awk '/^\[/ { skip = /^\[\[(bench|test|example)\]\]/ } !skip' Cargo.toml > Cargo.bin.toml \
 && mv Cargo.bin.toml Cargo.toml \
 && touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && install -m 0755 target/release/gatehouse /usr/local/bin/gatehouse \
 && gatehouse --version

# ---------------------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# curl only for the HEALTHCHECK below. Upstream TLS needs no system certificates: the binary carries the
# webpki root store.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid gatehouse --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gatehouse

COPY --from=builder /usr/local/bin/gatehouse /usr/local/bin/gatehouse
# The default configuration: Anthropic with each client's own key. Mount your own file over it (same path), or
# add providers with environment variables (<P>_API_KEY, <P>_BASE_URL, ...; docs/configuration.md).
COPY deploy/gatehouse.toml /etc/gatehouse/gatehouse.toml

ENV HOST=0.0.0.0 \
    PORT=8082 \
    GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.toml

# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /tmp
EXPOSE 8082

# SIGTERM (Docker's default stop signal) starts the graceful shutdown: in-flight requests and streams get
# SHUTDOWN_GRACE (30 s) to finish. Give the container more than that to stop (compose: stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${PORT}/health" || exit 1

ENTRYPOINT ["/usr/local/bin/gatehouse"]
