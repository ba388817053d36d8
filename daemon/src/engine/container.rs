//! One container: its persisted record, and the in-memory handles that
//! waiters and streams watch.

pub use super::endpoints::{Attachment, PublishedPort};
use berth_api::container::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

/// Docker's `State.Status` values that Berth uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Removing,
    Exited,
    /// Exited, and to be started again by its restart policy.
    Restarting,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Restarting => "restarting",
        }
    }
}

/// The state part of the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// The init's pid on the host, while running.
    pub pid: i32,
    /// The monitor's pid, while running.
    pub shim_pid: i32,
    pub exit_code: i32,
    /// The kernel's OOM killer killed a process of the container in its last run.
    #[serde(default)]
    pub oom_killed: bool,
    pub error: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The healthcheck's status and last probes, with a healthcheck.
    #[serde(default)]
    pub health: Option<berth_api::container::Health>,
    /// Stopped or killed by a user since its last start: its restart
    /// policy leaves it be (`unless-stopped` even across daemon restarts).
    #[serde(default)]
    pub manually_stopped: bool,
}

/// What is written to `containers/<id>/config.v2.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// With the leading `/`, as Docker shows it.
    pub name: String,
    pub created: String,
    pub image_id: String,
    pub path: String,
    pub args: Vec<String>,
    /// The merged config (image defaults plus the create body).
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub state: State,
    pub restart_count: i64,
    /// The networks the container is connected to, by network name: what
    /// the client asked for, and the endpoint while the container runs.
    #[serde(default)]
    pub networks: BTreeMap<String, Attachment>,
    /// Ports published in the current run.
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// Bind, volume and tmpfs mount points, resolved at create.
    #[serde(default)]
    pub mounts: Vec<super::mounts::MountRecord>,
}

impl Record {
    pub fn running(&self) -> bool {
        matches!(self.state.status, Status::Running | Status::Paused)
    }

    pub fn paused(&self) -> bool {
        self.state.status == Status::Paused
    }
}

/// What waiters watch: changes whenever the container starts, exits or is removed.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub running: bool,
    /// How many times the container has exited since the daemon started.
    pub exits: u64,
    pub exit_code: i32,
    pub removed: bool,
    /// Between the stop and the start of a restart: `logs -f` keeps following.
    pub restarting: bool,
}

/// A container known to the engine.
pub struct Container {
    pub id: String,
    record: Mutex<Record>,
    lifecycle: watch::Sender<Lifecycle>,
    /// Serializes start, stop, restart and remove of this container.
    pub op: tokio::sync::Mutex<()>,
    /// A pidfd for the running init, to signal it without pid reuse races.
    pub init_pidfd: Mutex<Option<OwnedFd>>,
    /// The wait before the next restart by policy (doubles each time).
    pub restart_delay: Mutex<std::time::Duration>,
}

impl Container {
    pub fn new(record: Record) -> Container {
        let lifecycle = Lifecycle {
            running: record.running(),
            exit_code: record.state.exit_code,
            ..Lifecycle::default()
        };
        Container {
            id: record.id.clone(),
            record: Mutex::new(record),
            lifecycle: watch::Sender::new(lifecycle),
            op: tokio::sync::Mutex::new(()),
            init_pidfd: Mutex::new(None),
            restart_delay: Mutex::new(std::time::Duration::ZERO),
        }
    }

    /// The record, locked briefly; never hold it across an await.
    pub fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> Record {
        self.record().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Lifecycle> {
        self.lifecycle.subscribe()
    }

    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle.borrow().clone()
    }

    pub fn notify(&self, change: impl FnOnce(&mut Lifecycle)) {
        self.lifecycle.send_modify(change);
    }
}

/// Writes `bytes` to `path` atomically: a temp file beside it, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
