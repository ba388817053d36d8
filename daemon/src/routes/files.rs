//! Files in and out of containers: `/containers/{id}/archive` (HEAD, GET,
//! PUT), `export`, `changes`, and `POST /commit`.

use crate::engine::{CommitOptions, Engine, ExtractOptions};
use crate::http::{self, ApiResult, BodyReader, ChannelWriter, Query, Request};
use base64::Engine as _;
use berth_api::container::ContainerConfig;
use berth_api::files::{IdResponse, PathStat};
use berth_api::ApiError;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use std::sync::Arc;
use tokio::sync::mpsc;

const TAR: &str = "application/x-tar";
const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// `path`, required as Docker requires it.
fn path_of(query: &Query) -> Result<&str, ApiError> {
    query
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("bad parameter: path cannot be empty"))
}

/// Puts a path's stat into its header: base64 of its JSON.
fn with_stat(mut response: http::Response, stat: &PathStat) -> ApiResult {
    let json = serde_json::to_vec(stat).expect("a stat serializes");
    let encoded = base64::engine::general_purpose::STANDARD.encode(json);
    let value = HeaderValue::from_str(&encoded).expect("base64 is a valid header value");
    response.headers_mut().insert(STAT_HEADER, value);
    Ok(response)
}

/// `HEAD /containers/{id}/archive?path=`: the stat header alone.
pub async fn stat(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    let stat = engine.stat_path(id, path_of(query)?).await?;
    with_stat(http::status(StatusCode::OK), &stat)
}

/// `GET /containers/{id}/archive?path=`: the stat header and a tar of the
/// path, streamed.
pub async fn archive(engine: &Arc<Engine>, id: &str, query: &Query) -> ApiResult {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let stat = engine
        .archive_path(id, path_of(query)?, ChannelWriter::new(tx))
        .await?;
    with_stat(http::stream(TAR, rx), &stat)
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`:
/// extracts the body (a plain or gzip tar) into the directory `path`.
pub async fn extract(engine: &Arc<Engine>, id: &str, req: Request, query: &Query) -> ApiResult {
    let path = path_of(query)?.to_string();
    let options = ExtractOptions {
        copy_uid_gid: query.bool("copyUIDGID"),
        no_overwrite_dir_non_dir: query.bool("noOverwriteDirNonDir"),
    };
    let body = BodyReader::spawn(req.into_body());
    engine.extract_to_dir(id, &path, body, options).await?;
    Ok(http::status(StatusCode::OK))
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar.
pub async fn export(engine: &Arc<Engine>, id: &str) -> ApiResult {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    engine.export(id, ChannelWriter::new(tx)).await?;
    Ok(http::stream(TAR, rx))
}

/// `GET /containers/{id}/changes`: `null` when nothing changed, as Docker
/// answers.
pub async fn changes(engine: &Arc<Engine>, id: &str) -> ApiResult {
    let changes = engine.changes(id).await?;
    if changes.is_empty() {
        return http::ok_json(&serde_json::Value::Null);
    }
    http::ok_json(&changes)
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`
/// with an optional container config as the body.
pub async fn commit(engine: &Arc<Engine>, req: Request, query: &Query) -> ApiResult {
    let config: Option<ContainerConfig> = http::json_body(req.into_body()).await?;
    let text = |key: &str| query.get(key).unwrap_or("").to_string();
    let options = CommitOptions {
        repo: text("repo"),
        tag: text("tag"),
        comment: text("comment"),
        author: text("author"),
        pause: query.get("pause").is_none_or(berth_api::parse_bool),
        changes: query.all("changes"),
        config,
    };
    let id = engine
        .commit(query.get("container").unwrap_or(""), options)
        .await?;
    Ok(http::json(StatusCode::CREATED, &IdResponse { id }))
}
