//! The official client SDKs against a real gatehouse. Ignored by default (they need Python packages);
//! `.ci/suites/sdk.sh` installs the SDKs and runs them with `--ignored`.

mod common;

use std::process::Command;

use common::*;

fn run_python(script: &str, gateway: &Gateway) {
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3").arg(&path).arg(&gateway.url).output().expect("python3 runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "{script} failed:\n{text}");
}

fn two_format_gateway(mock: &MockUpstream) -> Gateway {
    let base = format!("{}/v1", mock.url);
    start_gateway(&[
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "sk-provider"),
        ("OAI_BASE_URL", &base),
        ("WORKERS", "2"),
    ])
}

#[test]
#[ignore = "needs the anthropic Python SDK (pip install anthropic); run by .ci/suites/sdk.sh"]
fn anthropic_python_sdk_create_stream_tools_errors() {
    let mock = start_mock();
    let gw = two_format_gateway(&mock);
    run_python("anthropic_sdk_check.py", &gw);
}
