//! A bare relay: POST <path> is sent to $UPSTREAM<path> with the same body, and the response is streamed back with
//! its status and content type. No routing, no parsing, no logging: what actix-web + awc cost on their own.
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

thread_local! {
    static CLIENT: awc::Client = awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .disable_redirects()
        .no_default_headers()
        .finish();
}

async fn relay(req: HttpRequest, body: web::Bytes, upstream: web::Data<String>) -> HttpResponse {
    let request = CLIENT.with(|c| c.post(format!("{}{}", upstream.get_ref(), req.path())));
    let request =
        request.insert_header(("content-type", "application/json")).insert_header(("accept-encoding", "identity"));
    match request.send_body(body).await {
        Ok(response) => {
            let mut out = HttpResponse::build(response.status());
            if let Some(content_type) = response.headers().get("content-type") {
                out.insert_header(("content-type", content_type.clone()));
            }
            out.streaming(response)
        }
        Err(error) => HttpResponse::BadGateway().body(error.to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
    let upstream = env("UPSTREAM", "http://127.0.0.1:8081");
    let workers: usize = env("WORKERS", "2").parse().expect("WORKERS");
    let port: u16 = env("PORT", "8090").parse().expect("PORT");
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(upstream.clone()))
            .app_data(web::PayloadConfig::new(32 << 20))
            .default_service(web::post().to(relay))
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
