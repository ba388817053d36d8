//! The crate's one error type: what can go wrong on the monitor's side of a
//! start (pipes, clone) and on the daemon's side (spawning a monitor, reading
//! what it reports). Errors *inside* the container's init are not here: they
//! travel back as [`crate::StartReport::Failed`] with Docker's wording.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot start the container monitor {binary}: {source}")]
    SpawnMonitor { binary: PathBuf, source: io::Error },

    #[error("the container monitor for {spec} exited ({status}) without reporting whether the container started")]
    NoStartReport {
        spec: PathBuf,
        status: std::process::ExitStatus,
    },

    #[error("the container monitor for {spec} sent an unreadable start report: {source}")]
    BadStartReport {
        spec: PathBuf,
        source: serde_json::Error,
    },

    #[error("exit status file {path} is corrupt: {source}")]
    BadExitStatus {
        path: PathBuf,
        source: serde_json::Error,
    },

    #[error("{action} {path}: {source}")]
    File {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("cannot talk to the container monitor at {socket}: {source}")]
    Control { socket: PathBuf, source: io::Error },

    /// The monitor refused a control request; `message` says why in the
    /// user's terms ("the container has no TTY").
    #[error("{message}")]
    ControlRefused { message: String },

    /// An exec named a pid that is not (or no longer) the container's init:
    /// its parent is not the container's monitor.
    #[error("process {pid} is not the init of container {container_id}")]
    NotContainerInit { pid: i32, container_id: String },

    #[error("{action}: {source}")]
    Sys {
        action: &'static str,
        source: nix::Error,
    },
}
