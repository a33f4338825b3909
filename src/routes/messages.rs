//! `POST /v1/messages`: the Anthropic Messages API, through the pipeline.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::gateway::{serve, Endpoint};
use crate::state::AppState;

pub async fn messages(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    serve(Endpoint::Messages, req, payload, &app).await
}
