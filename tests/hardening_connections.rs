//! Upstream connections are not kept forever (issue 19, item 16): after a burst, idle connections are closed once
//! the configured idle timeout passes even if no request follows, and a provider never holds more connections
//! than its cap. The upstream is a raw TCP server that counts the connections it has open.

mod common;

use std::time::{Duration, Instant};

use common::raw::start_counting_upstream;
use common::*;
use futures_util::future::join_all;

async fn burst(gw: &Gateway, n: usize) {
    let requests = (0..n).map(|_| async {
        let mut res =
            client().post(format!("{}/v1/messages", gw.url)).send_body(body("counted:claude", false)).await.unwrap();
        assert_eq!(res.status(), 200, "{:?}", res.body().await);
    });
    join_all(requests).await;
}

#[actix_rt::test]
async fn idle_connections_are_closed_after_the_idle_timeout_without_traffic() {
    let upstream = start_counting_upstream(Duration::from_millis(300));
    let gw = start_gateway(&[
        ("COUNTED_API_KEY", "k"),
        ("COUNTED_BASE_URL", &upstream.url),
        ("COUNTED_API_FORMAT", "anthropic"),
        ("UPSTREAM_IDLE_TIMEOUT", "1"),
    ]);
    burst(&gw, 12).await;
    assert!(upstream.most() >= 6, "the burst opened several connections: {}", upstream.most());
    let quiet_from = Instant::now();
    while upstream.open() > 0 {
        assert!(
            quiet_from.elapsed() < Duration::from_secs(5),
            "{} idle upstream connections still open {:?} after the burst (idle timeout 1 s)",
            upstream.open(),
            quiet_from.elapsed()
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(quiet_from.elapsed() >= Duration::from_millis(900), "closed before the idle timeout");
    // The provider still works afterwards, on a new connection.
    let before = upstream.total();
    burst(&gw, 1).await;
    assert_eq!(upstream.total(), before + 1);
}

#[actix_rt::test]
async fn a_provider_never_holds_more_connections_than_its_cap() {
    let upstream = start_counting_upstream(Duration::from_millis(200));
    let gw = start_gateway(&[
        ("COUNTED_API_KEY", "k"),
        ("COUNTED_BASE_URL", &upstream.url),
        ("COUNTED_API_FORMAT", "anthropic"),
        ("UPSTREAM_MAX_CONNECTIONS", "3"),
    ]);
    burst(&gw, 12).await;
    assert!(upstream.most() <= 3, "{} connections at once with a cap of 3", upstream.most());
    assert_eq!(upstream.most(), 3, "the cap is used");
}
