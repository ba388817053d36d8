//! Volume endpoints: create, list, inspect, remove, prune.

use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, Result};
use berth_api::volume::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};
use berth_api::Filters;
use http::Method;
use serde::Deserialize;

fn volume_path(name: &str) -> String {
    format!("/volumes/{}", path_segment(name))
}

fn filters_query(filters: &Filters) -> Query {
    let mut query = Query::new();
    query.filters(filters);
    query
}

/// `GET /volumes` as it comes off the wire: Go's nil slices are `null`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ListReply {
    #[serde(deserialize_with = "crate::body::nullable")]
    volumes: Vec<Volume>,
    #[serde(deserialize_with = "crate::body::nullable")]
    warnings: Vec<String>,
}

/// `POST /volumes/prune` as it comes off the wire: `VolumesDeleted` is
/// `null` when nothing went.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PruneReply {
    #[serde(deserialize_with = "crate::body::nullable")]
    volumes_deleted: Vec<String>,
    space_reclaimed: u64,
}

impl Client {
    /// `POST /volumes/create`: the new volume (or the existing one of that
    /// name).
    pub async fn create_volume(&self, body: &VolumeCreateRequest) -> Result<Volume> {
        self.send_json(ApiRequest::post("/volumes/create").json(body)?)
            .await
    }

    /// `GET /volumes?filters=` (`dangling`, `driver`, `label`, `name`).
    pub async fn list_volumes(&self, filters: &Filters) -> Result<VolumeListResponse> {
        let request = ApiRequest::get("/volumes").query(filters_query(filters));
        let reply: ListReply = self.send_json(request).await?;
        Ok(VolumeListResponse {
            volumes: reply.volumes,
            warnings: reply.warnings,
        })
    }

    /// `GET /volumes/{name}`.
    pub async fn inspect_volume(&self, name: &str) -> Result<Volume> {
        self.send_json(ApiRequest::get(volume_path(name))).await
    }

    /// `GET /volumes/{name}` as the daemon sent it, for printing.
    pub async fn inspect_volume_raw(&self, name: &str) -> Result<serde_json::Value> {
        self.send_json(ApiRequest::get(volume_path(name))).await
    }

    /// `DELETE /volumes/{name}?force=`: `force` also succeeds when the
    /// volume does not exist.
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let mut query = Query::new();
        query.flag("force", force);
        self.send_ok(ApiRequest::new(Method::DELETE, volume_path(name)).query(query))
            .await
    }

    /// `POST /volumes/prune?filters=`: removes the volumes no container
    /// uses (only anonymous ones unless the filters hold `all=true`).
    pub async fn prune_volumes(&self, filters: &Filters) -> Result<VolumePruneResponse> {
        let request = ApiRequest::post("/volumes/prune").query(filters_query(filters));
        let reply: PruneReply = self.send_json(request).await?;
        Ok(VolumePruneResponse {
            volumes_deleted: reply.volumes_deleted,
            space_reclaimed: reply.space_reclaimed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_are_escaped_in_paths() {
        assert_eq!(volume_path("data"), "/volumes/data");
        assert_eq!(volume_path("my vol"), "/volumes/my%20vol");
    }

    #[test]
    fn filters_go_in_the_query_only_when_given() {
        assert_eq!(filters_query(&Filters::default()).encode(), "");
        let mut filters = Filters::default();
        filters.insert("dangling", "true");
        assert_eq!(
            filters_query(&filters).encode(),
            "?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D"
        );
    }

    fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn replies_with_go_nil_slices_decode() {
        let list: ListReply = decode(serde_json::json!({
            "Volumes": [{"Name": "a", "Driver": "local", "Mountpoint": "/v/a/_data",
                         "Labels": null, "Options": null, "Scope": "local"}],
            "Warnings": null
        }));
        assert_eq!(list.volumes[0].name, "a");
        assert!(list.volumes[0].labels.is_none());
        assert!(list.warnings.is_empty());
        let empty: ListReply = decode(serde_json::json!({"Volumes": null}));
        assert!(empty.volumes.is_empty());

        let prune: PruneReply =
            decode(serde_json::json!({"VolumesDeleted": null, "SpaceReclaimed": 0}));
        assert!(prune.volumes_deleted.is_empty());
        let prune: PruneReply =
            decode(serde_json::json!({"VolumesDeleted": ["a", "b"], "SpaceReclaimed": 4096}));
        assert_eq!(
            (prune.volumes_deleted, prune.space_reclaimed),
            (vec!["a".to_string(), "b".to_string()], 4096)
        );
    }

    #[test]
    fn create_sends_dockers_body() {
        let body = VolumeCreateRequest {
            name: "data".into(),
            driver: "local".into(),
            driver_opts: Some(Default::default()),
            labels: Some([("a".to_string(), "1".to_string())].into()),
        };
        let request = ApiRequest::post("/volumes/create")
            .json(&body)
            .unwrap()
            .into_http()
            .unwrap();
        assert_eq!(request.uri(), "/v1.45/volumes/create");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"Name": "data", "Driver": "local", "DriverOpts": {}, "Labels": {"a": "1"}})
        );
    }
}
