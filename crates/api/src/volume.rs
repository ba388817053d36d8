//! Volume endpoints: create body, inspect, list and prune replies.

use crate::container::Labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /volumes/{name}`, and each entry of `GET /volumes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    pub name: String,
    /// `local`.
    pub driver: String,
    /// The host directory containers see (`<data-root>/volumes/<name>/_data`).
    pub mountpoint: String,
    /// RFC 3339, seconds precision with the zone, as Docker shows it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// `null` when there are none, as with Docker.
    pub labels: Option<Labels>,
    /// The driver options (`type`, `device`, `o`); `null` when none.
    pub options: Option<BTreeMap<String, String>>,
    /// `local`.
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Map<String, serde_json::Value>>,
    /// Only in `GET /system/df`: the size and how many containers use it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct UsageData {
    /// Bytes used, -1 when not computed.
    pub size: i64,
    /// Containers referencing the volume, -1 when not computed.
    pub ref_count: i64,
}

/// `POST /volumes/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateRequest {
    /// Empty: a new anonymous volume with a random 64-hex name.
    pub name: String,
    /// Empty or `local`.
    pub driver: String,
    /// `type`, `device`, `o` (mount(8) style), as the local driver takes them.
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub labels: Option<Labels>,
}

/// `GET /volumes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeListResponse {
    pub volumes: Vec<Volume>,
    pub warnings: Vec<String>,
}

/// `POST /volumes/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumePruneResponse {
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}
