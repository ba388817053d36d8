//! Attach: the hijacked connection that carries a container's (or an exec's)
//! stdio.
//!
//! The client asks for `Upgrade: tcp`; berthd answers `101` and from then on
//! the socket is a raw byte pipe — the process's output (multiplexed unless
//! it has a TTY) one way, its stdin the other. Shutting down the write side
//! half-closes the socket, which the daemon reads as the end of stdin.

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
    /// The daemon's detach sequence (`ctrl-p,ctrl-q` when `None`).
    pub detach_keys: Option<String>,
}

/// A hijacked connection (attach, exec start): read the process's output from
/// it, write its stdin into it, and shut down the write side to send EOF.
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
            .flag("logs", options.logs)
            .push_opt("detachKeys", options.detach_keys.as_deref());
        let request =
            ApiRequest::post(format!("/containers/{}/attach", path_segment(id))).query(query);
        self.hijack(request).await
    }

    /// Sends a request that asks for `Upgrade: tcp` and takes over the
    /// connection once the daemon answers `101`.
    pub(crate) async fn hijack(&self, request: ApiRequest) -> Result<AttachConnection> {
        let response = self.send(request.upgrade()).await?;
        if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(ClientError::InvalidResponse(format!(
                "expected 101 Switching Protocols, got {}",
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
