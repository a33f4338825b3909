//! `GET /v1/models`: the union of every provider's models (fetched from their model endpoints through the
//! forwarders, cached with a TTL; one provider failing does not fail the list) plus aliases, ids as
//! `provider:model`. Anthropic's paginated shape by default, OpenAI's with `?format=openai`.
//!
//! A passthrough provider is listed with the client's own key only where that key was meant to go: the provider
//! opted in (`list_models_with_client_key`) and speaks the format the key's style belongs to — `x-api-key` is
//! Anthropic's, `Authorization: Bearer` OpenAI's (or Anthropic's, for an Anthropic OAuth token `sk-ant-oat…`).
//! Otherwise the key is not sent and the provider's models are not listed (its aliases still are). Lists fetched
//! with a client's key are cached under the key's SHA-256, never shared with another key.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::join_all;
use serde::Deserialize;

use crate::config::{ApiFormat, Auth, Provider, Snapshot, UpstreamCall};
use crate::error::GatewayError;
use crate::gateway::admission::credentials;
use crate::keys::patterns;
use crate::log_safe::Escaped;
use crate::models::{anthropic_page, openai_list, parse_list, ListedModel, ModelEntry};
use crate::secret::digest_hex;
use crate::state::AppState;
use crate::upstream::{ClientKey, KeyStyle, UpstreamRequest};

#[derive(Deserialize)]
pub struct ListQuery {
    format: Option<String>,
    limit: Option<usize>,
    after_id: Option<String>,
    before_id: Option<String>,
}

pub async fn list_models(req: HttpRequest, query: web::Query<ListQuery>, app: web::Data<AppState>) -> HttpResponse {
    let snapshot = app.snapshots.current();
    match handle(&req, &query, &snapshot, &app).await {
        Ok(response) => response,
        Err(error) => actix_web::ResponseError::error_response(&error),
    }
}

async fn handle(
    req: &HttpRequest,
    query: &ListQuery,
    snapshot: &Arc<Snapshot>,
    app: &AppState,
) -> Result<HttpResponse, GatewayError> {
    let credentials = credentials(req.headers(), snapshot, &app.keys.current()).map_err(|refused| refused.error)?;
    let client_key = credentials.client_key;
    let fetches = snapshot.providers.values().map(|p| provider_models(p, snapshot, req, client_key.as_ref(), app));
    let mut models: Vec<ListedModel> = Vec::new();
    let mut failed: Vec<&str> = Vec::new();
    for (provider, result) in snapshot.providers.values().zip(join_all(fetches).await) {
        match result {
            Ok(Some(list)) => {
                models.extend(list.iter().map(|m| ListedModel::from_entry(&provider.name, provider.format, m)))
            }
            Ok(None) => {}
            Err(error) => {
                log::warn!("models of provider {}: {}", provider.name, Escaped(&error.to_string()));
                failed.push(&provider.name);
            }
        }
        models.extend(provider.aliases.iter().map(|alias| ListedModel {
            id: format!("{}:{}", provider.name, alias.name),
            display_name: format!("alias {} -> {}", alias.name, alias.targets.join(", ")),
            created_at: "1970-01-01T00:00:00Z".into(),
            created: 0,
            owned_by: provider.name.clone(),
        }));
    }
    if let Some(holder) = credentials.caller.holder() {
        models.retain(|m| patterns::allows(&holder.key.models, &m.id));
    }
    models.sort_by(|a, b| a.id.cmp(&b.id));
    models.dedup_by(|a, b| a.id == b.id);
    let body = match query.format.as_deref() {
        Some("openai") => openai_list(&models),
        Some("anthropic") | None => {
            let limit = query.limit.unwrap_or(20).clamp(1, 1000);
            anthropic_page(&models, limit, query.after_id.as_deref(), query.before_id.as_deref())
        }
        Some(other) => {
            return Err(GatewayError::InvalidRequest(format!(
                "format: '{other}' is not known (use anthropic or openai)"
            )))
        }
    };
    let mut response = HttpResponse::Ok();
    if !failed.is_empty() {
        response.insert_header(("x-gatehouse-models-unavailable", failed.join(",")));
    }
    Ok(response.json(body))
}

/// Whether a passthrough provider may receive `client`'s key to list its models: it opted in, and the key's style
/// belongs to the provider's format.
fn may_list_with(provider: &Provider, client: &ClientKey) -> bool {
    let format_of_key = match client.style {
        KeyStyle::XApiKey => ApiFormat::Anthropic,
        KeyStyle::Bearer if client.key.starts_with(ANTHROPIC_OAUTH_PREFIX) => ApiFormat::Anthropic,
        KeyStyle::Bearer => ApiFormat::OpenAi,
    };
    provider.list_models_with_client_key && provider.format == format_of_key
}

/// How Anthropic's OAuth access tokens (Claude Code's `/login`) begin; they travel as bearer tokens.
const ANTHROPIC_OAUTH_PREFIX: &str = "sk-ant-oat";

/// One provider's list, from the cache or upstream. `Ok(None)`: a passthrough provider this client's key may not
/// be sent to (see [`may_list_with`]), or no client key.
async fn provider_models(
    provider: &Arc<Provider>,
    snapshot: &Snapshot,
    req: &HttpRequest,
    client_key: Option<&ClientKey>,
    app: &AppState,
) -> Result<Option<Arc<Vec<ModelEntry>>>, GatewayError> {
    if matches!(provider.format, ApiFormat::Bedrock | ApiFormat::Vertex) {
        // Neither cloud lists Anthropic models in the shape `/v1/models` reads: their aliases are listed instead.
        return Ok(None);
    }
    let (key_id, client_key) = match (&provider.auth, client_key) {
        (Auth::Static(_), _) => ("static".to_string(), None),
        (Auth::Passthrough, Some(client)) if may_list_with(provider, client) => {
            (format!("sha256:{}", digest_hex(&client.key)), Some(client))
        }
        (Auth::Passthrough | Auth::Cloud, _) => return Ok(None),
    };
    if let Some(list) = app.models.get(&provider.name, &key_id) {
        return Ok(Some(list));
    }
    let request = UpstreamRequest::new(
        provider,
        UpstreamCall::ListModels,
        bytes::Bytes::new(),
        req.headers(),
        client_key.cloned(),
    );
    let mut reply = app.forwarder.forward(provider, &snapshot.limits, request).await?;
    let body = reply.body.collect(&provider.name).await?;
    if !reply.status.is_success() {
        return Err(GatewayError::UpstreamProtocol {
            provider: provider.name.clone(),
            detail: format!("model list answered HTTP {}", reply.status.as_u16()),
        });
    }
    let list = Arc::new(
        parse_list(&body)
            .map_err(|detail| GatewayError::UpstreamProtocol { provider: provider.name.clone(), detail })?,
    );
    app.models.put(&provider.name, &key_id, list.clone());
    Ok(Some(list))
}
