//! `POST /v1/chat/completions`: the OpenAI-compatible route, for applications built on the OpenAI SDKs. To an
//! OpenAI-format provider the body goes through with only `model` rewritten; to an Anthropic-format provider it
//! is converted both ways. Every error on this route is in the OpenAI shape.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::gateway::{serve, Endpoint};
use crate::state::AppState;

pub async fn chat_completions(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    serve(Endpoint::ChatCompletions, req, payload, &app).await
}
