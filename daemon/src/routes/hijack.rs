//! Hijacked connections, as Docker does attach and exec start: a
//! `101 UPGRADED` reply, then output bytes to the client and the client's
//! bytes to the container's stdin on the same connection.

use crate::http::{self, Response};
use bytes::Bytes;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{header, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio::io::{AsyncWriteExt, ReadHalf};
use tokio::sync::mpsc;

/// The client's side of the connection, for a stdin pump.
pub type ClientInput = ReadHalf<TokioIo<Upgraded>>;

/// The `101 UPGRADED` reply; headers go out in their own write.
pub fn upgraded_response(content_type: &'static str) -> Response {
    let mut response = http::status(StatusCode::SWITCHING_PROTOCOLS);
    response
        .extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
    let headers = response.headers_mut();
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    headers.insert(header::UPGRADE, header::HeaderValue::from_static("tcp"));
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

/// Once the upgrade completes, `session` runs (an exec starts its process
/// only now, as Docker does, so that no output can reach the client in the
/// same read as the 101 head) and gives the output and the stdin pump:
/// output is copied to the client until it ends, while the pump (if any)
/// reads the client; the pump resolving to true means the detach keys were
/// typed, which ends the connection at once.
pub fn serve<S, F, Fut>(on_upgrade: OnUpgrade, session: S)
where
    S: Future<Output = (mpsc::Receiver<Bytes>, Option<F>)> + Send + 'static,
    F: FnOnce(ClientInput) -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let (mut output, stdin) = session.await;
        let (client_in, mut client_out) = tokio::io::split(TokioIo::new(upgraded));
        let mut stdin_task = stdin.map(|pump| tokio::spawn(pump(client_in)));
        loop {
            tokio::select! {
                chunk = output.recv() => match chunk {
                    Some(chunk) => {
                        if client_out.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                detached = async { stdin_task.as_mut().expect("guarded").await }, if stdin_task.is_some() => {
                    stdin_task = None;
                    if detached.unwrap_or(false) {
                        break;
                    }
                }
            }
        }
        let _ = client_out.shutdown().await;
        if let Some(task) = stdin_task {
            task.abort();
        }
    });
}
