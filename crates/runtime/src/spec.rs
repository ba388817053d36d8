//! The container spec: everything the monitor needs to start one container.
//!
//! The daemon writes it as `spec.json` in the container's directory under the
//! exec root and hands the path to `berth-shim`; the shim never talks back to
//! the daemon about configuration, so this file is the whole contract.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One container to start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerSpec {
    /// Full 64-hex container id.
    pub id: String,
    pub rootfs: RootfsSpec,
    pub process: ProcessSpec,
    pub hostname: String,
    /// Files the daemon wrote (hostname, hosts, resolv.conf) bind-mounted
    /// over paths inside the container.
    #[serde(default)]
    pub file_binds: Vec<FileBind>,
    /// Where the monitor writes the json-file log (`<id>-json.log`).
    pub log_path: PathBuf,
    /// Where the monitor writes the [`ExitStatus`] when the container dies.
    pub exit_path: PathBuf,
    /// Unix socket the monitor serves the control protocol on
    /// ([`crate::control`]: stdin, resize), mode 0600. It exists before the
    /// monitor reports [`StartReport::Started`] and is removed when the
    /// container exits. `None`: no control socket.
    #[serde(default)]
    pub control_socket: Option<PathBuf>,
    /// `cgroup.procs` files of the container's cgroups (one per hierarchy on
    /// v1/hybrid hosts, one on v2); the init is in all of them before it runs
    /// any of the container's code. Empty: the init stays in the monitor's
    /// cgroups.
    #[serde(default)]
    pub cgroup_procs: Vec<PathBuf>,
    /// Docker's `--cgroupns host`: the init stays in the host's cgroup
    /// namespace (it still runs in its own cgroups).
    #[serde(default)]
    pub cgroupns_host: bool,
    /// The network namespace the init runs in.
    #[serde(default)]
    pub network: NetworkNamespace,
    /// Device nodes created in the container's `/dev` besides the standard
    /// ones (`--device`, and every host device with `--privileged`). Whether
    /// they can be opened is the device cgroup's business.
    #[serde(default)]
    pub devices: Vec<DeviceNode>,
}

/// A device node to create inside the container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceNode {
    /// Absolute path inside the container (`/dev/fuse`).
    pub path: String,
    /// `'c'` (character) or `'b'` (block).
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    /// Permission bits of the node (e.g. 0o666).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Which network namespace a container's init gets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum NetworkNamespace {
    /// A new one of its own, with only `lo`, brought up by the init
    /// (Docker's `--network none`).
    #[default]
    New,
    /// The namespace at this path, opened by the monitor before the clone
    /// and joined by the init before it mounts anything (so `/sys` shows its
    /// interfaces): one the daemon prepared with the container's endpoints
    /// (`/proc/<daemon pid>/fd/<n>`, valid while the daemon waits for the
    /// start report) or another container's (`/proc/<pid>/ns/net`). The
    /// init leaves its interfaces as they are.
    Join(PathBuf),
    /// The host's own (`--network host`).
    Host,
}

/// The overlay root filesystem.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RootfsSpec {
    /// Unpacked image layers, topmost first (overlay's `lowerdir` order).
    pub lower: Vec<PathBuf>,
    /// Private writable layer of this container.
    pub upper: PathBuf,
    /// Overlay work dir, on the same filesystem as `upper`.
    pub work: PathBuf,
    /// Empty directory the overlay is mounted on (inside the container's own
    /// mount namespace only; the host never sees the mount).
    pub target: PathBuf,
}

/// The container's init process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessSpec {
    /// argv; `args[0]` is looked up in the container's `PATH` unless it has a `/`.
    pub args: Vec<String>,
    /// `KEY=value` entries, already merged (image first, then container).
    pub env: Vec<String>,
    /// Working directory inside the container; created if missing.
    pub cwd: String,
    /// Docker's `User`: empty (root), `name`, `uid`, `name:group`, `uid:gid`.
    #[serde(default)]
    pub user: String,
    /// Keep stdin open (`OpenStdin`); otherwise stdin is `/dev/null`.
    #[serde(default)]
    pub open_stdin: bool,
    /// Give the process a pseudo-terminal (`Tty`) instead of pipes: the
    /// slave, from the container's own devpts, is its stdin, stdout, stderr
    /// and controlling terminal; everything it prints is logged as stdout.
    #[serde(default)]
    pub tty: bool,
    /// `[height, width]` of the terminal at start (`ConsoleSize`); only with
    /// `tty`, and ignored when either is 0.
    #[serde(default)]
    pub console_size: Option<[u16; 2]>,
    /// `StdinOnce`: the first stdin client's end of input closes the
    /// container's stdin (with pipes; with a TTY it ends only that client).
    #[serde(default)]
    pub stdin_once: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileBind {
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
}

/// What the monitor reports on its sync pipe once the init has exec'd (or failed to).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum StartReport {
    /// The init runs: its pid in the host's pid namespace, and the monitor's own pid.
    Started { pid: i32, shim_pid: i32 },
    /// The init could not start. `message` uses Docker's wording
    /// ("executable file not found in $PATH", "permission denied",
    /// "no such file or directory"), and `exit_code` is 127 or 126 as Docker
    /// sets it, or 128 for any other failure before the command ran.
    Failed { message: String, exit_code: i32 },
}

/// Written atomically to [`ContainerSpec::exit_path`] when the init dies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExitStatus {
    /// The exit code, or 128 + signal number.
    pub exit_code: i32,
    /// When the init died, in nanoseconds since the Unix epoch.
    pub finished_unix_nanos: u64,
}
