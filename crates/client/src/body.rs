//! Streamed bodies: tar uploads from any reader, replies read as a byte
//! stream, and Docker's JSON-lines progress messages (load, import).

use crate::client::RequestBody;
use crate::{ClientError, Result};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use serde::Deserialize;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines, ReadBuf};

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
    async fn reader_body_streams_chunks_then_ends() {
        let data = vec![7u8; UPLOAD_CHUNK + 10];
        let body = reader_body(std::io::Cursor::new(data.clone()));
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected.as_ref(), data.as_slice());
    }
}
