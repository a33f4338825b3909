//! The merged model list of `GET /v1/models`: parsing each provider's list (Anthropic or OpenAI shape), caching
//! it with a TTL, and rendering the union in Anthropic's paginated shape or OpenAI's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::ApiFormat;

/// One model of one provider, as the provider listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    pub id: String,
    pub display_name: Option<String>,
    /// RFC 3339, as Anthropic lists it.
    pub created_at: Option<String>,
    /// Unix seconds, as OpenAI lists it.
    pub created: Option<i64>,
}

#[derive(Deserialize)]
struct RawList {
    #[serde(default)]
    data: Vec<RawModel>,
}

#[derive(Deserialize)]
struct RawModel {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    created: Option<i64>,
}

/// Parses a provider's list response (both formats use `{"data": [{"id": …}, …]}`).
pub fn parse_list(body: &[u8]) -> Result<Vec<ModelEntry>, String> {
    let list: RawList =
        serde_json::from_slice(body).map_err(|e| format!("model list is not in the expected shape: {e}"))?;
    Ok(list
        .data
        .into_iter()
        .map(|m| ModelEntry { id: m.id, display_name: m.display_name, created_at: m.created_at, created: m.created })
        .collect())
}

/// Cached lists by (provider, key identity), with when each was fetched.
type CachedLists = HashMap<(String, String), (Instant, Arc<Vec<ModelEntry>>)>;

/// Provider lists cached per provider and key (passthrough providers list what each client's key may use).
pub struct ModelsCache {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<CachedLists>,
}

impl ModelsCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    /// A fresh cached list, if any.
    pub fn get(&self, provider: &str, key_id: &str) -> Option<Arc<Vec<ModelEntry>>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (at, list) = entries.get(&(provider.to_string(), key_id.to_string()))?;
        (at.elapsed() < self.ttl).then(|| list.clone())
    }

    /// Stores a list, evicting expired entries, then the oldest, to stay within the bound.
    pub fn put(&self, provider: &str, key_id: &str, list: Arc<Vec<ModelEntry>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max_entries {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        while entries.len() >= self.max_entries {
            let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) else { break };
            entries.remove(&oldest);
        }
        entries.insert((provider.to_string(), key_id.to_string()), (Instant::now(), list));
    }
}

/// One row of the merged list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedModel {
    /// `provider:model` (or `provider:alias`).
    pub id: String,
    pub display_name: String,
    pub created_at: String,
    pub created: i64,
    pub owned_by: String,
}

impl ListedModel {
    /// A provider's model, with its id prefixed by the provider.
    pub fn from_entry(provider: &str, format: ApiFormat, entry: &ModelEntry) -> Self {
        let created_at = entry.created_at.clone().unwrap_or_else(|| unix_to_rfc3339(entry.created.unwrap_or(0)));
        Self {
            id: format!("{provider}:{}", entry.id),
            display_name: entry.display_name.clone().unwrap_or_else(|| format!("{} ({provider}, {format})", entry.id)),
            created_at,
            created: entry.created.unwrap_or(0),
            owned_by: provider.to_string(),
        }
    }
}

/// Anthropic's shape: `data`, `has_more`, `first_id`, `last_id`, paginated by `after_id` / `before_id` / `limit`.
pub fn anthropic_page(models: &[ListedModel], limit: usize, after_id: Option<&str>, before_id: Option<&str>) -> Value {
    let (start, end) = match (after_id, before_id) {
        (Some(after), _) => {
            let start = models.iter().position(|m| m.id == after).map_or(models.len(), |i| i + 1);
            (start, (start + limit).min(models.len()))
        }
        (None, Some(before)) => {
            let end = models.iter().position(|m| m.id == before).unwrap_or(0);
            (end.saturating_sub(limit), end)
        }
        (None, None) => (0, limit.min(models.len())),
    };
    let page = &models[start..end];
    let has_more = match before_id {
        Some(_) if after_id.is_none() => start > 0,
        _ => end < models.len(),
    };
    json!({
        "data": page.iter().map(|m| json!({
            "type": "model", "id": m.id, "display_name": m.display_name, "created_at": m.created_at,
        })).collect::<Vec<_>>(),
        "has_more": has_more,
        "first_id": page.first().map(|m| m.id.clone()),
        "last_id": page.last().map(|m| m.id.clone()),
    })
}

/// OpenAI's shape: `{"object":"list","data":[{"id","object":"model","created","owned_by"}]}`.
pub fn openai_list(models: &[ListedModel]) -> Value {
    json!({
        "object": "list",
        "data": models.iter().map(|m| json!({
            "id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by,
        })).collect::<Vec<_>>(),
    })
}

/// Formats Unix seconds as RFC 3339 UTC (times before 1970 read as 1970).
fn unix_to_rfc3339(secs: i64) -> String {
    crate::limits::period::rfc3339(u64::try_from(secs).unwrap_or(0).saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models(n: usize) -> Vec<ListedModel> {
        (0..n)
            .map(|i| ListedModel {
                id: format!("p:m{i}"),
                display_name: String::new(),
                created_at: String::new(),
                created: 0,
                owned_by: "p".into(),
            })
            .collect()
    }

    #[test]
    fn parses_both_shapes() {
        let a = parse_list(br#"{"data":[{"type":"model","id":"claude-x","display_name":"Claude X","created_at":"2025-02-19T00:00:00Z"}],"has_more":false}"#).unwrap();
        assert_eq!(a[0].display_name.as_deref(), Some("Claude X"));
        let o = parse_list(
            br#"{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"}]}"#,
        )
        .unwrap();
        assert_eq!(o[0].created, Some(1715367049));
        assert!(parse_list(b"<html>").is_err());
    }

    #[test]
    fn pagination_forward_and_back() {
        let all = models(5);
        let p = anthropic_page(&all, 2, None, None);
        assert_eq!(
            (p["first_id"].as_str(), p["last_id"].as_str(), p["has_more"].as_bool()),
            (Some("p:m0"), Some("p:m1"), Some(true))
        );
        let p = anthropic_page(&all, 2, Some("p:m3"), None);
        assert_eq!((p["data"].as_array().unwrap().len(), p["has_more"].as_bool()), (1, Some(false)));
        let p = anthropic_page(&all, 2, None, Some("p:m3"));
        assert_eq!((p["first_id"].as_str(), p["has_more"].as_bool()), (Some("p:m1"), Some(true)));
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let cache = ModelsCache::new(Duration::from_millis(30), 2);
        cache.put("a", "k", Arc::new(vec![]));
        assert!(cache.get("a", "k").is_some());
        cache.put("b", "k", Arc::new(vec![]));
        cache.put("c", "k", Arc::new(vec![]));
        assert!(cache.get("a", "k").is_none(), "oldest evicted");
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("c", "k").is_none(), "expired");
    }

    #[test]
    fn unix_time_formatting() {
        assert_eq!(unix_to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_to_rfc3339(1715367049), "2024-05-10T18:50:49Z");
    }
}
