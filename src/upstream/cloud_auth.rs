//! The gateway's own cloud credentials on each attempt: a SigV4 signature over the exact request (Bedrock with
//! AWS keys), or a Google access token from the provider's token source (Vertex), with one fresh-token attempt
//! after Vertex refuses a cached one (401).

use std::time::SystemTime;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::OutgoingBody;
use crate::cloud::sigv4::{self, Keys, Outgoing, BEDROCK_SERVICE};
use crate::config::cloud::CloudSettings;
use crate::config::{Auth, Provider};
use crate::error::GatewayError;
use crate::secret::Secret;

/// One request's use of the provider's cloud credentials across its attempts.
pub(super) struct CloudCredentials {
    /// The token sent on the last attempt (Vertex), to be replaced if Vertex refuses it.
    sent_token: Option<Secret>,
    /// A refused token, to be fetched anew on the next attempt.
    refused: Option<Secret>,
    /// Whether the one fresh-token attempt was spent.
    refreshed: bool,
}

impl CloudCredentials {
    /// `Some` for a provider that authenticates with its cloud credentials (`Auth::Cloud`).
    pub(super) fn of(provider: &Provider) -> Option<Self> {
        (provider.auth == Auth::Cloud && provider.cloud.is_some()).then_some(Self {
            sent_token: None,
            refused: None,
            refreshed: false,
        })
    }

    /// Adds this attempt's credentials to `headers`.
    pub(super) async fn add_headers(
        &mut self,
        provider: &Provider,
        url: &str,
        body: &OutgoingBody,
        headers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        let failed = |detail: String| GatewayError::UpstreamUnreachable { provider: provider.name.clone(), detail };
        match &provider.cloud {
            Some(CloudSettings::Bedrock(bedrock)) => {
                let Some(credentials) = &bedrock.sigv4 else { return Ok(()) };
                let keys = Keys {
                    access_key_id: credentials.access_key_id.expose(),
                    secret_access_key: credentials.secret_access_key.expose(),
                    session_token: credentials.session_token.as_ref().map(Secret::expose),
                };
                let body = body.to_bytes();
                let outgoing =
                    Outgoing { method: "POST", url, headers: &[("content-type", "application/json")], body: &body };
                let signed = sigv4::sign_request(keys, &bedrock.region, BEDROCK_SERVICE, outgoing, SystemTime::now())
                    .map_err(|e| failed(format!("signing the request failed: {e}")))?;
                for (name, value) in signed {
                    let mut value = HeaderValue::from_str(&value)
                        .map_err(|_| failed("the signature is not a valid header value".into()))?;
                    value.set_sensitive(true);
                    headers.insert(HeaderName::from_static(name), value);
                }
                Ok(())
            }
            Some(CloudSettings::Vertex(vertex)) => {
                let Some(tokens) = &vertex.tokens else { return Ok(()) };
                let token = tokens
                    .token(self.refused.take().as_ref())
                    .await
                    .map_err(|e| failed(format!("could not get a Google access token: {e}")))?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| failed("the access token has characters not allowed in a header".into()))?;
                value.set_sensitive(true);
                headers.insert(header::AUTHORIZATION, value);
                self.sent_token = Some(token);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether an answer with `status` calls for one more attempt with a fresh token: Vertex refused (401) a
    /// token from the provider's token source, and no fresh attempt was made yet.
    pub(super) fn refresh_after(&mut self, status: u16) -> bool {
        if status != 401 || self.refreshed {
            return false;
        }
        let Some(token) = self.sent_token.take() else { return false };
        self.refreshed = true;
        self.refused = Some(token);
        true
    }
}
