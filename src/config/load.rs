//! Finding and reading the configuration: the TOML file (through the `config` crate), then gateway-wide
//! environment variables, then provider variables on top.

use std::path::{Path, PathBuf};

use config::{Config, File, FileFormat};

use super::env::{apply_provider_env, parse_bool, parse_number};
use super::raw::RawConfig;
use super::{validate, ConfigError, Settings};

/// Where configuration comes from: an optional file and a set of environment variables.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub path: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}

impl ConfigSource {
    /// The process's own sources: `--config PATH`, else `GATEHOUSE_CONFIG`, else `./gatehouse.toml` when present.
    pub fn from_process(cli_path: Option<PathBuf>) -> Self {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let from_env = env.iter().find(|(k, _)| k == "GATEHOUSE_CONFIG").map(|(_, v)| PathBuf::from(v));
        let local = Path::new("gatehouse.toml");
        let path = cli_path.or(from_env).or_else(|| local.exists().then(|| local.to_path_buf()));
        Self { path, env }
    }
}

/// Loads and validates the process's configuration.
pub fn load(cli_path: Option<PathBuf>) -> Result<Settings, ConfigError> {
    load_from(&ConfigSource::from_process(cli_path))
}

/// Loads and validates configuration from explicit sources (used by reloads and tests).
pub fn load_from(source: &ConfigSource) -> Result<Settings, ConfigError> {
    validate(&load_raw(source)?)
}

/// File and environment merged but not yet validated: the base that admin changes are applied on.
pub fn load_raw(source: &ConfigSource) -> Result<RawConfig, ConfigError> {
    let mut raw = read_file(source.path.as_deref())?;
    apply_server_env(&mut raw, &source.env)?;
    apply_provider_env(&mut raw, &source.env)?;
    Ok(raw)
}

fn read_file(path: Option<&Path>) -> Result<RawConfig, ConfigError> {
    let Some(path) = path else { return Ok(RawConfig::default()) };
    let shown = path.display();
    if !path.is_file() {
        return Err(ConfigError::new(format!("config file {shown}: not found")));
    }
    Config::builder()
        .add_source(File::from(path).format(FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<RawConfig>())
        .map_err(|e| ConfigError::new(format!("config file {shown}: {e}")))
}

/// Gateway-wide variables (`HOST`, `PORT`, `DEFAULT_PROVIDER`, …) over the file's `[server]` table.
fn apply_server_env(raw: &mut RawConfig, vars: &[(String, String)]) -> Result<(), ConfigError> {
    let get = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let server = &mut raw.server;
    if let Some(v) = get("HOST") {
        server.host = Some(v.to_string());
    }
    if let Some(v) = get("PORT") {
        server.port = Some(parse_number("PORT", v)?);
    }
    if let Some(v) = get("WORKERS") {
        server.workers = Some(parse_number("WORKERS", v)?);
    }
    if let Some(v) = get("DEFAULT_PROVIDER").or_else(|| get("VDM_DEFAULT_PROVIDER")) {
        server.default_provider = Some(v.to_string());
    }
    if let Some(v) = get("BEDROCK_DEFAULT_PROVIDER") {
        server.bedrock_default_provider = Some(v.to_string());
    }
    if let Some(v) = get("VERTEX_DEFAULT_PROVIDER") {
        server.vertex_default_provider = Some(v.to_string());
    }
    if let Some(v) = get("PROXY_API_KEY") {
        server.proxy_api_key = Some(v.to_string());
    }
    if let Some(v) = get("ADMIN_API_KEY") {
        server.admin_api_key = Some(v.to_string());
    }
    if let Some(v) = get("REDIS_URL") {
        server.redis_url = Some(v.to_string());
    }
    if let Some(v) = get("DATA_DIR") {
        server.data_dir = Some(v.to_string());
    }
    if let Some(v) = get("LEASE_TTL_SECS") {
        server.lease_ttl_secs = Some(parse_number("LEASE_TTL_SECS", v)?);
    }
    if let Some(v) = get("LIMITS_STANDBY") {
        server.limits_standby = Some(parse_bool("LIMITS_STANDBY", v)?);
    }
    if let Some(v) = get("LIMITS_ON_STORE_FAILURE") {
        server.limits_on_store_failure = Some(v.to_string());
    }
    for (var, field) in [
        ("REQUEST_TIMEOUT", &mut server.request_timeout),
        ("CONNECT_TIMEOUT", &mut server.connect_timeout),
        ("STREAM_IDLE_TIMEOUT", &mut server.stream_idle_timeout),
        ("BODY_IDLE_TIMEOUT", &mut server.body_idle_timeout),
        ("BODY_READ_TIMEOUT", &mut server.body_read_timeout),
    ] {
        if let Some(v) = get(var) {
            *field = Some(parse_number(var, v)?);
        }
    }
    for (var, field) in [
        ("RETRY_MAX_DELAY", &mut server.retry_max_delay),
        ("RETRY_AFTER_CAP", &mut server.retry_after_cap),
        ("KEY_COOLDOWN", &mut server.key_cooldown),
        ("CIRCUIT_BREAKER_COOLDOWN", &mut server.circuit_breaker_cooldown),
        ("SHUTDOWN_GRACE", &mut server.shutdown_grace),
        ("RETRY_BASE_DELAY_MS", &mut server.retry_base_delay_ms),
    ] {
        if let Some(v) = get(var) {
            *field = Some(parse_number(var, v)?);
        }
    }
    for (var, field) in
        [("MAX_RETRIES", &mut server.max_retries), ("CIRCUIT_BREAKER_THRESHOLD", &mut server.circuit_breaker_threshold)]
    {
        if let Some(v) = get(var) {
            *field = Some(parse_number(var, v)?);
        }
    }
    if let Some(v) = get("MAX_BODY_BYTES") {
        server.max_body_bytes = Some(parse_number("MAX_BODY_BYTES", v)?);
    }
    if let Some(v) = get("LOG_LEVEL") {
        server.log_level = Some(v.to_string());
    }
    for (var, field) in [
        ("ALLOWED_ORIGINS", &mut server.allowed_origins),
        ("ALLOWED_HOSTS", &mut server.allowed_hosts),
        ("UPSTREAM_ALLOW", &mut server.upstream_allow),
        ("UPSTREAM_DENY", &mut server.upstream_deny),
    ] {
        // Lists: commas or whitespace separate the entries (split when validated, as the file's lists are).
        if let Some(v) = get(var).filter(|v| !v.trim().is_empty()) {
            *field = Some(vec![v.to_string()]);
        }
    }
    if let Some(v) = get("UPSTREAM_IDLE_TIMEOUT") {
        server.upstream_idle_timeout = Some(parse_number("UPSTREAM_IDLE_TIMEOUT", v)?);
    }
    if let Some(v) = get("UPSTREAM_MAX_CONNECTIONS") {
        server.upstream_max_connections = Some(parse_number("UPSTREAM_MAX_CONNECTIONS", v)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(toml: Option<&str>, env: &[(&str, &str)]) -> (ConfigSource, Option<tempfile_path::TempPath>) {
        let file = toml.map(tempfile_path::write);
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        (ConfigSource { path: file.as_ref().map(|f| f.0.clone()), env }, file)
    }

    /// A tiny self-deleting temp file, to avoid a dev-dependency for four tests.
    mod tempfile_path {
        use std::path::PathBuf;
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub struct TempPath(pub PathBuf);
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        pub fn write(content: &str) -> TempPath {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("gatehouse-test-{}-{n}.toml", std::process::id()));
            std::fs::write(&path, content).unwrap();
            TempPath(path)
        }
    }

    #[test]
    fn file_then_env_on_top() {
        let toml = r#"
            [server]
            port = 9001
            default_provider = "local"
            [providers.local]
            api_format = "openai"
            base_url = "http://127.0.0.1:1234/v1"
            api_keys = ["a", "b"]
            [providers.local.custom_headers]
            x-team = "t1"
        "#;
        let (src, _guard) = source(Some(toml), &[("PORT", "9002"), ("LOCAL_CUSTOM_HEADER_X_TEAM", "t2")]);
        let s = load_from(&src).unwrap();
        assert_eq!(s.listen.port, 9002);
        assert_eq!(s.snapshot.default_provider, "local");
        let p = &s.snapshot.providers["local"];
        assert_eq!(p.key_count(), 2);
        assert_eq!(p.custom_headers.len(), 1);
        assert_eq!(p.custom_headers[0].1, "t2");
    }

    #[test]
    fn unparsable_file_names_the_file() {
        let (src, _guard) = source(Some("[server\nport = "), &[]);
        let e = load_from(&src).unwrap_err().to_string();
        assert!(e.starts_with("config file "), "{e}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error() {
        let (src, _guard) = source(Some("[server]\nprot = 1\n"), &[]);
        let e = load_from(&src).unwrap_err().to_string();
        assert!(e.contains("prot"), "{e}");
    }

    #[test]
    fn bad_port_names_the_variable() {
        let (src, _guard) = source(None, &[("PORT", "eighty")]);
        assert!(load_from(&src).unwrap_err().to_string().contains("PORT"));
    }

    #[test]
    fn keys_and_teams_declared_in_the_file_and_their_settings() {
        let hash = crate::keys::secret::hash("gh_alice");
        let toml = format!(
            r#"
            [server]
            data_dir = "/var/lib/gatehouse"
            lease_ttl_secs = 30
            [teams.ML-team]
            budget_usd = 50.0
            budget_period = "month"
            [keys.Alice]
            secret_sha256 = "{hash}"
            team = "ML-team"
            models = ["anthropic:*"]
            rpm = 60
            [keys.Alice.metadata]
            owner = "alice@example.com"
        "#
        );
        let (src, _guard) = source(Some(&toml), &[("LIMITS_ON_STORE_FAILURE", "open"), ("LIMITS_STANDBY", "off")]);
        let keys = load_from(&src).unwrap().keys;
        assert!(!keys.standby);
        assert_eq!(keys.data_dir, std::path::PathBuf::from("/var/lib/gatehouse"));
        assert_eq!(keys.lease_ttl, std::time::Duration::from_secs(30));
        assert_eq!(keys.on_store_failure, crate::limits::FailurePolicy::Open);
        let alice = &keys.declared.keys[0];
        assert_eq!((&*alice.name, alice.team.as_deref()), ("Alice", Some("ML-team")), "names keep their case");
        assert_eq!(alice.metadata["owner"], "alice@example.com");
        assert_eq!(keys.declared.teams[0].limits.budget_nanos, Some(50_000_000_000));

        let defaults = load_from(&source(None, &[]).0).unwrap().keys;
        assert_eq!(defaults.data_dir, std::path::PathBuf::from("./gatehouse-data"));
        assert_eq!(
            (defaults.lease_ttl.as_secs(), defaults.on_store_failure, defaults.standby),
            (20, crate::limits::FailurePolicy::Closed, true)
        );
        for (env, expected) in [
            (("LEASE_TTL_SECS", "1"), "LEASE_TTL_SECS"),
            (("LIMITS_ON_STORE_FAILURE", "maybe"), "LIMITS_ON_STORE_FAILURE"),
            (("LIMITS_STANDBY", "sometimes"), "LIMITS_STANDBY"),
        ] {
            let e = load_from(&source(None, &[env]).0).unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
        }
        let (bad, _guard) = source(Some("[keys.bob]\nteam = \"x\"\n"), &[]);
        assert!(load_from(&bad).unwrap_err().to_string().starts_with("keys.bob.secret_sha256"));
        let (typo, _guard) = source(Some("[keys.bob]\nrmp = 1\n"), &[]);
        assert!(load_from(&typo).unwrap_err().to_string().contains("rmp"));
    }

    #[test]
    fn nothing_configured_serves_anthropic_passthrough() {
        let (src, _guard) = source(None, &[]);
        let s = load_from(&src).unwrap();
        assert_eq!(s.snapshot.default_provider, "anthropic");
        assert_eq!(s.snapshot.providers["anthropic"].auth.mode(), "passthrough");
    }

    #[test]
    fn prices_in_the_file_reach_the_snapshot() {
        let toml = r#"
            [providers.local]
            api_format = "openai"
            base_url = "http://127.0.0.1:1234/v1"
            api_key = "k"

            [prices."local:llama3:8b"]
            input = 0
            output = 0

            [prices."OpenAI:GPT-4.1"]
            input = 1.5
            output = 6
            cache_read = 0.375

            [prices."anthropic:claude-sonnet-4-5"]
            input = 3
            output = 15
            cache_write_5m = 3.75
            cache_write_1h = 6
            cache_read = 0.3

            [prices."anthropic:claude-sonnet-4-5".long_context]
            above_prompt_tokens = 200000
            input = 6
            output = 22.5
        "#;
        let (src, _guard) = source(Some(toml), &[]);
        let s = load_from(&src).unwrap();
        let prices = &s.snapshot.prices;
        assert_eq!(prices.configured_len(), 3);
        assert_eq!(prices.price("local", "llama3:8b").map(|p| (p.input, p.output)), Some((0.0, 0.0)));
        let gpt = prices.price("openai", "gpt-4.1-2025-04-14").unwrap();
        assert_eq!((gpt.input, gpt.output, gpt.cache_read, gpt.cache_write_1h), (1.5, 6.0, 0.375, 1.5));
        let sonnet = prices.price("anthropic", "claude-sonnet-4-5-20250929").unwrap();
        assert_eq!(sonnet.long_context.map(|l| (l.above_prompt_tokens, l.output)), Some((200_000, 22.5)));
        assert_eq!(prices.price("local", "other"), None, "no shipped price for a local model");
    }

    #[test]
    fn price_errors_in_the_file_name_the_table_and_field() {
        for (toml, want) in [
            ("[prices.\"openai:gpt-4o\"]\ninput = 1\n", "prices.\"openai:gpt-4o\".output: missing"),
            ("[prices.\"openai:gpt-4o\"]\ninput = -1\noutput = 1\n", "prices.\"openai:gpt-4o\".input: -1"),
            ("[prices.\"gpt-4o\"]\ninput = 1\noutput = 1\n", "prices.\"gpt-4o\": the name must be provider:model"),
            ("[prices.\"openai:gpt-4o\"]\ninput = 1\noutput = 1\ncache_reads = 1\n", "cache_reads"),
            ("[prices.\"openai:gpt-4o\"]\ninput = \"one\"\noutput = 1\n", "input"),
        ] {
            let (src, _guard) = source(Some(toml), &[]);
            let e = load_from(&src).unwrap_err().to_string();
            assert!(e.contains(want), "{toml}: {e}");
        }
    }
}
