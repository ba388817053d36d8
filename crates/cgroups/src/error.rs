//! The crate's one error type. Every variant that touches the filesystem names the path.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while managing a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cgroup filesystem could be found under the given root.
    #[error(
        "no cgroup filesystem found at {path}: mount cgroup2 there (or v1 hierarchies beneath it)"
    )]
    NoCgroupFs { path: PathBuf },

    /// A cgroup parent or name that would escape the cgroup root.
    #[error("invalid cgroup path {0:?}: use relative names without \"..\" or empty components")]
    InvalidName(String),

    /// The requested resources contradict each other or are out of range.
    #[error("invalid resources: {0}")]
    InvalidResources(String),

    /// A device rule that is malformed, or that the kernel's v1 controller
    /// would silently ignore. The message is complete (Docker's wording for
    /// `--device-cgroup-rule` syntax errors).
    #[error("{0}")]
    InvalidDeviceRule(String),

    /// The cgroup does not exist in any hierarchy (for `open`).
    #[error("no such cgroup: {path}")]
    NotFound { path: PathBuf },

    /// The host lacks the controller or file needed for an operation.
    #[error("{what} is not supported on this host ({path} does not exist)")]
    Unsupported { what: &'static str, path: PathBuf },

    #[error("creating cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },

    #[error("removing cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },

    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },

    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },

    #[error("parsing {path}: {msg}")]
    Parse { path: PathBuf, msg: String },

    #[error("timed out after {timeout:?} waiting for {path} to {what}")]
    Timeout {
        path: PathBuf,
        what: &'static str,
        timeout: Duration,
    },

    #[error("sending SIGKILL to pid {pid}: {source}")]
    Signal { pid: u32, source: nix::Error },

    /// A bpf(2) call for the v2 device program of the cgroup at `path`.
    #[error("{what} for the device rules of {path}: {source}")]
    Bpf {
        what: String,
        path: PathBuf,
        source: io::Error,
    },
}

impl Error {
    /// True when the caller asked for something the kernel or this crate
    /// rejects as a bad value (e.g. a cpuset naming CPUs that do not exist,
    /// or a memory limit below current usage), so the daemon can answer 400.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Error::InvalidName(_) | Error::InvalidResources(_) | Error::InvalidDeviceRule(_) => {
                true
            }
            Error::Write { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::EINVAL) | Some(libc::ERANGE) | Some(libc::EBUSY)
            ),
            _ => false,
        }
    }

    /// True when the host cannot do what was asked (missing controller or file).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }
}
