//! Files in and out of containers: the stat of a path, a tar of it, a tar
//! extracted into a container (`/containers/{id}/archive`), `export`,
//! `changes`, and `POST /commit`.

use crate::body::{reader_body, ByteStream};
use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, ClientError, Result};
use base64::Engine as _;
use berth_api::container::ContainerConfig;
use berth_api::files::{FilesystemChange, IdResponse, PathStat};
use http::{HeaderMap, Method};
use tokio::io::AsyncRead;

const STAT_HEADER: &str = "x-docker-container-path-stat";

/// `PUT /containers/{id}/archive` parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyToOptions {
    /// Keep the archive's owners (`copyUIDGID`); otherwise the files
    /// belong to the container's root.
    pub copy_uid_gid: bool,
    /// Allow a directory to replace a file and the reverse (Docker's
    /// client asks for `noOverwriteDirNonDir` unless this is set).
    pub allow_overwrite_dir_with_file: bool,
}

/// `POST /commit` parameters.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub container: String,
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// Dockerfile instructions applied to the image's config.
    pub changes: Vec<String>,
    /// Leave a running container running while it is committed.
    pub no_pause: bool,
    /// The new image's config; the container's when `None`.
    pub config: Option<ContainerConfig>,
}

fn archive_path(container: &str) -> String {
    format!("/containers/{}/archive", path_segment(container))
}

fn path_query(path: &str) -> Query {
    let mut query = Query::new();
    query.push("path", path);
    query
}

/// The stat a reply carries in `X-Docker-Container-Path-Stat`.
fn stat_of(headers: &HeaderMap) -> Result<PathStat> {
    let invalid = |what: &str| ClientError::InvalidResponse(format!("path stat header: {what}"));
    let value = headers
        .get(STAT_HEADER)
        .ok_or_else(|| invalid("missing"))?
        .as_bytes();
    let json = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| invalid(&e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| invalid(&e.to_string()))
}

impl Client {
    /// `HEAD /containers/{id}/archive?path=`: what the path is.
    pub async fn stat_container_path(&self, container: &str, path: &str) -> Result<PathStat> {
        let request =
            ApiRequest::new(Method::HEAD, archive_path(container)).query(path_query(path));
        let headers = self.send_and_discard(request).await?;
        stat_of(&headers)
    }

    /// `GET /containers/{id}/archive?path=`: the path's stat and a tar of
    /// it (a directory with everything below it), streamed.
    pub async fn copy_from_container(
        &self,
        container: &str,
        path: &str,
    ) -> Result<(PathStat, ByteStream)> {
        let request = ApiRequest::get(archive_path(container)).query(path_query(path));
        let response = self.send(request).await?;
        let stat = stat_of(response.headers())?;
        Ok((stat, ByteStream::new(response.into_body())))
    }

    /// `PUT /containers/{id}/archive?path=`: extracts a tar (plain or
    /// gzip), streamed from `tar`, into the directory `path`.
    pub async fn copy_to_container(
        &self,
        container: &str,
        path: &str,
        tar: impl AsyncRead + Send + Unpin + 'static,
        options: CopyToOptions,
    ) -> Result<()> {
        let mut query = path_query(path);
        if !options.allow_overwrite_dir_with_file {
            query.push("noOverwriteDirNonDir", "true");
        }
        if options.copy_uid_gid {
            query.push("copyUIDGID", "true");
        }
        let request = ApiRequest::new(Method::PUT, archive_path(container))
            .query(query)
            .tar(reader_body(tar));
        self.send_ok(request).await
    }

    /// `GET /containers/{id}/export`: the container's filesystem as a tar.
    pub async fn export_container(&self, container: &str) -> Result<ByteStream> {
        let path = format!("/containers/{}/export", path_segment(container));
        let response = self.send(ApiRequest::get(path)).await?;
        Ok(ByteStream::new(response.into_body()))
    }

    /// `GET /containers/{id}/changes`: what the container changed (the
    /// daemon's `null` is no change).
    pub async fn container_changes(&self, container: &str) -> Result<Vec<FilesystemChange>> {
        let path = format!("/containers/{}/changes", path_segment(container));
        let changes: Option<Vec<FilesystemChange>> = self.send_json(ApiRequest::get(path)).await?;
        Ok(changes.unwrap_or_default())
    }

    /// `POST /commit`: a new image of the container's changes; its id.
    pub async fn commit_container(&self, options: &CommitOptions) -> Result<String> {
        let mut query = Query::new();
        query
            .push("container", options.container.as_str())
            .push_opt("repo", options.repo.as_deref())
            .push_opt("tag", options.tag.as_deref())
            .push_opt("comment", options.comment.as_deref())
            .push_opt("author", options.author.as_deref());
        for change in &options.changes {
            query.push("changes", change.as_str());
        }
        if options.no_pause {
            query.push("pause", "0");
        }
        let request = ApiRequest::post("/commit")
            .query(query)
            .json(&options.config)?;
        let reply: IdResponse = self.send_json(request).await?;
        Ok(reply.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stat_header_decodes() {
        let json = r#"{"name":"passwd","size":161,"mode":420,"mtime":"1970-01-01T00:00:00Z","linkTarget":""}"#;
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        headers.insert(STAT_HEADER, encoded.parse().unwrap());
        let stat = stat_of(&headers).unwrap();
        assert_eq!(
            (stat.name.as_str(), stat.size, stat.mode),
            ("passwd", 161, 0o644)
        );
        assert!(stat_of(&HeaderMap::new()).is_err());
    }
}
