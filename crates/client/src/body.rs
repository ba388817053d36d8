//! Streamed bodies: tar uploads from any reader, replies read as a byte
//! stream, Docker's JSON-lines progress messages (load, import), and
//! streams of JSON values (events, stats).

use crate::client::RequestBody;
use crate::{ClientError, Result};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, Lines, ReadBuf};

const UPLOAD_CHUNK: usize = 64 * 1024;

/// A request body read from `reader` chunk by chunk, never all in memory.
pub(crate) fn reader_body(reader: impl AsyncRead + Send + Unpin + 'static) -> RequestBody {
    ReaderBody {
        reader: Box::new(reader),
        buf: vec![0; UPLOAD_CHUNK],
        done: false,
    }
    .boxed_unsync()
}

struct ReaderBody {
    reader: Box<dyn AsyncRead + Send + Unpin>,
    buf: Vec<u8>,
    done: bool,
}

impl Body for ReaderBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let mut read = ReadBuf::new(&mut this.buf);
        ready!(Pin::new(&mut this.reader).poll_read(cx, &mut read))?;
        let filled = read.filled();
        if filled.is_empty() {
            this.done = true;
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// A reply body as an [`AsyncRead`]: logs, `images/get` tarballs, and the
/// raw bytes of any streamed reply.
#[derive(Debug)]
pub struct ByteStream {
    body: Incoming,
    pending: Bytes,
}

impl ByteStream {
    pub(crate) fn new(body: Incoming) -> ByteStream {
        ByteStream {
            body,
            pending: Bytes::new(),
        }
    }
}

impl AsyncRead for ByteStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(out.remaining());
                let chunk = self.pending.split_to(n);
                out.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending = data;
                    }
                }
            }
        }
    }
}

/// The `errorDetail` of a progress message.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JsonError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

/// One line of Docker's JSON progress stream (moby's `jsonmessage`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JsonMessage {
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub progress: Option<String>,
    #[serde(default, rename = "errorDetail")]
    pub error_detail: Option<JsonError>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// The error this message reports, if any, preferring `errorDetail`.
    pub fn error_message(&self) -> Option<&str> {
        self.error_detail
            .as_ref()
            .map(|d| d.message.as_str())
            .filter(|m| !m.is_empty())
            .or(self.error.as_deref())
    }
}

/// A JSON-lines progress reply, read one message at a time.
#[derive(Debug)]
pub struct JsonMessages {
    lines: Lines<BufReader<ByteStream>>,
}

impl JsonMessages {
    pub(crate) fn new(body: Incoming) -> JsonMessages {
        JsonMessages {
            lines: BufReader::new(ByteStream::new(body)).lines(),
        }
    }

    /// The next message, `None` at the end of the stream. A message that
    /// reports an error becomes [`ClientError::Stream`].
    pub async fn next_message(&mut self) -> Result<Option<JsonMessage>> {
        while let Some(line) = self.lines.next_line().await? {
            if let Some(message) = parse_message(&line)? {
                return match message.error_message() {
                    Some(error) => Err(ClientError::Stream(error.to_string())),
                    None => Ok(Some(message)),
                };
            }
        }
        Ok(None)
    }
}

/// Reads `null` (Go's nil slice or map) as the type's default.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// A reply that is a stream of JSON values, one after another (Docker
/// writes one per line, but any whitespace, or none, may separate them).
/// Each value is handed back as soon as its last byte arrives.
pub struct JsonStream<T> {
    body: Box<dyn AsyncRead + Send + Unpin>,
    buf: Vec<u8>,
    done: bool,
    item: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for JsonStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonStream")
            .field("buffered", &self.buf.len())
            .field("done", &self.done)
            .finish()
    }
}

impl<T: DeserializeOwned> JsonStream<T> {
    pub(crate) fn new(body: Incoming) -> JsonStream<T> {
        JsonStream::from_reader(ByteStream::new(body))
    }

    fn from_reader(reader: impl AsyncRead + Send + Unpin + 'static) -> JsonStream<T> {
        JsonStream {
            body: Box::new(reader),
            buf: Vec::new(),
            done: false,
            item: PhantomData,
        }
    }

    /// The next value, `None` once the stream has ended cleanly; a stream
    /// cut inside a value fails with `unexpected EOF`.
    pub async fn next(&mut self) -> Result<Option<T>> {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let start = self
                .buf
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(self.buf.len());
            self.buf.drain(..start);
            if !self.buf.is_empty() {
                let mut values = serde_json::Deserializer::from_slice(&self.buf).into_iter::<T>();
                match values.next() {
                    Some(Ok(value)) => {
                        let used = values.byte_offset();
                        self.buf.drain(..used);
                        return Ok(Some(value));
                    }
                    Some(Err(e)) if e.is_eof() => {}
                    Some(Err(e)) => {
                        return Err(ClientError::InvalidResponse(format!(
                            "bad JSON in stream: {e}"
                        )))
                    }
                    None => {}
                }
            }
            if self.done {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected EOF").into())
                };
            }
            let n = self.body.read(&mut chunk).await?;
            if n == 0 {
                self.done = true;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn parse_message(line: &str) -> Result<Option<JsonMessage>> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(line)
        .map(Some)
        .map_err(|e| ClientError::InvalidResponse(format!("bad progress message {line:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse_and_errors_are_found() {
        let m = parse_message(r#"{"stream":"Loaded image: busybox:latest\n"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.stream.as_deref(), Some("Loaded image: busybox:latest\n"));
        assert_eq!(m.error_message(), None);
        let m = parse_message(
            r#"{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.error_message(), Some("unexpected EOF"));
        let m = parse_message(r#"{"error":"bad tar"}"#).unwrap().unwrap();
        assert_eq!(m.error_message(), Some("bad tar"));
        assert_eq!(parse_message("  \r").unwrap(), None);
        assert!(parse_message("{nope").is_err());
    }

    #[tokio::test]
    async fn json_streams_split_values_however_they_arrive() {
        let text = b"{\"a\":1}\n{\"a\":2}{\"a\":\n3}\r\n\n";
        for size in [1, 2, 5, 64] {
            let (mut tx, rx) = tokio::io::duplex(size);
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                for piece in text.chunks(size) {
                    tx.write_all(piece).await.unwrap();
                }
            });
            let mut stream = JsonStream::<serde_json::Value>::from_reader(rx);
            let mut got = Vec::new();
            while let Some(value) = stream.next().await.unwrap() {
                got.push(value["a"].as_i64().unwrap());
            }
            writer.await.unwrap();
            assert_eq!(got, [1, 2, 3], "pieces of {size}");
        }
    }

    #[tokio::test]
    async fn a_json_stream_cut_inside_a_value_is_an_error() {
        let mut stream = JsonStream::<serde_json::Value>::from_reader(std::io::Cursor::new(
            b"{\"a\":1}{\"b".to_vec(),
        ));
        assert!(stream.next().await.unwrap().is_some());
        let err = stream.next().await.unwrap_err();
        assert_eq!(err.to_string(), "unexpected EOF");
        let mut stream =
            JsonStream::<serde_json::Value>::from_reader(std::io::Cursor::new(b"{nope}".to_vec()));
        assert!(stream.next().await.is_err());
    }

    #[tokio::test]
    async fn reader_body_streams_chunks_then_ends() {
        let data = vec![7u8; UPLOAD_CHUNK + 10];
        let body = reader_body(std::io::Cursor::new(data.clone()));
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected.as_ref(), data.as_slice());
    }
}
