//! The deployed topology of docker-compose.yml, run for real without containers: three gatehouse replicas (the
//! binary cargo built) sharing one `redis-server`, nginx with `deploy/nginx.conf` in front of them, Prometheus
//! scraping them with `deploy/prometheus.yml`, and a mock upstream, every process on its own free loopback port.
//!
//! The two deploy files are used as they are in the repository, with the addresses substituted: nginx's
//! `server gatehouse:8082` line becomes one line per replica and its `listen 8082` a loopback port; Prometheus's
//! `dns_sd_configs` block becomes static targets. The replicas read `deploy/gatehouse.toml`, as in the image.
//!
//! Checks, in order: requests through nginx are spread over all three replicas (each one's own `/metrics` count,
//! and the sum matches what was sent); server-sent events pass through nginx chunk by chunk; an admin change made
//! on one replica is served by all three; Prometheus reports `up == 1` for every replica and the same request
//! total, and every query of the Grafana dashboard is valid PromQL; killing one replica under load loses only
//! the requests in flight on it, and every new request succeeds on the other two.
//!
//! Ignored by default: it needs `nginx`, `redis-server` and `prometheus` on the PATH. `.ci/suites/deploy.sh`
//! installs them (Debian packages) and runs `cargo test --test cluster -- --ignored --nocapture`.

mod common;

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};

const ADMIN_KEY: &str = "cluster-admin-key";
const REPLICAS: usize = 3;
const VICTIM: usize = 2;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A scratch directory for configs, data and logs. Removed at the end, kept (and named) when the test failed.
struct Workdir(PathBuf);

impl Workdir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("gatehouse-cluster-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("cluster test failed: configs and process logs kept in {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process, stopped when dropped: `TERM` first for those that must take their own children down
/// (nginx's workers), then `KILL`.
struct Proc {
    name: String,
    child: Option<Child>,
    graceful: bool,
}

impl Proc {
    fn spawn(name: &str, cmd: &mut Command, dir: &Path, graceful: bool) -> Self {
        let log = fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({:?}): {e}", cmd.get_program()));
        Self { name: name.into(), child: Some(child), graceful }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("process is running").id()
    }

    /// `SIGKILL`, as a crash or an OOM kill would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn stop(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        if self.graceful {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("{} did not stop on SIGTERM within 5 s; killing it", self.name);
        }
        self.kill();
    }

    /// Panics if the process already exited (it failed to start: see its log).
    fn assert_running(&mut self, dir: &Path) {
        if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
            let log = fs::read_to_string(dir.join(format!("{}.log", self.name))).unwrap_or_default();
            panic!("{} exited ({status}):\n{log}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Replica {
    proc: Proc,
    port: u16,
    url: String,
}

/// Everything the test started, dropped in reverse order of declaration at the end of the test (or on a panic).
/// Fields drop in this order: the load balancer and Prometheus first, the scratch directory last.
struct Cluster {
    nginx: Proc,
    prometheus: Proc,
    replicas: Vec<Replica>,
    redis: Proc,
    mock: MockUpstream,
    dir: Workdir,
    nginx_url: String,
    prometheus_url: String,
}

fn wait_tcp(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on 127.0.0.1:{port} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `deploy/nginx.conf` with only its addresses changed: the replicas and a loopback listen port.
fn nginx_conf(replica_ports: &[u16], port: u16) -> String {
    let text = fs::read_to_string(repo_file("deploy/nginx.conf")).unwrap();
    let (mut servers, mut listens) = (0, 0);
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(params) = trimmed.strip_prefix("server gatehouse:8082") {
            servers += 1;
            for p in replica_ports {
                out.push_str(&format!("{indent}server 127.0.0.1:{p}{params}\n"));
            }
        } else if trimmed == "listen 8082;" {
            listens += 1;
            out.push_str(&format!("{indent}listen 127.0.0.1:{port};\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(
        (servers, listens),
        (1, 1),
        "deploy/nginx.conf: expected one `server gatehouse:8082` and one `listen 8082;`"
    );
    out
}

/// The `dns_sd_configs` block of `deploy/prometheus.yml`, as the test replaces it.
const PROMETHEUS_DNS_SD: &str = "    dns_sd_configs:
      - names: ['gatehouse']
        type: A
        port: 8082
        refresh_interval: 10s
";

/// `deploy/prometheus.yml` with static loopback targets in place of DNS discovery.
fn prometheus_conf(replica_ports: &[u16]) -> String {
    let text = fs::read_to_string(repo_file("deploy/prometheus.yml")).unwrap();
    assert_eq!(text.matches(PROMETHEUS_DNS_SD).count(), 1, "deploy/prometheus.yml: the dns_sd_configs block changed");
    let targets: Vec<String> = replica_ports.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let static_block = format!("    static_configs:\n      - targets: [{}]\n", targets.join(", "));
    text.replace(PROMETHEUS_DNS_SD, &static_block)
}

impl Cluster {
    fn start() -> Self {
        let dir = Workdir::new();
        let d = dir.0.clone();
        let mock = start_mock();

        let redis_port = free_port();
        let redis = Proc::spawn(
            "redis",
            Command::new("redis-server").args([
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]),
            &d,
            false,
        );
        wait_tcp(redis_port, "redis-server");
        let redis_url = format!("redis://127.0.0.1:{redis_port}/0");

        let replicas: Vec<Replica> = (0..REPLICAS)
            .map(|i| {
                let port = free_port();
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
                cmd.env_clear()
                    .current_dir(&d)
                    .env("HOST", "127.0.0.1")
                    .env("PORT", port.to_string())
                    .env("WORKERS", "1")
                    .env("LOG_LEVEL", "info")
                    .env("GATEHOUSE_CONFIG", repo_file("deploy/gatehouse.toml"))
                    .env("MOCK_API_KEY", "mock-key")
                    .env("MOCK_BASE_URL", &mock.url)
                    .env("MOCK_API_FORMAT", "anthropic")
                    .env("DEFAULT_PROVIDER", "mock")
                    .env("ADMIN_API_KEY", ADMIN_KEY)
                    .env("REDIS_URL", &redis_url);
                let proc = Proc::spawn(&format!("gatehouse-{i}"), &mut cmd, &d, false);
                Replica { proc, port, url: format!("http://127.0.0.1:{port}") }
            })
            .collect();
        for r in &replicas {
            wait_tcp(r.port, &r.proc.name);
        }
        let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();

        let nginx_port = free_port();
        let conf = d.join("nginx.conf");
        fs::write(&conf, nginx_conf(&ports, nginx_port)).unwrap();
        let globals = format!("daemon off; pid {};", d.join("nginx.pid").display());
        let nginx = Proc::spawn(
            "nginx",
            Command::new("nginx").arg("-e").arg("stderr").arg("-c").arg(&conf).arg("-g").arg(globals),
            &d,
            true,
        );

        let prometheus_port = free_port();
        let prom_conf = d.join("prometheus.yml");
        fs::write(&prom_conf, prometheus_conf(&ports)).unwrap();
        let prometheus = Proc::spawn(
            "prometheus",
            Command::new("prometheus")
                .arg(format!("--config.file={}", prom_conf.display()))
                .arg(format!("--storage.tsdb.path={}", d.join("prometheus-data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
                .current_dir(&d),
            &d,
            true,
        );

        let mut cluster = Self {
            nginx_url: format!("http://127.0.0.1:{nginx_port}"),
            prometheus_url: format!("http://127.0.0.1:{prometheus_port}"),
            dir,
            mock,
            redis,
            replicas,
            nginx,
            prometheus,
        };
        wait_tcp(nginx_port, "nginx");
        wait_tcp(prometheus_port, "prometheus");
        let dir = cluster.dir.0.clone();
        cluster.nginx.assert_running(&dir);
        cluster.prometheus.assert_running(&dir);
        cluster.redis.assert_running(&dir);
        cluster
    }
}

/// The replica that answered, from `x-gatehouse-request-id` (`gh-<process seed>-<n>`): the seed is per process.
fn seed_of<S>(res: &awc::ClientResponse<S>) -> Option<String> {
    let id = res.headers().get("x-gatehouse-request-id")?.to_str().ok()?;
    Some(id.split('-').nth(1)?.to_string())
}

/// One `/v1/messages` call: which replica answered (when a response head came back), and whether the answer is
/// the mock's, complete. Counts the call in `sent`.
struct Outcome {
    start: Duration,
    end: Duration,
    streamed: bool,
    replica: Option<usize>,
    status: Option<u16>,
    ok: bool,
    detail: String,
}

struct Client {
    http: awc::Client,
    seeds: HashMap<String, usize>,
    sent: Cell<u64>,
    epoch: Instant,
    /// Streams whose response head came from each replica and that have not ended yet.
    open_streams: [Cell<usize>; REPLICAS],
}

impl Client {
    async fn message(&self, base: &str, model: &str, stream: bool) -> Outcome {
        self.sent.set(self.sent.get() + 1);
        let start = self.epoch.elapsed();
        let mut out = Outcome {
            start,
            end: start,
            streamed: stream,
            replica: None,
            status: None,
            ok: false,
            detail: String::new(),
        };
        let sent = self
            .http
            .post(format!("{base}/v1/messages"))
            .insert_header(("content-type", "application/json"))
            .send_body(body(model, stream))
            .await;
        let mut res = match sent {
            Ok(res) => res,
            Err(e) => {
                out.end = self.epoch.elapsed();
                out.detail = format!("no response: {e}");
                return out;
            }
        };
        out.status = Some(res.status().as_u16());
        out.replica = seed_of(&res).and_then(|s| self.seeds.get(&s).copied());
        let open = out.replica.filter(|_| stream).map(|r| &self.open_streams[r]);
        if let Some(open) = open {
            open.set(open.get() + 1);
        }
        let mut received = Vec::new();
        let mut failed = None;
        while let Some(chunk) = res.next().await {
            match chunk {
                Ok(bytes) => received.extend_from_slice(&bytes),
                Err(e) => {
                    failed = Some(format!("body broke: {e}"));
                    break;
                }
            }
        }
        out.end = self.epoch.elapsed();
        if let Some(open) = open {
            open.set(open.get() - 1);
        }
        let expected = if stream { stream_body() } else { MESSAGE_JSON.to_string() };
        out.ok = failed.is_none() && out.status == Some(200) && received == expected.as_bytes();
        if !out.ok {
            out.detail = failed.unwrap_or_else(|| {
                format!(
                    "status {:?}, body {:?}",
                    out.status,
                    String::from_utf8_lossy(&received[..received.len().min(200)])
                )
            });
        }
        out
    }
}

/// The sum of `gatehouse_requests_total` over every series of a Prometheus text page.
fn requests_total(page: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with("gatehouse_requests_total{") || l.starts_with("gatehouse_requests_total "))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
        .sum()
}

async fn replica_metrics(http: &awc::Client, replica: &Replica) -> String {
    let mut res = http.get(format!("{}/metrics", replica.url)).send().await.unwrap();
    let page = String::from_utf8(res.body().limit(8 << 20).await.unwrap().to_vec()).unwrap();
    assert_eq!(res.status().as_u16(), 200, "GET /metrics on {}: {page}", replica.proc.name);
    assert!(
        page.contains("gatehouse_requests_total"),
        "GET /metrics on {}: no gatehouse_requests_total:\n{page}",
        replica.proc.name
    );
    page
}

async fn promql(http: &awc::Client, prometheus: &str, expr: &str) -> Value {
    let mut res = http.post(format!("{prometheus}/api/v1/query")).send_form(&[("query", expr)]).await.unwrap();
    serde_json::from_slice(&res.body().limit(8 << 20).await.unwrap()).unwrap()
}

/// The single value of an instant vector (`None` when the vector is empty).
fn scalar(answer: &Value) -> Option<f64> {
    let result = answer["data"]["result"].as_array()?;
    assert!(result.len() <= 1, "expected at most one series: {answer}");
    result.first().map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
}

fn phase(name: &str, started: Instant) {
    println!("cluster: {name}: {:.2} s", started.elapsed().as_secs_f64());
}

#[actix_rt::test]
#[ignore = "needs nginx, redis-server and prometheus; run by .ci/suites/deploy.sh"]
async fn three_replicas_behind_nginx_with_redis_and_prometheus() {
    gatehouse::install_crypto_provider();
    let t_all = Instant::now();
    let mut cluster = Cluster::start();
    let http = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    for r in &cluster.replicas {
        let mut res = http.get(format!("{}/health", r.url)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{} /health", r.proc.name);
        let _ = res.body().await;
    }
    let mut res = http.get(format!("{}/health", cluster.nginx_url)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "/health through nginx: {:?}", res.body().await);
    // Per-replica pages are not served through the load balancer, in the Anthropic error shape.
    for path in ["/metrics", "/metrics/summary", "/dashboard"] {
        let mut res = http.get(format!("{}{path}", cluster.nginx_url)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 404, "{path} through nginx");
        assert_eq!(error_type(&res.body().await.unwrap()), "not_found_error", "{path} through nginx");
    }
    phase("started redis, 3 replicas, nginx, prometheus and the mock", t_all);

    // Each replica's request-id seed, from one direct call: it tells which replica answered through nginx.
    let mut client = Client {
        http: http.clone(),
        seeds: HashMap::new(),
        sent: Cell::new(0),
        epoch: Instant::now(),
        open_streams: Default::default(),
    };
    for (i, r) in cluster.replicas.iter().enumerate() {
        client.sent.set(client.sent.get() + 1);
        let res = http
            .post(format!("{}/v1/messages", r.url))
            .insert_header(("content-type", "application/json"))
            .send_body(body("mock:claude", false))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let seed = seed_of(&res).expect("x-gatehouse-request-id");
        assert!(client.seeds.insert(seed, i).is_none(), "two replicas share a request-id seed");
    }
    let client = client;

    // 1. Requests through nginx reach all three replicas, as their own metrics count them.
    let t = Instant::now();
    let outcomes = futures_util::stream::iter(0..60)
        .map(|_| client.message(&cluster.nginx_url, "mock:claude", false))
        .buffer_unordered(6)
        .collect::<Vec<_>>()
        .await;
    for o in &outcomes {
        assert!(o.ok, "request through nginx failed: {}", o.detail);
    }
    let mut by_replica = [0u64; REPLICAS];
    for o in &outcomes {
        by_replica[o.replica.expect("answer names its replica")] += 1;
    }
    // A client error and an upstream error, so that the error metrics the dashboard reads exist.
    for model in ["nosuch:model", "mock:error-400"] {
        let o = client.message(&cluster.nginx_url, model, false).await;
        assert_eq!(o.status, Some(400), "{model}: {}", o.detail);
    }
    let mut counted = Vec::new();
    for r in &cluster.replicas {
        counted.push(requests_total(&replica_metrics(&http, r).await));
    }
    println!(
        "cluster: 60 requests through nginx, answered per replica {by_replica:?}, counted per replica {counted:?}"
    );
    for (i, n) in counted.iter().enumerate() {
        assert!(*n > 1, "replica {i} counted {n} requests: nginx did not send it any (per replica: {by_replica:?})");
    }
    assert_eq!(counted.iter().sum::<u64>(), client.sent.get(), "the replicas' counts add up to the requests sent");
    phase("1. spread over the replicas", t);

    // 2. Server-sent events flow through nginx chunk by chunk: the mock's slow-stream sends 8 events 300 ms apart.
    let t = Instant::now();
    let streams = (0..REPLICAS).map(|_| async {
        client.sent.set(client.sent.get() + 1);
        let started = Instant::now();
        let mut res = http
            .post(format!("{}/v1/messages", cluster.nginx_url))
            .insert_header(("content-type", "application/json"))
            .send_body(body("mock:slow-stream", true))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let content_type = res.headers().get("content-type").unwrap().to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/event-stream"), "content-type {content_type}");
        let (mut received, mut arrivals) = (Vec::new(), Vec::new());
        while let Some(chunk) = res.next().await {
            received.extend_from_slice(&chunk.unwrap());
            let events = received.windows(2).filter(|w| w == b"\n\n").count();
            while arrivals.len() < events {
                arrivals.push(started.elapsed());
            }
        }
        assert_eq!(String::from_utf8(received).unwrap(), stream_body(), "the stream arrives whole and unchanged");
        arrivals
    });
    for arrivals in futures_util::future::join_all(streams).await {
        let ms: Vec<u128> = arrivals.iter().map(Duration::as_millis).collect();
        println!("cluster: stream events arrived at {ms:?} ms");
        assert_eq!(arrivals.len(), 8);
        assert!(
            arrivals[0] + Duration::from_millis(1500) < arrivals[7],
            "the first event came long before the last: {ms:?}"
        );
        for pair in arrivals.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(150), "events arrived one by one, not batched: {ms:?}");
        }
    }
    phase("2. SSE through nginx", t);

    // 3. An admin change made on one replica is served by all three.
    let t = Instant::now();
    let mut res = http
        .put(format!("{}/admin/providers/fresh", cluster.replicas[0].url))
        .insert_header(("authorization", format!("Bearer {ADMIN_KEY}")))
        .send_json(&json!({ "base_url": cluster.mock.url, "api_format": "anthropic", "api_keys": ["fresh-key"] }))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "PUT /admin/providers/fresh: {:?}", res.body().await);
    let put_at = Instant::now();
    let mut served = BTreeSet::new();
    let (mut refused, mut fresh_ok) = (0, 0);
    while served.len() < REPLICAS {
        assert!(put_at.elapsed() < Duration::from_secs(5), "after 5 s only replicas {served:?} serve the new provider");
        let o = client.message(&cluster.nginx_url, "fresh:claude-mock", false).await;
        match o.ok {
            true => {
                served.insert(o.replica.unwrap());
                fresh_ok += 1;
            }
            false => {
                assert_eq!(o.status, Some(400), "before the change arrives, unknown provider: {}", o.detail);
                refused += 1;
            }
        }
    }
    println!(
        "cluster: every replica served the new provider {} ms after the PUT ({refused} refused before)",
        put_at.elapsed().as_millis()
    );
    let outcomes = futures_util::stream::iter(0..30)
        .map(|_| client.message(&cluster.nginx_url, "fresh:claude-mock", false))
        .buffer_unordered(3)
        .collect::<Vec<_>>()
        .await;
    let replicas: BTreeSet<usize> = outcomes.iter().map(|o| o.replica.unwrap()).collect();
    assert!(outcomes.iter().all(|o| o.ok), "every request for the new provider succeeds");
    assert_eq!(replicas.len(), REPLICAS, "all three replicas served the new provider");
    let with_new_key = cluster.mock.requests().iter().filter(|r| r.header("x-api-key") == Some("fresh-key")).count();
    assert_eq!(with_new_key, 30 + fresh_ok, "the mock saw the new provider's key on every request for it");
    phase("3. admin change on one replica, served by all", t);

    // 4. Prometheus scrapes every replica, and its total matches what was sent.
    let t = Instant::now();
    let sent = client.sent.get();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (up, total) = loop {
        let up = promql(&http, &cluster.prometheus_url, "up{job=\"gatehouse\"}").await;
        let up: Vec<String> =
            up["data"]["result"].as_array().unwrap().iter().map(|s| s["value"][1].as_str().unwrap().into()).collect();
        let total = scalar(&promql(&http, &cluster.prometheus_url, "sum(gatehouse_requests_total)").await);
        if up.len() == REPLICAS && up.iter().all(|v| v == "1") && total == Some(sent as f64) {
            break (up, total);
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus after 30 s: up = {up:?} (3 targets expected), sum(gatehouse_requests_total) = {total:?}, sent {sent}"
        );
        actix_rt::time::sleep(Duration::from_millis(500)).await;
    };
    println!("cluster: Prometheus: up = {up:?}, sum(gatehouse_requests_total) = {total:?}, sent {sent}");
    let per_instance = promql(&http, &cluster.prometheus_url, "sum by (instance) (gatehouse_requests_total)").await;
    for r in &cluster.replicas {
        let own = requests_total(&replica_metrics(&http, r).await);
        let series = per_instance["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["metric"]["instance"] == format!("127.0.0.1:{}", r.port))
            .unwrap_or_else(|| panic!("no series for {} in {per_instance}", r.proc.name));
        assert_eq!(series["value"][1], own.to_string(), "Prometheus and {} agree on its count", r.proc.name);
    }
    // Every query of the Grafana dashboard is valid PromQL over the metrics the replicas export.
    let dashboard: Value =
        serde_json::from_str(&fs::read_to_string(repo_file("deploy/grafana/dashboards/gatehouse.json")).unwrap())
            .unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "the dashboard has its queries: {exprs:?}");
    for expr in &exprs {
        let query = expr.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$provider", ".*");
        let answer = promql(&http, &cluster.prometheus_url, &query).await;
        assert_eq!(answer["status"], "success", "dashboard query {query}: {answer}");
        for (at, _) in query.match_indices("gatehouse_") {
            let name: String = query[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let present = promql(&http, &cluster.prometheus_url, &format!("count({{__name__=\"{name}\"}})")).await;
            assert!(scalar(&present).unwrap_or(0.0) > 0.0, "dashboard query {query}: Prometheus has no {name}");
        }
    }
    phase(&format!("4. Prometheus up and totals, {} dashboard queries", exprs.len()), t);

    // 5. Kill one replica under load: only the requests in flight on it fail; new requests go to the other two.
    let t = Instant::now();
    // Load runs 1.2 s, until the victim has a stream open, then 3 s past the kill.
    let (kill_after, load_after_kill) = (Duration::from_millis(1200), Duration::from_secs(3));
    let load_start = client.epoch.elapsed();
    // From just before SIGKILL until the process is reaped (its sockets are closed by then).
    let kill_window: Cell<Option<(Duration, Duration)>> = Cell::new(None);
    let nginx_url = cluster.nginx_url.clone();
    let worker = |streamed: bool| {
        let (client, nginx, kill_window) = (&client, nginx_url.as_str(), &kill_window);
        async move {
            let mut outcomes = Vec::new();
            let running = || match kill_window.get() {
                None => client.epoch.elapsed() < load_start + Duration::from_secs(20),
                Some((_, dead)) => client.epoch.elapsed() < dead + load_after_kill,
            };
            while running() {
                let model = if streamed { "mock:slow-stream" } else { "mock:claude" };
                outcomes.push(client.message(nginx, model, streamed).await);
                if !streamed {
                    actix_rt::time::sleep(Duration::from_millis(10)).await;
                }
            }
            outcomes
        }
    };
    let victim = &mut cluster.replicas[VICTIM].proc;
    let killer = async {
        actix_rt::time::sleep(kill_after).await;
        // Kill while the victim is streaming, so that the test sees what happens to requests in flight.
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.open_streams[VICTIM].get() == 0 {
            assert!(Instant::now() < deadline, "no stream went to the victim in 10 s");
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        println!("cluster: SIGKILL {} (pid {})", victim.name, victim.pid());
        let signalled = client.epoch.elapsed();
        victim.kill();
        kill_window.set(Some((signalled, client.epoch.elapsed())));
    };
    let workers = futures_util::future::join_all((0..9).map(|i| worker(i < 6)));
    let ((), outcomes) = futures_util::future::join(killer, workers).await;
    let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    let (kill, dead) = kill_window.get().unwrap();
    // In flight at the kill: started before the process was gone, not finished when the signal went.
    let in_flight = |o: &Outcome| o.start < dead && o.end >= kill;

    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    let in_flight_on_victim = outcomes.iter().filter(|o| o.replica == Some(VICTIM) && in_flight(o)).count();
    let after: Vec<&Outcome> = outcomes.iter().filter(|o| o.start > dead).collect();
    println!(
        "cluster: {} requests under load ({} streams); {} in flight on the victim at the kill (by response head); \
         {} failed; {} started after the kill, on replicas {:?}",
        outcomes.len(),
        outcomes.iter().filter(|o| o.streamed).count(),
        in_flight_on_victim,
        failed.len(),
        after.len(),
        after.iter().filter_map(|o| o.replica).collect::<BTreeSet<_>>(),
    );
    for o in &failed {
        println!(
            "cluster:   failed: {} started {} ms, ended {} ms (kill at {} ms), replica {:?}: {}",
            if o.streamed { "stream" } else { "request" },
            o.start.as_millis(),
            o.end.as_millis(),
            kill.as_millis(),
            o.replica,
            o.detail
        );
        assert!(in_flight(o), "a request that was not in flight at the kill failed: {}", o.detail);
        assert!(
            o.replica.is_none() || o.replica == Some(VICTIM),
            "a request answered by a survivor failed: {}",
            o.detail
        );
    }
    assert!(in_flight_on_victim >= 1, "the test killed a replica that had requests in flight");
    for o in outcomes.iter().filter(|o| o.replica == Some(VICTIM) && o.streamed && in_flight(o)) {
        assert!(!o.ok, "a stream cut by the kill cannot have completed");
    }
    assert!(after.len() >= 20, "load went on after the kill: {} requests", after.len());
    assert!(after.iter().all(|o| o.ok), "every request started after the kill succeeded");
    assert!(after.iter().all(|o| o.replica != Some(VICTIM)), "no request after the kill was answered by the victim");
    let survivors: BTreeSet<usize> = after.iter().filter_map(|o| o.replica).collect();
    assert_eq!(survivors.len(), REPLICAS - 1, "both survivors served the load after the kill");
    println!(
        "cluster: load ran {:.1} s from {:.1} s",
        (client.epoch.elapsed() - load_start).as_secs_f64(),
        load_start.as_secs_f64()
    );

    // Prometheus sees the death at its next scrape.
    let deadline = Instant::now() + Duration::from_secs(20);
    let dead = format!("up{{job=\"gatehouse\",instance=\"127.0.0.1:{}\"}}", cluster.replicas[VICTIM].port);
    loop {
        if scalar(&promql(&http, &cluster.prometheus_url, &dead).await) == Some(0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus did not report {dead} == 0 within 20 s");
        actix_rt::time::sleep(Duration::from_millis(500)).await;
    }
    phase("5. one replica killed under load", t);
    phase("whole cluster test", t_all);
}

/// Every `expr` string in a Grafana dashboard.
fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}
