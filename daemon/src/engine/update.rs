//! `POST /containers/{id}/update`: new limits for a container, applied
//! live to its cgroup when it runs.

use super::{blocking, Engine};
use berth_api::ApiError;
use std::sync::Arc;

/// The limits `POST /containers/{id}/update` may change.
const UPDATABLE: &[&str] = &[
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "CpuShares",
    "CpuQuota",
    "CpuPeriod",
    "NanoCpus",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
    "BlkioWeight",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
];

impl Engine {
    /// `POST /containers/{id}/update`: stores the new limits and, on a
    /// running container, applies them to its cgroup at once.
    pub async fn update(
        self: &Arc<Self>,
        reference: &str,
        body: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<String>, ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        let mut host = container.record().host_config.clone();
        for (key, value) in &body {
            if UPDATABLE.contains(&key.as_str()) && !value.is_null() {
                host.extra.insert(key.clone(), value.clone());
            }
        }
        if let Some(policy) = body.get("RestartPolicy").filter(|p| !p.is_null()) {
            host.restart_policy = serde_json::from_value(policy.clone())
                .map_err(|e| ApiError::invalid(format!("invalid RestartPolicy: {e}")))?;
            super::restart::check(&host)?;
        }
        let resources = super::cgroups::resources(&host)?;
        resources
            .validate()
            .map_err(super::cgroups::invalid_resources)?;
        super::cgroups::check_host_limits(&resources)?;
        let warnings = if container.record().running() {
            let engine = self.clone();
            let (id, applied) = (container.id.clone(), host.clone());
            blocking(move || engine.apply_limits(&id, &applied)).await?
        } else {
            Vec::new()
        };
        container.record().host_config = host;
        self.save(&container)?;
        self.container_event(&container, "update", &[]);
        Ok(warnings)
    }
}
