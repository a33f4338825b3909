//! A client cannot write into the request log (issue 19, item 14): control characters in what it sends (here the
//! model name) are escaped, so they cannot end the log line or forge another.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[actix_rt::test]
async fn control_characters_in_a_model_name_do_not_reach_the_log_raw() {
    let mock = start_mock();
    let log = std::env::temp_dir().join(format!("gatehouse-log-injection-{}.log", std::process::id()));
    let port = free_port();
    let data_dir = std::env::temp_dir().join(format!("gatehouse-logs-test-{}-{port}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env_clear()
        .env("DATA_DIR", &data_dir)
        .env("PORT", port.to_string())
        .env("WORKERS", "1")
        .env("LOG_LEVEL", "info")
        .env("MOCK_API_KEY", "k")
        .env("MOCK_BASE_URL", &mock.url)
        .env("MOCK_API_FORMAT", "anthropic")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Killed on drop, whatever the test's outcome.
    let gw = Binary::adopt(child, format!("http://127.0.0.1:{port}"), Some(data_dir));
    let deadline = Instant::now() + Duration::from_secs(10);
    while client().get(format!("{}/health", gw.url)).send().await.is_err() {
        assert!(Instant::now() < deadline, "gatehouse did not start");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let forged = "claude\r\n[2025-01-01T00:00:00Z INFO  gatehouse] FORGED-LINE status=200\u{1b}[2K";
    let mut res = client()
        .post(format!("{}/v1/messages", gw.url))
        .send_body(body(&format!("mock:{forged}"), false))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.body().await);
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("FORGED-LINE") || Instant::now() > deadline {
            break text;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    drop(gw);
    let _ = std::fs::remove_file(&log);
    let line = text.lines().find(|l| l.contains("FORGED-LINE")).unwrap_or_else(|| panic!("no request line: {text}"));
    assert!(line.contains("mock:claude\\r\\n[2025-01-01T00:00:00Z INFO  gatehouse] FORGED-LINE"), "escaped: {line}");
    assert!(line.contains("status=200 "), "the real status follows on the same line: {line}");
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "raw control characters in the log: {text:?}");
    assert!(!text.lines().any(|l| l.starts_with("[2025-01-01")), "a forged line: {text}");
}
