//! The binary refuses invalid configuration with one line naming the provider and field, and a non-zero exit.

use std::process::Command;

fn run_check(env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .arg("--check");
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn embedded_default_is_valid() {
    let (ok, text) = run_check(&[], &[]);
    assert!(ok, "{text}");
    assert!(text.contains("1 providers"), "{text}");
}

#[test]
fn each_invalid_setting_is_refused_with_a_clear_line() {
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("X_API_KEY", "k !PASSTHRU"), ("X_BASE_URL", "http://h")], "provider 'x': api key mixes !PASSTHRU"),
        (
            &[("X_API_KEY", "k"), ("X_BASE_URL", "http://h"), ("X_API_FORMAT", "gemini")],
            "provider 'x': api_format 'gemini'",
        ),
        (&[("X_API_KEY", "k")], "provider 'x': base_url is missing"),
        (
            &[("ANTHROPIC_API_KEY", "k"), ("DEFAULT_PROVIDER", "nope")],
            "DEFAULT_PROVIDER: provider 'nope' does not exist",
        ),
        (&[("PORT", "http")], "PORT: 'http' is not a valid whole number"),
        (
            &[("ANTHROPIC_API_KEY", "!PASSTHRU"), ("ANTHROPIC_BASE_URL", "http://127.0.0.1:8082")],
            "points at gatehouse itself",
        ),
    ];
    for (env, expected) in cases {
        let (ok, text) = run_check(env, &[]);
        assert!(!ok, "{env:?} must fail");
        assert!(text.contains(expected), "{env:?}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
        assert!(!text.contains("panicked"));
    }
}

#[test]
fn unparsable_file_is_refused() {
    let path = std::env::temp_dir().join(format!("gatehouse-bad-{}.toml", std::process::id()));
    std::fs::write(&path, "[providers.x\napi_key = ").unwrap();
    let (ok, text) = run_check(&[], &["--config", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert!(!ok);
    assert!(text.contains("config file"), "{text}");
    let (ok, text) = run_check(&[("GATEHOUSE_CONFIG", "/nonexistent/gatehouse.toml")], &[]);
    assert!(!ok);
    assert!(text.contains("not found"), "{text}");
}
