//! Raw configuration → validated [`Settings`]. Every failure is one line naming the provider and the field.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Uri;

use super::address::same_host;
use super::raw::{RawConfig, RawProvider, RawServer};
use super::{
    Alias, ApiFormat, Auth, ConfigError, Connections, Limits, Listen, OutboundPolicy, Provider, Settings, Snapshot,
    PASSTHROUGH_MARKER,
};
use crate::resilience::runtime::RuntimeSettings;
use crate::resilience::{ProviderRuntime, RetryPolicy};
use crate::secret::Secret;

const DEFAULT_PORT: u16 = 8082;

/// Validates a complete raw configuration (file and environment already merged).
pub fn validate(raw: &RawConfig) -> Result<Settings, ConfigError> {
    let listen = listen(&raw.server)?;
    let limits = limits(&raw.server)?;
    let mut providers = BTreeMap::new();
    for (name, raw_provider) in &raw.providers {
        let provider = provider(name, raw_provider, &limits, &listen)?;
        providers.insert(name.to_ascii_lowercase(), Arc::new(provider));
    }
    if providers.is_empty() {
        return Err(ConfigError::new("no provider is configured (set <P>_API_KEY or add [providers.<name>])"));
    }
    let default_provider = default_provider(raw.server.default_provider.as_deref(), &providers)?;
    let proxy_key = gateway_key(raw.server.proxy_api_key.as_deref());
    let admin_key = gateway_key(raw.server.admin_api_key.as_deref());
    let redis_url = redis_url(raw.server.redis_url.as_deref())?;
    let prices = Arc::new(super::prices::table(&raw.prices)?);
    let dialect_defaults = super::dialects::DialectDefaults::validated(&raw.server, &providers)?;
    let snapshot =
        Snapshot { version: 1, default_provider, providers, proxy_key, admin_key, limits, prices, dialect_defaults };
    super::routing::validate_aliases(&snapshot)?;
    let keys = super::keys::key_settings(raw)?;
    Ok(Settings { listen, snapshot, redis_url, raw: raw.clone(), keys })
}

fn gateway_key(value: Option<&str>) -> Option<Secret> {
    value.map(str::trim).filter(|k| !k.is_empty()).map(Secret::new)
}

/// Checks `REDIS_URL` at startup, so a typo stops the gateway instead of failing every admin write later. The
/// error never repeats the URL: it may carry a password.
fn redis_url(value: Option<&str>) -> Result<Option<Secret>, ConfigError> {
    let Some(url) = value.map(str::trim).filter(|u| !u.is_empty()) else { return Ok(None) };
    if !(url.starts_with("redis://") || url.starts_with("unix://")) {
        return Err(ConfigError::new("REDIS_URL: must start with redis:// or unix:// (rediss:// is not supported)"));
    }
    redis::Client::open(url)
        .map_err(|e| ConfigError::new(format!("REDIS_URL: not a usable Redis URL ({:?})", e.kind())))?;
    Ok(Some(Secret::new(url)))
}

fn listen(server: &RawServer) -> Result<Listen, ConfigError> {
    let workers = server.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if workers == 0 {
        return Err(ConfigError::new("server.workers: must be at least 1"));
    }
    Ok(Listen {
        host: server.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
        port: server.port.unwrap_or(DEFAULT_PORT),
        workers,
        log_level: server.log_level.clone(),
        allowed_origins: allowed_origins(server.allowed_origins.as_deref())?,
        allowed_hosts: allowed_hosts(server.allowed_hosts.as_deref())?,
    })
}

/// The entries of a list setting: file lists and environment values alike may separate entries with commas or
/// whitespace.
fn entries(lists: Option<&[String]>) -> impl Iterator<Item = &str> {
    lists.into_iter().flatten().flat_map(|l| l.split(|c: char| c == ',' || c.is_whitespace())).filter(|e| !e.is_empty())
}

/// Origins as browsers send them: `scheme://host[:port]`, lower case, no path and no trailing slash.
fn allowed_origins(lists: Option<&[String]>) -> Result<Vec<String>, ConfigError> {
    entries(lists)
        .map(|entry| {
            let origin = entry.trim_end_matches('/').to_ascii_lowercase();
            let (scheme, rest) = origin.split_once("://").unwrap_or(("", ""));
            let host_ok = !rest.is_empty() && !rest.contains(['/', '?', '#', '@', '*']);
            if !matches!(scheme, "http" | "https") || !host_ok {
                return Err(ConfigError::new(format!(
                    "allowed_origins (ALLOWED_ORIGINS): '{entry}' is not an origin (scheme://host[:port], as a browser sends it in Origin)"
                )));
            }
            Ok(origin)
        })
        .collect()
}

/// Extra `Host` names: a name, `*.suffix`, or `*`.
fn allowed_hosts(lists: Option<&[String]>) -> Result<Vec<String>, ConfigError> {
    entries(lists)
        .map(|entry| {
            let host = entry.trim_end_matches('.').to_ascii_lowercase();
            let name = host.strip_prefix("*.").unwrap_or(&host);
            let valid = host == "*"
                || (!name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']')));
            if !valid {
                return Err(ConfigError::new(format!(
                    "allowed_hosts (ALLOWED_HOSTS): '{entry}' is not a host name, *.suffix or *"
                )));
            }
            Ok(host)
        })
        .collect()
}

fn connections(server: &RawServer, connect_timeout: Duration) -> Result<Connections, ConfigError> {
    let defaults = Connections::default();
    let idle_timeout = match server.upstream_idle_timeout {
        Some(0) => return Err(ConfigError::new("server.upstream_idle_timeout: must be at least 1 second")),
        Some(secs) => Duration::from_secs(secs),
        None => defaults.idle_timeout,
    };
    let outbound = OutboundPolicy::from_lists(server.upstream_allow.as_deref(), server.upstream_deny.as_deref())
        .map_err(ConfigError::new)?;
    Ok(Connections {
        connect_timeout,
        idle_timeout,
        max_per_provider: server.upstream_max_connections.unwrap_or(defaults.max_per_provider),
        outbound,
    })
}

fn limits(server: &RawServer) -> Result<Limits, ConfigError> {
    let defaults = Limits::default();
    let seconds = |value: Option<u64>, field: &str, default: Duration| match value {
        Some(0) => Err(ConfigError::new(format!("server.{field}: must be at least 1 second"))),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Ok(default),
    };
    let max_body_bytes = match server.max_body_bytes {
        Some(0) => return Err(ConfigError::new("server.max_body_bytes: must be greater than 0")),
        Some(n) => n,
        None => defaults.max_body_bytes,
    };
    let retry = RetryPolicy {
        max_retries: server.max_retries.unwrap_or(defaults.retry.max_retries),
        base_delay: server.retry_base_delay_ms.map_or(defaults.retry.base_delay, Duration::from_millis),
        max_delay: seconds(server.retry_max_delay, "retry_max_delay", defaults.retry.max_delay)?,
        retry_after_cap: server.retry_after_cap.map_or(defaults.retry.retry_after_cap, Duration::from_secs),
    };
    let runtime = RuntimeSettings {
        breaker_threshold: match server.circuit_breaker_threshold {
            Some(0) => return Err(ConfigError::new("server.circuit_breaker_threshold: must be at least 1")),
            Some(n) => n,
            None => defaults.runtime.breaker_threshold,
        },
        breaker_cooldown: seconds(
            server.circuit_breaker_cooldown,
            "circuit_breaker_cooldown",
            defaults.runtime.breaker_cooldown,
        )?,
        key_cooldown: server.key_cooldown.map_or(defaults.runtime.key_cooldown, Duration::from_secs),
        key_failure_threshold: defaults.runtime.key_failure_threshold,
    };
    let connect_timeout = seconds(server.connect_timeout, "connect_timeout", defaults.connections.connect_timeout)?;
    Ok(Limits {
        max_body_bytes,
        request_timeout: seconds(server.request_timeout, "request_timeout", defaults.request_timeout)?,
        connections: Arc::new(connections(server, connect_timeout)?),
        stream_idle_timeout: seconds(server.stream_idle_timeout, "stream_idle_timeout", defaults.stream_idle_timeout)?,
        body_idle_timeout: seconds(server.body_idle_timeout, "body_idle_timeout", defaults.body_idle_timeout)?,
        body_read_timeout: seconds(server.body_read_timeout, "body_read_timeout", defaults.body_read_timeout)?,
        retry,
        runtime,
        shutdown_grace: server.shutdown_grace.map_or(defaults.shutdown_grace, Duration::from_secs),
    })
}

/// Validates one provider definition. Also used by the admin API for a single change.
pub(crate) fn provider(
    name: &str,
    raw: &RawProvider,
    limits: &Limits,
    listen: &Listen,
) -> Result<Provider, ConfigError> {
    let name = name.to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(ConfigError::new(format!("provider '{name}': name may only use letters, digits, '_' and '-'")));
    }
    let format = api_format(&name, raw.api_format.as_deref())?;
    let default_base = super::cloud::default_base_url(format, raw);
    let base_url =
        base_url(&name, raw.base_url.as_deref().or(default_base.as_deref()), listen, &limits.connections.outbound)?;
    let (cloud, auth) = match format {
        ApiFormat::Anthropic | ApiFormat::OpenAi => (None, auth(&name, raw)?),
        ApiFormat::Bedrock | ApiFormat::Vertex => {
            let key_auth = super::cloud::has_api_key(raw).then(|| auth(&name, raw)).transpose()?;
            super::cloud::settings(&name, format, raw, key_auth)?
        }
    };
    let custom_headers = custom_headers(&name, raw)?;
    let options = super::convert_options::options(&name, raw)?;
    let request_timeout = match raw.request_timeout {
        Some(0) => {
            return Err(ConfigError::new(format!("provider '{name}': request_timeout must be at least 1 second")))
        }
        Some(secs) => Duration::from_secs(secs),
        None => limits.request_timeout,
    };
    let fingerprints: Vec<String> = match &auth {
        Auth::Static(keys) => keys.iter().map(Secret::fingerprint).collect(),
        Auth::Passthrough | Auth::Cloud => vec![],
    };
    let runtime = ProviderRuntime::new(fingerprints, &limits.runtime);
    let endpoint = Provider::endpoint_for(format, &base_url);
    let name_for_aliases = name.clone();
    Ok(Provider {
        name,
        format,
        base_url,
        endpoint,
        auth,
        custom_headers,
        options,
        request_timeout,
        retry: limits.retry.clone(),
        runtime,
        aliases: aliases(&name_for_aliases, raw)?,
        origin: raw.origin,
        list_models_with_client_key: raw.list_models_with_client_key.unwrap_or(false),
        connections: limits.connections.clone(),
        cloud,
    })
}

fn aliases(provider: &str, raw: &RawProvider) -> Result<Vec<Alias>, ConfigError> {
    raw.aliases.iter().map(|(name, targets)| Alias::new(provider, name, targets.clone())).collect()
}

fn api_format(name: &str, value: Option<&str>) -> Result<ApiFormat, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None if name == "anthropic" => Ok(ApiFormat::Anthropic),
        None => Ok(ApiFormat::OpenAi),
        Some(v) if v == "anthropic" => Ok(ApiFormat::Anthropic),
        Some(v) if v == "openai" => Ok(ApiFormat::OpenAi),
        Some(v) if v == "bedrock" => Ok(ApiFormat::Bedrock),
        Some(v) if v == "vertex" => Ok(ApiFormat::Vertex),
        Some(v) => Err(ConfigError::new(format!(
            "provider '{name}': api_format '{v}' is not known (use 'anthropic', 'openai', 'bedrock' or 'vertex')"
        ))),
    }
}

fn base_url(
    name: &str,
    value: Option<&str>,
    listen: &Listen,
    outbound: &OutboundPolicy,
) -> Result<String, ConfigError> {
    let url = match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v.trim_end_matches('/').to_string(),
        None if name == "anthropic" => "https://api.anthropic.com".into(),
        None if name == "openai" => "https://api.openai.com/v1".into(),
        None => {
            return Err(ConfigError::new(format!(
                "provider '{name}': base_url is missing (set {}_BASE_URL or base_url in the file)",
                name.to_ascii_uppercase()
            )))
        }
    };
    let var = name.to_ascii_uppercase();
    // Checked on the raw text, before anything quotes the URL: a password in it must not reach an error message.
    if authority_of(&url).contains('@') {
        return Err(ConfigError::new(format!(
            "provider '{name}': base_url must not carry a user name or password (user:password@host): gatehouse would \
             show it in /health and the admin API and never send it; put the credentials in a custom header instead \
             ({var}_CUSTOM_HEADER_AUTHORIZATION=\"Basic …\", custom_headers in the file or the admin API body)"
        )));
    }
    // Error messages quote the URL, unless an '@' anywhere in it might be a password's end.
    let shown = if url.contains('@') { "(not repeated: it contains '@')".to_string() } else { format!("'{url}'") };
    if url.contains(['?', '#']) {
        return Err(ConfigError::new(format!(
            "provider '{name}': base_url {shown} must not have a query string or fragment ('?' or '#'): request paths \
             are appended to the base URL; put a tenant or version in the path, or send it in a custom header"
        )));
    }
    let uri: Uri =
        url.parse().map_err(|_| ConfigError::new(format!("provider '{name}': base_url {shown} is not a valid URL")))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http") | Some("https"));
    let Some(host) = uri.host().filter(|h| !h.is_empty() && scheme_ok) else {
        return Err(ConfigError::new(format!(
            "provider '{name}': base_url {shown} must be an http:// or https:// URL with a host"
        )));
    };
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    if port == listen.port && same_host(host, &listen.host) {
        return Err(ConfigError::new(format!(
            "provider '{name}': base_url {shown} points at gatehouse itself (is {var}_BASE_URL meant for a client?)"
        )));
    }
    outbound.check_host(host).map_err(|refusal| ConfigError::new(format!("provider '{name}': base_url: {refusal}")))?;
    Ok(url)
}

/// The authority part of a URL as written (between `scheme://` and the path, query or fragment), or of the whole
/// text when it has no scheme.
fn authority_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

fn auth(name: &str, raw: &RawProvider) -> Result<Auth, ConfigError> {
    let keys: Vec<String> = match (&raw.api_key, &raw.api_keys) {
        (Some(one), _) => one.split_whitespace().map(str::to_string).collect(),
        (None, Some(list)) => {
            // A list holds one key per element: whitespace inside one is a mistake (two keys pasted together, or a
            // stray newline), not a separator.
            if list.iter().any(|k| k.trim().is_empty() || k.trim().contains(char::is_whitespace)) {
                return Err(ConfigError::new(format!(
                    "provider '{name}': api_keys: each element must be one key, non-empty and without whitespace \
                     (list several keys as separate elements)"
                )));
            }
            list.iter().map(|k| k.trim().to_string()).collect()
        }
        (None, None) => vec![],
    };
    let passthrough = keys.iter().filter(|k| k.as_str() == PASSTHROUGH_MARKER).count();
    match (passthrough, keys.len()) {
        (0, 0) => Err(ConfigError::new(format!(
            "provider '{name}': api key is missing (set {}_API_KEY to a key, several keys, or {PASSTHROUGH_MARKER})",
            name.to_ascii_uppercase()
        ))),
        (0, _) => Ok(Auth::Static(keys.into_iter().map(Secret::new).collect())),
        (1, 1) => Ok(Auth::Passthrough),
        _ => Err(ConfigError::new(format!(
            "provider '{name}': api key mixes {PASSTHROUGH_MARKER} with static keys; use one or the other"
        ))),
    }
}

/// Headers a provider's custom headers may not set: the gateway writes them itself (the target host, the
/// message framing, the connection's own headers, the hop count that stops loops).
const RESERVED_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    crate::hops::HOPS_HEADER,
];

fn custom_headers(name: &str, raw: &RawProvider) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
    raw.custom_headers
        .iter()
        .map(|(header, value)| {
            let header_name = HeaderName::from_bytes(header.to_ascii_lowercase().as_bytes()).map_err(|_| {
                ConfigError::new(format!("provider '{name}': custom header name '{header}' is not a valid header name"))
            })?;
            if RESERVED_HEADERS.contains(&header_name.as_str()) {
                return Err(ConfigError::new(format!(
                    "provider '{name}': custom header '{header_name}' cannot be set: gatehouse writes it itself \
                     (the host comes from base_url)"
                )));
            }
            let header_value = HeaderValue::from_str(value).map_err(|_| {
                ConfigError::new(format!("provider '{name}': custom header '{header}' has an invalid value"))
            })?;
            Ok((header_name, header_value))
        })
        .collect()
}

fn default_provider(
    requested: Option<&str>,
    providers: &BTreeMap<String, Arc<Provider>>,
) -> Result<String, ConfigError> {
    match requested.map(|r| r.trim().to_ascii_lowercase()).filter(|r| !r.is_empty()) {
        Some(name) if providers.contains_key(&name) => Ok(name),
        Some(name) => Err(ConfigError::new(format!(
            "DEFAULT_PROVIDER: provider '{name}' does not exist; configured providers: {}",
            providers.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        None => Ok(["anthropic", "openai"]
            .into_iter()
            .find(|n| providers.contains_key(*n))
            .map(str::to_string)
            .or_else(|| providers.keys().next().cloned())
            .unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_with(name: &str, p: RawProvider) -> RawConfig {
        let mut raw = RawConfig::default();
        raw.providers.insert(name.into(), p);
        raw
    }

    fn err_of(raw: &RawConfig) -> String {
        validate(raw).unwrap_err().to_string()
    }

    #[test]
    fn anthropic_defaults() {
        let raw = raw_with("anthropic", RawProvider { api_key: Some("!PASSTHRU".into()), ..Default::default() });
        let s = validate(&raw).unwrap();
        let p = &s.snapshot.providers["anthropic"];
        assert_eq!(p.format, ApiFormat::Anthropic);
        assert_eq!(p.endpoint, "https://api.anthropic.com/v1/messages");
        assert_eq!(p.auth, Auth::Passthrough);
        assert_eq!(s.snapshot.default_provider, "anthropic");
        assert_eq!(s.listen.port, 8082);
        assert_eq!(s.listen.host, "127.0.0.1");
    }

    #[test]
    fn openai_default_base_and_endpoint() {
        let raw = raw_with("openai", RawProvider { api_key: Some("k1 k2".into()), ..Default::default() });
        let s = validate(&raw).unwrap();
        let p = &s.snapshot.providers["openai"];
        assert_eq!(p.endpoint, "https://api.openai.com/v1/chat/completions");
        assert_eq!(p.key_count(), 2);
    }

    #[test]
    fn mixed_passthrough_is_refused() {
        let raw = raw_with(
            "x",
            RawProvider {
                api_key: Some("k !PASSTHRU".into()),
                base_url: Some("http://h".into()),
                ..Default::default()
            },
        );
        let e = err_of(&raw);
        assert!(e.contains("provider 'x'") && e.contains("mixes"), "{e}");
    }

    #[test]
    fn unknown_format_is_refused_not_defaulted() {
        let raw = raw_with(
            "x",
            RawProvider {
                api_key: Some("k".into()),
                base_url: Some("http://h".into()),
                api_format: Some("gemini".into()),
                ..Default::default()
            },
        );
        let e = err_of(&raw);
        assert!(e.contains("api_format 'gemini'"), "{e}");
    }

    #[test]
    fn missing_base_url_names_the_variable() {
        let raw = raw_with("groq", RawProvider { api_key: Some("k".into()), ..Default::default() });
        let e = err_of(&raw);
        assert!(e.contains("provider 'groq'") && e.contains("GROQ_BASE_URL"), "{e}");
    }

    #[test]
    fn invalid_url_is_refused() {
        for bad in ["not a url", "ftp://host", "http://"] {
            let raw = raw_with(
                "x",
                RawProvider { api_key: Some("k".into()), base_url: Some(bad.into()), ..Default::default() },
            );
            assert!(err_of(&raw).contains("base_url"), "{bad}");
        }
    }

    #[test]
    fn credentials_in_a_base_url_are_refused_and_never_quoted() {
        for bad in [
            "http://user:hunter2@h/v1",
            "https://hunter2@h",
            "http:/user:hunter2@h",
            "user:hunter2@h",
            "http://user:hunter2@[::1",
            "http://user:hunter2@h?x",
        ] {
            let raw = raw_with(
                "x",
                RawProvider { api_key: Some("k".into()), base_url: Some(bad.into()), ..Default::default() },
            );
            let e = err_of(&raw);
            assert!(e.starts_with("provider 'x': base_url"), "{bad}: {e}");
            assert!(!e.contains("hunter2"), "{bad}: {e}");
        }
        let at_in_path = raw_with(
            "x",
            RawProvider { api_key: Some("k".into()), base_url: Some("http://h/v1/@team".into()), ..Default::default() },
        );
        assert!(validate(&at_in_path).is_ok(), "an '@' in the path is not userinfo");
    }

    #[test]
    fn loops_are_recognised_in_every_spelling() {
        for host in ["LOCALHOST", "localhost.", "127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]", "[::1]"] {
            let raw = raw_with(
                "anthropic",
                RawProvider {
                    api_key: Some("k".into()),
                    base_url: Some(format!("http://{host}:8082")),
                    ..Default::default()
                },
            );
            assert!(err_of(&raw).contains("points at gatehouse itself"), "{host}");
        }
    }

    #[test]
    fn key_lists_hold_one_key_per_element() {
        let with_keys = |keys: &[&str]| {
            raw_with(
                "x",
                RawProvider {
                    api_keys: Some(keys.iter().map(|k| k.to_string()).collect()),
                    base_url: Some("http://h".into()),
                    ..Default::default()
                },
            )
        };
        for bad in [&["a b"][..], &["a\tb"], &["a", ""], &["a\nb"]] {
            let e = err_of(&with_keys(bad));
            assert!(e.contains("api_keys") && !e.contains("a b"), "{bad:?}: {e}");
        }
        let s = validate(&with_keys(&[" a ", "b"])).unwrap();
        assert_eq!(s.snapshot.providers["x"].key_count(), 2);
    }

    #[test]
    fn reserved_custom_headers_are_refused() {
        for header in ["Host", "content-length", "Transfer-Encoding", "connection", "x-gatehouse-hops"] {
            let mut p =
                RawProvider { api_key: Some("k".into()), base_url: Some("http://h".into()), ..Default::default() };
            p.custom_headers.insert(header.into(), "v".into());
            assert!(err_of(&raw_with("x", p)).contains("cannot be set"), "{header}");
        }
    }

    #[test]
    fn origins_hosts_and_connection_settings() {
        let mut raw = raw_with("anthropic", RawProvider { api_key: Some("k".into()), ..Default::default() });
        raw.server.allowed_origins = Some(vec!["https://App.example/, http://localhost:3000".into()]);
        raw.server.allowed_hosts = Some(vec!["gw.internal".into(), "*.corp.example".into()]);
        raw.server.upstream_idle_timeout = Some(5);
        raw.server.upstream_max_connections = Some(0);
        let s = validate(&raw).unwrap();
        assert_eq!(s.listen.allowed_origins, ["https://app.example", "http://localhost:3000"]);
        assert_eq!(s.listen.allowed_hosts, ["gw.internal", "*.corp.example"]);
        let connections = &s.snapshot.providers["anthropic"].connections;
        assert_eq!((connections.idle_timeout.as_secs(), connections.max_per_provider), (5, 0));
        for bad in ["app.example", "https://app.example/path", "*", "ftp://x"] {
            raw.server.allowed_origins = Some(vec![bad.into()]);
            assert!(err_of(&raw).contains("ALLOWED_ORIGINS"), "{bad}");
        }
        raw.server.allowed_origins = None;
        raw.server.upstream_idle_timeout = Some(0);
        assert!(err_of(&raw).contains("upstream_idle_timeout"));
    }

    #[test]
    fn missing_default_provider_is_refused() {
        let mut raw = raw_with("anthropic", RawProvider { api_key: Some("k".into()), ..Default::default() });
        raw.server.default_provider = Some("nope".into());
        let e = err_of(&raw);
        assert!(e.contains("DEFAULT_PROVIDER") && e.contains("'nope'") && e.contains("anthropic"), "{e}");
    }

    #[test]
    fn missing_key_is_refused() {
        let raw = raw_with("x", RawProvider { base_url: Some("http://h".into()), ..Default::default() });
        assert!(err_of(&raw).contains("api key is missing"));
    }

    #[test]
    fn pointing_at_itself_is_refused() {
        let raw = raw_with(
            "anthropic",
            RawProvider {
                api_key: Some("!PASSTHRU".into()),
                base_url: Some("http://127.0.0.1:8082".into()),
                ..Default::default()
            },
        );
        assert!(err_of(&raw).contains("points at gatehouse itself"));
        let ok = raw_with(
            "anthropic",
            RawProvider {
                api_key: Some("!PASSTHRU".into()),
                base_url: Some("http://127.0.0.1:9000".into()),
                ..Default::default()
            },
        );
        assert!(validate(&ok).is_ok());
    }

    #[test]
    fn admin_key_and_redis_url() {
        let mut raw = raw_with("anthropic", RawProvider { api_key: Some("k".into()), ..Default::default() });
        raw.server.admin_api_key = Some(" adm ".into());
        raw.server.redis_url = Some("redis://:pw@127.0.0.1:6379/2".into());
        let s = validate(&raw).unwrap();
        assert!(s.snapshot.admin_key.as_ref().is_some_and(|k| k.matches("adm")));
        assert_eq!(s.redis_url.map(|u| u.expose().to_string()).as_deref(), Some("redis://:pw@127.0.0.1:6379/2"));
        for bad in ["http://h:6379", "rediss://:hunter2@h", "redis://:hunter2@[::1"] {
            raw.server.redis_url = Some(bad.into());
            let e = err_of(&raw);
            assert!(e.starts_with("REDIS_URL:") && !e.contains("hunter2"), "{bad}: {e}");
        }
    }

    #[test]
    fn trailing_slash_is_trimmed_and_headers_parsed() {
        let mut p =
            RawProvider { api_key: Some("k".into()), base_url: Some("http://h:1/v1/".into()), ..Default::default() };
        p.custom_headers.insert("X-Team".into(), "a".into());
        let s = validate(&raw_with("x", p)).unwrap();
        let prov = &s.snapshot.providers["x"];
        assert_eq!(prov.endpoint, "http://h:1/v1/chat/completions");
        assert_eq!(prov.custom_headers[0].0.as_str(), "x-team");
    }
}
