//! The admin bodies of keys and teams: every field, every refusal naming its field.

use super::*;
use crate::keys::declared::Declared;
use crate::limits::BudgetPeriod;

const NOW: u64 = 1_750_000_000_000; // 2025-06-15

fn catalog_with_team() -> Catalog {
    let mut catalog = Catalog::default();
    let team =
        Team { id: "team_1".into(), name: "ml".into(), limits: Limits::default(), created_at: 0, declared: false };
    catalog.apply(&[crate::keys::records::RecordChange::PutTeam(team)]);
    catalog
}

fn create(body: &str, catalog: &Catalog) -> Result<(VirtualKey, String), GatewayError> {
    new_key(body.as_bytes(), catalog, &Declared::default(), "vk_1".into(), NOW)
}

fn message(result: Result<impl std::fmt::Debug, GatewayError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn a_full_key_body_becomes_a_record_with_a_hashed_secret() {
    let body = r#"{"name":"alice","team":"ml","models":["anthropic:*","openai:gpt-4o*"],"rpm":60,"tpm":200000,
        "max_parallel":4,"budget_usd":25.0,"budget_period":"day","expires_at":"2027-01-01T00:00:00Z",
        "metadata":{"owner":"alice@example.com"}}"#;
    let (key, secret) = create(body, &catalog_with_team()).unwrap();
    assert!(secret.starts_with("gh_"));
    assert_eq!(key.secret_hash, crate::keys::secret::hash(&secret));
    assert_eq!((&*key.name, key.team.as_deref()), ("alice", Some("ml")));
    assert_eq!(key.limits.budget_nanos, Some(25_000_000_000));
    assert_eq!(key.limits.budget_period, BudgetPeriod::Day);
    assert_eq!((key.limits.rpm, key.limits.max_parallel), (Some(60), Some(4)));
    assert_eq!(key.models.len(), 2);
    assert_eq!(key.expires_at, Some(crate::limits::period::parse_rfc3339("2027-01-01T00:00:00Z").unwrap()));
    assert_eq!(key.metadata["owner"], "alice@example.com");
    assert!(!key.disabled && !key.declared);
    let (bare, _) = create(r#"{"name":"bob"}"#, &Catalog::default()).unwrap();
    assert!(bare.limits.is_empty() && bare.models.is_empty() && bare.team.is_none());
}

#[test]
fn bad_key_bodies_name_the_field() {
    let catalog = catalog_with_team();
    let cases = [
        (r#"{"team":"ml"}"#, "name: required"),
        (r#"{"name":"a b"}"#, "name:"),
        (r#"{"name":"a","team":"ops"}"#, "team: there is no team 'ops'"),
        (r#"{"name":"a","models":["gpt-4o"]}"#, "models:"),
        (r#"{"name":"a","models":"anthropic:*"}"#, "models: must be a list"),
        (r#"{"name":"a","rpm":0}"#, "rpm:"),
        (r#"{"name":"a","rpm":"sixty"}"#, "rpm: must be"),
        (r#"{"name":"a","budget_usd":-5}"#, "budget_usd:"),
        (r#"{"name":"a","budget_period":"day"}"#, "budget_period: needs budget_usd"),
        (r#"{"name":"a","budget_usd":1,"budget_period":"fortnight"}"#, "budget_period: must be one of"),
        (r#"{"name":"a","expires_at":"2020-01-01T00:00:00Z"}"#, "expires_at: 2020-01-01T00:00:00Z is in the past"),
        (r#"{"name":"a","expires_at":"tomorrow"}"#, "expires_at:"),
        (r#"{"name":"a","metadata":[1]}"#, "metadata: must be a JSON object"),
        (r#"{"name":"a","disabled":"yes"}"#, "disabled:"),
        (r#"{"name":"a","colour":1,"rpn":2}"#, "unknown fields 'colour', 'rpn'"),
        ("[]", "body:"),
    ];
    for (body, expected) in cases {
        let got = message(create(body, &catalog));
        assert!(got.starts_with(expected), "{body}: {got}");
    }
    let (key, _) = create(r#"{"name":"alice"}"#, &catalog).unwrap();
    let mut taken = catalog.clone();
    taken.apply(&[crate::keys::records::RecordChange::PutKey(key)]);
    assert!(matches!(create(r#"{"name":"alice"}"#, &taken), Err(GatewayError::Conflict(_))), "names are unique");
}

#[test]
fn a_patch_changes_only_what_it_names_and_null_removes() {
    let catalog = catalog_with_team();
    let (key, _) =
        create(r#"{"name":"alice","team":"ml","rpm":5,"budget_usd":2,"budget_period":"week"}"#, &catalog).unwrap();
    let patch = |body: &str| patch_key(&key, body.as_bytes(), &catalog, &Declared::default(), NOW);
    let changed = patch(r#"{"tpm":100,"disabled":true}"#).unwrap();
    assert_eq!((changed.limits.rpm, changed.limits.tpm, changed.disabled), (Some(5), Some(100), true));
    assert_eq!(changed.limits.budget_period, BudgetPeriod::Week, "untouched");
    assert_eq!((changed.secret_hash.as_str(), &*changed.id), (key.secret_hash.as_str(), &*key.id));
    let cleared = patch(r#"{"rpm":null,"budget_usd":null,"team":null,"models":["openai:*"]}"#).unwrap();
    assert!(cleared.limits.rpm.is_none() && cleared.limits.budget_nanos.is_none() && cleared.team.is_none());
    assert_eq!(cleared.models, ["openai:*"]);
    assert!(message(patch(r#"{"expires_at":"2001-01-01T00:00:00Z"}"#)).starts_with("expires_at:"));
    assert!(message(patch(r#"{"secret":"x"}"#)).contains("unknown field 'secret'"));
}

#[test]
fn teams_are_named_once_and_keep_their_name() {
    let catalog = catalog_with_team();
    let declared = Declared::default();
    let team = new_team(
        br#"{"name":"ops","rpm":10,"budget_usd":100,"budget_period":"month"}"#,
        &catalog,
        &declared,
        "t".into(),
        NOW,
    )
    .unwrap();
    assert_eq!((team.limits.rpm, team.limits.budget_period), (Some(10), BudgetPeriod::Month));
    assert!(matches!(
        new_team(br#"{"name":"ml"}"#, &catalog, &declared, "t".into(), NOW),
        Err(GatewayError::Conflict(_))
    ));
    assert!(message(new_team(br#"{"rpm":1}"#, &catalog, &declared, "t".into(), NOW)).starts_with("name: required"));
    assert_eq!(patch_team(&team, br#"{"rpm":20}"#).unwrap().limits.rpm, Some(20));
    assert!(message(patch_team(&team, br#"{"name":"other"}"#)).starts_with("name: a team cannot be renamed"));
    assert!(message(patch_team(&team, br#"{"models":[]}"#)).contains("unknown field 'models'"));
}
