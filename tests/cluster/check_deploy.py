#!/usr/bin/env python3
"""Static checks of the deployment files that no container engine is needed for; run by .ci/suites/deploy.sh.

Usage: check_deploy.py COMPOSE_CONFIG_OUTPUT   (the YAML that `docker-compose config` printed)

Each file must parse, and the numbers that must agree across files do: ports, the config path, grace periods and
timeouts, labels and selectors, the ConfigMap and deploy/gatehouse.toml, the Grafana datasource and dashboard.
"""

import glob
import json
import os
import re
import subprocess
import sys
import tomllib

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def seconds(value):
    """Compose durations ('40s', '1m30s') and plain numbers, in seconds."""
    if isinstance(value, (int, float)):
        return value
    total, number = 0, ""
    for ch in str(value):
        if ch.isdigit() or ch == ".":
            number += ch
        else:
            total += float(number) * {"s": 1, "m": 60, "h": 3600}[ch]
            number = ""
    return total + (float(number) if number else 0)


gatehouse_toml = read("deploy/gatehouse.toml")
server = tomllib.loads(gatehouse_toml)["server"]
shutdown_grace = server["shutdown_grace"]
request_timeout = server["request_timeout"]
nginx = read("deploy/nginx.conf")
read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", nginx).group(1))

# --- Dockerfile and .dockerignore ------------------------------------------------------------------------------
dockerfile = read("Dockerfile")
check(re.search(r"^FROM rust:\S+ AS builder$", dockerfile, re.M), "Dockerfile: a Rust builder stage")
check(re.search(r"^FROM debian:bookworm-slim AS runtime$", dockerfile, re.M), "Dockerfile: a slim runtime stage")
check(re.search(r"^USER 10001:10001$", dockerfile, re.M), "Dockerfile: runs as the numeric non-root user 10001")
check("HOST=0.0.0.0" in dockerfile and "PORT=8082" in dockerfile, "Dockerfile: HOST=0.0.0.0, PORT=8082")
check("GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.toml" in dockerfile, "Dockerfile: GATEHOUSE_CONFIG")
check(re.search(r"^HEALTHCHECK .*\n.*/health", dockerfile, re.M), "Dockerfile: HEALTHCHECK on /health")
check(dockerfile.count("cargo build --release --locked") == 2, "Dockerfile: a dependency layer, then the build")
ignore = read(".dockerignore").split()
for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
    for src in copied.split():
        check(src == "." or f"!{src}" in ignore, f".dockerignore: the build context lacks {src}, which COPY needs")
for src in ("src/", "Cargo.toml", "Cargo.lock"):
    check(f"!{src}" in ignore, f".dockerignore: {src} must be in the build context")
# The manifest the image builds with: Cargo.toml without the test, bench and example targets (the awk line).
awk = re.search(r"RUN (awk '.*?' Cargo.toml)", dockerfile).group(1)
stripped = subprocess.run(["sh", "-c", awk], cwd=ROOT, capture_output=True, text=True, check=True).stdout
manifest = tomllib.loads(stripped)
check(manifest["package"]["name"] == "gatehouse", "Dockerfile: the stripped manifest keeps [package]")
check(manifest["dependencies"] == tomllib.loads(read("Cargo.toml"))["dependencies"], "Dockerfile: same dependencies")
for table in ("bench", "test", "example"):
    check(table not in manifest, f"Dockerfile: the stripped manifest still declares [[{table}]]")

# --- docker-compose.yml (as docker-compose resolved it) --------------------------------------------------------
with open(sys.argv[1], encoding="utf-8") as f:
    compose = yaml.safe_load(f)
services = compose["services"]
check(set(services) == {"gatehouse", "nginx", "redis", "prometheus", "grafana"}, f"compose: services {sorted(services)}")
gh = services["gatehouse"]
check(gh["deploy"]["replicas"] == 3, "compose: gatehouse runs 3 replicas")
check("ports" not in gh, "compose: the replicas publish no port (only nginx does)")
check(seconds(gh["stop_grace_period"]) > shutdown_grace, "compose: stop_grace_period above shutdown_grace")
check(gh["environment"]["GATEHOUSE_CONFIG"] == "/etc/gatehouse/gatehouse.toml", "compose: GATEHOUSE_CONFIG")
check(gh["environment"]["REDIS_URL"].endswith("@redis:6379/0"), "compose: REDIS_URL points at the redis service")
check(services["nginx"]["depends_on"]["gatehouse"]["condition"] == "service_healthy", "compose: nginx waits for health")
check(any(p.get("target") == 8082 for p in services["nginx"]["ports"] if isinstance(p, dict))
      or any(str(p).endswith(":8082") for p in services["nginx"]["ports"]), "compose: nginx publishes 8082")
for name, svc in services.items():
    for volume in svc.get("volumes", []):
        src = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if src.startswith("/"):
            check(os.path.exists(src), f"compose: {name} mounts {src}, which does not exist")
mounts = " ".join(v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in gh["volumes"])
check("deploy/gatehouse.toml:/etc/gatehouse/gatehouse.toml" in mounts, "compose: the replicas mount deploy/gatehouse.toml")
check(read_timeout > request_timeout, "nginx: proxy_read_timeout above request_timeout")
# Every variable compose requires is in .env.example.
env_example = read(".env.example")
for var in set(re.findall(r"\$\{(\w+):\?", read("docker-compose.yml"))):
    check(re.search(rf"^{var}=", env_example, re.M), f".env.example: {var} (required by docker-compose.yml)")

# --- Prometheus and Grafana ------------------------------------------------------------------------------------
prometheus = yaml.safe_load(read("deploy/prometheus.yml"))
job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "gatehouse")
check(job["metrics_path"] == "/metrics", "prometheus: scrapes /metrics")
check(job["dns_sd_configs"][0] == {"names": ["gatehouse"], "type": "A", "port": 8082, "refresh_interval": "10s"},
      "prometheus: DNS discovery of the gatehouse service, type A, port 8082")
datasources = yaml.safe_load(read("deploy/grafana/provisioning/datasources/prometheus.yml"))["datasources"]
uid = datasources[0]["uid"]
check(datasources[0]["url"] == "http://prometheus:9090", "grafana: the datasource is the compose Prometheus")
providers = yaml.safe_load(read("deploy/grafana/provisioning/dashboards/gatehouse.yml"))["providers"]
check(providers[0]["options"]["path"] == "/etc/grafana/dashboards", "grafana: dashboards provisioned from the mount")
dashboard = json.loads(read("deploy/grafana/dashboards/gatehouse.json"))
panels = [p for p in dashboard["panels"] if p["type"] != "row"]
check(len(panels) >= 10, "grafana: the dashboard has its panels")
for p in panels:
    check(p["datasource"]["uid"] == uid, f"grafana: panel {p['title']!r} uses the provisioned datasource")
    check(all("gatehouse_" in t["expr"] or "up{" in t["expr"] for t in p["targets"]), f"grafana: {p['title']!r}")
ids = [p["id"] for p in dashboard["panels"]]
check(len(ids) == len(set(ids)), "grafana: panel ids are unique")

# --- Kubernetes ------------------------------------------------------------------------------------------------
docs = {}
for path in sorted(glob.glob(os.path.join(ROOT, "deploy/k8s/*.yaml"))):
    with open(path, encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if doc:
                check("apiVersion" in doc and "kind" in doc, f"k8s: {path} has a document without apiVersion/kind")
                docs.setdefault(doc["kind"], []).append((os.path.basename(path), doc))
kustomization = docs.pop("Kustomization")[0][1]
listed = set(kustomization["resources"])
on_disk = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "deploy/k8s/*.yaml"))} - {"kustomization.yaml"}
check(listed == on_disk, f"k8s: kustomization lists {sorted(listed)}, files are {sorted(on_disk)}")
for kind in ("Deployment", "Service", "ConfigMap", "ServiceMonitor", "Secret", "PodDisruptionBudget", "Ingress"):
    check(kind in docs, f"k8s: a {kind}")


def one(kind, name):
    return next(d for _, d in docs[kind] if d["metadata"]["name"] == name)


deployment = one("Deployment", "gatehouse")
pod = deployment["spec"]["template"]
container = pod["spec"]["containers"][0]
env = {e["name"]: e.get("value") for e in container["env"]}
check(deployment["spec"]["replicas"] == 3, "k8s: 3 replicas")
check(deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(), "k8s: selector")
check(env["HOST"] == "0.0.0.0" and env["PORT"] == "8082", "k8s: HOST and PORT")
check(env["GATEHOUSE_CONFIG"] == "/etc/gatehouse/gatehouse.toml", "k8s: GATEHOUSE_CONFIG")
check(container["ports"][0]["containerPort"] == 8082, "k8s: container port 8082")
for probe in ("readinessProbe", "livenessProbe"):
    check(container[probe]["httpGet"]["path"] == "/health", f"k8s: {probe} on /health")
pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
grace = int(env["SHUTDOWN_GRACE"])
check(grace == shutdown_grace, "k8s: SHUTDOWN_GRACE as in deploy/gatehouse.toml")
check(pod["spec"]["terminationGracePeriodSeconds"] > pre_stop + grace,
      "k8s: terminationGracePeriodSeconds above preStop + SHUTDOWN_GRACE")
check(pod["spec"]["securityContext"]["runAsNonRoot"] is True, "k8s: runAsNonRoot")
check(pod["spec"]["securityContext"]["runAsUser"] == 10001, "k8s: the image's user")
mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
check(mount["mountPath"] == "/etc/gatehouse", "k8s: the ConfigMap is mounted where GATEHOUSE_CONFIG points")
configmap = one("ConfigMap", "gatehouse-config")
check(configmap["data"]["gatehouse.toml"] == gatehouse_toml, "k8s: configmap.yaml carries deploy/gatehouse.toml as is")
service = one("Service", "gatehouse")
check(service["spec"]["selector"].items() <= pod["metadata"]["labels"].items(), "k8s: the Service selects the pods")
port_names = {p["name"] for p in service["spec"]["ports"]}
monitor = one("ServiceMonitor", "gatehouse")
check(monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items(),
      "k8s: the ServiceMonitor selects the Service")
check(all(e["port"] in port_names and e["path"] == "/metrics" for e in monitor["spec"]["endpoints"]),
      "k8s: the ServiceMonitor scrapes /metrics on a named Service port")
annotations = one("Ingress", "gatehouse")["metadata"]["annotations"]
check(annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off", "k8s: the Ingress does not buffer SSE")
check(int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) == read_timeout, "k8s: Ingress read timeout")
check(annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "32m", "k8s: Ingress body size")
check(one("PodDisruptionBudget", "gatehouse")["spec"]["minAvailable"] < deployment["spec"]["replicas"], "k8s: PDB")
check(env["REDIS_URL"].startswith("redis://") and "@redis:6379" in env["REDIS_URL"], "k8s: REDIS_URL")

if failures:
    print("deployment files: %d problems" % len(failures))
    for f in failures:
        print("  - " + f)
    sys.exit(1)
print("deployment files: all checks passed (Dockerfile, compose, nginx, Prometheus, Grafana, %d Kubernetes kinds)"
      % (len(docs) + 1))
