//! Image endpoints: list, inspect, import, load, save, tag, remove.

use crate::body::{reader_body, ByteStream, JsonMessages};
use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, Result};
use berth_api::image::{DeleteItem, ImageInspect, ImageSummary};
use berth_api::Filters;
use http::Method;
use std::fmt;
use tokio::io::AsyncRead;

/// Where `POST /images/create?fromSrc=` takes the root filesystem from.
pub enum ImportSource {
    /// A tarball streamed as the request body (`fromSrc=-`).
    Tar(Box<dyn AsyncRead + Send + Unpin>),
    /// A URL the daemon fetches itself.
    Url(String),
}

impl fmt::Debug for ImportSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportSource::Tar(_) => f.write_str("Tar(..)"),
            ImportSource::Url(url) => f.debug_tuple("Url").field(url).finish(),
        }
    }
}

/// The rest of an import: the name to give the image, Dockerfile-style
/// `changes` (`CMD ["sh"]`, `ENV A=b`) and a commit message.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub changes: Vec<String>,
    pub message: Option<String>,
}

fn image_path(name: &str, action: &str) -> String {
    format!("/images/{}{action}", path_segment(name))
}

impl Client {
    /// `GET /images/json?all=&filters=`.
    pub async fn list_images(&self, all: bool, filters: &Filters) -> Result<Vec<ImageSummary>> {
        let mut query = Query::new();
        query.flag("all", all).filters(filters);
        self.send_json(ApiRequest::get("/images/json").query(query))
            .await
    }

    /// `GET /images/{name}/json`.
    pub async fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        self.send_json(ApiRequest::get(image_path(name, "/json")))
            .await
    }

    /// `GET /images/{name}/json` as the daemon sent it, for printing.
    pub async fn inspect_image_raw(&self, name: &str) -> Result<serde_json::Value> {
        self.send_json(ApiRequest::get(image_path(name, "/json")))
            .await
    }

    /// `POST /images/create?fromSrc=...`: imports a root filesystem tarball
    /// as a one-layer image. The reply's `status` lines end with the new id.
    pub async fn import_image(
        &self,
        source: ImportSource,
        options: &ImportOptions,
    ) -> Result<JsonMessages> {
        let mut query = Query::new();
        let from_src = match &source {
            ImportSource::Tar(_) => "-".to_string(),
            ImportSource::Url(url) => url.clone(),
        };
        query
            .push("fromSrc", from_src)
            .push_opt("repo", options.repo.as_deref())
            .push_opt("tag", options.tag.as_deref())
            .push_opt("message", options.message.as_deref());
        for change in &options.changes {
            query.push("changes", change.as_str());
        }
        let mut request = ApiRequest::post("/images/create").query(query);
        if let ImportSource::Tar(reader) = source {
            request = request.tar(reader_body(reader));
        }
        let response = self.send(request).await?;
        Ok(JsonMessages::new(response.into_body()))
    }

    /// `POST /images/load?quiet=`: loads a docker-archive or OCI tarball.
    pub async fn load_images(
        &self,
        tar: impl AsyncRead + Send + Unpin + 'static,
        quiet: bool,
    ) -> Result<JsonMessages> {
        let mut query = Query::new();
        query.flag("quiet", quiet);
        let request = ApiRequest::post("/images/load")
            .query(query)
            .tar(reader_body(tar));
        let response = self.send(request).await?;
        Ok(JsonMessages::new(response.into_body()))
    }

    /// `GET /images/get?names=a&names=b`: the images as one tarball.
    pub async fn save_images(&self, names: &[String]) -> Result<ByteStream> {
        let mut query = Query::new();
        for name in names {
            query.push("names", name.as_str());
        }
        let response = self
            .send(ApiRequest::get("/images/get").query(query))
            .await?;
        Ok(ByteStream::new(response.into_body()))
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub async fn tag_image(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let mut query = Query::new();
        query.push("repo", repo).push_opt("tag", tag);
        let request = ApiRequest::post(image_path(source, "/tag")).query(query);
        self.send_ok(request).await
    }

    /// `DELETE /images/{name}?force=&noprune=`.
    pub async fn remove_image(
        &self,
        name: &str,
        force: bool,
        no_prune: bool,
    ) -> Result<Vec<DeleteItem>> {
        let mut query = Query::new();
        query.flag("force", force).flag("noprune", no_prune);
        self.send_json(ApiRequest::new(Method::DELETE, image_path(name, "")).query(query))
            .await
    }
}
