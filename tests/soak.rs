//! A bounded soak: 20,000 requests mixing streams, errors, retries and client disconnects through the real
//! binary, checking that memory and file descriptors do not grow. Ignored by default (it takes a while in a
//! debug build); `.ci/suites/soak.sh` runs it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;

const WARMUP: usize = 2_000;
const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 16;

async fn one(client: &awc::Client, url: &str, i: usize) {
    let (model, stream) = match i % 8 {
        0 => ("mock:claude", false),
        1 => ("mock:claude", true),
        2 => ("mock:error-429", false),
        3 => ("mock:error-500", true),
        4 => ("oai:fixture-text", true),
        5 => ("oai:fixture-parallel_tools", true),
        6 => ("nosuch:model", false),
        _ => ("mock:endless-stream", true),
    };
    let Ok(mut res) = client.post(url).send_body(body(model, stream)).await else { return };
    if i % 8 == 7 {
        // Leave mid-stream: the gateway must cancel the upstream and free everything.
        let _ = res.next().await;
        return;
    }
    let _ = res.body().limit(1 << 20).await;
}

async fn run(gw_url: &str, count: usize) {
    let url: Arc<str> = format!("{gw_url}/v1/messages").into();
    let c = client();
    futures_util::stream::iter(0..count)
        .for_each_concurrent(CONCURRENCY, |i| {
            let (c, url) = (c.clone(), url.clone());
            async move { one(&c, &url, i).await }
        })
        .await;
}

#[actix_rt::test]
#[ignore = "a long soak; run by .ci/suites/soak.sh"]
async fn memory_and_fds_stay_flat_over_20k_requests() {
    gatehouse::install_crypto_provider();
    let mock = start_mock();
    let base = format!("{}/v1", mock.url);
    let gw = start_binary(&[
        ("MOCK_API_KEY", "k"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "k"),
        ("OAI_BASE_URL", &base),
        ("MAX_RETRIES", "0"),
        ("CIRCUIT_BREAKER_THRESHOLD", "1000000"),
    ]);
    run(&gw.url, WARMUP).await;
    actix_rt::time::sleep(Duration::from_secs(1)).await;
    let (rss_before, fds_before) = (gw.rss_kib(), gw.open_fds());
    run(&gw.url, REQUESTS).await;
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    let (rss_after, fds_after) = (gw.rss_kib(), gw.open_fds());
    println!("rss {rss_before} KiB -> {rss_after} KiB; fds {fds_before} -> {fds_after}");
    assert!(rss_after <= rss_before + rss_before / 10 + 2048, "memory grew: {rss_before} KiB -> {rss_after} KiB");
    assert!(fds_after <= fds_before + 8, "file descriptors grew: {fds_before} -> {fds_after}");
    let mut res = client().get(format!("{}/health", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 200, "still healthy");
    res.body().await.unwrap();
}
