//! Registry authentication: credentials, `WWW-Authenticate` challenges, and
//! the bearer tokens of the Docker token protocol with their cache.
//!
//! A registry answers an unauthenticated request with 401 and a challenge:
//! `Basic realm=...` (send the credentials with each request) or
//! `Bearer realm=..,service=..,scope=..` (get a token from the realm for the
//! service and scope, with the credentials as HTTP Basic if there are any,
//! and send it as `Authorization: Bearer`). Tokens are kept per registry,
//! scope and credentials until they expire.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use http::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// Docker's floor for a token's lifetime, when the reply says less.
const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// A user name and password (or a personal access token as password).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    pub(crate) fn basic_header(&self) -> HeaderValue {
        let raw = format!("{}:{}", self.username, self.password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .expect("base64 is a valid header value");
        value.set_sensitive(true);
        value
    }

    /// Identifies the credentials in cache keys without keeping the
    /// password in clear.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.username.as_bytes());
        h.update([0]);
        h.update(self.password.as_bytes());
        hex::encode(h.finalize())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How a registry wants to be authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// The challenge of a 401 reply: Bearer if offered, else Basic.
pub(crate) fn challenge(headers: &HeaderMap) -> Option<Challenge> {
    let all = parse_challenges(headers);
    if let Some((_, params)) = all.iter().find(|(scheme, _)| scheme == "bearer") {
        if let Some(realm) = params.get("realm") {
            return Some(Challenge::Bearer {
                realm: realm.clone(),
                service: params.get("service").cloned(),
            });
        }
    }
    all.iter()
        .any(|(scheme, _)| scheme == "basic")
        .then_some(Challenge::Basic)
}

/// The RFC 6750 error of a Bearer challenge (`insufficient_scope`,
/// `invalid_token`), turned into a distribution error code and message.
pub(crate) fn bearer_error(headers: &HeaderMap) -> Option<(&'static str, String)> {
    let all = parse_challenges(headers);
    let (_, params) = all.iter().find(|(scheme, _)| scheme == "bearer")?;
    let (code, default) = match params.get("error").map(String::as_str) {
        Some("invalid_token") => ("UNAUTHORIZED", "authentication required"),
        Some("insufficient_scope") => ("DENIED", "requested access to the resource is denied"),
        _ => return None,
    };
    let message = params
        .get("error_description")
        .cloned()
        .unwrap_or_else(|| default.to_string());
    Some((code, message))
}

type Params = HashMap<String, String>;

/// Every challenge of every `WWW-Authenticate` header: lower-cased scheme
/// and its parameters (names lower-cased, quoted values unescaped).
fn parse_challenges(headers: &HeaderMap) -> Vec<(String, Params)> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_header)
        .collect()
}

fn parse_header(value: &str) -> Vec<(String, Params)> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip(b" \t,");
        let scheme = p.token();
        if scheme.is_empty() {
            break;
        }
        let mut params = Params::new();
        loop {
            p.skip(b" \t");
            let start = p.i;
            let name = p.token();
            p.skip(b" \t");
            if name.is_empty() || !p.eat(b'=') {
                p.i = start;
                break;
            }
            p.skip(b" \t");
            let value = if p.eat(b'"') { p.quoted() } else { p.token() };
            params.insert(name.to_ascii_lowercase(), value);
            p.skip(b" \t");
            if !p.eat(b',') {
                break;
            }
        }
        out.push((scheme.to_ascii_lowercase(), params));
        if p.i >= p.s.len() {
            break;
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip(&mut self, set: &[u8]) {
        while self.i < self.s.len() && set.contains(&self.s[self.i]) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            return true;
        }
        false
    }

    fn token(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len() && !b" \t,=\"".contains(&self.s[self.i]) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let b = self.s[self.i];
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' if self.i < self.s.len() => {
                    out.push(self.s[self.i]);
                    self.i += 1;
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: u64,
}

/// A token server's reply: the token (`access_token` wins over `token`)
/// and how long it lasts (at least 60 s, as Docker assumes).
pub(crate) fn parse_token_reply(body: &[u8]) -> Result<(String, Duration), Error> {
    let reply: TokenReply = serde_json::from_slice(body)
        .map_err(|e| Error::InvalidResponse(format!("unable to decode token response: {e}")))?;
    let token = if reply.access_token.is_empty() {
        reply.token
    } else {
        reply.access_token
    };
    if token.is_empty() {
        return Err(Error::InvalidResponse(
            "authorization server did not include a token in the response".into(),
        ));
    }
    let lifetime = Duration::from_secs(reply.expires_in).max(MIN_TOKEN_LIFETIME);
    Ok((token, lifetime))
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    host: String,
    scopes: String,
    who: String,
}

impl TokenKey {
    pub fn new(host: &str, scopes: &[String], creds: Option<&Credentials>) -> TokenKey {
        let mut sorted = scopes.to_vec();
        sorted.sort();
        TokenKey {
            host: host.to_string(),
            scopes: sorted.join(" "),
            who: creds.map(Credentials::fingerprint).unwrap_or_default(),
        }
    }
}

/// Bearer tokens by registry, scope and credentials, until they expire.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<TokenKey, (String, Instant)>>,
}

impl TokenCache {
    pub fn get(&self, key: &TokenKey) -> Option<String> {
        let mut tokens = self.tokens.lock().expect("token cache lock");
        match tokens.get(key) {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            Some(_) => {
                tokens.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, key: TokenKey, token: String, lifetime: Duration) {
        let until = Instant::now() + lifetime;
        self.tokens
            .lock()
            .expect("token cache lock")
            .insert(key, (token, until));
    }

    pub fn forget(&self, key: &TokenKey) {
        self.tokens.lock().expect("token cache lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_challenge_gives_realm_and_service() {
        let h = headers(&[
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        ]);
        assert_eq!(
            challenge(&h),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
    }

    #[test]
    fn basic_challenge_and_bearer_preferred() {
        assert_eq!(
            challenge(&headers(&[r#"Basic realm="basic-realm""#])),
            Some(Challenge::Basic)
        );
        let both = headers(&[r#"Basic realm="x", Bearer realm="https://t/token",service=s"#]);
        assert!(matches!(challenge(&both), Some(Challenge::Bearer { .. })));
        assert_eq!(challenge(&headers(&[])), None);
    }

    #[test]
    fn quoted_values_unescape_and_keep_commas() {
        let got = parse_header(r#"Bearer realm="a,b\"c", error="insufficient_scope""#);
        assert_eq!(got[0].1["realm"], "a,b\"c");
        assert_eq!(got[0].1["error"], "insufficient_scope");
    }

    #[test]
    fn bearer_error_maps_to_codes() {
        let h = headers(&[r#"Bearer realm="r",service="s",error="insufficient_scope""#]);
        assert_eq!(
            bearer_error(&h),
            Some((
                "DENIED",
                "requested access to the resource is denied".into()
            ))
        );
    }

    #[test]
    fn token_reply_prefers_access_token_and_floors_lifetime() {
        let (t, life) =
            parse_token_reply(br#"{"token":"a","access_token":"b","expires_in":5}"#).unwrap();
        assert_eq!((t.as_str(), life), ("b", Duration::from_secs(60)));
        let (t, life) = parse_token_reply(br#"{"token":"a","expires_in":300}"#).unwrap();
        assert_eq!((t.as_str(), life), ("a", Duration::from_secs(300)));
        assert!(parse_token_reply(b"{}").is_err());
    }

    #[test]
    fn cache_keys_separate_credentials_and_ignore_scope_order() {
        let a = Credentials::new("u", "p1");
        let b = Credentials::new("u", "p2");
        let scopes = ["x".to_string(), "y".to_string()];
        let rev = ["y".to_string(), "x".to_string()];
        assert_ne!(
            TokenKey::new("h", &scopes, Some(&a)),
            TokenKey::new("h", &scopes, Some(&b))
        );
        assert_eq!(
            TokenKey::new("h", &scopes, None),
            TokenKey::new("h", &rev, None)
        );
        let cache = TokenCache::default();
        let key = TokenKey::new("h", &scopes, None);
        cache.put(key.clone(), "t".into(), Duration::from_secs(60));
        assert_eq!(cache.get(&key).as_deref(), Some("t"));
        cache.forget(&key);
        assert_eq!(cache.get(&key), None);
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials::new("alice", "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
