//! Image section: list, inspect, import, load, save, tag, delete.

use crate::engine::events::Event;
use crate::engine::progress::Progress;
use crate::engine::{blocking, image_error, Engine};
use crate::http::{self, ApiResult, BodyReader, ChannelWriter, Query, Request};
use berth_api::image::{DeleteItem, ImageInspect, ImageSummary, RootFs};
use berth_api::{ApiError, Filters};
use berth_image::{ImageRecord, LoadedImage, Removed};
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;

fn summary(image: &ImageRecord, containers: i64) -> ImageSummary {
    ImageSummary {
        id: image.id.clone(),
        parent_id: String::new(),
        repo_tags: image.repo_tags.clone(),
        repo_digests: image.repo_digests.clone(),
        created: image.created_unix,
        size: image.size,
        shared_size: -1,
        virtual_size: image.size,
        labels: image
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
        containers,
    }
}

pub async fn list(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    let filters = Filters::parse(query.get("filters").unwrap_or(""))?;
    filters.validate(&["dangling", "label", "reference"])?;
    let images = engine.images.clone();
    let mut all = blocking(move || images.list().map_err(image_error)).await?;
    let dangling = filters
        .get("dangling")
        .first()
        .map(|d| berth_api::parse_bool(d));
    let references = filters.get("reference").to_vec();
    all.retain(|image| {
        let untagged = image.repo_tags.is_empty();
        let keep_dangling = dangling.is_none_or(|d| d == untagged);
        let labels = image
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        keep_dangling
            && filters.labels_match(&labels)
            && (references.is_empty()
                || image
                    .repo_tags
                    .iter()
                    .any(|t| references.iter().any(|r| reference_matches(r, t))))
    });
    let containers: Vec<String> = engine
        .all()
        .iter()
        .map(|c| c.record().image_id.clone())
        .collect();
    let rows: Vec<ImageSummary> = all
        .iter()
        .map(|image| {
            let users = containers.iter().filter(|id| **id == image.id).count() as i64;
            summary(image, users)
        })
        .collect();
    http::ok_json(&rows)
}

/// Docker's `reference` filter: `busybox`, `busybox:latest`, or a `*` glob.
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let (repo, _) = tag.rsplit_once(':').unwrap_or((tag, ""));
    glob(pattern, tag) || glob(pattern, repo)
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| glob(rest, &text[head.len() + i..]))
        }
    }
}

pub async fn inspect(engine: &Arc<Engine>, name: &str) -> ApiResult {
    let images = engine.images.clone();
    let name = name.to_string();
    let image = blocking(move || images.get(&name).map_err(image_error)).await?;
    let config = &image.config;
    let comment = config
        .history
        .last()
        .and_then(|h| h.comment.clone())
        .unwrap_or_default();
    http::ok_json(&ImageInspect {
        id: image.id.clone(),
        repo_tags: image.repo_tags.clone(),
        repo_digests: image.repo_digests.clone(),
        parent: String::new(),
        comment,
        created: config.created.clone().unwrap_or_default(),
        docker_version: String::new(),
        author: config.author.clone().unwrap_or_default(),
        config: serde_json::to_value(&config.config).unwrap_or(serde_json::Value::Null),
        architecture: config.architecture.clone(),
        os: config.os.clone(),
        size: image.size,
        virtual_size: image.size,
        graph_driver: berth_api::container::GraphDriver {
            name: "overlay2".to_string(),
            data: Default::default(),
        },
        root_fs: RootFs {
            kind: "layers".to_string(),
            layers: config.rootfs.diff_ids.clone(),
        },
        metadata: json!({ "LastTagTime": "0001-01-01T00:00:00Z" }),
    })
}

fn json_lines(lines: &[serde_json::Value]) -> http::Response {
    let mut body = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut body, line).expect("serializes");
        body.push(b'\n');
    }
    http::text("application/json", body)
}

/// `POST /images/create`: `fromImage` pulls from a registry (the manifest
/// is resolved before the reply starts, so its errors are plain HTTP
/// errors; then a progress stream), `fromSrc=-` imports the body.
pub async fn create(engine: &Arc<Engine>, req: Request, query: &Query) -> ApiResult {
    if let Some(image) = query.get("fromImage").filter(|i| !i.is_empty()) {
        let auth = super::auth::from_header(req.headers());
        let plan = engine
            .resolve_pull(
                image,
                query.get("tag").unwrap_or(""),
                query.get("platform"),
                auth,
            )
            .await?;
        let (tx, rx) = mpsc::channel(64);
        let engine = engine.clone();
        tokio::spawn(async move { engine.run_pull(plan, Progress::new(tx)).await });
        return Ok(http::stream("application/json", rx));
    }
    match query.get("fromSrc") {
        Some("-") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "importing from {other:?} is not supported: send the archive in the request body (fromSrc=-)"
            )))
        }
        None => return Err(ApiError::invalid("fromImage or fromSrc is required")),
    }
    let repo = query.get("repo").unwrap_or("").to_string();
    let tag = query.get("tag").unwrap_or("").to_string();
    let target = match (repo.is_empty(), tag.is_empty()) {
        (true, _) => None,
        (false, true) => Some(repo),
        (false, false) => Some(format!("{repo}:{tag}")),
    };
    let changes = query.all("changes");
    let message = query.get("message").unwrap_or("").to_string();
    let mut reader = BodyReader::spawn(req.into_body());
    let images = engine.images.clone();
    let id = blocking(move || {
        images
            .import(&mut reader, target.as_deref(), &changes, &message)
            .map_err(image_error)
    })
    .await?;
    engine
        .events
        .publish(Event::new("image", "import", id.clone()));
    Ok(json_lines(&[json!({ "status": id })]))
}

/// `GET /images/{name}/history`: newest step first.
pub async fn history(engine: &Arc<Engine>, name: &str) -> ApiResult {
    let images = engine.images.clone();
    let name = name.to_string();
    let rows = blocking(move || images.history(&name).map_err(image_error)).await?;
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "Id": r.id,
                "Created": r.created,
                "CreatedBy": r.created_by,
                "Tags": if r.tags.is_empty() { serde_json::Value::Null } else { json!(r.tags) },
                "Size": r.size,
                "Comment": r.comment,
            })
        })
        .collect();
    http::ok_json(&rows)
}

/// `POST /images/prune`: dangling images no container uses, or with
/// `dangling=false` every image no container uses; filters `label`,
/// `label!` and `until` (images created before it).
pub async fn prune(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    let filters = Filters::parse(query.get("filters").unwrap_or(""))?;
    filters.validate(&["dangling", "label", "label!", "until"])?;
    let until = crate::engine::prune_until(&filters)?;
    let only_dangling = filters
        .get("dangling")
        .first()
        .is_none_or(|d| berth_api::parse_bool(d));
    let images = engine.images.clone();
    let all = blocking(move || images.list().map_err(image_error)).await?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0i64;
    for image in all {
        let labels = image
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        let created = i128::from(image.created_unix) * 1_000_000_000;
        if (only_dangling && !image.repo_tags.is_empty())
            || !filters.labels_match(&labels)
            || until.is_some_and(|until| created > until)
            || engine.container_using_image(&image.id).is_some()
        {
            continue;
        }
        let images = engine.images.clone();
        let users = engine.clone();
        let id = image.id.clone();
        let removed = blocking(move || {
            images
                .remove(&id, true, &|id| users.container_using_image(id))
                .map_err(image_error)
        })
        .await?;
        reclaimed += image.size;
        for item in removed {
            deleted.push(match item {
                Removed::Untagged(tag) => json!({ "Untagged": tag }),
                Removed::Deleted(id) => json!({ "Deleted": id }),
            });
        }
        engine.events.publish(
            Event::new("image", "delete", image.id.clone()).with("name", image.id.clone()),
        );
    }
    engine.prune_event("image", u64::try_from(reclaimed).unwrap_or_default());
    http::ok_json(&json!({
        "ImagesDeleted": if deleted.is_empty() { serde_json::Value::Null } else { json!(deleted) },
        "SpaceReclaimed": reclaimed,
    }))
}

/// `POST /images/{name}/push`: the image must exist (else a plain 404),
/// then a progress stream.
pub async fn push(engine: &Arc<Engine>, name: &str, req: Request, query: &Query) -> ApiResult {
    let auth = super::auth::from_header(req.headers());
    let plan = engine.plan_push(name, query.get("tag").unwrap_or(""), auth)?;
    let (tx, rx) = mpsc::channel(64);
    let engine = engine.clone();
    tokio::spawn(async move { engine.run_push(plan, Progress::new(tx)).await });
    Ok(http::stream("application/json", rx))
}

pub async fn load(engine: &Arc<Engine>, req: Request, _query: &Query) -> ApiResult {
    let mut reader = BodyReader::spawn(req.into_body());
    let images = engine.images.clone();
    let loaded = blocking(move || images.load(&mut reader).map_err(image_error)).await?;
    for image in &loaded {
        let (LoadedImage::Tagged(name) | LoadedImage::Untagged(name)) = image;
        engine
            .events
            .publish(Event::new("image", "load", name.clone()).with("name", name.clone()));
    }
    let lines: Vec<serde_json::Value> = loaded
        .iter()
        .map(|image| match image {
            LoadedImage::Tagged(name) => json!({ "stream": format!("Loaded image: {name}\n") }),
            LoadedImage::Untagged(id) => json!({ "stream": format!("Loaded image ID: {id}\n") }),
        })
        .collect();
    Ok(json_lines(&lines))
}

pub async fn save(engine: &Arc<Engine>, names: Vec<String>) -> ApiResult {
    if names.is_empty() {
        return Err(ApiError::invalid("no images named: pass names=NAME"));
    }
    let images = engine.images.clone();
    let checked = names.clone();
    blocking(move || {
        for name in &checked {
            images.get(name).map_err(image_error)?;
        }
        Ok(())
    })
    .await?;
    for name in &names {
        engine
            .events
            .publish(Event::new("image", "save", name.clone()).with("name", name.clone()));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let images = engine.images.clone();
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter::new(tx);
        let result = images
            .save(&names, &mut writer)
            .map_err(|e| e.to_string())
            .and_then(|()| std::io::Write::flush(&mut writer).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(error = %e, "image save ended early");
        }
    });
    Ok(http::stream("application/x-tar", rx))
}

pub async fn tag(engine: &Arc<Engine>, name: &str, query: &Query) -> ApiResult {
    let repo = query
        .get("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::invalid("repository name must have at least one component"))?;
    let target = match query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.to_string(),
    };
    let images = engine.images.clone();
    let source = name.to_string();
    let (id, target) = blocking(move || {
        images.tag(&source, &target).map_err(image_error)?;
        let id = images.get(&target).map_err(image_error)?.id;
        Ok((id, berth_image::normalize_reference(&target)))
    })
    .await?;
    engine
        .events
        .publish(Event::new("image", "tag", id).with("name", target));
    Ok(http::status(StatusCode::CREATED))
}

pub async fn remove(engine: &Arc<Engine>, name: &str, query: &Query) -> ApiResult {
    let images = engine.images.clone();
    let name = name.to_string();
    let force = query.bool("force");
    let users = engine.clone();
    let (image_id, removed) = blocking(move || {
        let id = images.get(&name).map(|image| image.id).unwrap_or_default();
        let removed = images
            .remove(&name, force, &|id| users.container_using_image(id))
            .map_err(image_error)?;
        Ok((id, removed))
    })
    .await?;
    for item in &removed {
        engine.events.publish(match item {
            Removed::Untagged(tag) => {
                Event::new("image", "untag", image_id.clone()).with("name", tag.clone())
            }
            Removed::Deleted(id) => {
                Event::new("image", "delete", id.clone()).with("name", id.clone())
            }
        });
    }
    let items: Vec<DeleteItem> = removed
        .into_iter()
        .map(|r| match r {
            Removed::Untagged(t) => DeleteItem {
                untagged: Some(t),
                deleted: None,
            },
            Removed::Deleted(d) => DeleteItem {
                untagged: None,
                deleted: Some(d),
            },
        })
        .collect();
    http::ok_json(&items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter_matches_repo_tag_and_globs() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busybox:latest", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("*:v1", "app:v1"));
        assert!(!reference_matches("alpine", "busybox:latest"));
    }
}
