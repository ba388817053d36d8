//! Container section: create, list, inspect, start, stop, restart, kill,
//! wait, attach, logs, delete.

use crate::engine::logs::{self, LogOptions, StopWhen};
use crate::engine::{blocking, detach, Container, Engine, WaitCondition};
use crate::http::{self, ApiResult, Query, Request};
use crate::routes::hijack;
use berth_api::container::{CreateRequest, CreateResponse, WaitResponse};
use berth_api::{ApiError, Filters};
use bytes::Bytes;
use hyper::{header, StatusCode};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    let rows = engine.list(query.bool("all"), query.int("limit")?, &filters)?;
    if query.bool("size") {
        return http::ok_json(&engine.with_sizes(rows).await?);
    }
    http::ok_json(&rows)
}

/// `POST /containers/prune`: every container that is not running.
pub async fn prune(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    let filters = Filters::parse(query.get("filters").unwrap_or(""))?;
    http::ok_json(&engine.prune_containers(&filters).await?)
}

/// `GET /containers/{id}/json`; with `size=1`, `SizeRw` and `SizeRootFs`.
pub async fn inspect(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    let mut inspect = engine.inspect(id)?;
    if query.bool("size") {
        let ids = vec![(inspect.id.clone(), inspect.image.clone())];
        if let Some((rw, root_fs)) = engine.container_sizes(ids).await?.pop() {
            inspect.size_rw = Some(rw);
            inspect.size_root_fs = Some(root_fs);
        }
    }
    http::ok_json(&inspect)
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
    engine
        .remove(id, query.bool("force"), query.bool("v"))
        .await?;
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
        // Ends when the container stops, but follows it across a restart.
        let stop: StopWhen = Box::new(|l| l.removed || (!l.running && !l.restarting));
        Some((container.subscribe(), stop))
    } else {
        None
    };
    let (tx, rx) = mpsc::channel(8);
    logs::spawn_reader(engine.paths.log_path(&container.id), options, follow, tx);
    Ok(http::stream(if tty { RAW } else { MULTIPLEXED }, rx))
}

/// Attach, hijacked as Docker does: with `Upgrade: tcp`, `101 UPGRADED`
/// and then raw bytes both ways on the connection; without it, a 200 whose
/// body is the output. Output comes from the log the monitor writes; stdin
/// goes to the monitor's control socket once the container runs, with the
/// detach keys taken out.
pub async fn attach(engine: &Arc<Engine>, id: &str, mut req: Request, query: &Query) -> ApiResult {
    let container = engine.lookup(id)?;
    let record = container.snapshot();
    let tty = record.config.tty;
    let content_type = if tty { RAW } else { MULTIPLEXED };
    // Detach keys apply with a TTY only, as in Docker: piped binary stdin
    // must pass through untouched.
    let keys = detach::parse(
        query
            .get("detachKeys")
            .filter(|k| !k.is_empty())
            .unwrap_or(detach::DEFAULT),
    )?;
    let keys = if tty { keys } else { Vec::new() };
    let want_stdin = query.bool("stdin") && record.config.open_stdin;
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
    let exits = container.lifecycle().exits;
    let follow = if query.bool("stream") {
        let stop: StopWhen = Box::new(move |l| l.exits > exits || l.removed);
        Some((container.subscribe(), stop))
    } else {
        None
    };
    let (tx, rx) = mpsc::channel(8);
    logs::spawn_reader(log_path, options, follow, tx);
    engine.container_event(&container, "attach", &[]);

    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| !v.is_empty());
    if !upgrade {
        return Ok(http::stream(content_type, rx));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let engine = engine.clone();
    let stdin = want_stdin.then_some({
        move |client: hijack::ClientInput| async move {
            let detached = pump_stdin(&engine, &container, client, keys, exits).await;
            if detached {
                engine.container_event(&container, "detach", &[]);
            }
            detached
        }
    });
    hijack::serve(on_upgrade, async move { (rx, stdin) });
    Ok(hijack::upgraded_response(content_type))
}

/// Copies the client's stdin to the container once it runs, until the
/// client's EOF (then the container's stdin is half-closed) or the detach
/// keys (returns true). Waits for the start: `docker run -i` attaches first.
async fn pump_stdin(
    engine: &Engine,
    container: &Container,
    mut client: hijack::ClientInput,
    keys: Vec<u8>,
    exits_before: u64,
) -> bool {
    let mut lifecycle = container.subscribe();
    loop {
        let now = lifecycle.borrow_and_update().clone();
        if now.running {
            break;
        }
        if now.exits > exits_before || now.removed || lifecycle.changed().await.is_err() {
            return false;
        }
    }
    let socket = engine.paths.control_socket(&container.id);
    let stream = match tokio::task::spawn_blocking(move || {
        berth_runtime::control::open_stdin(&socket)
    })
    .await
    {
        Ok(Ok(stream)) => stream,
        other => {
            tracing::warn!(container = %container.id, result = ?other.map(|r| r.err()), "cannot open the container's stdin");
            return false;
        }
    };
    let Ok(mut stdin) = stream
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(stream))
    else {
        return false;
    };
    let mut matcher = detach::Matcher::new(keys);
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let n = match client.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = stdin.shutdown().await;
                return false;
            }
            Ok(n) => n,
        };
        let (data, detach) = match matcher.scan(&buf[..n]) {
            detach::Scan::Forward(data) => (data, false),
            detach::Scan::Detach(data) => (data, true),
        };
        if stdin.write_all(&data).await.is_err() {
            return false;
        }
        if detach {
            return true;
        }
    }
}

/// `POST /containers/{id}/resize?h=&w=`.
pub async fn resize(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    let container = engine.lookup(id)?;
    let (height, width) = size_query(query)?;
    let record = container.snapshot();
    if !record.running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            record.id
        )));
    }
    if !record.config.tty {
        return Err(ApiError::invalid(format!(
            "cannot resize container {}: it has no TTY",
            record.id
        )));
    }
    let socket = engine.paths.control_socket(&container.id);
    blocking(move || {
        berth_runtime::control::resize(&socket, height, width)
            .map_err(|e| ApiError::system(format!("resizing the TTY: {e}")))
    })
    .await?;
    Ok(http::status(StatusCode::OK))
}

/// Docker's `h` and `w` query parameters.
pub fn size_query(query: &Query) -> Result<(u16, u16), ApiError> {
    let dimension = |key: &str| -> Result<u16, ApiError> {
        query.get(key).unwrap_or("0").parse().map_err(|_| {
            ApiError::invalid(format!(
                "invalid value for {key}: {:?}",
                query.get(key).unwrap_or("")
            ))
        })
    };
    Ok((dimension("h")?, dimension("w")?))
}

pub async fn rename(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    engine.rename(id, query.get("name").unwrap_or(""))?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn top(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    http::ok_json(&engine.top(id, query.get("ps_args")).await?)
}

/// `GET /containers/{id}/stats`: one object a second while `stream`
/// (the default), or a single one (two samples a second apart for
/// `precpu_stats`, or one with `one-shot`).
pub async fn stats(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    use crate::engine::cgroups::{stats_json, system_cpu_ns};
    let container = engine.lookup(id)?;
    let stream = query
        .get("stream")
        .map(berth_api::parse_bool)
        .unwrap_or(true);
    let one_shot = query.bool("one-shot");
    let host_memory = engine.info_mem_total();
    let sample = {
        let engine = engine.clone();
        let container = container.clone();
        move || {
            let stats = engine.cgroup_stats(&container)?;
            Ok::<_, ApiError>((stats, system_cpu_ns(), crate::engine::now_rfc3339()))
        }
    };
    let first = sample()?;
    if !stream {
        let (previous, now) = if one_shot {
            (None, first)
        } else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            (Some(first), sample()?)
        };
        return http::ok_json(&stats_json(
            &container,
            &now.0,
            now.1,
            previous.as_ref(),
            &now.2,
            host_memory,
        ));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    tokio::spawn(async move {
        let mut previous: Option<(berth_cgroups::Stats, u64, String)> = None;
        let mut now = first;
        loop {
            let value = stats_json(
                &container,
                &now.0,
                now.1,
                previous.as_ref(),
                &now.2,
                host_memory,
            );
            let mut line = serde_json::to_vec(&value).expect("serializes");
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() || !container.record().running() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            previous = Some(now);
            now = match sample() {
                Ok(sample) => sample,
                Err(_) => return,
            };
        }
    });
    Ok(http::stream("application/json", rx))
}

pub async fn pause(engine: &Arc<Engine>, id: &str) -> ApiResult {
    engine.pause(id).await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn unpause(engine: &Arc<Engine>, id: &str) -> ApiResult {
    engine.unpause(id).await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn update(engine: &Arc<Engine>, id: &str, req: Request) -> ApiResult {
    let body: serde_json::Map<String, serde_json::Value> = http::json_body(req.into_body()).await?;
    let warnings = engine.update(id, body).await?;
    http::ok_json(&serde_json::json!({ "Warnings": warnings }))
}
