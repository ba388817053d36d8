//! Volume section: create, list, inspect, remove, prune.

use crate::engine::Engine;
use crate::http::{self, ApiResult, Query, Request};
use berth_api::volume::VolumeCreateRequest;
use berth_api::Filters;
use hyper::StatusCode;
use std::sync::Arc;

fn filters(query: &Query) -> Result<Filters, berth_api::ApiError> {
    Filters::parse(query.get("filters").unwrap_or(""))
}

pub async fn create(engine: &Arc<Engine>, req: Request) -> ApiResult {
    let body: VolumeCreateRequest = http::json_body(req.into_body()).await?;
    let volume = engine.create_volume(body).await?;
    Ok(http::json(StatusCode::CREATED, &volume))
}

pub async fn list(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    http::ok_json(&engine.list_volumes(&filters(query)?)?)
}

pub async fn inspect(engine: &Arc<Engine>, name: &str) -> ApiResult {
    http::ok_json(&engine.inspect_volume(name)?)
}

pub async fn remove(engine: &Arc<Engine>, name: &str, query: &Query) -> ApiResult {
    engine.remove_volume(name, query.bool("force")).await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

/// Before API 1.42, prune took every unused volume, not only anonymous ones.
pub async fn prune(engine: &Arc<Engine>, req: &Request, query: &Query) -> ApiResult {
    let all_by_default = api_version(req.uri().path()).is_some_and(|v| v < (1, 42));
    http::ok_json(
        &engine
            .prune_volumes(&filters(query)?, all_by_default)
            .await?,
    )
}

/// The version of a `/v1.NN/...` path.
fn api_version(path: &str) -> Option<(u32, u32)> {
    let version = path.strip_prefix("/v")?.split('/').next()?;
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_come_from_the_path() {
        assert_eq!(super::api_version("/v1.41/volumes/prune"), Some((1, 41)));
        assert_eq!(super::api_version("/volumes/prune"), None);
    }
}
