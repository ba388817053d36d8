//! The API router: one module per section of the Docker Engine API. Routes
//! are thin: they parse the request, call the engine, and shape the reply.

mod auth;
mod containers;
mod exec;
mod files;
mod hijack;
mod images;
mod networks;
mod system;
mod volumes;

use crate::engine::Engine;
use crate::http::{ApiResult, Query, Request};
use berth_api::ApiError;
use hyper::Method;
use std::sync::Arc;

pub async fn route(engine: Arc<Engine>, req: Request, path: &str, query: Query) -> ApiResult {
    let method = req.method().clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => Ok(system::ping(&method)),
        (&Method::GET, ["version"]) => system::version(&engine).await,
        (&Method::GET, ["info"]) => system::info(&engine).await,
        (&Method::GET, ["events"]) => system::events(&engine, &query).await,
        (&Method::POST, ["auth"]) => auth::login(&engine, req).await,

        (&Method::POST, ["containers", "create"]) => containers::create(&engine, req, &query).await,
        (&Method::GET, ["containers", "json"]) => containers::list(&engine, &query).await,
        (&Method::POST, ["containers", "prune"]) => containers::prune(&engine, &query).await,
        (&Method::GET, ["containers", id, "json"]) => {
            containers::inspect(&engine, id, &query).await
        }
        (&Method::POST, ["containers", id, "start"]) => containers::start(&engine, id).await,
        (&Method::POST, ["containers", id, "stop"]) => containers::stop(&engine, id, &query).await,
        (&Method::POST, ["containers", id, "restart"]) => {
            containers::restart(&engine, id, &query).await
        }
        (&Method::POST, ["containers", id, "kill"]) => containers::kill(&engine, id, &query).await,
        (&Method::POST, ["containers", id, "wait"]) => containers::wait(&engine, id, &query).await,
        (&Method::POST, ["containers", id, "attach"]) => {
            containers::attach(&engine, id, req, &query).await
        }
        (&Method::GET, ["containers", id, "logs"]) => containers::logs(&engine, id, &query).await,
        (&Method::POST, ["containers", id, "resize"]) => {
            containers::resize(&engine, id, &query).await
        }
        (&Method::POST, ["containers", id, "pause"]) => containers::pause(&engine, id).await,
        (&Method::POST, ["containers", id, "update"]) => containers::update(&engine, id, req).await,
        (&Method::POST, ["containers", id, "unpause"]) => containers::unpause(&engine, id).await,
        (&Method::POST, ["containers", id, "rename"]) => {
            containers::rename(&engine, id, &query).await
        }
        (&Method::GET, ["containers", id, "top"]) => containers::top(&engine, id, &query).await,
        (&Method::GET, ["containers", id, "stats"]) => containers::stats(&engine, id, &query).await,
        (&Method::HEAD, ["containers", id, "archive"]) => files::stat(&engine, id, &query).await,
        (&Method::GET, ["containers", id, "archive"]) => files::archive(&engine, id, &query).await,
        (&Method::PUT, ["containers", id, "archive"]) => {
            files::extract(&engine, id, req, &query).await
        }
        (&Method::GET, ["containers", id, "export"]) => files::export(&engine, id).await,
        (&Method::GET, ["containers", id, "changes"]) => files::changes(&engine, id).await,
        (&Method::POST, ["commit"]) => files::commit(&engine, req, &query).await,
        (&Method::DELETE, ["containers", id]) => containers::remove(&engine, id, &query).await,
        (&Method::POST, ["containers", id, "exec"]) => exec::create(&engine, id, req).await,
        (&Method::POST, ["exec", id, "start"]) => exec::start(&engine, id, req).await,
        (&Method::GET, ["exec", id, "json"]) => exec::inspect(&engine, id).await,
        (&Method::POST, ["exec", id, "resize"]) => exec::resize(&engine, id, &query).await,

        (&Method::GET, ["images", "json"]) => images::list(&engine, &query).await,
        (&Method::POST, ["images", "create"]) => images::create(&engine, req, &query).await,
        (&Method::POST, ["images", "load"]) => images::load(&engine, req, &query).await,
        (&Method::GET, ["images", "get"]) => images::save(&engine, query.all("names")).await,
        (&Method::GET, ["images", name @ .., "get"]) if !name.is_empty() => {
            images::save(&engine, vec![name.join("/")]).await
        }
        (&Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            images::inspect(&engine, &name.join("/")).await
        }
        (&Method::POST, ["images", "prune"]) => images::prune(&engine, &query).await,
        (&Method::GET, ["images", name @ .., "history"]) if !name.is_empty() => {
            images::history(&engine, &name.join("/")).await
        }
        (&Method::GET, ["system", "df"]) => system::df(&engine).await,
        (&Method::POST, ["build", "prune"]) => system::build_prune(&engine, &query).await,
        (&Method::POST, ["images", name @ .., "push"]) if !name.is_empty() => {
            images::push(&engine, &name.join("/"), req, &query).await
        }
        (&Method::POST, ["images", name @ .., "tag"]) if !name.is_empty() => {
            images::tag(&engine, &name.join("/"), &query).await
        }
        (&Method::DELETE, ["images", name @ ..]) if !name.is_empty() => {
            images::remove(&engine, &name.join("/"), &query).await
        }
        (&Method::GET, ["networks"]) => networks::list(&engine, &query).await,
        (&Method::POST, ["networks", "create"]) => networks::create(&engine, req).await,
        (&Method::POST, ["networks", "prune"]) => networks::prune(&engine, &query).await,
        (&Method::GET, ["networks", id]) => networks::inspect(&engine, id).await,
        (&Method::DELETE, ["networks", id]) => networks::remove(&engine, id).await,
        (&Method::POST, ["networks", id, "connect"]) => networks::connect(&engine, id, req).await,
        (&Method::POST, ["networks", id, "disconnect"]) => {
            networks::disconnect(&engine, id, req).await
        }
        (&Method::POST, ["volumes", "create"]) => volumes::create(&engine, req).await,
        (&Method::POST, ["volumes", "prune"]) => volumes::prune(&engine, &req, &query).await,
        (&Method::GET, ["volumes"]) => volumes::list(&engine, &query).await,
        (&Method::GET, ["volumes", name]) => volumes::inspect(&engine, name).await,
        (&Method::DELETE, ["volumes", name]) => volumes::remove(&engine, name, &query).await,
        _ => Err(ApiError::not_found("page not found")),
    }
}
