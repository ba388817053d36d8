//! System section: ping, version, info.

use crate::engine::Engine;
use crate::http::{self, ApiResult, Response};
use hyper::{header, Method};

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

pub async fn info(engine: &Engine) -> ApiResult {
    http::ok_json(&engine.info().await)
}
