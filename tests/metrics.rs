//! End-to-end metrics: a known mix of requests against the mock upstream must show up exactly in `/metrics`,
//! `/metrics/summary` and `/metrics/series`; in-flight counts return to zero; the model-label cap holds; the
//! dashboard is served. The `#[ignore]`d tests need promtool, Prometheus and Chromium (installed by
//! `.ci/suites/metrics.sh`, which runs them with `--ignored`).

mod common;
mod metrics_support;

use std::time::{Duration, Instant};

use common::{body, client, start_mock};
use gatehouse::metrics::labels::MAX_MODELS_PER_PROVIDER;
use metrics_support::*;

mod tool_checks;

#[actix_rt::test]
async fn summary_counts_the_mix_exactly() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    send_mix(&gw).await;
    let s = summary_after(&gw, MIX.len() as u64).await;

    assert_eq!(s["totals"]["errors"], MIX_ERRORS);
    assert_eq!(s["totals"]["streamed"], 3);
    let claude = &s["models"]["mock:claude"];
    assert_eq!((claude["requests"].as_u64(), claude["errors"].as_u64()), (Some(5), Some(0)));
    assert_eq!(claude["streamed"], 2);
    for (kind, key) in [
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache_read", "cache_read_input_tokens"),
        ("cache_creation", "cache_creation_input_tokens"),
    ] {
        let want = CLAUDE_TOKENS.iter().find(|(k, _)| *k == kind).unwrap().1;
        assert_eq!(claude[key], want, "{key}");
    }
    assert!(
        claude["p50_ms"].as_f64().unwrap() > 0.0
            && claude["p95_ms"].as_f64().unwrap() >= claude["p50_ms"].as_f64().unwrap()
    );
    assert!(claude["last_seen_ms"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(s["models"]["mock:error-429"]["errors_by_kind"]["upstream_status"], 1);
    assert_eq!(s["models"]["mock:truncated-stream"]["errors_by_kind"]["upstream_stream_error"], 1);
    assert_eq!(s["models"]["none:none"]["errors_by_kind"]["unknown_provider"], 1);
    assert_eq!(s["providers"]["mock"]["requests"], 7);
    assert_eq!(s["providers"]["none"]["requests"], 1);
    assert_eq!(s["in_flight"]["requests"], 0);
    assert_eq!(s["in_flight"]["by_provider"]["mock"], 0);
}

#[actix_rt::test]
async fn prometheus_counters_and_tokens_equal_what_was_sent() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    send_mix(&gw).await;
    summary_after(&gw, MIX.len() as u64).await;
    let mut res = client().get(format!("{}/metrics", gw.url)).send().await.unwrap();
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    let s = parse_samples(&text);

    let requests = "gatehouse_requests_total";
    assert_eq!(total(&s, requests, &[]), MIX.len() as f64);
    let claude = [("provider", "mock"), ("model", "claude")];
    assert_eq!(total(&s, requests, &[claude[0], claude[1], ("stream", "false"), ("status", "200")]), 3.0);
    assert_eq!(total(&s, requests, &[claude[0], claude[1], ("stream", "true"), ("status", "200")]), 2.0);
    assert_eq!(total(&s, requests, &[("provider", "mock"), ("model", "error-429"), ("status", "429")]), 1.0);
    assert_eq!(total(&s, requests, &[("provider", "none"), ("model", "none"), ("status", "400")]), 1.0);
    for (kind, want) in CLAUDE_TOKENS {
        assert_eq!(total(&s, "gatehouse_tokens_total", &[claude[0], claude[1], ("kind", kind)]), want as f64, "{kind}");
    }
    let upstream = "gatehouse_upstream_errors_total";
    assert_eq!(total(&s, upstream, &[("provider", "mock"), ("kind", "upstream_status")]), 1.0);
    assert_eq!(total(&s, upstream, &[("provider", "mock"), ("kind", "upstream_stream_error")]), 1.0);
    assert_eq!(total(&s, upstream, &[("provider", "none")]), 0.0, "a bad request is not the upstream's fault");
    assert_eq!(total(&s, "gatehouse_errors_total", &[]), MIX_ERRORS as f64);
    assert_eq!(total(&s, "gatehouse_request_duration_seconds_count", &[]), MIX.len() as f64);
    assert_eq!(total(&s, "gatehouse_overhead_seconds_count", &[("provider", "mock")]), 7.0);
    assert!(total(&s, "gatehouse_time_to_first_byte_seconds_count", &[("provider", "mock")]) >= 5.0);
    assert_eq!(total(&s, "gatehouse_in_flight_requests", &[("provider", "mock")]), 0.0);
    assert!(text.contains("gatehouse_in_flight_requests{provider=\"mock\"} 0"), "{text}");
    assert_eq!(total(&s, "gatehouse_in_flight_streams", &[]), 0.0);

    let mut res = client()
        .get(format!("{}/metrics", gw.url))
        .insert_header(("accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/openmetrics-text"));
    assert!(String::from_utf8(res.body().await.unwrap().to_vec()).unwrap().ends_with("# EOF\n"));
}

#[actix_rt::test]
async fn in_flight_counts_a_slow_stream_then_returns_to_zero() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    let url = format!("{}/v1/messages", gw.url);
    let stream = actix_rt::spawn(async move {
        let mut res = client().post(url).send_body(body("mock:slow-stream", true)).await.unwrap();
        res.body().await.unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = get_json(&gw, "/metrics/summary").await;
        if s["in_flight"]["requests"] == 1 {
            assert_eq!(s["in_flight"]["streams"], 1);
            assert_eq!(s["in_flight"]["by_provider"]["mock"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "the slow stream never showed as in flight: {s}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let text = get_text(&gw, "/metrics").await;
    assert_eq!(total(&parse_samples(&text), "gatehouse_in_flight_requests", &[("provider", "mock")]), 1.0);
    stream.await.unwrap();
    let s = summary_after(&gw, 1).await;
    assert_eq!(s["in_flight"]["requests"], 0);
    assert_eq!(s["in_flight"]["streams"], 0);
}

#[actix_rt::test]
async fn a_client_that_leaves_mid_stream_is_recorded_and_leaves_no_count() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    let c = client();
    let mut res = c.post(format!("{}/v1/messages", gw.url)).send_body(body("mock:endless-stream", true)).await.unwrap();
    let mut bytes = 0;
    while bytes < 100 {
        use futures_util::StreamExt;
        bytes += res.next().await.unwrap().unwrap().len();
    }
    drop(res);
    drop(c);
    let s = summary_after(&gw, 1).await;
    assert_eq!(s["totals"]["errors_by_kind"]["client_disconnected"], 1);
    assert_eq!(s["in_flight"]["requests"], 0);
}

#[actix_rt::test]
async fn model_labels_are_capped_per_provider() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    let c = client();
    let extra = 5;
    for i in 0..MAX_MODELS_PER_PROVIDER + extra {
        let mut res =
            c.post(format!("{}/v1/messages", gw.url)).send_body(body(&format!("mock:model-{i}"), false)).await.unwrap();
        assert_eq!(res.status(), 200);
        res.body().await.unwrap();
    }
    // A hostile name is cut and cleaned before it becomes a label.
    let hostile = format!("mock:{}\"}}{}", "x".repeat(500), "\u{202e}");
    let mut res = c.post(format!("{}/v1/messages", gw.url)).send_body(body(&hostile, false)).await.unwrap();
    res.body().await.unwrap();
    let total_requests = (MAX_MODELS_PER_PROVIDER + extra + 1) as u64;
    let s = summary_after(&gw, total_requests).await;
    let models = s["models"].as_object().unwrap();
    assert_eq!(models.len(), MAX_MODELS_PER_PROVIDER + 1, "{models:?}");
    assert_eq!(s["models"]["mock:other"]["requests"], extra as u64 + 1);

    let text = get_text(&gw, "/metrics").await;
    let samples = parse_samples(&text);
    let labels: std::collections::BTreeSet<_> =
        samples.iter().filter(|x| x.name == "gatehouse_requests_total").map(|x| x.labels["model"].clone()).collect();
    assert_eq!(labels.len(), MAX_MODELS_PER_PROVIDER + 1);
    assert!(labels.iter().all(|m| m.len() <= 64 && m.chars().all(|c| c.is_ascii_graphic())));
    assert_eq!(total(&samples, "gatehouse_requests_total", &[("model", "other")]), (extra + 1) as f64);
}

#[actix_rt::test]
async fn series_shows_the_mix_in_recent_steps() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    send_mix(&gw).await;
    summary_after(&gw, MIX.len() as u64).await;
    // Only complete one-second steps are returned: wait for the current second to close.
    let deadline = Instant::now() + Duration::from_secs(5);
    let series = loop {
        let v = get_json(&gw, "/metrics/series?window=60&step=1").await;
        if v["window"]["requests"] == MIX.len() as u64 {
            break v;
        }
        assert!(Instant::now() < deadline, "series never showed the mix: {}", v["window"]);
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(series["step"], 1);
    let points = series["t"].as_array().unwrap().len();
    assert_eq!(points, 60);
    for column in ["requests", "errors", "p95_ms", "in_flight", "output_tokens"] {
        assert_eq!(series[column].as_array().unwrap().len(), points, "{column}");
    }
    let sum = |column: &str| series[column].as_array().unwrap().iter().filter_map(|v| v.as_u64()).sum::<u64>();
    assert_eq!(sum("requests"), MIX.len() as u64);
    assert_eq!(sum("errors"), MIX_ERRORS);
    let by_provider = &series["requests_by_provider"];
    let provider_sum = |p: &str| by_provider[p].as_array().unwrap().iter().filter_map(|v| v.as_u64()).sum::<u64>();
    assert_eq!((provider_sum("mock"), provider_sum("none")), (7, 1));
    assert!(series["window"]["p95_ms"].as_f64().unwrap() > 0.0);

    let mut res = client().get(format!("{}/metrics/series?step=banana", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(common::error_type(&res.body().await.unwrap()), "invalid_request_error");
}

#[actix_rt::test]
async fn dashboard_is_one_self_contained_page() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    let mut res = client().get(format!("{}/dashboard", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    assert!(res.headers().get("content-security-policy").is_some());
    let page = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(page.contains("<svg") && page.contains("Charts.timeSeries") && page.contains("metrics/series"));
    for external in ["http://", "https://", "src=\"/", "href=\"/"] {
        let offenders: Vec<_> = page.match_indices(external).map(|(i, _)| &page[i..(i + 60).min(page.len())]).collect();
        // The SVG namespace is an identifier, not a fetch.
        assert!(
            offenders.iter().all(|o| o.starts_with("http://www.w3.org/2000/svg")),
            "external reference: {offenders:?}"
        );
    }
}

#[actix_rt::test]
async fn token_counting_is_told_apart_by_its_route_label() {
    let mock = start_mock();
    let gw = mock_gateway(&mock);
    let c = client();
    let mut res = c.post(format!("{}/v1/messages", gw.url)).send_body(body("mock:claude", false)).await.unwrap();
    res.body().await.unwrap();
    let mut res =
        c.post(format!("{}/v1/messages/count_tokens", gw.url)).send_body(body("mock:claude", false)).await.unwrap();
    assert_eq!(res.status(), 200);
    res.body().await.unwrap();
    let s = summary_after(&gw, 2).await;
    assert_eq!(
        (s["routes"]["messages"]["requests"].as_u64(), s["routes"]["count_tokens"]["requests"].as_u64()),
        (Some(1), Some(1))
    );
    let samples = parse_samples(&get_text(&gw, "/metrics").await);
    for route in ["messages", "count_tokens"] {
        assert_eq!(
            total(&samples, "gatehouse_requests_total", &[("route", route), ("model", "claude")]),
            1.0,
            "{route}"
        );
        assert_eq!(total(&samples, "gatehouse_request_duration_seconds_count", &[("route", route)]), 1.0, "{route}");
    }
}
