//! The engine: containers and images, and what the API asks of them.
//!
//! Owns the container table, the on-disk records under the data root and
//! the image store. Lifecycle steps live in their own modules (`create`,
//! `lifecycle`, `logs`); the mechanism crates do the syscalls.

pub mod cgroups;
mod commit;
mod container;
mod create;
pub mod detach;
pub mod devices;
mod endpoints;
pub mod events;
pub mod exec;
mod files;
mod health;
mod lifecycle;
mod list_filters;
pub mod logs;
mod mounts;
mod name_files;
mod names;
mod network_api;
pub mod networks;
mod pause;
mod private_root;
pub mod progress;
mod prune;
mod pull;
pub use prune::prune_until;
mod push;
mod remap_layers;
mod rename_top;
mod restart;
mod security;
mod shim_binary;
mod update;
mod view;
pub mod volumes;

pub use commit::CommitOptions;
pub use container::{Container, Record};
pub use files::ExtractOptions;
pub use lifecycle::{WaitCondition, Waiter};
pub use pull::registry_error;

use berth_api::ApiError;
use berth_image::ImageStore;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Where things live; several daemons with different paths run side by side.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// The `berth-shim` binary.
    pub shim: PathBuf,
}

impl Paths {
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.data_root.join("containers").join(id)
    }
    pub fn runtime_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }
    pub fn record_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("config.v2.json")
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }
    pub fn exit_path(&self, id: &str) -> PathBuf {
        self.runtime_dir(id).join("exit.json")
    }
    /// A monitor's control socket. Kept short: socket paths are limited to
    /// 107 bytes, and exec roots can be deep.
    pub fn control_socket(&self, id: &str) -> PathBuf {
        self.exec_root
            .join("sock")
            .join(format!("{}.sock", &id[..16.min(id.len())]))
    }
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Arc<Container>>,
    /// Name with the leading `/` -> id.
    names: HashMap<String, String>,
}

pub struct Engine {
    pub paths: Paths,
    pub images: Arc<ImageStore>,
    pub events: Arc<events::EventBus>,
    pub execs: exec::Execs,
    /// None when the host's cgroups could not be read: containers then run
    /// without limits, and say so in the log.
    pub cgroups: Option<cgroups::Cgroups>,
    /// Networks, endpoints, published ports, the firewall and DNS.
    pub net: endpoints::NetState,
    /// The registry client pulls and pushes go through.
    pub registry: berth_registry::Client,
    /// The user namespace of every container that does not opt out
    /// (`--userns-remap`); `None`: containers use the host's ids.
    pub userns_remap: Option<berth_runtime::UserNamespace>,
    /// With `userns_remap`, a user namespace with its maps when the store's
    /// layers keep the images' ids and are mounted idmapped
    /// ([`remap_layers`]); `None` when they are shifted when unpacked.
    layer_idmap: Option<Arc<std::os::fd::OwnedFd>>,
    /// Compiled seccomp filters, one per profile and capability set.
    pub seccomp: Arc<berth_seccomp::FilterCache>,
    /// Volumes, and which containers use them.
    pub volumes: Arc<volumes::VolumeStore>,
    /// Held while a prune runs: one at a time, as with Docker.
    prune_lock: tokio::sync::Mutex<()>,
    table: RwLock<Table>,
}

impl Engine {
    /// Opens the roots, loads container records and re-adopts live monitors.
    pub async fn open(
        mut paths: Paths,
        cgroup_parent: String,
        network: networks::Config,
        registry: berth_registry::ClientConfig,
        userns_remap: Option<berth_runtime::UserNamespace>,
    ) -> anyhow::Result<Arc<Engine>> {
        use anyhow::Context;
        for dir in [
            paths.data_root.join("containers"),
            paths.exec_root.join("containers"),
            paths.exec_root.join("sock"),
        ] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        paths.shim = shim_binary::protect(&paths.shim, &paths.exec_root)?;
        let layer_idmap = match &userns_remap {
            Some(namespace) => {
                remap_layers::choose(&paths.data_root.join("image"), namespace).await?
            }
            None => None,
        };
        let id_maps = userns_remap
            .as_ref()
            .filter(|_| layer_idmap.is_none())
            .map(image_id_maps)
            .unwrap_or_default();
        let images = Arc::new(
            ImageStore::open_with_id_maps(paths.data_root.join("image"), id_maps)
                .context("opening the image store")?,
        );
        let networks = networks::Networks::open(paths.data_root.join("network"), network)
            .context("opening the network store")?;
        let events: Arc<events::EventBus> = Arc::default();
        let volumes = volumes::VolumeStore::open(
            paths.data_root.join("volumes"),
            userns_remap
                .as_ref()
                .and_then(berth_runtime::UserNamespace::host_root),
            events.clone(),
        )
        .context("opening the volume store")?;
        let engine = Engine {
            net: endpoints::NetState::new(networks),
            registry: berth_registry::Client::new(registry)
                .context("setting up the registry client")?,
            paths,
            images,
            events,
            volumes: Arc::new(volumes),
            execs: exec::Execs::default(),
            seccomp: Arc::default(),
            userns_remap,
            layer_idmap,
            prune_lock: tokio::sync::Mutex::new(()),
            cgroups: match berth_cgroups::Layout::detect() {
                Ok(layout) => Some(cgroups::Cgroups {
                    layout,
                    parent: cgroup_parent,
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "no cgroups: containers run without limits");
                    None
                }
            },
            table: RwLock::new(Table::default()),
        };
        let engine = Arc::new(engine);
        let containers = engine.load_containers()?;
        engine.restore_volumes(&containers);
        engine.reconcile_networks(&containers).await;
        for container in containers {
            engine.adopt(container.clone());
            engine.start_by_policy(container);
        }
        Ok(engine)
    }

    fn load_containers(&self) -> anyhow::Result<Vec<Arc<Container>>> {
        let mut loaded = Vec::new();
        let dir = self.paths.data_root.join("containers");
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let id = entry.file_name().to_string_lossy().into_owned();
            let record = std::fs::read(self.paths.record_path(&id))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok());
            let Some(record) = record else {
                tracing::warn!(container = %id, "removing half-created container");
                let _ = std::fs::remove_dir_all(entry.path());
                let _ = std::fs::remove_dir_all(self.paths.runtime_dir(&id));
                continue;
            };
            let container = Arc::new(Container::new(record));
            let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
            table
                .names
                .insert(container.record().name.clone(), id.clone());
            table.by_id.insert(id, container.clone());
            loaded.push(container);
        }
        // Runtime state of containers that no longer exist.
        for entry in std::fs::read_dir(self.paths.exec_root.join("containers"))?.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !loaded.iter().any(|c| c.id == id) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(loaded)
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        table.by_id.values().cloned().collect()
    }

    /// Finds a container by full id, name (with or without `/`), or unique id prefix.
    pub fn lookup(&self, reference: &str) -> Result<Arc<Container>, ApiError> {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = table.by_id.get(reference) {
            return Ok(c.clone());
        }
        let name = if reference.starts_with('/') {
            reference.to_string()
        } else {
            format!("/{reference}")
        };
        if let Some(id) = table.names.get(&name) {
            if let Some(c) = table.by_id.get(id) {
                return Ok(c.clone());
            }
        }
        if !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut matches = table
                .by_id
                .iter()
                .filter(|(id, _)| id.starts_with(reference));
            if let Some((_, c)) = matches.next() {
                if matches.next().is_none() {
                    return Ok(c.clone());
                }
                return Err(ApiError::not_found(format!(
                    "Multiple IDs found with provided prefix: {reference}"
                )));
            }
        }
        Err(ApiError::no_such_container(reference))
    }

    /// Writes a container's record atomically.
    pub fn save(&self, container: &Container) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec_pretty(&*container.record()).expect("records serialize");
        container::write_atomic(&self.paths.record_path(&container.id), &bytes)
            .map_err(|e| ApiError::system(format!("saving container {}: {e}", container.id)))
    }

    /// Adds a container whose name [`Engine::reserve_name`] already holds.
    fn insert_reserved(&self, container: Arc<Container>) {
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        table.by_id.insert(container.id.clone(), container);
    }

    /// Reserves a name before the container is written, so that two creates
    /// with one name cannot both succeed.
    fn reserve_name(&self, name: &str, id: &str) -> Result<(), ApiError> {
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        if let Some(other) = table.names.get(name) {
            return Err(name_conflict(name, other));
        }
        table.names.insert(name.to_string(), id.to_string());
        Ok(())
    }

    fn release_name(&self, name: &str, id: &str) {
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        if table.names.get(name).map(String::as_str) == Some(id) {
            table.names.remove(name);
        }
    }

    fn forget(&self, container: &Container) {
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        let name = container.record().name.clone();
        if table.names.get(&name) == Some(&container.id) {
            table.names.remove(&name);
        }
        table.by_id.remove(&container.id);
    }

    /// Publishes a container event with Docker's attributes (image, name,
    /// labels) plus `extra`.
    pub fn container_event(&self, container: &Container, action: &str, extra: &[(&str, String)]) {
        self.events
            .publish(events::container_event(container, action, extra));
    }

    /// The id of a container that uses `image_id`, if any.
    pub fn container_using_image(&self, image_id: &str) -> Option<String> {
        self.all()
            .into_iter()
            .find(|c| c.record().image_id == image_id)
            .map(|c| c.id.clone())
    }
}

fn name_conflict(name: &str, other: &str) -> ApiError {
    ApiError::conflict(format!(
        "Conflict. The container name \"{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
    ))
}

/// Runs blocking work (image store, file system) off the async threads.
/// The image store's form of a remapped user namespace: layers are
/// unpacked with their owners shifted into it.
fn image_id_maps(namespace: &berth_runtime::UserNamespace) -> berth_image::IdMaps {
    let ranges = |map: &[berth_runtime::IdMapping]| {
        map.iter()
            .map(|m| berth_image::IdRange {
                container: m.container,
                host: m.host,
                size: m.size,
            })
            .collect()
    };
    berth_image::IdMaps {
        uids: ranges(&namespace.uid_map),
        gids: ranges(&namespace.gid_map),
    }
}

pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::system(format!("internal task failed: {e}")))?
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The image store's errors as API errors.
pub fn image_error(err: berth_image::ImageError) -> ApiError {
    use berth_image::ImageErrorKind;
    let kind = match err.kind() {
        ImageErrorKind::NotFound => berth_api::ErrorKind::NotFound,
        ImageErrorKind::Conflict => berth_api::ErrorKind::Conflict,
        ImageErrorKind::InvalidArgument => berth_api::ErrorKind::InvalidParameter,
        ImageErrorKind::Internal => berth_api::ErrorKind::System,
    };
    ApiError::new(kind, err.to_string())
}
