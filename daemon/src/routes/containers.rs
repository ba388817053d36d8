//! Container section: create, list, inspect, start, stop, restart, kill,
//! wait, attach, logs, delete.

use crate::engine::logs::{self, LogOptions, StopWhen};
use crate::engine::{Engine, WaitCondition};
use crate::http::{self, ApiResult, Query, Request};
use berth_api::container::{CreateRequest, CreateResponse, WaitResponse};
use berth_api::{ApiError, Filters};
use bytes::Bytes;
use hyper::{header, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
const RAW: &str = "application/vnd.docker.raw-stream";

pub async fn create(engine: &Arc<Engine>, req: Request, query: &Query) -> ApiResult {
    let body: CreateRequest = http::json_body(req.into_body()).await?;
    let (id, warnings) = engine.create(query.get("name"), body).await?;
    Ok(http::json(
        StatusCode::CREATED,
        &CreateResponse { id, warnings },
    ))
}

pub async fn list(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    let filters = Filters::parse(query.get("filters").unwrap_or(""))?;
    http::ok_json(&engine.list(query.bool("all"), query.int("limit")?, &filters)?)
}

pub async fn inspect(engine: &Arc<Engine>, id: &str) -> ApiResult {
    http::ok_json(&engine.inspect(id)?)
}

pub async fn start(engine: &Arc<Engine>, id: &str) -> ApiResult {
    engine.start(id).await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn stop(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    engine
        .stop(id, query.int("t")?, query.get("signal"))
        .await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn restart(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    engine
        .restart(id, query.int("t")?, query.get("signal"))
        .await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn kill(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    engine.kill(id, query.get("signal")).await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn remove(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    engine.remove(id, query.bool("force")).await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

/// Registers the waiter, sends the 200 headers at once, then blocks until
/// the condition holds: `docker run` sends this before start and needs the
/// headers to proceed.
pub async fn wait(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    let condition = WaitCondition::parse(query.get("condition"))?;
    let container = engine.lookup(id)?;
    let waiter = crate::engine::Waiter::new(&container, condition);
    drop(container);
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let code = waiter.wait().await;
        let mut body = serde_json::to_vec(&WaitResponse {
            status_code: code,
            error: None,
        })
        .expect("serializes");
        body.push(b'\n');
        let _ = tx.send(Bytes::from(body)).await;
    });
    Ok(http::stream("application/json", rx))
}

fn log_options(query: &Query, multiplexed: bool) -> Result<LogOptions, ApiError> {
    let time = |key: &str| -> Result<Option<i128>, ApiError> {
        match query.get(key).filter(|v| !v.is_empty() && *v != "0") {
            None => Ok(None),
            Some(v) => logs::parse_timestamp(v)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(format!("invalid value for {key}: {v:?}"))),
        }
    };
    let tail = match query.get("tail").filter(|t| !t.is_empty() && *t != "all") {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("invalid value for tail: {t:?}")))?,
        )
        .filter(|n| *n >= 0)
        .map(|n| n as usize),
    };
    Ok(LogOptions {
        stdout: query.bool("stdout"),
        stderr: query.bool("stderr"),
        since: time("since")?,
        until: time("until")?,
        timestamps: query.bool("timestamps"),
        tail,
        offset: None,
        multiplexed,
    })
}

pub async fn logs(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    let container = engine.lookup(id)?;
    let record = container.snapshot();
    let tty = record.config.tty;
    let options = log_options(query, !tty)?;
    if !options.stdout && !options.stderr {
        return Err(ApiError::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let follow = if query.bool("follow") && record.running() {
        let rx = container.subscribe();
        let exits = rx.borrow().exits;
        let stop: StopWhen = Box::new(move |l| !l.running || l.exits > exits || l.removed);
        Some((rx, stop))
    } else {
        None
    };
    let (tx, rx) = mpsc::channel(8);
    logs::spawn_reader(engine.paths.log_path(&container.id), options, follow, tx);
    Ok(http::stream(if tty { RAW } else { MULTIPLEXED }, rx))
}

/// The output side of attach, hijacked as Docker does: with `Upgrade: tcp`,
/// `101 UPGRADED` and then raw bytes on the connection; without it, a 200
/// whose body is the stream.
pub async fn attach(engine: &Arc<Engine>, id: &str, mut req: Request, query: &Query) -> ApiResult {
    let container = engine.lookup(id)?;
    let record = container.snapshot();
    let tty = record.config.tty;
    let content_type = if tty { RAW } else { MULTIPLEXED };
    let stream = query.bool("stream");
    let mut options = LogOptions {
        stdout: query.bool("stdout"),
        stderr: query.bool("stderr"),
        since: None,
        until: None,
        timestamps: false,
        tail: None,
        offset: None,
        multiplexed: !tty,
    };
    let log_path = engine.paths.log_path(&container.id);
    if !query.bool("logs") {
        options.offset = Some(std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0));
    }
    let follow = if stream {
        let rx = container.subscribe();
        let exits = rx.borrow().exits;
        let stop: StopWhen = Box::new(move |l| l.exits > exits || l.removed);
        Some((rx, stop))
    } else {
        None
    };
    let (tx, mut rx) = mpsc::channel(8);
    logs::spawn_reader(log_path, options, follow, tx);

    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| !v.is_empty());
    if !upgrade {
        return Ok(http::stream(content_type, rx));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "attach upgrade failed");
                return;
            }
        };
        let mut io = TokioIo::new(upgraded);
        while let Some(chunk) = rx.recv().await {
            if io.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = io.shutdown().await;
    });
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
    Ok(response)
}
