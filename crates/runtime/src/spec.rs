//! The container spec: everything the monitor needs to start one container.
//!
//! The daemon writes it as `spec.json` in the container's directory under the
//! exec root and hands the path to `berth-shim`; the shim never talks back to
//! the daemon about configuration, so this file is the whole contract.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// The privileges and limits of the container's processes (the init
    /// and every exec; see [`crate::ExecSpec::security`]).
    #[serde(default)]
    pub security: SecuritySpec,
    /// What of the filesystem is hidden or read-only, and the tmpfs mounts.
    #[serde(default)]
    pub filesystem: FilesystemSpec,
    /// A user namespace of the container's own (dockerd's
    /// `--userns-remap`). `None`: the container's ids are the host's.
    #[serde(default)]
    pub user_namespace: Option<UserNamespace>,
    /// Namespaced sysctls (`--sysctl`), written by the init through
    /// `/proc/sys` once it is in the container's network and IPC
    /// namespaces, after Docker's defaults (so they may override them).
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Host paths bound into the container (`Binds`, `Mounts` of type bind
    /// and volume: a volume's source is its data directory), attached in
    /// order after the tmpfs mounts and before the daemon's file binds; the
    /// daemon sorts them so that a parent comes before what is mounted
    /// under it.
    #[serde(default)]
    pub mounts: Vec<BindMount>,
}

/// One host path bound into the container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BindMount {
    /// Host path: a file or a directory.
    pub source: PathBuf,
    /// Absolute path inside the container; created (a directory, or an
    /// empty file when the source is not a directory) where missing, with
    /// symlinks resolved inside the container.
    pub destination: String,
    /// Read-only (`:ro`, `readonly`), with the submounts it brings along
    /// (`recursive`).
    #[serde(default)]
    pub readonly: bool,
    /// Bring the mounts under `source` along (`rbind`, Docker's default).
    #[serde(default = "default_true")]
    pub recursive: bool,
    /// The mount's propagation inside the container, set once it is
    /// attached; the `r` modes apply to its submounts too.
    #[serde(default)]
    pub propagation: Propagation,
    /// A new volume: when `source` is an empty directory, it is first
    /// filled with what the container's root has at `destination`, as
    /// Docker fills volumes: directories, regular files, symlinks (targets
    /// verbatim) and fifos, with owners, modes and times (sockets and
    /// device nodes are left out, hard links become copies, extended
    /// attributes are not copied), and `source` itself takes the owner,
    /// mode and times of the image's directory. Nothing is copied where the
    /// image has no directory at `destination`. A read-only volume is
    /// filled too.
    #[serde(default)]
    pub copy_up: bool,
}

fn default_true() -> bool {
    true
}

/// Mount propagation (`Binds`' `:rshared` and so on, `BindOptions.Propagation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    #[default]
    Rprivate,
    Private,
    Rshared,
    Shared,
    Rslave,
    Slave,
}

impl Propagation {
    /// Docker's name of a propagation mode.
    pub fn parse(value: &str) -> Option<Propagation> {
        Some(match value {
            "rprivate" => Propagation::Rprivate,
            "private" => Propagation::Private,
            "rshared" => Propagation::Rshared,
            "shared" => Propagation::Shared,
            "rslave" => Propagation::Rslave,
            "slave" => Propagation::Slave,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Rprivate => "rprivate",
            Propagation::Private => "private",
            Propagation::Rshared => "rshared",
            Propagation::Shared => "shared",
            Propagation::Rslave => "rslave",
            Propagation::Slave => "slave",
        }
    }
}

/// One contiguous range of a user namespace's id mapping: container ids
/// `container..container + size` are host ids `host..host + size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMapping {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// The uid and gid mappings of a container's user namespace, as written to
/// `/proc/<pid>/uid_map` and `gid_map`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserNamespace {
    pub uid_map: Vec<IdMapping>,
    pub gid_map: Vec<IdMapping>,
}

impl UserNamespace {
    /// The host uid and gid of the container's root.
    pub fn host_root(&self) -> Option<(u32, u32)> {
        Some((to_host(&self.uid_map, 0)?, to_host(&self.gid_map, 0)?))
    }

    /// The host gid of container gid `id`, if mapped.
    pub fn host_gid(&self, id: u32) -> Option<u32> {
        to_host(&self.gid_map, id)
    }
}

fn to_host(map: &[IdMapping], id: u32) -> Option<u32> {
    map.iter().find_map(|m| {
        let offset = id.checked_sub(m.container)?;
        (offset < m.size).then(|| m.host + offset)
    })
}

/// Capability names every container gets unless told otherwise: Docker's
/// defaults.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths hidden from every unprivileged container (Docker's list): a file
/// gets `/dev/null` bound over it, a directory an empty read-only tmpfs.
/// Paths this kernel does not have are skipped.
pub const DEFAULT_MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths every unprivileged container sees read-only (Docker's list).
pub const DEFAULT_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The privileges and limits a container's processes run with, applied by
/// the init and by each exec between the user switch and `execve`.
///
/// Order (as runc): rlimits and the OOM score adjustment first, then
/// `no_new_privs`; the seccomp filter right after that when `no_new_privs`
/// is off (loading it then needs CAP_SYS_ADMIN, which is still held); the
/// bounding set; the user switch (supplementary groups, gid, uid); the
/// permitted, effective and inheritable sets and the ambient set; and the
/// seccomp filter as the very last step before `execve` when
/// `no_new_privs` is on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecuritySpec {
    /// Capability names (`CAP_CHOWN`) kept in the bounding set and, for
    /// uid 0, in the permitted and effective sets; a process of any other
    /// uid gets empty permitted and effective sets (as with Docker). The
    /// inheritable and ambient sets are always empty. Capabilities missing
    /// from the monitor's own bounding set are left out, so asking for
    /// every capability (`--privileged`) never fails on a host whose
    /// bounding set is short of some. Default: [`DEFAULT_CAPABILITIES`].
    #[serde(default = "default_capabilities")]
    pub capabilities: Vec<String>,
    /// `prctl(PR_SET_NO_NEW_PRIVS)` before exec (`--security-opt
    /// no-new-privileges`).
    #[serde(default)]
    pub no_new_privileges: bool,
    /// A compiled seccomp filter: an array of `struct sock_filter { u16
    /// code; u8 jt; u8 jf; u32 k; }` in native byte order (8 bytes each, at
    /// most 4096), loaded with `seccomp(SECCOMP_SET_MODE_FILTER)`. `None`:
    /// no filter.
    #[serde(default)]
    pub seccomp: Option<Vec<u8>>,
    /// Flags for `seccomp(SECCOMP_SET_MODE_FILTER, flags, ...)`
    /// (`SECCOMP_FILTER_FLAG_*`); 0 for the usual filter.
    #[serde(default)]
    pub seccomp_flags: u32,
    /// Resource limits set with `setrlimit` (`--ulimit`). Limits not listed
    /// are inherited from the monitor, i.e. from the daemon, as Docker's
    /// containers inherit dockerd's.
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// Written to `/proc/self/oom_score_adj` (`--oom-score-adj`); `None`
    /// leaves the inherited value.
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// Extra supplementary groups (`--group-add`): group names, looked up
    /// in the container's `/etc/group`, or numeric gids. Added to those of
    /// the user, whatever the user.
    #[serde(default)]
    pub additional_groups: Vec<String>,
}

fn default_capabilities() -> Vec<String> {
    DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect()
}

impl Default for SecuritySpec {
    /// Docker's defaults: its 14 capabilities, nothing else.
    fn default() -> Self {
        SecuritySpec {
            capabilities: default_capabilities(),
            no_new_privileges: false,
            seccomp: None,
            seccomp_flags: 0,
            rlimits: Vec::new(),
            oom_score_adj: None,
            additional_groups: Vec::new(),
        }
    }
}

/// One resource limit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rlimit {
    /// Docker's name of the resource: `core`, `cpu`, `data`, `fsize`,
    /// `locks`, `memlock`, `msgqueue`, `nice`, `nofile`, `nproc`, `rss`,
    /// `rtprio`, `rttime`, `sigpending` or `stack`.
    pub name: String,
    /// Soft limit; `u64::MAX` is unlimited.
    pub soft: u64,
    /// Hard limit; `u64::MAX` is unlimited.
    pub hard: u64,
}

/// The container's filesystem beyond its root: what is hidden or read-only,
/// whether `/sys` is writable, and the tmpfs mounts. Everything is applied
/// after the pivot, so every path resolves inside the container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FilesystemSpec {
    /// Remount the root read-only once everything is mounted
    /// (`--read-only`); the daemon's file binds (`/etc/hosts`, ...) become
    /// read-only too, while `/dev`, `/dev/shm`, `/proc` and the tmpfs
    /// mounts stay writable.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// Mount `/sys` read-write (`--privileged`); read-only otherwise.
    #[serde(default)]
    pub writable_sysfs: bool,
    /// Paths hidden: a file gets the container's `/dev/null` bound over it
    /// (after checking that it is the null device), a directory an empty
    /// read-only tmpfs; missing paths are skipped.
    #[serde(default = "default_masked_paths")]
    pub masked_paths: Vec<String>,
    /// Paths bound over themselves read-only; missing paths are skipped.
    #[serde(default = "default_readonly_paths")]
    pub readonly_paths: Vec<String>,
    /// tmpfs mounts (`--tmpfs`), mounted in order after the pseudo
    /// filesystems and before the file binds.
    #[serde(default)]
    pub tmpfs: Vec<TmpfsMount>,
}

fn default_masked_paths() -> Vec<String> {
    DEFAULT_MASKED_PATHS.iter().map(|p| p.to_string()).collect()
}

fn default_readonly_paths() -> Vec<String> {
    DEFAULT_READONLY_PATHS
        .iter()
        .map(|p| p.to_string())
        .collect()
}

impl Default for FilesystemSpec {
    /// Docker's defaults for an unprivileged container.
    fn default() -> Self {
        FilesystemSpec {
            readonly_rootfs: false,
            writable_sysfs: false,
            masked_paths: default_masked_paths(),
            readonly_paths: default_readonly_paths(),
            tmpfs: Vec::new(),
        }
    }
}

/// A tmpfs mounted inside the container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TmpfsMount {
    /// Absolute path inside the container; created if missing.
    pub destination: String,
    /// mount(8)-style options: flags (`ro`, `nosuid`, `noexec`, `nodev`,
    /// `exec`, ...) and tmpfs data (`size=64m`, `mode=1777`, ...), as
    /// [`crate::tmpfs_options`] merges them.
    pub options: Vec<String>,
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
    /// The layers hold the image's own ids: with a user namespace, each
    /// is mounted idmapped through its maps (see [`crate::idmap_layers`]);
    /// otherwise they were unpacked with their owners already shifted.
    #[serde(default)]
    pub idmapped: bool,
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
