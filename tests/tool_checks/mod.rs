//! The metrics checked by the real tools operators use: `promtool check metrics`, a Prometheus server scraping
//! the gateway, and the dashboard rendered by headless Chromium (screenshot in `test-output/`). Ignored by
//! default; `.ci/suites/metrics.sh` installs the tools and runs them with `--ignored`.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{body, client, start_mock, Gateway};
use crate::metrics_support::*;

const PROMTOOL: &str = "promtool";
const PROMETHEUS: &str = "prometheus";
const CHROMIUM: &str = "/usr/bin/chromium";

#[actix_rt::test]
#[ignore = "needs promtool (Debian package prometheus); run by .ci/suites/metrics.sh"]
async fn promtool_accepts_the_exposition() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    send_mix(&gw).await;
    summary_after(&gw, MIX.len() as u64).await;
    let text = get_text(&gw, "/metrics").await;
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check metrics failed:\n{report}\n--- exposition ---\n{text}");
    assert!(report.trim().is_empty(), "promtool found lint problems:\n{report}");
}

#[test]
#[ignore = "needs promtool (Debian package prometheus); run by .ci/suites/metrics.sh"]
fn promtool_accepts_the_key_metrics() {
    use gatehouse::convert::Usage;
    use gatehouse::metrics::{Format, InFlight, MetricsState, RefusalReason, RequestRecord};
    use std::sync::Arc;
    let mut state = MetricsState::new(Arc::new(InFlight::default()), 0);
    let keyed = RequestRecord {
        provider: "mock".into(),
        model: "claude".into(),
        route: "messages",
        status: 200,
        key: Some(Arc::from("alice")),
        team: Some(Arc::from("ml")),
        usage: Usage { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 2, ..Usage::default() },
        spend_nanos: 123_456_789,
        ..RequestRecord::default()
    };
    state.record(&keyed, 1_000);
    state.record(
        &RequestRecord { status: 429, refusal: Some(RefusalReason::Tpm), spend_nanos: 0, ..keyed.clone() },
        2_000,
    );
    state.record(&RequestRecord { team: None, key: Some(Arc::from("bob")), ..keyed }, 3_000);
    // promtool lints the Prometheus text format (it reads OpenMetrics families' HELP as missing).
    let text = state.prometheus(Format::Prometheus, &[]);
    assert!(text.contains("gatehouse_key_spend_usd_total{key=\"alice\",team=\"ml\"} 0.123456789"), "{text}");
    assert!(text.contains("gatehouse_key_refusals_total{key=\"alice\",team=\"ml\",reason=\"tpm\"} 1"), "{text}");
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool:\n{report}\n{text}");
}

/// A Prometheus server scraping `gw` every second, with its storage in a temp dir; killed on drop.
struct Prometheus {
    url: String,
    _child: ChildGuard,
    _dir: TempDir,
}

impl Prometheus {
    fn scraping(gw: &Gateway) -> Self {
        let dir = TempDir::new("prometheus");
        let target = gw.url.trim_start_matches("http://");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: gatehouse\n    \
             scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus is installed");
        Self { url: format!("http://127.0.0.1:{port}"), _child: ChildGuard(child), _dir: dir }
    }

    /// The single value of an instant query, if the query returned one.
    async fn value(&self, query: &str) -> Option<f64> {
        let mut res =
            client().get(format!("{}/api/v1/query", self.url)).query(&[("query", query)]).ok()?.send().await.ok()?;
        let v: serde_json::Value = res.json().await.ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `query` returns `want`.
    async fn wait_for(&self, query: &str, want: f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.value(query).await;
            if got == Some(want) {
                return;
            }
            let log = std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "{query} = {got:?}, want {want}; prometheus log:\n{log}");
            actix_rt::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[actix_rt::test]
#[ignore = "needs a Prometheus server (Debian package prometheus); run by .ci/suites/metrics.sh"]
async fn a_real_prometheus_scrapes_the_request_count() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    send_mix(&gw).await;
    summary_after(&gw, MIX.len() as u64).await;
    let prometheus = Prometheus::scraping(&gw);
    prometheus.wait_for("up{job=\"gatehouse\"}", 1.0).await;
    prometheus.wait_for("sum(gatehouse_requests_total)", MIX.len() as f64).await;
    let output = CLAUDE_TOKENS.iter().find(|(k, _)| *k == "output").unwrap().1;
    prometheus.wait_for("sum(gatehouse_tokens_total{model=\"claude\",kind=\"output\"})", output as f64).await;
    prometheus.wait_for("sum(gatehouse_upstream_errors_total{provider=\"mock\"})", 2.0).await;
    prometheus.wait_for("sum(gatehouse_in_flight_requests)", 0.0).await;
    // A query from docs/metrics.md evaluates (p95 over the test's lifetime is a finite number of seconds).
    let p95 = "histogram_quantile(0.95, sum by (le) (rate(gatehouse_request_duration_seconds_bucket[1m])))";
    let deadline = Instant::now() + Duration::from_secs(30);
    while !prometheus.value(p95).await.is_some_and(|v| v.is_finite() || v.is_nan()) {
        assert!(Instant::now() < deadline, "{p95} never evaluated");
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs headless Chromium on `url` with `extra` arguments, killing it after a minute; returns its stdout.
fn chromium(url: &str, extra: &[String]) -> String {
    let profile = TempDir::new("chromium-profile");
    let out_dir = TempDir::new("chromium-out");
    let stdout_path = out_dir.path().join("stdout.html");
    let mut command = Command::new(CHROMIUM);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(out_dir.path().join("stderr.txt")).unwrap());
    let mut child = ChildGuard(command.spawn().expect("chromium is installed"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "chromium did not finish within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(&stdout_path).unwrap_or_default()
}

/// The value of attribute `name` on the first element that has attribute `marker`.
fn attribute_near(dom: &str, marker: &str, name: &str) -> Option<String> {
    let start = dom.find(marker)?;
    let tag_start = dom[..start].rfind('<')?;
    let tag_end = start + dom[start..].find('>')?;
    let tag = &dom[tag_start..tag_end];
    let key = format!("{name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..].split('"').next()?.to_string())
}

/// Sends a varied load for a few seconds so the charts have shape: messages and streams on three models, a few
/// upstream errors, slow streams in flight. Returns how many requests were sent.
async fn varied_traffic(gw: &Gateway, seconds: u64) -> u64 {
    let models = ["mock:claude-sonnet-4-5", "mock:claude-haiku-4-5", "mock:claude-opus-4-1"];
    let mut tasks = Vec::new();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut i = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        let (model, stream) = match i % 11 {
            3 => ("mock:error-429".to_string(), false),
            7 if i % 22 == 7 => ("mock:error-529".to_string(), false),
            9 => ("mock:slow-stream".to_string(), true),
            n => (models[n % models.len()].to_string(), n % 2 == 0),
        };
        let url = format!("{}/v1/messages", gw.url);
        tasks.push(actix_rt::spawn(async move {
            let mut res = client().post(url).send_body(body(&model, stream)).await.unwrap();
            res.body().limit(1 << 20).await.unwrap();
        }));
        sent += 1;
        i += 1;
        actix_rt::time::sleep(Duration::from_millis(60 + (i as u64 * 37) % 140)).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    sent
}

#[actix_rt::test]
#[ignore = "needs Chromium (Debian package chromium); run by .ci/suites/metrics.sh"]
async fn the_dashboard_renders_the_traffic_in_headless_chromium() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    send_mix(&gw).await;
    let sent = MIX.len() as u64 + varied_traffic(&gw, 14).await;
    let summary = summary_after(&gw, sent).await;
    let output_tokens = summary["totals"]["output_tokens"].as_u64().unwrap();
    let url = format!("{}/dashboard", gw.url);

    // The page polls every 2 s and charts complete 2 s steps: retry until the DOM shows everything that was sent.
    let deadline = Instant::now() + Duration::from_secs(90);
    let dom = loop {
        let dom = chromium(&url, &["--virtual-time-budget=6000".into(), "--dump-dom".into()]);
        let shown = attribute_near(&dom, "id=\"dash\"", "data-requests");
        let charted = attribute_near(&dom, "data-chart=\"requests\"", "data-sum");
        if shown.as_deref() == Some(&sent.to_string()) && charted.as_deref() == Some(&sent.to_string()) {
            break dom;
        }
        assert!(
            Instant::now() < deadline,
            "dashboard never showed {sent} requests (shown {shown:?}, charted {charted:?})"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(attribute_near(&dom, "id=\"dash\"", "data-state").as_deref(), Some("live"));
    assert_eq!(attribute_near(&dom, "id=\"dash\"", "data-output-tokens"), Some(output_tokens.to_string()));
    assert!(dom.contains("data-series=\"mock\""), "the requests chart has a series for provider mock");
    for chart in ["latency", "tokens", "in_flight", "errors"] {
        assert!(dom.contains(&format!("data-chart=\"{chart}\"")), "chart {chart} rendered");
    }
    let errors = attribute_near(&dom, "data-chart=\"errors\"", "data-sum").unwrap();
    assert!(errors.parse::<u64>().unwrap() >= MIX_ERRORS, "errors chart shows the errors: {errors}");
    assert!(dom.contains("data-model=\"mock:claude\""), "the model table lists mock:claude");
    assert!(attribute_near(&dom, "data-chart=\"tokens_by_model\"", "data-rows").unwrap().parse::<u64>().unwrap() >= 3);

    let shot = test_output_dir().join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &url,
        &[
            "--virtual-time-budget=6000".into(),
            "--window-size=1400,900".into(),
            format!("--screenshot={}", shot.display()),
        ],
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20_000, "screenshot {} missing or blank ({size} bytes)", shot.display());
    assert!(Path::new(&shot).exists());
}

/// Serves the dashboard page with `/metrics/summary` and `/metrics/series` answered from `state` (a real
/// [`MetricsState`] fed records directly: the per-key table is filled by the request path's admission stage, which
/// this test does not need). Returns the base URL; the server stops with the process.
fn dashboard_over(summary: serde_json::Value, series: serde_json::Value) -> String {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let answers = web::Data::new(Answers { summary, series });
            HttpServer::new(move || {
                App::new()
                    .app_data(answers.clone())
                    .route("/dashboard", web::get().to(gatehouse::routes::dashboard::dashboard))
                    .route(
                        "/metrics/summary",
                        web::get().to(|a: web::Data<Answers>| async move { HttpResponse::Ok().json(&a.summary) }),
                    )
                    .route(
                        "/metrics/series",
                        web::get().to(|a: web::Data<Answers>| async move { HttpResponse::Ok().json(&a.series) }),
                    )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
        })
    });
    url
}

/// What the stand-in metrics routes answer.
struct Answers {
    summary: serde_json::Value,
    series: serde_json::Value,
}

#[test]
#[ignore = "needs Chromium (Debian package chromium); run by .ci/suites/metrics.sh"]
fn the_dashboard_lists_virtual_keys_in_headless_chromium() {
    use gatehouse::convert::Usage;
    use gatehouse::metrics::{InFlight, MetricsState, RefusalReason, RequestRecord};
    use std::sync::Arc;

    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut state = MetricsState::new(Arc::new(InFlight::default()), now_ms - 60_000);
    let keyed = |key: &str, team: Option<&str>| RequestRecord {
        provider: "mock".into(),
        model: "claude".into(),
        route: "messages",
        status: 200,
        duration: Duration::from_millis(40),
        key: Some(Arc::from(key)),
        team: team.map(Arc::from),
        usage: Usage { input_tokens: 1_000, output_tokens: 200, cache_read_input_tokens: 50, ..Usage::default() },
        ..RequestRecord::default()
    };
    state.record(&RequestRecord { spend_nanos: 1_500_000_000, ..keyed("alice", Some("ml")) }, now_ms - 5_000);
    state.record(&RequestRecord { spend_nanos: 250_000_000, ..keyed("alice", Some("ml")) }, now_ms - 4_000);
    let refused = |key: &str, team, status, reason| RequestRecord {
        status,
        refusal: Some(reason),
        usage: Usage::default(),
        ..keyed(key, team)
    };
    state.record(&refused("alice", Some("ml"), 429, RefusalReason::Rpm), now_ms - 3_000);
    state.record(&refused("bob", None, 402, RefusalReason::Budget), now_ms - 2_000);
    state.record(&RequestRecord { spend_nanos: 7_500, ..keyed("carol", Some("ops")) }, now_ms - 1_000);
    let mut summary = state.summary(now_ms);
    summary.set_remaining_budget("alice", Some(23.25));
    summary.set_remaining_budget("bob", Some(0.0));
    let summary = serde_json::to_value(&summary).unwrap();
    let series = serde_json::to_value(state.series(now_ms, 300, 2)).unwrap();
    let url = format!("{}/dashboard", dashboard_over(summary, series));

    let deadline = Instant::now() + Duration::from_secs(60);
    let dom = loop {
        let dom = chromium(&url, &["--virtual-time-budget=5000".into(), "--dump-dom".into()]);
        if attribute_near(&dom, "id=\"keys-panel\"", "data-keys").as_deref() == Some("3") {
            break dom;
        }
        assert!(Instant::now() < deadline, "the key table never showed three keys:\n{dom}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let panel_tag = &dom[dom[..dom.find("id=\"keys-panel\"").unwrap()].rfind('<').unwrap()..][..200];
    assert!(!panel_tag.contains(" hidden"), "the key panel is shown: {panel_tag}");
    assert_eq!(attribute_near(&dom, "id=\"keys-panel\"", "data-spend-nanos").as_deref(), Some("1750007500"));
    let alice = |attribute| attribute_near(&dom, "data-key=\"alice\"", attribute);
    assert_eq!(alice("data-team").as_deref(), Some("ml"));
    assert_eq!(alice("data-requests").as_deref(), Some("3"));
    assert_eq!(alice("data-refused").as_deref(), Some("1"));
    assert_eq!(alice("data-spend-nanos").as_deref(), Some("1750000000"));
    assert_eq!(alice("data-input-tokens").as_deref(), Some("2000"));
    assert_eq!(attribute_near(&dom, "data-key=\"bob\"", "data-refused").as_deref(), Some("1"));
    assert_eq!(attribute_near(&dom, "data-key=\"carol\"", "data-team").as_deref(), Some("ops"));
    // Rows are dearest first, with the spend, the budget left and the refusals by reason written out.
    let (a, c, b) = (
        dom.find("data-key=\"alice\"").unwrap(),
        dom.find("data-key=\"carol\"").unwrap(),
        dom.find("data-key=\"bob\"").unwrap(),
    );
    assert!(a < c && c < b, "ordered by spend");
    let alice_row = &dom[a..a + dom[a..].find("</tr>").unwrap()];
    for text in ["$1.75", "$23.25", "rpm 1", "data-refusals=\"rpm=1\""] {
        assert!(alice_row.contains(text), "alice's row shows {text}: {alice_row}");
    }
    let bob_row = &dom[b..b + dom[b..].find("</tr>").unwrap()];
    assert!(bob_row.contains("budget 1") && bob_row.contains("$0"), "bob's row: {bob_row}");
    let carol_row = &dom[c..c + dom[c..].find("</tr>").unwrap()];
    assert!(carol_row.contains("$0.0000075"), "sub-cent spend keeps its digits: {carol_row}");

    let shot = test_output_dir().join("dashboard-keys.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &url,
        &[
            "--virtual-time-budget=5000".into(),
            "--window-size=1400,1400".into(),
            format!("--screenshot={}", shot.display()),
        ],
    );
    assert!(
        std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 20_000,
        "screenshot {} missing or blank",
        shot.display()
    );
}
