//! HTTP plumbing shared by the routes: query parsing, JSON bodies, and the
//! response shapes Docker uses (JSON, errors, streams, hijacked upgrades).

use berth_api::ApiError;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, std::io::Error>;
pub type Response = hyper::Response<Body>;
pub type Request = hyper::Request<Incoming>;
pub type ApiResult = Result<Response, ApiError>;

/// Largest JSON request body accepted.
const MAX_JSON_BODY: usize = 16 << 20;

/// Decoded query parameters, in order, repeated keys kept.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn bool(&self, key: &str) -> bool {
        self.get(key).map(berth_api::parse_bool).unwrap_or(false)
    }

    /// An integer parameter; absent or empty gives `None`, garbage a 400.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::invalid(format!("invalid value for {key}: {v:?} is not an integer"))
            }),
        }
    }
}

/// Reads a JSON body of at most [`MAX_JSON_BODY`] bytes into `T`; an empty
/// body gives `T::default()`.
pub async fn json_body<T: DeserializeOwned + Default>(body: Incoming) -> Result<T, ApiError> {
    let limited = http_body_util::Limited::new(body, MAX_JSON_BODY);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| ApiError::invalid(format!("reading request body: {e}")))?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty_body() -> Body {
    full(Bytes::new())
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let mut body = serde_json::to_vec(value).expect("API types always serialize");
    body.push(b'\n');
    hyper::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .expect("static response parts are valid")
}

pub fn ok_json<T: Serialize>(value: &T) -> ApiResult {
    Ok(json(StatusCode::OK, value))
}

pub fn status(code: StatusCode) -> Response {
    hyper::Response::builder()
        .status(code)
        .body(empty_body())
        .expect("static response parts are valid")
}

pub fn text(content_type: &str, body: impl Into<Bytes>) -> Response {
    hyper::Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(full(body))
        .expect("static response parts are valid")
}

/// Docker's error reply: the kind's status and `{"message": ...}`; a 304
/// has no body.
pub fn error(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code == StatusCode::NOT_MODIFIED {
        return status(code);
    }
    json(
        code,
        &berth_api::ErrorResponse {
            message: err.message.clone(),
        },
    )
}

/// A streamed (chunked) reply fed by `rx`; headers go out at once.
pub fn stream(content_type: &str, rx: mpsc::Receiver<Bytes>) -> Response {
    let frames = tokio_stream_from(rx).map(|b| Ok::<_, std::io::Error>(Frame::data(b)));
    hyper::Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("static response parts are valid")
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Bytes>,
) -> impl futures_util::Stream<Item = Bytes> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Bridges an async request body into a blocking [`std::io::Read`] for the
/// image store, which runs on a blocking thread.
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    current: Bytes,
}

impl BodyReader {
    pub fn spawn(mut body: Incoming) -> BodyReader {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(frame) = body.frame().await {
                let item = match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(e) => Err(std::io::Error::other(e)),
                };
                let failed = item.is_err();
                // The blocking side hangs up when it has what it needs.
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// A blocking [`std::io::Write`] that feeds a streamed reply, for `save`.
pub struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

const WRITER_CHUNK: usize = 256 << 10;

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Bytes>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(WRITER_CHUNK),
        }
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITER_CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(WRITER_CHUNK),
        ));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_and_keeps_repeats() {
        let q = Query::parse(Some("names=a%3Alatest&names=b&force=1&t=5&x="));
        assert_eq!(q.all("names"), ["a:latest", "b"]);
        assert!(q.bool("force"));
        assert!(!q.bool("missing"));
        assert_eq!(q.int("t").unwrap(), Some(5));
        assert_eq!(q.int("x").unwrap(), None);
        assert_eq!(
            Query::parse(Some("t=abc")).int("t").unwrap_err().status(),
            400
        );
    }
}
