//! Image housekeeping endpoints: the layer history of an image and the
//! pruning of unused images.

use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, Result};
use berth_api::image::DeleteItem;
use berth_api::Filters;
use serde::{Deserialize, Serialize};

/// One layer of `GET /images/{name}/history`, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HistoryItem {
    /// The image id of this step, or `<missing>` for a step that is not an
    /// image of its own (a pulled layer).
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub created_by: String,
    pub tags: Option<Vec<String>>,
    pub size: i64,
    pub comment: String,
}

/// The reply of `POST /images/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImagePruneReport {
    pub images_deleted: Option<Vec<DeleteItem>>,
    pub space_reclaimed: u64,
}

impl Client {
    /// `GET /images/{name}/history`.
    pub async fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let path = format!("/images/{}/history", path_segment(name));
        self.send_json(ApiRequest::get(path)).await
    }

    /// `POST /images/prune?filters=`: removes dangling images, or with
    /// `dangling=false` every image no container uses.
    pub async fn prune_images(&self, filters: &Filters) -> Result<ImagePruneReport> {
        let mut query = Query::new();
        query.filters(filters);
        self.send_json(ApiRequest::post("/images/prune").query(query))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_and_prune_replies_decode_with_nulls() {
        let items: Vec<HistoryItem> = serde_json::from_str(
            r#"[{"Id":"<missing>","Created":1700000000,"CreatedBy":"/bin/sh","Tags":null,"Size":0,"Comment":""}]"#,
        )
        .unwrap();
        assert_eq!(items[0].id, "<missing>");
        assert_eq!(items[0].created, 1_700_000_000);
        let report: ImagePruneReport =
            serde_json::from_str(r#"{"ImagesDeleted":null,"SpaceReclaimed":0}"#).unwrap();
        assert_eq!(report, ImagePruneReport::default());
    }
}
