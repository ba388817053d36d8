//! Exec section: create, start (hijacked like attach), inspect, resize.

use crate::engine::exec::{Exec, ExecConfig, Running};
use crate::engine::{detach, Engine};
use crate::http::{self, ApiResult, Query, Request};
use crate::routes::containers::size_query;
use crate::routes::hijack;
use bytes::{BufMut, Bytes, BytesMut};
use hyper::{header, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
const RAW: &str = "application/vnd.docker.raw-stream";

pub async fn create(engine: &Arc<Engine>, id: &str, req: Request) -> ApiResult {
    let config: ExecConfig = http::json_body(req.into_body()).await?;
    let exec_id = engine.exec_create(id, config)?;
    Ok(http::json(StatusCode::CREATED, &json!({ "Id": exec_id })))
}

pub async fn inspect(engine: &Arc<Engine>, id: &str) -> ApiResult {
    http::ok_json(&engine.execs.get(id)?.inspect())
}

pub async fn resize(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    let exec = engine.execs.get(id)?;
    let (height, width) = size_query(query)?;
    engine.exec_resize(&exec, height, width).await?;
    Ok(http::status(StatusCode::OK))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    console_size: Option<[u16; 2]>,
}

/// One frame of Docker's multiplexed stream, or the raw bytes with a TTY.
fn frame(tty: bool, stream: u8, data: &[u8]) -> Bytes {
    if tty {
        return Bytes::copy_from_slice(data);
    }
    let mut out = BytesMut::with_capacity(data.len() + 8);
    out.put_slice(&[stream, 0, 0, 0]);
    out.put_u32(data.len() as u32);
    out.put_slice(data);
    out.freeze()
}

/// Copies one of the exec's output pipes into `tx` as frames.
fn pump_output(
    tty: bool,
    stream: u8,
    mut pipe: impl AsyncRead + Unpin + Send + 'static,
    tx: mpsc::Sender<Bytes>,
) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 << 10];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(frame(tty, stream, &buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Output frames until both pipes close, then the exit is recorded before
/// the channel closes (clients inspect the exec as soon as the stream ends).
fn output_channel(tty: bool, running: &mut Running) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(16);
    if let Some(stdout) = running.stdout.take() {
        pump_output(tty, 1, stdout, tx.clone());
    }
    if let Some(stderr) = running.stderr.take() {
        pump_output(tty, 2, stderr, tx.clone());
    }
    let finished = std::mem::replace(&mut running.finished, tokio::sync::oneshot::channel().1);
    tokio::spawn(async move {
        // Hold a sender until the exit is recorded; the pumps hold theirs
        // until the pipes close.
        let _ = finished.await;
        drop(tx);
    });
    rx
}

/// The client's stdin into the exec's, watching for the detach keys (an
/// empty `keys` watches for nothing); true when they were typed.
async fn pump_stdin(
    mut client: hijack::ClientInput,
    mut stdin: tokio::process::ChildStdin,
    keys: Vec<u8>,
) -> bool {
    let mut matcher = detach::Matcher::new(keys);
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let n = match client.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let (data, detach) = match matcher.scan(&buf[..n]) {
            detach::Scan::Forward(data) => (data, false),
            detach::Scan::Detach(data) => (data, true),
        };
        if stdin.write_all(&data).await.is_err() || detach {
            return detach;
        }
    }
}

/// Starts the process and gives its output channel and stdin, or a
/// one-frame channel with Docker's message when it could not start.
async fn launch(
    engine: &Engine,
    exec: &Arc<Exec>,
    attach: bool,
    console_size: Option<[u16; 2]>,
) -> Result<(mpsc::Receiver<Bytes>, Option<tokio::process::ChildStdin>), berth_api::ApiError> {
    let tty = exec.tty();
    Ok(match engine.exec_start(exec, attach, console_size).await? {
        Ok(mut running) => {
            let stdin = running.stdin.take();
            (output_channel(tty, &mut running), stdin)
        }
        Err(message) => {
            let (tx, rx) = mpsc::channel(1);
            let _ = tx.try_send(frame(tty, 1, format!("{message}\r\n").as_bytes()));
            (rx, None)
        }
    })
}

pub async fn start(engine: &Arc<Engine>, id: &str, mut req: Request) -> ApiResult {
    let exec = engine.execs.get(id)?;
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| !v.is_empty());
    let on_upgrade = hyper::upgrade::on(&mut req);
    let body: StartBody = http::json_body(req.into_body()).await?;
    let tty = exec.tty();
    let content_type = if tty { RAW } else { MULTIPLEXED };
    if body.detach {
        return match engine.exec_start(&exec, false, body.console_size).await? {
            Ok(_) => Ok(http::status(StatusCode::OK)),
            Err(message) => Err(berth_api::ApiError::invalid(message)),
        };
    }
    if !upgrade {
        let (output, _) = launch(engine, &exec, true, body.console_size).await?;
        return Ok(http::stream(content_type, output));
    }
    // Refuse what cannot start with a status, before the upgrade; the
    // process itself starts once the 101 is out.
    engine.exec_check(&exec)?;
    // Detach keys apply with a TTY only, as in Docker.
    let keys = match tty {
        true if exec.config.detach_keys.is_empty() => detach::parse(detach::DEFAULT)?,
        true => detach::parse(&exec.config.detach_keys)?,
        false => Vec::new(),
    };
    let engine = engine.clone();
    hijack::serve(on_upgrade, async move {
        let (output, stdin) = match launch(&engine, &exec, true, body.console_size).await {
            Ok(started) => started,
            Err(e) => {
                let (tx, rx) = mpsc::channel(1);
                let _ = tx.try_send(frame(tty, 1, format!("{}\r\n", e.message).as_bytes()));
                (rx, None)
            }
        };
        let pump =
            stdin.map(|stdin| move |client: hijack::ClientInput| pump_stdin(client, stdin, keys));
        (output, pump)
    });
    Ok(hijack::upgraded_response(content_type))
}
