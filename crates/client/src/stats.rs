//! `GET /containers/{id}/stats`: a container's resource usage, as one
//! sample or a stream of them (about one a second), in Docker's JSON shape.
//! Only the fields a client reads are typed; the rest is ignored.

use crate::body::{nullable, JsonStream};
use crate::client::ApiRequest;
use crate::query::{path_segment, Query};
use crate::{Client, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One stats sample (Docker's `StatsResponse`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ContainerStats {
    /// `/name`, with the leading slash.
    pub name: String,
    pub id: String,
    pub read: String,
    pub preread: String,
    #[serde(deserialize_with = "nullable")]
    pub cpu_stats: CpuStats,
    /// The previous sample's CPU figures (zero on the first one).
    #[serde(deserialize_with = "nullable")]
    pub precpu_stats: CpuStats,
    #[serde(deserialize_with = "nullable")]
    pub memory_stats: MemoryStats,
    #[serde(deserialize_with = "nullable")]
    pub pids_stats: PidsStats,
    #[serde(deserialize_with = "nullable")]
    pub blkio_stats: BlkioStats,
    /// Per interface; absent when the container has no network.
    #[serde(deserialize_with = "nullable")]
    pub networks: BTreeMap<String, NetworkStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    #[serde(deserialize_with = "nullable")]
    pub cpu_usage: CpuUsage,
    /// Host CPU time in nanoseconds; absent when not running.
    #[serde(deserialize_with = "nullable")]
    pub system_cpu_usage: u64,
    #[serde(deserialize_with = "nullable")]
    pub online_cpus: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// The container's CPU time in nanoseconds.
    pub total_usage: u64,
    /// Per CPU (cgroup v1 only).
    #[serde(deserialize_with = "nullable")]
    pub percpu_usage: Vec<u64>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    #[serde(deserialize_with = "nullable")]
    pub usage: u64,
    #[serde(deserialize_with = "nullable")]
    pub max_usage: u64,
    /// The cgroup's `memory.stat` counters (`total_inactive_file` on v1,
    /// `inactive_file` on v2, ...).
    #[serde(deserialize_with = "nullable")]
    pub stats: BTreeMap<String, u64>,
    #[serde(deserialize_with = "nullable")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    #[serde(deserialize_with = "nullable")]
    pub current: u64,
    #[serde(deserialize_with = "nullable")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    #[serde(deserialize_with = "nullable")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    /// `read`, `write`, `sync`, `total`, ... (any case).
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Stats samples as the daemon sends them.
pub type StatsStream = JsonStream<ContainerStats>;

impl Client {
    /// `GET /containers/{id}/stats?stream=`: with `stream`, a sample about
    /// every second until the container stops; without, one sample whose
    /// `precpu_stats` the daemon fills from a second reading.
    pub async fn container_stats(&self, id: &str, stream: bool) -> Result<StatsStream> {
        let mut query = Query::new();
        query.push("stream", if stream { "1" } else { "0" });
        let request =
            ApiRequest::get(format!("/containers/{}/stats", path_segment(id))).query(query);
        let response = self.send(request).await?;
        Ok(JsonStream::new(response.into_body()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_parse_with_nulls_and_missing_sections() {
        let stats: ContainerStats = serde_json::from_value(json!({
            "name": "/web", "id": "abc",
            "read": "2024-05-01T10:00:01Z", "preread": "2024-05-01T10:00:00Z",
            "pids_stats": {"current": 3},
            "blkio_stats": {"io_service_bytes_recursive": null},
            "cpu_stats": {"cpu_usage": {"total_usage": 200, "percpu_usage": null}, "system_cpu_usage": 4000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}},
            "memory_stats": {"usage": 1000, "stats": {"inactive_file": 100}, "limit": 4000},
            "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}}
        }))
        .unwrap();
        assert_eq!(stats.name, "/web");
        assert_eq!(stats.cpu_stats.online_cpus, 2);
        assert_eq!(stats.precpu_stats.system_cpu_usage, 0);
        assert_eq!(stats.memory_stats.stats["inactive_file"], 100);
        assert_eq!(stats.networks["eth0"].tx_bytes, 20);
        assert!(stats.blkio_stats.io_service_bytes_recursive.is_empty());

        let stopped: ContainerStats =
            serde_json::from_value(json!({"name": "/x", "networks": null, "memory_stats": {}}))
                .unwrap();
        assert!(stopped.networks.is_empty());
        assert_eq!(stopped.memory_stats.limit, 0);
    }
}
