//! `POST /v1/messages/count_tokens`: Anthropic-format providers count upstream (same key rules as messages);
//! OpenAI-format providers, which have no counting endpoint, get a local estimate with a real tokenizer. Never a
//! billable generation call.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::gateway::{serve, Endpoint};
use crate::state::AppState;

pub async fn count_tokens(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    serve(Endpoint::CountTokens, req, payload, &app).await
}
