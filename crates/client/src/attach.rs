//! Attach: the hijacked connection that carries a container's stdio.
//!
//! The client asks for `Upgrade: tcp`; berthd answers `101` and from then on
//! the socket is a raw byte pipe — the container's output (multiplexed unless
//! it has a TTY) one way, its stdin the other.

use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, ClientError, Result};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which streams to attach to (`POST /containers/{id}/attach`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachOptions {
    /// Stream live output (and input) rather than only replaying logs.
    pub stream: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Replay the container's logs first.
    pub logs: bool,
}

/// The hijacked attach connection: read the container's output from it,
/// write its stdin into it, and shut down the write side to send EOF.
#[derive(Debug)]
pub struct AttachConnection {
    io: TokioIo<Upgraded>,
}

impl Client {
    /// Attaches to a container. Call it before starting the container so no
    /// output is missed.
    pub async fn attach_container(
        &self,
        id: &str,
        options: &AttachOptions,
    ) -> Result<AttachConnection> {
        let mut query = Query::new();
        query
            .flag("stream", options.stream)
            .flag("stdin", options.stdin)
            .flag("stdout", options.stdout)
            .flag("stderr", options.stderr)
            .flag("logs", options.logs);
        let request = ApiRequest::post(format!("/containers/{}/attach", path_segment(id)))
            .query(query)
            .upgrade();
        let response = self.send(request).await?;
        if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(ClientError::InvalidResponse(format!(
                "attach answered {} instead of 101 Switching Protocols",
                response.status()
            )));
        }
        let upgraded = hyper::upgrade::on(response).await?;
        Ok(AttachConnection {
            io: TokioIo::new(upgraded),
        })
    }
}

impl AsyncRead for AttachConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for AttachConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
