//! Requests on the cloud dialects' routes (`/bedrock/…`, `/vertex/…`): the answer with its raw body, since a
//! Bedrock stream is binary frames.

use serde_json::Value;

use super::{client, Gateway};

/// A status, the headers and the raw body.
pub struct Answer {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("JSON body: {:?}", self.body))
    }
}

/// `POST {gateway}{path}` with `body` and `headers`.
pub async fn post(gw: &Gateway, path: &str, body: String, headers: &[(&str, &str)]) -> Answer {
    let mut request = client().post(format!("{}{path}", gw.url));
    for (k, v) in headers {
        request = request.insert_header((*k, *v));
    }
    let mut res = request.send_body(body).await.unwrap();
    let body = res.body().limit(1 << 24).await.unwrap();
    Answer { status: res.status().as_u16(), headers: res.headers().clone(), body }
}
