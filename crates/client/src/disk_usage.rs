//! `GET /system/df`: what images, containers, volumes and the build cache
//! hold on disk, in the shape of API versions before 1.52 (the lists; the
//! CLI adds them up).

use crate::client::ApiRequest;
use crate::{Client, Result};
use berth_api::container::ContainerSummary;
use berth_api::image::ImageSummary;
use serde::{Deserialize, Serialize};

/// The reply of `GET /system/df`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    /// Bytes used by all image layers, shared ones counted once.
    pub layers_size: i64,
    pub images: Option<Vec<ImageSummary>>,
    pub containers: Option<Vec<ContainerUsage>>,
    pub volumes: Option<Vec<VolumeUsage>>,
    pub build_cache: Option<Vec<BuildCacheRecord>>,
}

/// A container of `/system/df`: its summary, with the size of its
/// writable layer (`SizeRw`).
pub type ContainerUsage = ContainerSummary;

/// A volume of `/system/df`: the volume as `GET /volumes` shows it, with
/// its `UsageData`.
pub type VolumeUsage = berth_api::volume::Volume;

/// A volume's size (-1 when unknown) and how many containers use it.
pub type VolumeUsageData = berth_api::volume::UsageData;

/// A build cache record of `/system/df`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct BuildCacheRecord {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub description: String,
    pub in_use: bool,
    pub shared: bool,
    pub size: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub usage_count: i64,
}

impl Client {
    /// `GET /system/df`.
    pub async fn disk_usage(&self) -> Result<DiskUsage> {
        self.send_json(ApiRequest::get("/system/df")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_decodes_container_sizes_beside_their_summary() {
        let usage: DiskUsage = serde_json::from_str(
            r#"{"LayersSize":10,"Images":[],"Containers":[{"Id":"abc","State":"running","SizeRw":7}],
                "Volumes":[{"Name":"v","UsageData":{"Size":3,"RefCount":0}}],"BuildCache":null}"#,
        )
        .unwrap();
        let container = &usage.containers.unwrap()[0];
        assert_eq!((container.id.as_str(), container.size_rw), ("abc", Some(7)));
        assert_eq!(
            usage.volumes.unwrap()[0].usage_data.as_ref().unwrap().size,
            3
        );
        assert!(usage.build_cache.is_none());
    }
}
