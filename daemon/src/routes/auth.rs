//! Registry credentials: `POST /auth` (what `docker login` calls) and the
//! `X-Registry-Auth` header pulls and pushes carry.

use crate::engine::{registry_error, Engine};
use crate::http::{self, ApiResult, Request};
use base64::Engine as _;
use berth_api::{ApiError, ErrorKind};
use berth_registry::Credentials;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Docker's auth config, in `POST /auth` bodies and `X-Registry-Auth`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthConfig {
    username: String,
    password: String,
    /// `user:password` in base64, as config.json stores it.
    auth: String,
    serveraddress: String,
}

impl AuthConfig {
    fn credentials(&self) -> Option<Credentials> {
        if !self.username.is_empty() {
            return Some(Credentials::new(&self.username, &self.password));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(self.auth.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some(Credentials::new(user, password))
    }
}

/// The credentials of a request's `X-Registry-Auth` header (base64url JSON,
/// padded or not); a header that does not decode is ignored, as dockerd
/// ignores it.
pub fn from_header(headers: &hyper::HeaderMap) -> Option<Credentials> {
    let value = headers.get("x-registry-auth")?.to_str().ok()?.trim();
    let bytes = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
    ]
    .iter()
    .find_map(|engine| engine.decode(value).ok())?;
    serde_json::from_slice::<AuthConfig>(&bytes)
        .ok()?
        .credentials()
}

/// `POST /auth`: checks the credentials with the registry.
pub async fn login(engine: &Arc<Engine>, req: Request) -> ApiResult {
    let config: AuthConfig = http::json_body(req.into_body()).await?;
    let credentials = config
        .credentials()
        .ok_or_else(|| ApiError::invalid("a username and password are required"))?;
    let server = match config.serveraddress.as_str() {
        "" => "https://index.docker.io/v1/",
        server => server,
    };
    engine
        .registry
        .login(server, &credentials)
        .await
        .map_err(|e| match e {
            berth_registry::Error::Unauthorized(message) => {
                ApiError::new(ErrorKind::Unauthorized, message)
            }
            e => registry_error(e),
        })?;
    http::ok_json(&json!({"Status": "Login Succeeded", "IdentityToken": ""}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: &str) -> hyper::HeaderMap {
        let mut headers = hyper::HeaderMap::new();
        headers.insert("x-registry-auth", header.parse().unwrap());
        headers
    }

    #[test]
    fn registry_auth_headers_decode_padded_or_not_and_garbage_is_ignored() {
        let json = br#"{"username":"me","password":"p+/w","serveraddress":"localhost:5000"}"#;
        for engine in [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            let creds = from_header(&request(&engine.encode(json))).unwrap();
            assert_eq!(
                (creds.username.as_str(), creds.password.as_str()),
                ("me", "p+/w")
            );
        }
        let stored = base64::engine::general_purpose::URL_SAFE.encode(format!(
            r#"{{"auth":"{}"}}"#,
            base64::engine::general_purpose::STANDARD.encode("u:pw")
        ));
        assert_eq!(from_header(&request(&stored)).unwrap().username, "u");
        assert!(from_header(&request("%%%not base64")).is_none());
        assert!(from_header(&request(
            &base64::engine::general_purpose::URL_SAFE.encode("{}")
        ))
        .is_none());
    }
}
