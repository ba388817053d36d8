//! The registry client: one per daemon. It finds how to reach each
//! registry (HTTPS, or HTTP for insecure ones), authenticates requests as
//! the registry's challenge asks, follows redirects, and reads failures.
//! The protocol operations live beside it: [`crate::pull`] and
//! [`crate::push`]; `login` (what `POST /auth` does) is here.
//!
//! The first request to a registry is a ping, `GET /v2/`, as in Docker: its
//! 401 says how to authenticate (no challenge, Basic, or Bearer), and an
//! insecure registry that does not speak TLS is retried over HTTP. The
//! result is kept per host for the client's life.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION};
use http::{Method, StatusCode};
use tracing::Instrument;

use crate::auth::{self, Challenge, Credentials, TokenCache, TokenKey};
use crate::config::ClientConfig;
use crate::error::{self, method_word, parse_error_body, status_error, Error, RegistryError};
use crate::reference::DOCKER_HUB_REGISTRY;
use crate::transport::{empty_body, full_body, Body, Reply, Transport};

const MAX_REDIRECTS: usize = 10;

/// A registry client. Cheap to share behind an `Arc`; all methods take
/// `&self`.
pub struct Client {
    transport: Transport,
    mirrors: Vec<Mirror>,
    pub(crate) chunk_size: u64,
    endpoints: Mutex<HashMap<String, Endpoint>>,
    tokens: TokenCache,
}

/// A Docker Hub mirror: its host and the scheme its URL named.
#[derive(Clone, Debug)]
struct Mirror {
    host: String,
    scheme: &'static str,
}

/// How to reach a registry host, as its ping said.
#[derive(Clone, Debug)]
struct Endpoint {
    /// `https://host:port`, no trailing slash.
    base: String,
    challenge: Option<Challenge>,
}

/// Where a request goes and with what rights: the registry host, the token
/// scopes it needs, the credentials to use.
pub(crate) struct Target<'a> {
    pub host: &'a str,
    pub scopes: Vec<String>,
    pub creds: Option<&'a Credentials>,
}

/// A failed reply, read: its status and the registry's error (from a
/// Bearer challenge's `error` first, as distribution's client does, then
/// from the body).
pub(crate) struct Failure {
    pub status: StatusCode,
    pub error: Option<RegistryError>,
}

impl Failure {
    pub async fn read(reply: Reply) -> Failure {
        let status = reply.status;
        let from_challenge =
            auth::bearer_error(&reply.headers).map(|(code, message)| RegistryError {
                code: code.to_string(),
                message,
            });
        let body = reply.error_body().await;
        let error = from_challenge.or_else(|| parse_error_body(status, &body));
        Failure { status, error }
    }

    /// The error with no operation-specific reading.
    pub fn into_error(self) -> Error {
        status_error(self.status, self.error)
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        let transport = Transport::new(&config)?;
        let mirrors = config
            .mirrors
            .iter()
            .map(|m| parse_mirror(m))
            .collect::<Result<_, _>>()?;
        Ok(Client {
            transport,
            mirrors,
            chunk_size: config.chunk_size.max(1),
            endpoints: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
        })
    }

    /// Checks credentials the way `docker login` does: a ping of `/v2/`,
    /// then the same request authenticated as the challenge asks (for a
    /// Bearer challenge, a token from the realm with the credentials).
    /// `registry` is a host (`localhost:5000`), a URL, or Docker Hub's
    /// `docker.io` / `https://index.docker.io/v1/`.
    pub async fn login(&self, registry: &str, creds: &Credentials) -> Result<(), Error> {
        let host = login_host(registry);
        let span =
            tracing::info_span!("registry.login", registry = %host, username = %creds.username);
        async {
            self.forget_endpoint(&host);
            let target = Target {
                host: &host,
                scopes: Vec::new(),
                creds: Some(creds),
            };
            self.tokens.forget(&TokenKey::new(&host, &[], Some(creds)));
            let reply = self
                .request(&target, Method::GET, "/v2/", HeaderMap::new(), Bytes::new())
                .await?;
            if reply.status == StatusCode::OK {
                tracing::info!("login succeeded");
                return Ok(());
            }
            let text = format!(
                "login attempt to {} failed with status: {}",
                reply.url(),
                error::status_line(reply.status)
            );
            Err(match reply.status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Unauthorized(text),
                status => Error::Registry {
                    status: status.as_u16(),
                    message: text,
                },
            })
        }
        .instrument(span)
        .await
    }

    /// The hosts to pull from for `registry`: Docker Hub's mirrors first
    /// (with no credentials: they are not Docker Hub's), then itself.
    pub(crate) fn pull_sources(&self, registry: &str) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        if registry == DOCKER_HUB_REGISTRY {
            out.extend(self.mirrors.iter().map(|m| (m.host.clone(), true)));
        }
        out.push((registry.to_string(), false));
        out
    }

    /// Sends a request to `target.host` (a `/v2/...` path, or an absolute
    /// URL from a `Location`), authenticated as its challenge asks. A 401
    /// that brings a challenge the request did not meet (or that may mean
    /// an expired token) is retried once. Redirects of GET and HEAD are
    /// followed, without credentials to other hosts.
    pub(crate) async fn request(
        &self,
        target: &Target<'_>,
        method: Method,
        path_or_url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Reply, Error> {
        let mut endpoint = self.endpoint(target.host).await?;
        let url = endpoint.url(path_or_url);
        let mut retried = false;
        loop {
            let (auth, cached) = self.authorization(&endpoint, target, &method, &url).await?;
            let mut h = headers.clone();
            if let Some(value) = auth {
                if same_authority(&url, &endpoint.base) {
                    h.insert(AUTHORIZATION, value);
                }
            }
            let reply = self.send_following(&method, &url, h, &body).await?;
            if reply.status != StatusCode::UNAUTHORIZED || retried {
                return Ok(reply);
            }
            let fresh = auth::challenge(&reply.headers);
            let worth_retry = match &fresh {
                None => false,
                Some(c) if Some(c) != endpoint.challenge.as_ref() => true,
                Some(Challenge::Bearer { .. }) => cached,
                Some(Challenge::Basic) => false,
            };
            if !worth_retry {
                return Ok(reply);
            }
            tracing::debug!(url, "401 with a new challenge; authenticating again");
            self.tokens
                .forget(&TokenKey::new(target.host, &target.scopes, target.creds));
            endpoint.challenge = fresh;
            self.remember_endpoint(target.host, &endpoint);
            retried = true;
        }
    }

    /// Sends a request whose body cannot be replayed (a streamed upload):
    /// authenticated from what earlier requests learnt, never retried.
    pub(crate) async fn request_streaming(
        &self,
        target: &Target<'_>,
        method: Method,
        path_or_url: &str,
        mut headers: HeaderMap,
        body: Body,
    ) -> Result<Reply, Error> {
        let endpoint = self.endpoint(target.host).await?;
        let url = endpoint.url(path_or_url);
        let (auth, _) = self.authorization(&endpoint, target, &method, &url).await?;
        if let Some(value) = auth {
            if same_authority(&url, &endpoint.base) {
                headers.insert(AUTHORIZATION, value);
            }
        }
        self.transport.send(method, &url, headers, body).await
    }

    async fn send_following(
        &self,
        method: &Method,
        url: &str,
        mut headers: HeaderMap,
        body: &Bytes,
    ) -> Result<Reply, Error> {
        let mut url = url.to_string();
        for _ in 0..MAX_REDIRECTS {
            let body = if body.is_empty() {
                empty_body()
            } else {
                full_body(body.clone())
            };
            let reply = self
                .transport
                .send(method.clone(), &url, headers.clone(), body)
                .await?;
            let follow = (*method == Method::GET || *method == Method::HEAD)
                && reply.status.is_redirection()
                && reply.status != StatusCode::NOT_MODIFIED;
            let Some(location) = reply.header(LOCATION.as_str()).filter(|_| follow) else {
                return Ok(reply);
            };
            let next = resolve_location(&url, location);
            tracing::debug!(from = %url, to = %next, "following redirect");
            if !same_authority(&next, &url) {
                headers.remove(AUTHORIZATION);
            }
            url = next;
        }
        Err(Error::transport(
            method,
            &url,
            format!("stopped after {MAX_REDIRECTS} redirects"),
        ))
    }

    /// The `Authorization` value for a request, and whether it is a cached
    /// token (which a 401 may mean has expired).
    async fn authorization(
        &self,
        endpoint: &Endpoint,
        target: &Target<'_>,
        method: &Method,
        url: &str,
    ) -> Result<(Option<HeaderValue>, bool), Error> {
        match &endpoint.challenge {
            None => Ok((None, false)),
            Some(Challenge::Basic) => Ok((target.creds.map(Credentials::basic_header), false)),
            Some(Challenge::Bearer { realm, service }) => {
                let key = TokenKey::new(target.host, &target.scopes, target.creds);
                let (token, cached) = match self.tokens.get(&key) {
                    Some(token) => (token, true),
                    None => {
                        let (token, lifetime) = self
                            .fetch_token(realm, service.as_deref(), target, method, url)
                            .await?;
                        self.tokens.put(key, token.clone(), lifetime);
                        (token, false)
                    }
                };
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        Error::InvalidResponse(
                            "token server sent a token that is not a header value".into(),
                        )
                    })?;
                value.set_sensitive(true);
                Ok((Some(value), cached))
            }
        }
    }

    /// Gets a token from a Bearer realm: `GET realm?service=&scope=...`
    /// with the credentials as HTTP Basic. A refusal is reported against
    /// the request that needed the token, as Docker does
    /// (`Get "https://host/v2/": unauthorized: ...`).
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        target: &Target<'_>,
        method: &Method,
        url: &str,
    ) -> Result<(String, std::time::Duration), Error> {
        let query = token_query(service, &target.scopes, target.creds);
        let mut headers = HeaderMap::new();
        if let Some(creds) = target.creds {
            headers.insert(AUTHORIZATION, creds.basic_header());
        }
        let token_url = match (query.is_empty(), realm.contains('?')) {
            (true, _) => realm.to_string(),
            (false, true) => format!("{realm}&{query}"),
            (false, false) => format!("{realm}?{query}"),
        };
        tracing::debug!(realm, scopes = ?target.scopes, "fetching a bearer token");
        let reply = self
            .send_following(&Method::GET, &token_url, headers, &Bytes::new())
            .await?;
        if reply.status.is_success() {
            return auth::parse_token_reply(&reply.bytes(1 << 20).await?);
        }
        let failure = Failure::read(reply).await;
        if failure.status == StatusCode::UNAUTHORIZED || failure.status == StatusCode::FORBIDDEN {
            let Error::Unauthorized(text) = failure.into_error() else {
                unreachable!("401 and 403 read as Unauthorized")
            };
            return Err(Error::Unauthorized(format!(
                "{} \"{url}\": {text}",
                method_word(method)
            )));
        }
        Err(failure.into_error())
    }

    /// How to reach `host`: from the cache, else by pinging `/v2/` over
    /// HTTPS (then HTTP for insecure registries).
    async fn endpoint(&self, host: &str) -> Result<Endpoint, Error> {
        if let Some(e) = self.endpoints.lock().expect("endpoint lock").get(host) {
            return Ok(e.clone());
        }
        let mut last_error = None;
        for scheme in self.schemes(host) {
            let base = format!("{scheme}://{host}");
            let url = format!("{base}/v2/");
            match self
                .transport
                .send(Method::GET, &url, HeaderMap::new(), empty_body())
                .await
            {
                Ok(reply) => {
                    let status = reply.status;
                    let challenge = if status == StatusCode::UNAUTHORIZED {
                        auth::challenge(&reply.headers)
                    } else {
                        None
                    };
                    reply.error_body().await;
                    tracing::debug!(%url, %status, ?challenge, "pinged registry");
                    let endpoint = Endpoint { base, challenge };
                    if !status.is_server_error() {
                        self.remember_endpoint(host, &endpoint);
                    }
                    return Ok(endpoint);
                }
                Err(e @ Error::Transport { .. }) => {
                    tracing::debug!(%url, error = %e, "ping failed");
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("at least one scheme is tried"))
    }

    fn schemes(&self, host: &str) -> Vec<&'static str> {
        if let Some(m) = self.mirrors.iter().find(|m| m.host == host) {
            return vec![m.scheme];
        }
        if self.transport.is_insecure(host) {
            vec!["https", "http"]
        } else {
            vec!["https"]
        }
    }

    fn remember_endpoint(&self, host: &str, endpoint: &Endpoint) {
        self.endpoints
            .lock()
            .expect("endpoint lock")
            .insert(host.to_string(), endpoint.clone());
    }

    fn forget_endpoint(&self, host: &str) {
        self.endpoints.lock().expect("endpoint lock").remove(host);
    }
}

impl Endpoint {
    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base)
        } else {
            path_or_url.to_string()
        }
    }
}

/// `service=..&scope=..&account=..` for a token request.
fn token_query(service: Option<&str>, scopes: &[String], creds: Option<&Credentials>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(service) = service {
        query.append_pair("service", service);
    }
    for scope in scopes {
        query.append_pair("scope", scope);
    }
    if let Some(creds) = creds {
        query.append_pair("account", &creds.username);
    }
    query.finish()
}

/// The token scope to pull from a repository.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// The token scope to push to a repository.
pub(crate) fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

fn parse_mirror(url: &str) -> Result<Mirror, Error> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => ("http", rest),
        Some(("https", rest)) => ("https", rest),
        Some(_) => {
            return Err(Error::InvalidConfig(format!(
                "invalid mirror {url}: the scheme must be http or https"
            )))
        }
        None => ("https", url),
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "invalid mirror {url}: no host"
        )));
    }
    Ok(Mirror {
        host: host.to_string(),
        scheme,
    })
}

/// The registry host `docker login` means by a server address.
fn login_host(server: &str) -> String {
    let s = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = s.split('/').next().unwrap_or_default();
    match host {
        "" | "docker.io" | "index.docker.io" => DOCKER_HUB_REGISTRY.to_string(),
        other => other.to_string(),
    }
}

/// `scheme://authority` of an absolute URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

fn same_authority(a: &str, b: &str) -> bool {
    origin(a).eq_ignore_ascii_case(origin(b))
}

/// Resolves a `Location` header against the URL that sent it: absolute,
/// scheme-relative (`//host/p`), absolute-path (`/v2/...`) or relative.
pub(crate) fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    let origin = origin(base);
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = &base[origin.len()..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{origin}{dir}/{location}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Descriptor, Digest, Platform, Reference};

    #[test]
    fn client_and_its_operations_can_cross_threads() {
        fn send<T: Send>(_: &T) {}
        fn shared<T: Send + Sync>() {}
        shared::<Client>();
        shared::<Error>();
        let client = Client::new(ClientConfig::default()).unwrap();
        let r: Reference = "localhost:1/a".parse().unwrap();
        let desc = Descriptor::new("x", Digest::sha256(b""), 0);
        let creds = Credentials::new("u", "p");
        let mut sink = Vec::new();
        send(&client.resolve(&r, &Platform::host(), Some(&creds)));
        send(&client.fetch_blob(&r, &desc, &mut sink, |_| {}, None));
        send(&client.push_blob(&r, &desc, &b""[..], |_| {}, Some("b"), None));
        send(&client.put_manifest(&r, "x", b"{}", None));
        send(&client.login("localhost:1", &creds));
    }

    #[test]
    fn location_resolution() {
        let base = "https://r:5000/v2/app/blobs/uploads/?mount=x";
        assert_eq!(
            resolve_location(base, "http://other/x?y=1"),
            "http://other/x?y=1"
        );
        assert_eq!(
            resolve_location(base, "/v2/app/blobs/uploads/uuid?_state=s"),
            "https://r:5000/v2/app/blobs/uploads/uuid?_state=s"
        );
        assert_eq!(resolve_location(base, "//cdn/blob"), "https://cdn/blob");
        assert_eq!(
            resolve_location(base, "uuid"),
            "https://r:5000/v2/app/blobs/uploads/uuid"
        );
    }

    #[test]
    fn authority_comparison_ignores_paths() {
        assert!(same_authority("https://a:1/x", "https://a:1/y?z"));
        assert!(!same_authority("https://a:1/x", "https://a:2/x"));
        assert!(!same_authority("https://a/x", "http://a/x"));
    }

    #[test]
    fn login_hosts_normalize_docker_hub() {
        assert_eq!(
            login_host("https://index.docker.io/v1/"),
            "registry-1.docker.io"
        );
        assert_eq!(login_host("docker.io"), "registry-1.docker.io");
        assert_eq!(login_host("localhost:5000"), "localhost:5000");
        assert_eq!(login_host("http://127.0.0.1:5000/"), "127.0.0.1:5000");
    }

    #[test]
    fn mirrors_default_to_https() {
        let m = parse_mirror("mirror.example:5000").unwrap();
        assert_eq!(
            (m.host.as_str(), m.scheme),
            ("mirror.example:5000", "https")
        );
        let m = parse_mirror("http://127.0.0.1:6000/").unwrap();
        assert_eq!((m.host.as_str(), m.scheme), ("127.0.0.1:6000", "http"));
        assert!(parse_mirror("ftp://x").is_err());
    }
}
