//! Admin authentication: `Authorization: Bearer <ADMIN_API_KEY>`, compared in constant time. Without an admin key
//! the admin API does not exist (404), so a gateway that never enabled it reveals nothing.

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;

use crate::error::GatewayError;
use crate::secret::Secret;

/// Checks the request's bearer token against `admin_key`. Returns who is calling, for the audit log: the key's
/// fingerprint, never the key.
pub fn authorize(req: &HttpRequest, admin_key: Option<&Secret>) -> Result<String, GatewayError> {
    let Some(admin_key) = admin_key else {
        return Err(GatewayError::NotFound(format!("no route for {} {}", req.method(), req.path())));
    };
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    match token {
        None => {
            Err(GatewayError::Authentication("the admin API requires Authorization: Bearer <ADMIN_API_KEY>".into()))
        }
        Some(token) if admin_key.matches(token) => Ok(format!("key {}", admin_key.fingerprint())),
        Some(_) => Err(GatewayError::Authentication("invalid admin key".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use actix_web::ResponseError;

    fn status(req: TestRequest, key: Option<&Secret>) -> u16 {
        match authorize(&req.to_http_request(), key) {
            Ok(_) => 200,
            Err(e) => e.status_code().as_u16(),
        }
    }

    #[test]
    fn rules() {
        let key = Secret::new("admin-secret");
        let bearer = |v: &str| TestRequest::default().insert_header((AUTHORIZATION, v.to_string()));
        assert_eq!(status(bearer("Bearer admin-secret"), None), 404, "disabled: as if absent");
        assert_eq!(status(TestRequest::default(), Some(&key)), 401);
        assert_eq!(status(bearer("Bearer wrong"), Some(&key)), 401);
        assert_eq!(status(bearer("Basic admin-secret"), Some(&key)), 401);
        assert_eq!(status(bearer("bearer  admin-secret "), Some(&key)), 200);
        let who = authorize(&bearer("Bearer admin-secret").to_http_request(), Some(&key)).unwrap();
        assert_eq!(who, format!("key {}", key.fingerprint()));
        assert!(!who.contains("admin-secret"));
    }
}
