//! Pause and unpause: freezing every process of a container in its cgroup.

use super::container::{Container, Status};
use super::{blocking, Engine};
use berth_api::ApiError;
use std::sync::Arc;

impl Engine {
    pub async fn pause(self: &Arc<Self>, reference: &str) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        let record = container.snapshot();
        if !record.running() {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                record.id
            )));
        }
        if record.paused() {
            return Err(ApiError::conflict(format!(
                "Container {} is already paused",
                record.id
            )));
        }
        self.set_frozen(&container, true).await?;
        self.container_event(&container, "pause", &[]);
        Ok(())
    }

    pub async fn unpause(self: &Arc<Self>, reference: &str) -> Result<(), ApiError> {
        let container = self.lookup(reference)?;
        let _op = container.op.lock().await;
        if !container.record().paused() {
            return Err(ApiError::conflict(format!(
                "Container {} is not paused",
                container.id
            )));
        }
        self.set_frozen(&container, false).await?;
        self.container_event(&container, "unpause", &[]);
        Ok(())
    }

    /// Freezes or thaws, and records the state. Callers hold the op lock.
    pub(super) async fn set_frozen(
        self: &Arc<Self>,
        container: &Arc<Container>,
        frozen: bool,
    ) -> Result<(), ApiError> {
        let engine = self.clone();
        let (id, host) = {
            let record = container.record();
            (record.id.clone(), record.host_config.clone())
        };
        blocking(move || engine.freeze_cgroup(&id, &host, frozen)).await?;
        container.record().state.status = if frozen {
            Status::Paused
        } else {
            Status::Running
        };
        self.save(container)
    }

    /// A paused container cannot take a signal: thaw it first (stop, kill
    /// and remove of a paused container work, as in Docker).
    pub(super) fn thaw_if_paused(&self, container: &Container) -> Result<(), ApiError> {
        let (id, host) = {
            let record = container.record();
            if !record.paused() {
                return Ok(());
            }
            (record.id.clone(), record.host_config.clone())
        };
        self.freeze_cgroup(&id, &host, false)?;
        container.record().state.status = Status::Running;
        self.container_event(container, "unpause", &[]);
        self.save(container)
    }
}

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
        }
        let resources = super::cgroups::resources(&host);
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
