//! Virtual keys at admission: who is calling, which of the route's targets the caller may use, and the
//! reservation its limits need — checked and reserved in one step by the limits store.
//!
//! Once any virtual key exists, every `/v1/*` request needs one (or the master proxy key). A key is presented in
//! `x-gatehouse-key` (then `x-api-key` / `Authorization` may carry the client's own provider key for passthrough
//! providers) or in `x-api-key` / `Authorization: Bearer` itself. A virtual key is never forwarded upstream.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName};

use crate::config::Route;
use crate::error::GatewayError;
use crate::keys::{dollars, patterns, secret, Directory, Presented, Team, VirtualKey};
use crate::limits::period::rfc3339;
use crate::limits::store::{Admission, StoreError, SubjectRef};
use crate::limits::{Amount, Headroom, Lease, LeaseId, Refusal, Store, Subject};
use crate::metrics::RefusalReason;
use crate::prices::{Price, PriceTable};
use crate::secret::Secret;
use crate::upstream::{ClientKey, PROXY_KEY_HEADER};

const GATEHOUSE_KEY: HeaderName = HeaderName::from_static(PROXY_KEY_HEADER);

/// How long a reservation's lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(20);

/// A virtual key's holder.
#[derive(Debug, Clone)]
pub struct Holder {
    pub key: Arc<VirtualKey>,
    pub team: Option<Arc<Team>>,
}

impl Holder {
    /// The key's and its team's ledgers with their limits.
    pub fn subjects(&self) -> (SubjectRef, Option<SubjectRef>) {
        let key = SubjectRef { id: self.key.id.clone(), limits: self.key.limits.clone() };
        let team = self.team.as_ref().map(|t| SubjectRef { id: t.id.clone(), limits: t.limits.clone() });
        (key, team)
    }

    /// Whether a request must reserve tokens or money (the key or its team has a token or money limit).
    pub fn meters_tokens(&self) -> bool {
        self.key.limits.meters_tokens() || self.team.as_ref().is_some_and(|t| t.limits.meters_tokens())
    }

    fn has_budget(&self) -> bool {
        self.key.limits.budget_nanos.is_some() || self.team.as_ref().is_some_and(|t| t.limits.budget_nanos.is_some())
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No virtual keys are in use: anyone past the proxy-key check (when one is configured).
    Open,
    /// The master proxy key, while virtual keys are in use: no limits.
    Master,
    Holder(Holder),
}

impl Caller {
    /// The key holder, if the caller is one.
    pub fn holder(&self) -> Option<&Holder> {
        match self {
            Caller::Holder(holder) => Some(holder),
            Caller::Open | Caller::Master => None,
        }
    }
}

/// The caller and the client's own provider key (for passthrough providers), if it sent one.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub caller: Caller,
    pub client_key: Option<ClientKey>,
}

/// A request refused at admission, with the reason label of `gatehouse_key_refusals_total` when its key was
/// the reason (empty otherwise).
#[derive(Debug)]
pub struct KeyRefusal {
    pub error: GatewayError,
    pub reason: Option<RefusalReason>,
    /// The refused limit's headroom (none left, and when it frees), for the rate-limit headers.
    pub headroom: Option<Box<Headroom>>,
}

impl From<GatewayError> for KeyRefusal {
    fn from(error: GatewayError) -> Self {
        KeyRefusal { error, reason: None, headroom: None }
    }
}

fn refusal(error: GatewayError, reason: Option<RefusalReason>) -> KeyRefusal {
    KeyRefusal { error, reason, headroom: None }
}

/// Identifies the caller of a request while virtual keys are in use.
pub fn identify(
    headers: &HeaderMap,
    directory: &Directory,
    proxy_key: Option<&Secret>,
    now_ms: u64,
) -> Result<Credentials, KeyRefusal> {
    let own = super::auth::presented_key(headers);
    let dedicated = headers.get(&GATEHOUSE_KEY).map(|v| v.to_str().map(str::trim).unwrap_or(""));
    let (credential, client_key) = match (dedicated, own) {
        (Some(credential), own) => (credential.to_string(), own),
        (None, Some(own)) => (own.key, None),
        // A replica that has not loaded the key records yet cannot tell whether keys exist: "unavailable", not
        // "unauthorised".
        (None, None) if !directory.loaded() => {
            return Err(refusal(store_down("the key records are not loaded yet"), None));
        }
        (None, None) => {
            return Err(refusal(
                GatewayError::Authentication(format!(
                    "this gateway requires a virtual key: send it in {PROXY_KEY_HEADER}, x-api-key or Authorization: Bearer"
                )),
                None,
            ))
        }
    };
    let caller = caller_of(&credential, directory, proxy_key, now_ms)?;
    if let Some(own) = &client_key {
        // A gateway credential in the provider-key headers would be forwarded upstream: refuse it instead.
        let gateway_owned = own.key.starts_with(secret::PREFIX) || proxy_key.is_some_and(|p| p.matches(&own.key));
        if gateway_owned {
            let message = format!(
                "x-api-key / Authorization carries a gatehouse key, which is never sent to a provider: send it only in \
                 {PROXY_KEY_HEADER}, and your own provider key (if any) in x-api-key"
            );
            return Err(refusal(GatewayError::Authentication(message), None));
        }
    }
    Ok(Credentials { caller, client_key })
}

/// What a gateway credential is.
fn caller_of(
    credential: &str,
    directory: &Directory,
    proxy_key: Option<&Secret>,
    now_ms: u64,
) -> Result<Caller, KeyRefusal> {
    if proxy_key.is_some_and(|p| p.matches(credential)) {
        return Ok(Caller::Master);
    }
    let refused = |why: String, reason| Err(refusal(GatewayError::Authentication(why), reason));
    match directory.identify(credential, now_ms) {
        Presented::Valid(key, team) => Ok(Caller::Holder(Holder { key, team })),
        Presented::Disabled(key) => {
            refused(format!("virtual key '{}' is disabled", key.name), Some(RefusalReason::Disabled))
        }
        Presented::Expired(key) => refused(
            format!("virtual key '{}' expired at {}", key.name, key.expires_at.map(rfc3339).unwrap_or_default()),
            Some(RefusalReason::Expired),
        ),
        Presented::Revoked => refused("this virtual key was revoked".into(), Some(RefusalReason::Revoked)),
        Presented::Unknown if !directory.loaded() => {
            Err(refusal(store_down("the key records are not loaded yet"), None))
        }
        Presented::Unknown => refused("invalid virtual key: it is not a key of this gateway".into(), None),
        Presented::Unavailable => Err(refusal(store_down("the key records are not loaded yet"), None)),
    }
}

/// Keeps the targets `holder` may use: those its model patterns allow and, when it has a budget, that have a
/// price. Aliases and fallbacks are already resolved, so an alias cannot reach a model outside the list.
/// Returns each kept target's price (by position).
pub fn permitted(holder: &Holder, route: &mut Route, prices: &PriceTable) -> Result<Vec<Option<Price>>, KeyRefusal> {
    let allowed = |t: &crate::config::Target| patterns::allows_target(&holder.key.models, &t.provider.name, &t.model);
    let kept = route.targets.iter().filter(|t| allowed(t)).count();
    if kept == 0 {
        let requested = route.primary();
        let message = format!(
            "virtual key '{}' may not use model '{}:{}' (allowed: {})",
            holder.key.name,
            requested.provider.name,
            requested.model,
            holder.key.models.join(", ")
        );
        return Err(refusal(GatewayError::Forbidden(message), Some(RefusalReason::Model)));
    }
    if kept < route.targets.len() {
        route.targets.retain(allowed);
    }
    let priced: Vec<Option<Price>> = route.targets.iter().map(|t| prices.price(&t.provider.name, &t.model)).collect();
    if !holder.has_budget() || priced.iter().all(Option::is_some) {
        return Ok(priced);
    }
    let unpriced = route.targets.iter().zip(&priced).find(|(_, p)| p.is_none()).map(|(t, _)| t.clone());
    let mut kept = Vec::new();
    let mut targets = Vec::new();
    for (target, price) in route.targets.drain(..).zip(priced) {
        if price.is_some() {
            targets.push(target);
            kept.push(price);
        }
    }
    route.targets = targets;
    match (route.targets.is_empty(), unpriced) {
        (true, Some(t)) => {
            let message = format!(
                "virtual key '{}': {}",
                holder.key.name,
                PriceTable::missing_price_message(&t.provider.name, &t.model)
            );
            Err(refusal(GatewayError::Forbidden(message), Some(RefusalReason::Price)))
        }
        _ => Ok(kept),
    }
}

/// A reservation held for a request: what to settle when it ends.
#[derive(Debug, Clone)]
pub struct Reserved {
    pub key: SubjectRef,
    pub team: Option<SubjectRef>,
    pub lease_id: LeaseId,
    pub headroom: Headroom,
}

/// Reserves `want` for `holder` in the limits store: the request is admitted or refused with the limit named.
pub async fn reserve(
    store: &Store,
    holder: &Holder,
    want: Amount,
    lease_id: LeaseId,
    now_ms: u64,
) -> Result<Reserved, KeyRefusal> {
    let (key, team) = holder.subjects();
    let lease = Lease { id: lease_id.clone(), expires_ms: now_ms + store.lease_ttl_ms(), reserved: want };
    let admission = Admission { key: key.clone(), team: team.clone(), lease };
    // The store bounds its own wait (ADMIT_TIMEOUT): the embedded one answers at once, without a timer.
    let (decision, standby) = match store.admit_request(admission, now_ms).await {
        Ok(answer) => answer,
        Err(StoreError(why)) => return Err(refusal(store_down(&why), None)),
    };
    match decision {
        // Admitted on a standby lease (Redis): the request holds that one.
        Ok(headroom) => Ok(Reserved { key, team, lease_id: standby.unwrap_or(lease_id), headroom }),
        Err((subject, why)) => Err(refused(holder, subject, why, now_ms)),
    }
}

fn store_down(why: &str) -> GatewayError {
    GatewayError::Unavailable(format!(
        "the limits store is unavailable ({why}); requests with a virtual key are refused until it is back"
    ))
}

/// The error a refusal becomes: 429 naming the limit, or 402 for a spent budget.
pub fn refused(holder: &Holder, subject: Subject, why: Refusal, now_ms: u64) -> KeyRefusal {
    let whose = match (subject, &holder.team) {
        (Subject::Team, Some(team)) => format!("team '{}'", team.name),
        _ => format!("virtual key '{}'", holder.key.name),
    };
    let seconds = |ms: u64| Some(ms.div_ceil(1000).max(1));
    let exhausted = |limit: u64, retry_after_ms: u64| Some((limit, 0, now_ms + retry_after_ms));
    let headroom = match &why {
        Refusal::Rpm { limit, retry_after_ms } => {
            Some(Headroom { requests: exhausted(*limit, *retry_after_ms), tokens: None })
        }
        Refusal::Tpm { limit, retry_after_ms } => {
            Some(Headroom { requests: None, tokens: exhausted(*limit, *retry_after_ms) })
        }
        _ => None,
    };
    let refusal = |error, reason| KeyRefusal { error, reason, headroom: headroom.map(Box::new) };
    let limited = |message: String, retry_after_secs, reason| {
        refusal(GatewayError::RateLimited { message, retry_after_secs }, reason)
    };
    match why {
        Refusal::Rpm { limit, retry_after_ms } => limited(
            format!("rate limit reached: rpm of {whose} is {limit} requests per minute"),
            seconds(retry_after_ms),
            Some(RefusalReason::Rpm),
        ),
        Refusal::Parallel { limit } => limited(
            format!("rate limit reached: max_parallel of {whose} is {limit} requests at once"),
            Some(1),
            Some(RefusalReason::Parallel),
        ),
        Refusal::Tpm { limit, retry_after_ms } => limited(
            format!("rate limit reached: tpm of {whose} is {limit} tokens per minute"),
            seconds(retry_after_ms),
            Some(RefusalReason::Tpm),
        ),
        Refusal::TpmNeverFits { limit, needed } => limited(
            format!(
                "this request reserves about {needed} tokens (its input plus max_tokens), more than the tpm of {whose} \
                 ({limit} tokens per minute): lower max_tokens or shorten the request"
            ),
            None,
            Some(RefusalReason::Tpm),
        ),
        Refusal::Budget { spent, reserved, budget, resets_ms } => {
            let renews = match resets_ms {
                Some(at) => format!("; it renews at {}", rfc3339(at)),
                None => "; it does not renew (period: total)".into(),
            };
            let error = GatewayError::BudgetExhausted {
                message: format!(
                    "budget of {whose} is spent: {} of {} used ({} more reserved by requests in flight){renews}",
                    dollars(spent),
                    dollars(budget),
                    dollars(reserved)
                ),
                retry_after_secs: resets_ms.map(|at| at.saturating_sub(now_ms).div_ceil(1000).max(1)),
            };
            refusal(error, Some(RefusalReason::Budget))
        }
    }
}
