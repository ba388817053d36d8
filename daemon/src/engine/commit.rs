//! `POST /commit`: a new image of a container's changes.
//!
//! The config is Docker's: the request's config (the container's when it
//! sends none), the `changes` Dockerfile instructions applied to it, then
//! merged with the container's config where it says nothing. A running
//! container is paused while its upper directory is read (unless
//! `pause=0`), as Docker does; the image store does the rest
//! ([`berth_image::ImageStore::commit`]).

use super::container::{Container, Status};
use super::events::Event;
use super::files::DAEMON_PATHS;
use super::{blocking, image_error, Engine};
use berth_api::container::ContainerConfig;
use berth_api::ApiError;
use berth_image::RunConfig;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What `POST /commit` asks for.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub repo: String,
    pub tag: String,
    pub comment: String,
    pub author: String,
    /// Pause a running container while its changes are read.
    pub pause: bool,
    /// Dockerfile instructions (`CMD ["sh"]`, `ENV A=b`).
    pub changes: Vec<String>,
    /// The config of the new image; the container's when `None`.
    pub config: Option<ContainerConfig>,
}

impl Engine {
    /// Commits the container's changes as a new image; returns its id.
    pub async fn commit(
        self: &Arc<Self>,
        reference: &str,
        options: CommitOptions,
    ) -> Result<String, ApiError> {
        let container = self.lookup(reference)?;
        let target = match (options.repo.is_empty(), options.tag.is_empty()) {
            (true, _) => None,
            (false, true) => Some(options.repo.clone()),
            (false, false) => Some(format!("{}:{}", options.repo, options.tag)),
        };
        let tag = target
            .as_deref()
            .map(berth_image::tag_target)
            .transpose()
            .map_err(image_error)?;
        let _op = container.op.lock().await;
        let record = container.snapshot();
        if container.lifecycle().removed {
            return Err(ApiError::no_such_container(reference));
        }
        if record.state.status == Status::Removing {
            return Err(ApiError::conflict(format!(
                "You cannot commit container {} which is being removed",
                record.id
            )));
        }
        let config = commit_config(&record.config, options.config.clone(), &options.changes)?;
        let frozen = options.pause
            && record.running()
            && !record.paused()
            && {
                match self.set_frozen(&container, true).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(container = %record.id, error = %e, "cannot pause for the commit");
                        false
                    }
                }
            };
        if frozen {
            self.container_event(&container, "pause", &[]);
        }
        let committed = self.store_commit(&container, config, &options, tag).await;
        if frozen {
            match self.set_frozen(&container, false).await {
                Ok(()) => self.container_event(&container, "unpause", &[]),
                Err(e) => {
                    tracing::warn!(container = %record.id, error = %e, "cannot unpause after the commit")
                }
            }
        }
        let id = committed?;
        self.events
            .publish(Event::new("image", "create", id.clone()).with("name", id.clone()));
        self.container_event(
            &container,
            "commit",
            &[
                ("comment", options.comment.clone()),
                ("imageID", id.clone()),
                ("imageRef", target.unwrap_or_default()),
            ],
        );
        tracing::info!(container = %record.id, image = %id, "committed");
        Ok(id)
    }

    async fn store_commit(
        &self,
        container: &Container,
        config: RunConfig,
        options: &CommitOptions,
        tag: Option<String>,
    ) -> Result<String, ApiError> {
        let record = container.snapshot();
        let upper = self.paths.container_dir(&record.id).join("upper");
        let maps = self.id_maps_of(&record);
        let container_config = serde_json::to_value(&record.config)
            .map_err(|e| ApiError::system(format!("encoding the container's config: {e}")))?;
        let created_by = record.config.cmd.clone().unwrap_or_default().join(" ");
        let images = self.images.clone();
        let (author, comment) = (options.author.clone(), options.comment.clone());
        blocking(move || {
            images
                .commit(berth_image::Commit {
                    upper: &upper,
                    maps: &maps,
                    image: &record.image_id,
                    config,
                    container_id: &record.id,
                    container_config,
                    author: &author,
                    comment: &comment,
                    created_by: &created_by,
                    daemon_paths: &DAEMON_PATHS,
                    tag: tag.as_deref(),
                })
                .map_err(image_error)
        })
        .await
    }
}

/// The new image's config, as Docker makes it: `requested` (or the
/// container's), `changes` applied, merged with the container's config.
fn commit_config(
    container: &ContainerConfig,
    requested: Option<ContainerConfig>,
    changes: &[String],
) -> Result<RunConfig, ApiError> {
    let mut config = run_config(&requested.unwrap_or_else(|| container.clone()))?;
    berth_image::apply_changes(&mut config, changes).map_err(image_error)?;
    merge(&mut config, &run_config(container)?);
    Ok(config)
}

fn run_config(config: &ContainerConfig) -> Result<RunConfig, ApiError> {
    serde_json::to_value(config)
        .and_then(serde_json::from_value)
        .map_err(|e| ApiError::system(format!("converting the container's config: {e}")))
}

/// Docker's `merge`: what the user's config leaves out comes from the
/// container's.
fn merge(user: &mut RunConfig, container: &RunConfig) {
    if user.user.as_deref().unwrap_or("").is_empty() {
        user.user = container.user.clone();
    }
    merge_map(&mut user.exposed_ports, &container.exposed_ports);
    match &mut user.env {
        Some(env) if !env.is_empty() => {
            let key = |e: &str| e.split('=').next().unwrap_or_default().to_string();
            for entry in container.env.iter().flatten() {
                if !env.iter().any(|e| key(e) == key(entry)) {
                    env.push(entry.clone());
                }
            }
        }
        _ => user.env = container.env.clone(),
    }
    let labels = user.labels.get_or_insert_with(BTreeMap::new);
    for (key, value) in container.labels.iter().flatten() {
        labels.entry(key.clone()).or_insert_with(|| value.clone());
    }
    if user.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if user.cmd.as_ref().is_none_or(Vec::is_empty) {
            user.cmd = container.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = container.entrypoint.clone();
        }
    }
    merge_healthcheck(user, container);
    if user.working_dir.as_deref().unwrap_or("").is_empty() {
        user.working_dir = container.working_dir.clone();
    }
    merge_map(&mut user.volumes, &container.volumes);
    if user.stop_signal.as_deref().unwrap_or("").is_empty() {
        user.stop_signal = container.stop_signal.clone();
    }
}

/// A map the user left empty is the container's; otherwise the
/// container's keys are added.
fn merge_map(
    user: &mut Option<BTreeMap<String, Value>>,
    container: &Option<BTreeMap<String, Value>>,
) {
    match user {
        Some(map) if !map.is_empty() => {
            for (key, value) in container.iter().flatten() {
                map.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        _ => *user = container.clone(),
    }
}

/// The healthcheck's fields the user left empty come from the container's
/// (the same merge as a container's over its image's).
fn merge_healthcheck(user: &mut RunConfig, container: &RunConfig) {
    let typed = |config: &RunConfig| {
        config
            .extra
            .get("Healthcheck")
            .and_then(|h| serde_json::from_value(h.clone()).ok())
    };
    if let Some(merged) = super::health::merge(typed(user), typed(container)) {
        let value = serde_json::to_value(merged).expect("a healthcheck serializes");
        user.extra.insert("Healthcheck".to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> ContainerConfig {
        serde_json::from_value(serde_json::json!({
            "Hostname": "abc", "Image": "busybox", "User": "app",
            "Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/srv",
            "Labels": {"l": "1"}, "ExposedPorts": {"80/tcp": {}},
            "Healthcheck": {"Test": ["CMD", "true"], "Retries": 3}
        }))
        .unwrap()
    }

    #[test]
    fn the_containers_config_with_changes_applied() {
        let config = commit_config(
            &container(),
            None,
            &[r#"CMD ["cat", "/x"]"#.to_string(), "ENV B=2".to_string()],
        )
        .unwrap();
        assert_eq!(config.cmd.unwrap(), ["cat", "/x"]);
        assert_eq!(config.env.unwrap(), ["PATH=/bin", "A=1", "B=2"]);
        assert_eq!(config.user.as_deref(), Some("app"));
        assert_eq!(config.extra["Hostname"], "abc");
        assert_eq!(config.extra["Image"], "busybox");
        let bad = commit_config(&container(), None, &["FROM x".to_string()]).unwrap_err();
        assert_eq!(bad.status(), 400);
    }

    #[test]
    fn a_requested_config_is_merged_with_the_containers() {
        let requested: ContainerConfig = serde_json::from_value(serde_json::json!({
            "Env": ["A=2"], "Labels": {"m": "2"}, "ExposedPorts": {"53/udp": {}},
            "Healthcheck": {"Test": ["CMD", "false"]}
        }))
        .unwrap();
        let config = commit_config(&container(), Some(requested), &[]).unwrap();
        assert_eq!(config.env.unwrap(), ["A=2", "PATH=/bin"]);
        assert_eq!(config.cmd.unwrap(), ["sh"]);
        assert_eq!(config.user.as_deref(), Some("app"));
        assert_eq!(config.working_dir.as_deref(), Some("/srv"));
        let labels = config.labels.unwrap();
        assert_eq!((labels["l"].as_str(), labels["m"].as_str()), ("1", "2"));
        let ports: Vec<_> = config.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        assert_eq!(config.extra["Healthcheck"]["Test"][1], "false");
        assert_eq!(config.extra["Healthcheck"]["Retries"], 3);
    }
}
