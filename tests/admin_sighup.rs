//! End-to-end: `SIGHUP` reloads the configuration file like `POST /admin/reload`. In its own test binary because
//! the signal reaches every gateway in the process.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::admin::*;
use common::*;

#[actix_rt::test]
async fn sighup_reloads_the_file() {
    // Hold a SIGHUP listener of our own first: once one exists, the signal no longer terminates the process, even
    // if it arrived before the gateway's registry had installed its own.
    let _guard = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let mock = start_mock();
    let config = |key: &str| {
        format!("[providers.mock]\napi_format = \"anthropic\"\nbase_url = \"{}\"\napi_key = \"{key}\"\n", mock.url)
    };
    let file = TempConfig::new(&config("before"));
    let gw = start_gateway_with_file(&file.path, &[]);
    assert_eq!(config_version(&gw).await, 1);

    file.write(&config("after"));
    let status = std::process::Command::new("kill").args(["-HUP", &std::process::id().to_string()]).status().unwrap();
    assert!(status.success());
    eventually(Duration::from_secs(5), "SIGHUP reloads", || async { config_version(&gw).await == 2 }).await;
    ask(&gw, "mock:m").await;
    assert_eq!(mock.last().header("x-api-key"), Some("after"));
}
