//! System endpoints: ping, version, info.

use crate::client::ApiRequest;
use crate::{Client, Result};
use berth_api::system::{Info, Version};
use http::Method;

/// What `HEAD /_ping` tells about the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    /// The `Api-Version` header: the newest API version the daemon serves.
    pub api_version: Option<String>,
    /// The `OSType` header.
    pub os_type: Option<String>,
}

impl Client {
    /// `HEAD /_ping`: is the daemon there, and what does it speak.
    pub async fn ping(&self) -> Result<Ping> {
        let headers = self
            .send_and_discard(ApiRequest::new(Method::HEAD, "/_ping"))
            .await?;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(Ping {
            api_version: header("api-version"),
            os_type: header("ostype"),
        })
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<Version> {
        self.send_json(ApiRequest::get("/version")).await
    }

    /// `GET /info`.
    pub async fn info(&self) -> Result<Info> {
        self.send_json(ApiRequest::get("/info")).await
    }
}
