//! The exec spec: everything the exec monitor needs to run one process in a
//! running container (`docker exec`).
//!
//! The daemon writes it as JSON and passes its path to `berth-shim exec`
//! ([`crate::exec_command`]); like the container's `spec.json`, it is the
//! whole contract, and the monitor never asks the daemon for more.

use crate::spec::{ProcessSpec, SecuritySpec};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One process to start in a running container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecSpec {
    /// Full 64-hex id of the container (for the monitor's messages and
    /// command line).
    pub container_id: String,
    /// The container's init pid on the host; the exec joins its namespaces
    /// and root. Refused unless its parent is the monitor of
    /// `container_id`, so a stale pid cannot lead anywhere else.
    pub init_pid: i32,
    /// The command. `env` is complete (the daemon merged the container's and
    /// the exec's); `cwd` must exist in the container ("" means "/");
    /// `user` is resolved against the container's own account files;
    /// `tty` and `console_size` ask for a terminal; `open_stdin` and
    /// `stdin_once` are the daemon's business (fd 0 is the exec's stdin).
    pub process: ProcessSpec,
    /// Unix socket on the host for resize requests (the control protocol of
    /// [`crate::control`], `resize` only), created by the exec monitor
    /// before it joins the container, and only with `process.tty`.
    #[serde(default)]
    pub control_socket: Option<PathBuf>,
    /// The container's `cgroup.procs` files on the host, one per hierarchy.
    /// The monitor opens them before it joins the container and puts the
    /// command in them before it runs anything; the monitor itself stays
    /// outside, so killing everything in the container's cgroup never
    /// orphans the command. Empty: the command stays in the monitor's
    /// cgroups.
    #[serde(default)]
    pub cgroup_procs: Vec<PathBuf>,
    /// The process's privileges and limits: the container's own
    /// ([`crate::ContainerSpec::security`]), with every capability for a
    /// privileged exec (`docker exec --privileged`).
    #[serde(default)]
    pub security: SecuritySpec,
}
