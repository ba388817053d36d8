//! System section: ping, version, info.

use crate::engine::logs::parse_timestamp;
use crate::engine::Engine;
use crate::http::{self, ApiResult, Query, Response};
use berth_api::{ApiError, Filters};
use bytes::Bytes;
use hyper::{header, Method};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

pub fn ping(method: &Method) -> Response {
    let body = if method == Method::HEAD { "" } else { "OK" };
    let mut response = http::text("text/plain; charset=utf-8", body);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

pub async fn version(engine: &Engine) -> ApiResult {
    http::ok_json(&engine.version())
}

/// `POST /build/prune`: Berth builds nothing, so it has no build cache;
/// the reply says that nothing went (`docker system prune` asks for it
/// last). Malformed filters are still a 400.
pub async fn build_prune(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    Filters::parse(query.get("filters").unwrap_or(""))?;
    engine.prune_event("builder", 0);
    http::ok_json(&serde_json::json!({"CachesDeleted": null, "SpaceReclaimed": 0}))
}

/// `GET /system/df`: images with how many containers use them,
/// containers, and volumes with their size and users; Berth has no build
/// cache yet.
pub async fn df(engine: &Arc<Engine>) -> ApiResult {
    let images = engine.images.clone();
    let all =
        crate::engine::blocking(move || images.list().map_err(crate::engine::image_error)).await?;
    let containers = engine.list(true, None, &Filters::default())?;
    let layers_size: i64 = all.iter().map(|i| i.size).sum();
    let images: Vec<serde_json::Value> = all
        .iter()
        .map(|i| {
            let users = containers.iter().filter(|c| c.image_id == i.id).count();
            serde_json::json!({
                "Id": i.id,
                "ParentId": "",
                "RepoTags": i.repo_tags,
                "RepoDigests": i.repo_digests,
                "Created": i.created_unix,
                "Size": i.size,
                "SharedSize": -1,
                "VirtualSize": i.size,
                "Labels": {},
                "Containers": users,
            })
        })
        .collect();
    http::ok_json(&serde_json::json!({
        "LayersSize": layers_size,
        "Images": images,
        "Containers": engine.with_sizes(containers).await?,
        "Volumes": engine.volumes_usage().await?,
        "BuildCache": [],
    }))
}

pub async fn info(engine: &Engine) -> ApiResult {
    http::ok_json(&engine.info().await)
}

fn event_time(query: &Query, key: &str) -> Result<Option<i128>, ApiError> {
    match query.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_timestamp(v)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("invalid value for {key}: {v:?}"))),
    }
}

fn line(event: &crate::engine::events::Event) -> Bytes {
    let mut bytes = serde_json::to_vec(&event.to_json()).expect("events serialize");
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// `GET /events`: past events from `since`, then live ones until `until`
/// (or until the client goes away), one JSON object a line, each flushed.
pub async fn events(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    let filters = Filters::parse(query.get("filters").unwrap_or(""))?;
    filters.validate(&[
        "container",
        "image",
        "event",
        "type",
        "label",
        "network",
        "volume",
        "daemon",
        "scope",
    ])?;
    let since = event_time(query, "since")?;
    let until = event_time(query, "until")?;
    let (past, mut live) = engine.events.subscribe(since);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i128
    };
    tokio::spawn(async move {
        for event in past {
            if until.is_some_and(|u| event.time_nano > u) {
                return;
            }
            if event.matches(&filters) && tx.send(line(&event)).await.is_err() {
                return;
            }
        }
        loop {
            let remaining = match until {
                Some(u) if u <= now() => return,
                Some(u) => Duration::from_nanos((u - now()) as u64),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                received = live.recv() => match received {
                    Ok(event) => {
                        if until.is_some_and(|u| event.time_nano > u) {
                            return;
                        }
                        if event.matches(&filters) && tx.send(line(&event)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "events client too slow; events dropped");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tokio::time::sleep(remaining) => {}
                _ = tx.closed() => return,
            }
        }
    });
    Ok(http::stream("application/json", rx))
}
