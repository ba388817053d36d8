//! `docker history`: an image's build steps, newest first, each with the
//! size of the layer it made (0 for steps that made none).

use crate::error::ImageError;
use crate::store::ImageStore;

/// One row of `docker history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The image id for the newest row, `<missing>` for the others (Docker
    /// no longer has ids for intermediate images).
    pub id: String,
    /// Unix seconds, 0 if unknown.
    pub created: i64,
    pub created_by: String,
    /// The image's tags, on the newest row only.
    pub tags: Vec<String>,
    pub size: i64,
    pub comment: String,
}

fn unix(rfc3339: Option<&str>) -> i64 {
    rfc3339
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

impl ImageStore {
    /// The history of the image `reference` names. Without history in its
    /// config, one row per layer.
    pub fn history(&self, reference: &str) -> Result<Vec<HistoryItem>, ImageError> {
        let state = self.read_state();
        let resolved = state.resolve(reference)?;
        let entry = state
            .images
            .get(&resolved.id)
            .ok_or_else(|| ImageError::NotFound(format!("No such image: {reference}")))?;
        let record = state.record(&resolved.id, entry);
        let mut sizes = entry
            .layers
            .iter()
            .map(|chain| state.layers.get(chain).map_or(0, |l| l.size));
        let mut rows: Vec<HistoryItem> = if entry.config.history.is_empty() {
            sizes
                .map(|size| HistoryItem {
                    id: "<missing>".into(),
                    created: record.created_unix,
                    created_by: String::new(),
                    tags: Vec::new(),
                    size,
                    comment: String::new(),
                })
                .collect()
        } else {
            entry
                .config
                .history
                .iter()
                .map(|h| HistoryItem {
                    id: "<missing>".into(),
                    created: unix(h.created.as_deref()),
                    created_by: h.created_by.clone().unwrap_or_default(),
                    tags: Vec::new(),
                    size: if h.empty_layer == Some(true) {
                        0
                    } else {
                        sizes.next().unwrap_or(0)
                    },
                    comment: h.comment.clone().unwrap_or_default(),
                })
                .collect()
        };
        rows.reverse();
        if let Some(top) = rows.first_mut() {
            top.id = resolved.id.clone();
            top.tags = record.repo_tags;
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{new_store, rootfs};

    #[test]
    fn an_imported_image_has_one_row_with_its_id_tag_and_size() {
        let (_dir, store) = new_store();
        let id = store
            .import(&mut &rootfs("a")[..], Some("app:1"), &[], "from a tarball")
            .unwrap();
        let rows = store.history("app:1").unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].id, id);
        assert_eq!(rows[0].tags, ["app:1"]);
        assert!(rows[0].size > 0);
        assert!(store.history("nope").is_err());
    }
}
