#!/usr/bin/env bash
# Deployment (docker-compose.yml, Dockerfile, deploy/): no container engine here, so the topology is checked with
# the real programs from Debian's packages instead.
#   1. docker-compose validates docker-compose.yml; promtool validates deploy/prometheus.yml;
#      tests/cluster/check_deploy.py checks the Dockerfile, the Grafana files and deploy/k8s/ (YAML parser) and
#      that the numbers shared between files agree.
#   2. tests/cluster.rs (ignored by plain `cargo test`) runs 3 gatehouse replicas, nginx with deploy/nginx.conf,
#      redis-server and Prometheus with deploy/prometheus.yml on loopback, and checks the scaled topology.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=0
for cmd in docker-compose nginx redis-server prometheus promtool; do
  command -v "$cmd" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 1 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    docker-compose nginx-light redis-server prometheus
fi
echo "docker-compose $(docker-compose version --short)"
nginx -v
redis-server --version
prometheus --version 2>&1 | sed -n 1p

work="$(mktemp -d)"
created_env=0
cleanup() {
  rm -rf "$work"
  if [ "$created_env" = 1 ]; then rm -f .env; fi
}
trap cleanup EXIT

# docker-compose.yml reads .env (env_file); a checkout has only .env.example, which is what a user starts from.
if [ ! -e .env ]; then
  cp .env.example .env
  created_env=1
  # The required secrets are empty in .env.example: compose must refuse to start without them.
  if env -u REDIS_PASSWORD -u GRAFANA_ADMIN_PASSWORD docker-compose config >/dev/null 2>"$work/refused"; then
    echo "docker-compose accepted a .env without REDIS_PASSWORD" >&2
    exit 1
  fi
  grep -q "set REDIS_PASSWORD in .env" "$work/refused"
  echo "docker-compose refuses .env.example as it is (REDIS_PASSWORD is required): ok"
fi
REDIS_PASSWORD=ci-check GRAFANA_ADMIN_PASSWORD=ci-check docker-compose config >"$work/compose.yml"
echo "docker-compose config: ok ($(REDIS_PASSWORD=x GRAFANA_ADMIN_PASSWORD=x docker-compose config --services | tr '\n' ' '))"

promtool check config deploy/prometheus.yml
/usr/bin/python3 tests/cluster/check_deploy.py "$work/compose.yml"
if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize deploy/k8s >/dev/null
  echo "kubectl kustomize deploy/k8s: ok"
fi

cargo test --test cluster -- --ignored --nocapture
