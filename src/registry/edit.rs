//! Admin edits, and how one becomes a proposal: the next overlay together with the whole snapshot it produces,
//! validated. Pure: the same base, overlay and edit always give the same answer, so a change is validated before it
//! is stored anywhere and an invalid one changes nothing.

use crate::config::{validate, Change, ConfigError, Overlay, RawConfig, RawProvider, Snapshot};
use crate::error::GatewayError;

/// One admin change to one provider.
// A handful exist at a time (admin changes), so boxing the provider definition would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// `PUT /admin/providers/{name}`: create or replace.
    Upsert { name: String, provider: RawProvider },
    /// `DELETE /admin/providers/{name}`.
    Remove { name: String },
}

impl Edit {
    /// The provider name, in lower case as providers are keyed.
    pub fn name(&self) -> String {
        match self {
            Self::Upsert { name, .. } | Self::Remove { name } => name.to_ascii_lowercase(),
        }
    }

    /// What the edit does, for the audit log (never a key).
    pub fn describe(&self) -> String {
        match self {
            Self::Upsert { .. } => format!("put provider '{}'", self.name()),
            Self::Remove { .. } => format!("delete provider '{}'", self.name()),
        }
    }
}

/// A validated change, ready to publish.
#[derive(Debug)]
pub struct Proposal {
    /// The overlay to store (and keep) once published.
    pub overlay: Overlay,
    /// What it produces; its version is set when it is published.
    pub snapshot: Snapshot,
}

/// The snapshot that `overlay` on top of `base` produces, validated as a whole.
///
/// Admin changes never move the default provider: when the base does not name one, the one its own rule picks
/// (`anthropic`, else `openai`, else the first name) is pinned, so that adding a provider called `aaa` does not
/// silently reroute every request without a provider prefix.
pub fn build(base: &RawConfig, overlay: &Overlay) -> Result<Snapshot, ConfigError> {
    let mut raw = base.clone();
    if raw.server.default_provider.is_none() && !overlay.changes.is_empty() {
        raw.server.default_provider = Some(validate(base)?.snapshot.default_provider);
    }
    overlay.apply(&mut raw);
    Ok(validate(&raw)?.snapshot)
}

/// Checks `edit` against the configuration that `overlay` on `base` gives, and builds the result.
///
/// Removing a provider that does not exist is 404; removing the default provider is 409 (requests without a
/// provider prefix would have nowhere to go); anything validation refuses is 400 naming the field.
pub fn propose(base: &RawConfig, overlay: &Overlay, edit: &Edit) -> Result<Proposal, GatewayError> {
    let name = edit.name();
    let change = match edit {
        Edit::Upsert { provider, .. } => Change::Upsert { provider: provider.clone() },
        Edit::Remove { .. } => {
            let current = build(base, overlay).map_err(invalid)?;
            if !current.providers.contains_key(&name) {
                return Err(GatewayError::NotFound(format!(
                    "provider '{name}' does not exist; configured providers: {}",
                    current.provider_names()
                )));
            }
            if current.default_provider == name {
                return Err(GatewayError::Conflict(format!(
                    "provider '{name}' is the default provider and cannot be removed; make another provider the \
                     default first (DEFAULT_PROVIDER or server.default_provider)"
                )));
            }
            Change::Remove
        }
    };
    let overlay = overlay.with(&name, change);
    let snapshot = build(base, &overlay).map_err(invalid)?;
    Ok(Proposal { overlay, snapshot })
}

fn invalid(error: ConfigError) -> GatewayError {
    GatewayError::InvalidRequest(format!("change refused: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;
    use actix_web::ResponseError;

    fn raw_provider(url: &str, keys: &[&str]) -> RawProvider {
        RawProvider {
            base_url: Some(url.into()),
            api_format: Some("anthropic".into()),
            api_keys: Some(keys.iter().map(|k| k.to_string()).collect()),
            ..Default::default()
        }
    }

    fn base() -> RawConfig {
        let mut raw = RawConfig::default();
        raw.providers.insert("main".into(), raw_provider("http://main", &["m"]));
        raw.providers.insert("other".into(), raw_provider("http://other", &["o"]));
        raw.server.default_provider = Some("main".into());
        raw
    }

    fn upsert(name: &str, provider: RawProvider) -> Edit {
        Edit::Upsert { name: name.into(), provider }
    }

    #[test]
    fn upsert_adds_a_provider_under_the_next_overlay_version() {
        let p = propose(&base(), &Overlay::default(), &upsert("New", raw_provider("http://new", &["n"]))).unwrap();
        assert_eq!(p.overlay.version, 1);
        let added = &p.snapshot.providers["new"];
        assert_eq!(added.endpoint, "http://new/v1/messages");
        assert_eq!(added.origin, Origin::Admin);
        assert_eq!(p.snapshot.providers.len(), 3);
    }

    #[test]
    fn invalid_upserts_are_400_naming_the_field() {
        let cases = [
            (RawProvider { api_format: Some("gemini".into()), ..raw_provider("http://x", &["k"]) }, "api_format"),
            (raw_provider("http://x", &["k", "!PASSTHRU"]), "mixes !PASSTHRU"),
            (raw_provider("ftp://x", &["k"]), "base_url"),
            (raw_provider("http://x", &[]), "api key is missing"),
        ];
        for (provider, needle) in cases {
            let err = propose(&base(), &Overlay::default(), &upsert("x", provider)).unwrap_err();
            assert_eq!(err.status_code(), 400);
            assert!(err.to_string().contains(needle), "{err}");
        }
        let err = propose(&base(), &Overlay::default(), &upsert("bad name!", raw_provider("http://x", &["k"])));
        assert!(err.unwrap_err().to_string().contains("name may only use"));
    }

    #[test]
    fn remove_rules() {
        let missing = propose(&base(), &Overlay::default(), &Edit::Remove { name: "nope".into() }).unwrap_err();
        assert_eq!(missing.status_code(), 404);
        assert!(missing.to_string().contains("main, other"), "{missing}");
        let default = propose(&base(), &Overlay::default(), &Edit::Remove { name: "MAIN".into() }).unwrap_err();
        assert_eq!(default.status_code(), 409);
        let ok = propose(&base(), &Overlay::default(), &Edit::Remove { name: "other".into() }).unwrap();
        assert!(!ok.snapshot.providers.contains_key("other"));
        let again = propose(&base(), &ok.overlay, &Edit::Remove { name: "other".into() }).unwrap_err();
        assert_eq!(again.status_code(), 404, "already removed");
    }

    #[test]
    fn admin_changes_never_move_an_implicit_default() {
        let mut raw = base();
        raw.server.default_provider = None;
        raw.providers.remove("other");
        let p = propose(&raw, &Overlay::default(), &upsert("aaa", raw_provider("http://a", &["a"]))).unwrap();
        assert_eq!(p.snapshot.default_provider, "main", "not the alphabetically first 'aaa'");
        let p = propose(&raw, &p.overlay, &upsert("anthropic", raw_provider("http://an", &["a"]))).unwrap();
        assert_eq!(p.snapshot.default_provider, "main");
    }

    #[test]
    fn an_edit_is_checked_against_the_overlay_it_builds_on() {
        let added = propose(&base(), &Overlay::default(), &upsert("temp", raw_provider("http://t", &["t"]))).unwrap();
        let removed = propose(&base(), &added.overlay, &Edit::Remove { name: "temp".into() }).unwrap();
        assert_eq!(removed.overlay.version, 2);
        assert!(!removed.snapshot.providers.contains_key("temp"));
    }
}
