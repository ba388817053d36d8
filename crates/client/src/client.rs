//! The [`Client`]: where the socket is, and how one request travels over it.

use crate::query::Query;
use crate::{ClientError, Result};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use std::io;
use std::path::{Path, PathBuf};
use tokio::net::UnixStream;

/// Where `berth` looks for the daemon when neither `-H` nor `BERTH_HOST` say.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// The body of a request: empty, a buffer, or a stream (tar uploads).
pub(crate) type RequestBody = UnsyncBoxBody<Bytes, io::Error>;

/// A client for one berthd socket. Cheap to clone; holds no connection.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    host: String,
}

impl Client {
    /// A client for the Unix socket at `socket_path`.
    pub fn new(socket_path: impl AsRef<Path>) -> Client {
        let socket = socket_path.as_ref().to_path_buf();
        let host = format!("unix://{}", socket.display());
        Client { socket, host }
    }

    /// A client for a docker-style host string; only `unix://PATH` is served.
    pub fn from_host(host: &str) -> Result<Client> {
        match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => Ok(Client {
                socket: PathBuf::from(path),
                host: host.to_string(),
            }),
            _ => Err(ClientError::InvalidHost(host.to_string())),
        }
    }

    /// The host this client talks to, as `unix:///path`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sends one request on a fresh connection and returns the reply once its
    /// headers arrive; a status of 400 or more becomes [`ClientError::Api`].
    /// The connection is driven with upgrades so attach can take it over.
    pub(crate) async fn send(&self, request: ApiRequest) -> Result<Response<Incoming>> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| self.connect_error(e))?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // A broken connection surfaces through the request or its body;
            // nothing more to report here.
            let _ = connection.with_upgrades().await;
        });
        let response = sender.send_request(request.into_http()?).await?;
        if response.status().as_u16() >= 400 {
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            return Err(ClientError::from_reply(status, &body));
        }
        Ok(response)
    }

    /// Sends a request whose reply carries no body worth reading.
    pub(crate) async fn send_and_discard(&self, request: ApiRequest) -> Result<HeaderMap> {
        let response = self.send(request).await?;
        let headers = response.headers().clone();
        response.into_body().collect().await?;
        Ok(headers)
    }

    /// Sends a request that either succeeds or fails, with nothing to return.
    pub(crate) async fn send_ok(&self, request: ApiRequest) -> Result<()> {
        self.send_and_discard(request).await.map(drop)
    }

    /// Sends a request and decodes its JSON reply.
    pub(crate) async fn send_json<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<T> {
        let response = self.send(request).await?;
        let body = response.into_body().collect().await?.to_bytes();
        serde_json::from_slice(&body).map_err(|e| ClientError::InvalidResponse(e.to_string()))
    }

    fn connect_error(&self, error: io::Error) -> ClientError {
        let host = self.host.clone();
        match error.kind() {
            io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { host },
            _ => ClientError::Connect { host },
        }
    }
}

/// One API request before it is turned into HTTP: method, versioned path,
/// query, body and the few headers the API uses.
pub(crate) struct ApiRequest {
    method: Method,
    path: String,
    query: Query,
    body: RequestBody,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    upgrade: bool,
}

impl ApiRequest {
    /// A request for `path` (without the `/v1.45` prefix).
    pub(crate) fn new(method: Method, path: impl Into<String>) -> ApiRequest {
        ApiRequest {
            method,
            path: path.into(),
            query: Query::new(),
            body: empty_body(),
            content_type: None,
            headers: Vec::new(),
            upgrade: false,
        }
    }

    pub(crate) fn get(path: impl Into<String>) -> ApiRequest {
        ApiRequest::new(Method::GET, path)
    }

    pub(crate) fn post(path: impl Into<String>) -> ApiRequest {
        ApiRequest::new(Method::POST, path)
    }

    pub(crate) fn query(mut self, query: Query) -> ApiRequest {
        self.query = query;
        self
    }

    /// A JSON body.
    pub(crate) fn json(mut self, value: &impl serde::Serialize) -> Result<ApiRequest> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ClientError::InvalidResponse(format!("cannot encode request: {e}")))?;
        self.body = Full::new(Bytes::from(bytes))
            .map_err(|never| match never {})
            .boxed_unsync();
        self.content_type = Some("application/json");
        Ok(self)
    }

    /// A streamed tar body, sent chunked.
    pub(crate) fn tar(mut self, body: RequestBody) -> ApiRequest {
        self.body = body;
        self.content_type = Some("application/x-tar");
        self
    }

    /// An extra header, such as `X-Registry-Auth`.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> ApiRequest {
        self.headers.push((name, value.into()));
        self
    }

    /// Asks the daemon to hijack the connection (`Upgrade: tcp`).
    pub(crate) fn upgrade(mut self) -> ApiRequest {
        self.upgrade = true;
        self
    }

    pub(crate) fn into_http(self) -> Result<Request<RequestBody>> {
        let uri = format!(
            "/v{}{}{}",
            berth_api::API_VERSION,
            self.path,
            self.query.encode()
        );
        let mut builder = Request::builder()
            .method(self.method)
            .uri(uri)
            .header(HOST, "berth")
            .header(
                USER_AGENT,
                concat!("berth-client/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(content_type) = self.content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        if self.upgrade {
            builder = builder
                .header(http::header::CONNECTION, "Upgrade")
                .header(http::header::UPGRADE, "tcp");
        }
        builder
            .body(self.body)
            .map_err(|e| ClientError::InvalidResponse(format!("cannot build request: {e}")))
    }
}

fn empty_body() -> RequestBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_hosts_only() {
        let c = Client::from_host("unix:///run/berth/berth.sock").unwrap();
        assert_eq!(c.socket, PathBuf::from("/run/berth/berth.sock"));
        assert_eq!(c.host(), "unix:///run/berth/berth.sock");
        assert!(matches!(
            Client::from_host("tcp://127.0.0.1:2375"),
            Err(ClientError::InvalidHost(_))
        ));
        assert!(Client::from_host("unix://").is_err());
        assert!(Client::from_host("/run/berth/berth.sock").is_err());
        assert_eq!(Client::new("/x.sock").host(), "unix:///x.sock");
    }

    #[test]
    fn requests_go_to_the_versioned_path() {
        let mut q = Query::new();
        q.flag("all", true);
        let req = ApiRequest::get("/containers/json")
            .query(q)
            .into_http()
            .unwrap();
        assert_eq!(req.uri(), "/v1.45/containers/json?all=1");
        assert_eq!(req.headers()[HOST], "berth");
        let req = ApiRequest::post("/containers/x/attach")
            .upgrade()
            .into_http()
            .unwrap();
        assert_eq!(req.headers()["connection"], "Upgrade");
        assert_eq!(req.headers()["upgrade"], "tcp");
    }

    #[tokio::test]
    async fn a_missing_socket_reads_like_docker() {
        let dir = std::env::temp_dir().join(format!("berth-client-test-{}", std::process::id()));
        let client = Client::new(dir.join("nope.sock"));
        let err = client.send(ApiRequest::get("/_ping")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Cannot connect to berthd at unix://{}. Is berthd running?",
                dir.join("nope.sock").display()
            )
        );
    }
}
