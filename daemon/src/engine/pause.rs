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
