//! Plain HTTP/1.1 exchanges with registries and token servers: TLS set up
//! per host (system roots plus `certs.d/<host>/*.crt` and client
//! certificates, or no verification for insecure registries), connection
//! pools, and the three timeouts that keep a silent peer from hanging a
//! pull: connect, response headers, and body stalls.
//!
//! It knows nothing of the registry protocol: no auth, no redirects, no
//! status codes (those are [`crate::client`]'s).

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::header::{HeaderMap, HeaderValue, USER_AGENT};
use http::{Method, Request, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Pool;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::sync::mpsc;

use crate::config::{ClientConfig, InsecureRule};
use crate::error::Error;

/// A request body: empty, in memory, or streamed from a channel.
pub(crate) type Body = UnsyncBoxBody<Bytes, io::Error>;

type HttpsPool = Pool<HttpsConnector<HttpConnector>, Body>;

pub(crate) fn empty_body() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub(crate) fn full_body(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body fed through a channel: what is sent on the sender is streamed;
/// an `Err` aborts the request.
pub(crate) fn channel_body() -> (mpsc::Sender<Result<Bytes, io::Error>>, Body) {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, io::Error>>(4);
    let frames = stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))));
    (tx, StreamBody::new(frames).boxed_unsync())
}

/// Whether a host's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Trust {
    Verify,
    Skip,
}

/// Connection pools per host, with the client's timeouts and TLS rules.
pub(crate) struct Transport {
    connect_timeout: Duration,
    response_timeout: Duration,
    stall_timeout: Duration,
    user_agent: HeaderValue,
    insecure: Vec<InsecureRule>,
    certs_dir: Option<std::path::PathBuf>,
    provider: Arc<CryptoProvider>,
    system_roots: Arc<RootCertStore>,
    pools: Mutex<HashMap<(String, Trust), HttpsPool>>,
}

impl Transport {
    pub fn new(config: &ClientConfig) -> Result<Transport, Error> {
        let insecure = config
            .insecure_registries
            .iter()
            .map(|e| InsecureRule::parse(e))
            .collect::<Result<_, _>>()?;
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            Error::InvalidConfig(format!("invalid user agent {:?}", config.user_agent))
        })?;
        Ok(Transport {
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
            stall_timeout: config.stall_timeout,
            user_agent,
            insecure,
            certs_dir: config.certs_dir.clone(),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            system_roots: Arc::new(system_roots()),
            pools: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `host` is an insecure registry (no TLS verification, plain
    /// HTTP allowed).
    pub fn is_insecure(&self, host: &str) -> bool {
        self.insecure.iter().any(|r| r.matches(host))
    }

    /// Sends one request to an absolute `url` and waits for the reply's
    /// headers (bounded by the response timeout).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        mut headers: HeaderMap,
        body: Body,
    ) -> Result<Reply, Error> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| Error::transport(&method, url, format!("invalid URL: {e}")))?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| Error::transport(&method, url, "URL has no host"))?;
        let trust = if self.is_insecure(&host) {
            Trust::Skip
        } else {
            Trust::Verify
        };
        let pool = self.pool(&host, trust)?;
        headers
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .body(body)
            .map_err(|e| Error::transport(&method, url, e))?;
        *request.headers_mut() = headers;
        tracing::debug!(%method, url, "registry request");
        let reply = tokio::time::timeout(self.response_timeout, pool.request(request))
            .await
            .map_err(|_| {
                Error::transport(
                    &method,
                    url,
                    format!(
                        "timeout awaiting response headers after {:?}",
                        self.response_timeout
                    ),
                )
            })?
            .map_err(|e| Error::transport(&method, url, error_chain(&e)))?;
        let (parts, body) = reply.into_parts();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
            method,
            url: url.to_string(),
            stall_timeout: self.stall_timeout,
        })
    }

    fn pool(&self, host: &str, trust: Trust) -> Result<HttpsPool, Error> {
        let key = (host.to_string(), trust);
        if let Some(pool) = self.pools.lock().expect("pool lock").get(&key) {
            return Ok(pool.clone());
        }
        let tls = match trust {
            Trust::Skip => self.unverified_tls(),
            Trust::Verify => self.verified_tls(host)?,
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let pool: HttpsPool = Pool::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        self.pools
            .lock()
            .expect("pool lock")
            .insert(key, pool.clone());
        Ok(pool)
    }

    fn verified_tls(&self, host: &str) -> Result<rustls::ClientConfig, Error> {
        let mut roots = (*self.system_roots).clone();
        let mut client_cert = None;
        if let Some(dir) = self.certs_dir.as_ref().map(|d| d.join(host)) {
            if dir.is_dir() {
                client_cert = load_certs_dir(&dir, &mut roots)?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::InvalidConfig(e.to_string()))?
            .with_root_certificates(roots);
        match client_cert {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::InvalidConfig(format!("client certificate for {host}: {e}"))),
            None => Ok(builder.with_no_client_auth()),
        }
    }

    fn unverified_tls(&self) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(self.provider.clone())))
            .with_no_client_auth()
    }
}

/// A reply whose headers have arrived; its body is read with the stall
/// timeout.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Incoming,
    method: Method,
    url: String,
    stall_timeout: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            let frame = tokio::time::timeout(self.stall_timeout, self.body.frame())
                .await
                .map_err(|_| {
                    Error::transport(
                        &self.method,
                        &self.url,
                        format!("body stalled: no data for {:?}", self.stall_timeout),
                    )
                })?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(Error::transport(&self.method, &self.url, error_chain(&e)))
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The whole body, refused past `limit` bytes.
    pub async fn bytes(mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if out.len() + chunk.len() > limit {
                return Err(Error::InvalidResponse(format!(
                    "reply from {} is larger than {limit} bytes",
                    self.url
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The body for an error message: at most 64 KiB, and nothing at all
    /// rather than an error when it cannot be read.
    pub async fn error_body(self) -> Vec<u8> {
        self.bytes(64 << 10).await.unwrap_or_default()
    }
}

/// An error and its causes, `: `-joined (hyper's own text is terse).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "loading system CA certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "system CA certificates");
    roots
}

type ClientCert = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Reads a `certs.d/<host>` directory the way dockerd does: `*.crt` are
/// added to the roots; `x.cert` with `x.key` is a client certificate.
fn load_certs_dir(dir: &Path, roots: &mut RootCertStore) -> Result<Option<ClientCert>, Error> {
    let bad = |path: &Path, e: &dyn std::fmt::Display| {
        Error::InvalidConfig(format!("{}: {e}", path.display()))
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut client_cert = None;
    for path in entries {
        match path.extension().and_then(|e| e.to_str()) {
            Some("crt") => {
                for cert in CertificateDer::pem_file_iter(&path).map_err(|e| bad(&path, &e))? {
                    let cert = cert.map_err(|e| bad(&path, &e))?;
                    roots.add(cert).map_err(|e| bad(&path, &e))?;
                }
            }
            Some("cert") => {
                let key_path = path.with_extension("key");
                if !key_path.exists() {
                    return Err(Error::InvalidConfig(format!(
                        "missing key {} for client certificate {}. CA certificates must use the extension .crt",
                        key_path.display(),
                        path.display()
                    )));
                }
                let chain = CertificateDer::pem_file_iter(&path)
                    .map_err(|e| bad(&path, &e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(&path, &e))?;
                let key =
                    PrivateKeyDer::from_pem_file(&key_path).map_err(|e| bad(&key_path, &e))?;
                client_cert.get_or_insert((chain, key));
            }
            _ => {}
        }
    }
    Ok(client_cert)
}

/// Accepts any certificate, for insecure registries only; signatures are
/// still checked so that the handshake itself is sound.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
