//! Registry endpoints: pull (`POST /images/create?fromImage=`), push
//! (`POST /images/{name}/push`) and login (`POST /auth`), with the registry
//! credentials they carry.
//!
//! Pull and push send the credentials in the `X-Registry-Auth` header as the
//! docker CLI does: the JSON of an [`AuthConfig`], base64url-encoded with
//! padding (RFC 4648 §5). The header is always sent, `{}` (`e30=`) when there
//! are no credentials, because Docker's push handler reads a missing header
//! as an old client that put the credentials in the body. Their replies are
//! progress streams of [`ProgressMessage`]s; an `errorDetail` inside the
//! stream is left for the caller to show, as it may already have printed
//! progress above it.

use crate::body::JsonStream;
use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, Result};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use berth_api::progress::ProgressMessage;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The header pull and push carry credentials in.
const REGISTRY_AUTH_HEADER: &str = "X-Registry-Auth";

/// A progress reply (pull, push), one message at a time.
pub type ProgressStream = JsonStream<ProgressMessage>;

/// Credentials for one registry, as Docker's API takes them (`POST /auth`
/// body, `X-Registry-Auth` header). Empty fields are left out of the JSON.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `base64(username:password)`, as config.json stores it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    /// The registry: `https://index.docker.io/v1/` or `host[:port]`.
    #[serde(
        default,
        rename = "serveraddress",
        skip_serializing_if = "String::is_empty"
    )]
    pub server_address: String,
    /// A refresh token the registry's login returned, used instead of the
    /// password.
    #[serde(
        default,
        rename = "identitytoken",
        skip_serializing_if = "String::is_empty"
    )]
    pub identity_token: String,
    /// A bearer token sent to the registry as it is.
    #[serde(
        default,
        rename = "registrytoken",
        skip_serializing_if = "String::is_empty"
    )]
    pub registry_token: String,
}

impl AuthConfig {
    /// The `X-Registry-Auth` value: base64url (with padding) of the JSON.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("an AuthConfig always serializes");
        URL_SAFE.encode(json)
    }
}

/// Secrets stay out of debug output and logs.
impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("auth", &hidden(&self.auth))
            .field("server_address", &self.server_address)
            .field("identity_token", &hidden(&self.identity_token))
            .field("registry_token", &hidden(&self.registry_token))
            .finish()
    }
}

/// The reply of `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AuthResponse {
    /// `Login Succeeded`.
    pub status: String,
    /// A token to store instead of the password, when the registry gave one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub identity_token: String,
}

fn auth_header(auth: Option<&AuthConfig>) -> String {
    auth.map(AuthConfig::encode)
        .unwrap_or_else(|| AuthConfig::default().encode())
}

impl Client {
    /// `POST /images/create?fromImage=&tag=&platform=`: pulls `from_image`
    /// (a familiar name such as `busybox` or `localhost:5000/app`); `tag`
    /// is a tag or a digest, none pulls every tag.
    pub async fn pull_image(
        &self,
        from_image: &str,
        tag: Option<&str>,
        platform: Option<&str>,
        auth: Option<&AuthConfig>,
    ) -> Result<ProgressStream> {
        let mut query = Query::new();
        query
            .push("fromImage", from_image)
            .push_opt("tag", tag)
            .push_opt("platform", platform.map(str::to_ascii_lowercase));
        let request = ApiRequest::post("/images/create")
            .query(query)
            .header(REGISTRY_AUTH_HEADER, auth_header(auth));
        let response = self.send(request).await?;
        Ok(JsonStream::new(response.into_body()))
    }

    /// `POST /images/{name}/push?tag=`: pushes one tag of `name` (a
    /// familiar name), every tag when `tag` is `None`.
    pub async fn push_image(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<&AuthConfig>,
    ) -> Result<ProgressStream> {
        let mut query = Query::new();
        query.push_opt("tag", tag);
        let request = ApiRequest::post(format!("/images/{}/push", path_segment(name)))
            .query(query)
            .header(REGISTRY_AUTH_HEADER, auth_header(auth));
        let response = self.send(request).await?;
        Ok(JsonStream::new(response.into_body()))
    }

    /// `POST /auth`: has the daemon log in to `config.server_address`.
    pub async fn auth(&self, config: &AuthConfig) -> Result<AuthResponse> {
        self.send_json(ApiRequest::post("/auth").json(config)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_is_url_safe_base64_of_the_json() {
        let config = AuthConfig {
            username: "me".into(),
            password: "p>?w".into(),
            server_address: "localhost:5000".into(),
            ..AuthConfig::default()
        };
        let encoded = config.encode();
        let json = URL_SAFE.decode(&encoded).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"username":"me","password":"p>?w","serveraddress":"localhost:5000"}"#
        );
        // `>?` gives `+` and `/` in standard base64; the header must not.
        assert!(!encoded.contains(['+', '/']), "{encoded}");
        assert_eq!(AuthConfig::default().encode(), "e30=");
        assert_eq!(auth_header(None), "e30=");
    }

    #[test]
    fn identity_tokens_replace_passwords() {
        let config = AuthConfig {
            username: "me".into(),
            identity_token: "refresh-me".into(),
            server_address: "https://index.docker.io/v1/".into(),
            ..AuthConfig::default()
        };
        let json = URL_SAFE.decode(config.encode()).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"username":"me","serveraddress":"https://index.docker.io/v1/","identitytoken":"refresh-me"}"#
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("refresh-me"), "{debug}");
    }

    #[test]
    fn pull_and_push_requests_carry_the_header() {
        let request = ApiRequest::post("/images/create")
            .header(REGISTRY_AUTH_HEADER, auth_header(None))
            .into_http()
            .unwrap();
        assert_eq!(request.headers()["x-registry-auth"], "e30=");
    }

    #[test]
    fn auth_replies_parse() {
        let reply: AuthResponse =
            serde_json::from_str(r#"{"Status":"Login Succeeded","IdentityToken":""}"#).unwrap();
        assert_eq!(reply.status, "Login Succeeded");
        assert!(reply.identity_token.is_empty());
    }
}
