//! Network section: create, list, inspect, remove, prune, connect,
//! disconnect.

use crate::engine::Engine;
use crate::http::{self, ApiResult, Query, Request};
use berth_api::network::{ConnectRequest, DisconnectRequest, NetworkCreateRequest};
use berth_api::Filters;
use hyper::StatusCode;
use std::sync::Arc;

fn filters(query: &Query) -> Result<Filters, berth_api::ApiError> {
    Filters::parse(query.get("filters").unwrap_or(""))
}

pub async fn list(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    http::ok_json(&engine.list_networks(&filters(query)?)?)
}

pub async fn inspect(engine: &Arc<Engine>, id: &str) -> ApiResult {
    http::ok_json(&engine.inspect_network(id)?)
}

pub async fn create(engine: &Arc<Engine>, req: Request) -> ApiResult {
    let body: NetworkCreateRequest = http::json_body(req.into_body()).await?;
    let created = engine.create_network(body).await?;
    Ok(http::json(StatusCode::CREATED, &created))
}

pub async fn remove(engine: &Arc<Engine>, id: &str) -> ApiResult {
    engine.remove_network(id).await?;
    Ok(http::status(StatusCode::NO_CONTENT))
}

pub async fn prune(engine: &Arc<Engine>, query: &Query) -> ApiResult {
    http::ok_json(&engine.prune_networks(&filters(query)?).await?)
}

pub async fn connect(engine: &Arc<Engine>, id: &str, req: Request) -> ApiResult {
    let body: ConnectRequest = http::json_body(req.into_body()).await?;
    engine.connect_network(id, body).await?;
    Ok(http::status(StatusCode::OK))
}

pub async fn disconnect(engine: &Arc<Engine>, id: &str, req: Request) -> ApiResult {
    let body: DisconnectRequest = http::json_body(req.into_body()).await?;
    engine.disconnect_network(id, body).await?;
    Ok(http::status(StatusCode::OK))
}
