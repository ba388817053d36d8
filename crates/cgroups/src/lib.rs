//! berth-cgroups: the cgroup of each container.
//!
//! Owns: detecting the host's cgroup layout ([`Layout`]: unified v2, hybrid,
//! legacy v1), creating and removing one cgroup per container under a parent
//! berthd owns, moving processes in, writing limits ([`Resources`], Docker's
//! `HostConfig` names), reading usage ([`Stats`]), freezing, killing every
//! process, and counting OOM kills.
//!
//! Device access ([`DeviceRule`], [`Cgroup::apply_devices`]): v1
//! `devices.deny`/`devices.allow` where the v1 `devices` controller is
//! mounted (legacy and hybrid hosts, as Docker does), else an eBPF
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the v2 directory; both
//! enforce the same policy, read with the kernel's v1 semantics. The crate
//! knows Docker's default rule list ([`docker_default_rules`]); which rules a
//! container gets is the daemon's call.
//!
//! Does not own: deciding Docker's defaults (swap = 2 x memory), spawning
//! processes, or resolving device paths (for blkio throttling the daemon
//! does, with [`device_numbers`]).
//!
//! hugetlb: v1 `hugetlb` hierarchy when mounted, else the v2 directory (also
//! on hybrid hosts, where the crate enables `hugetlb` down the v2 chain if
//! the host delegated it at the v2 root).
//!
//! One [`Cgroup`] handle hides a [`Manager`] trait object with a v1 and a v2
//! implementation. On hybrid hosts the v1 manager also creates the cgroup in
//! the v2 tree so `cgroup.freeze`, `cgroup.kill` and `cgroup.events` work.
//! Every path written is `<hierarchy>/<parent>/<name>` or one of the parent
//! directories; names are checked so nothing escapes that subtree.

mod devices;
mod error;
mod fs;
mod hugetlb;
mod layout;
mod resources;
mod stats;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use devices::{docker_default_rules, DeviceRule};
pub use error::{Error, Result};
pub use layout::{Layout, V1Mounts, DEFAULT_ROOT};
pub use resources::{
    blkio_weight_to_io_weight, device_numbers, nano_cpus_to_quota, shares_to_weight, DeviceRate,
    HugepageLimit, Resources, NANO_CPUS_PERIOD_US,
};
pub use stats::{BlkioEntry, BlkioStats, CpuStats, MemoryStats, PidsStats, Stats, Throttling};

/// How long `freeze`, `thaw` and `kill_all` wait for the kernel.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The directories of one cgroup in every hierarchy it lives in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paths {
    /// The v2 directory (unified hosts, and the v2 tree of hybrid hosts):
    /// open it for `CLONE_INTO_CGROUP`. On hybrid hosts that only places the
    /// child in the v2 tree; `add_process` is still needed for v1.
    pub unified: Option<PathBuf>,
    /// v1 directory by controller (co-mounted controllers share one).
    pub v1: BTreeMap<String, PathBuf>,
}

impl Paths {
    /// Every distinct directory, v1 first, then the v2 one.
    pub fn dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.v1.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v.extend(self.unified.as_deref());
        v
    }
}

/// What a cgroup implementation (v1 or v2) can do. [`Cgroup`] wraps one.
pub trait Manager: std::fmt::Debug + Send + Sync {
    /// The cgroup's directories.
    fn paths(&self) -> &Paths;
    /// Moves a process (all its threads) into the cgroup in every hierarchy.
    fn add_process(&self, pid: u32) -> Result<()>;
    /// The pids in the cgroup (union over hierarchies), sorted.
    fn procs(&self) -> Result<Vec<u32>>;
    /// Writes limits; returns warnings for limits the host cannot apply.
    fn apply(&self, resources: &Resources) -> Result<Vec<String>>;
    /// Replaces the device access rules (see [`Cgroup::apply_devices`]).
    fn apply_devices(&self, rules: &[DeviceRule]) -> Result<()>;
    /// Reads usage numbers.
    fn stats(&self) -> Result<Stats>;
    /// Freezes every process and waits until the kernel reports it frozen.
    fn freeze(&self, timeout: Duration) -> Result<()>;
    /// Thaws and waits until the kernel reports it thawed.
    fn thaw(&self, timeout: Duration) -> Result<()>;
    /// Whether the kernel reports the cgroup frozen.
    fn is_frozen(&self) -> Result<bool>;
    /// SIGKILLs every process and waits until the cgroup is empty.
    fn kill_all(&self, timeout: Duration) -> Result<()>;
    /// How many processes the OOM killer killed in this cgroup.
    fn oom_kill_count(&self) -> Result<u64>;
    /// Removes the cgroup's directories (not the parent); fine if gone.
    fn remove(&self) -> Result<()>;
}

/// A container's cgroup.
#[derive(Debug)]
pub struct Cgroup {
    manager: Box<dyn Manager>,
}

impl Cgroup {
    /// Creates `<parent>/<name>` in every hierarchy of `layout`, creating the
    /// parent chain as needed. `parent` may hold several components
    /// (`berth/web`) and a leading `/`; `name` is one component.
    pub fn create(layout: &Layout, parent: &str, name: &str) -> Result<Cgroup> {
        let rel = relative_path(parent, name)?;
        let _span = tracing::debug_span!("cgroup_create", cgroup = %rel.display()).entered();
        let manager: Box<dyn Manager> = match layout {
            Layout::Unified { root } => Box::new(v2::V2Cgroup::create(root, &rel)?),
            Layout::Hybrid { v1, unified } => {
                Box::new(v1::V1Cgroup::create(v1, Some(unified), &rel)?)
            }
            Layout::Legacy { v1 } => Box::new(v1::V1Cgroup::create(v1, None, &rel)?),
        };
        Ok(Cgroup { manager })
    }

    /// Opens an existing cgroup (after a daemon restart). Fails with
    /// [`Error::NotFound`] if it exists in no hierarchy.
    pub fn open(layout: &Layout, parent: &str, name: &str) -> Result<Cgroup> {
        let rel = relative_path(parent, name)?;
        let manager: Box<dyn Manager> = match layout {
            Layout::Unified { root } => Box::new(v2::V2Cgroup::open(root, &rel)?),
            Layout::Hybrid { v1, unified } => {
                Box::new(v1::V1Cgroup::open(v1, Some(unified), &rel)?)
            }
            Layout::Legacy { v1 } => Box::new(v1::V1Cgroup::open(v1, None, &rel)?),
        };
        Ok(Cgroup { manager })
    }

    /// The implementation behind this handle (for calls with a timeout).
    pub fn manager(&self) -> &dyn Manager {
        self.manager.as_ref()
    }

    /// The cgroup's directories.
    pub fn paths(&self) -> &Paths {
        self.manager.paths()
    }

    /// Moves `pid` into the cgroup in every hierarchy.
    pub fn add_process(&self, pid: u32) -> Result<()> {
        self.manager.add_process(pid)
    }

    /// The pids in the cgroup, sorted.
    pub fn procs(&self) -> Result<Vec<u32>> {
        self.manager.procs()
    }

    /// Validates and writes limits. Returns warnings (Docker's wording) for
    /// limits this host cannot apply; bad values are errors
    /// ([`Error::is_invalid_input`]).
    pub fn apply(&self, resources: &Resources) -> Result<Vec<String>> {
        resources.validate()?;
        let mut warnings = self.manager.apply(resources)?;
        if resources.oom_kill_disable == Some(true)
            && resources.memory.filter(|m| *m > 0).is_none()
            && !warnings.iter().any(|w| w == warn::OOM_KILL_DISABLE)
        {
            warnings.push(warn::OOM_KILL_DISABLE_NO_MEMORY.into());
        }
        for w in &warnings {
            tracing::warn!(warning = %w, "cgroup limit not applied");
        }
        Ok(warnings)
    }

    /// Sets which devices the cgroup's processes may create (`m`), read
    /// (`r`) and write (`w`), replacing any rules set before. `rules` are
    /// read in order as the v1 controller reads them, starting from a cgroup
    /// that allows everything: usually [`DeviceRule::deny_all`] first, then
    /// allow rules. v1 `devices` files where that controller is mounted
    /// (legacy and hybrid hosts), else the v2 eBPF program. Bad rules are
    /// invalid input ([`Error::InvalidDeviceRule`]); a host with neither is
    /// [`Error::Unsupported`].
    pub fn apply_devices(&self, rules: &[DeviceRule]) -> Result<()> {
        self.manager.apply_devices(rules)
    }

    /// Reads usage numbers.
    pub fn stats(&self) -> Result<Stats> {
        self.manager.stats()
    }

    /// Freezes every process (pause), waiting up to [`DEFAULT_TIMEOUT`].
    pub fn freeze(&self) -> Result<()> {
        self.manager.freeze(DEFAULT_TIMEOUT)
    }

    /// Thaws (unpause), waiting up to [`DEFAULT_TIMEOUT`].
    pub fn thaw(&self) -> Result<()> {
        self.manager.thaw(DEFAULT_TIMEOUT)
    }

    /// Whether the kernel reports the cgroup frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        self.manager.is_frozen()
    }

    /// Kills every process, waiting up to [`DEFAULT_TIMEOUT`] for it to empty.
    pub fn kill_all(&self) -> Result<()> {
        self.manager.kill_all(DEFAULT_TIMEOUT)
    }

    /// OOM kills counted in this cgroup.
    pub fn oom_kill_count(&self) -> Result<u64> {
        self.manager.oom_kill_count()
    }

    /// Removes the cgroup in every hierarchy (leaf only; the parent stays).
    pub fn remove(&self) -> Result<()> {
        self.manager.remove()
    }
}

/// `<parent>/<name>` as a relative path, refusing anything that could leave
/// the hierarchy (`..`, `.`, empty name, NUL).
fn relative_path(parent: &str, name: &str) -> Result<PathBuf> {
    let bad_component = |c: &str| c.is_empty() || c == "." || c == ".." || c.contains('\0');
    if bad_component(name) || name.contains('/') {
        return Err(Error::InvalidName(name.to_string()));
    }
    let mut rel = PathBuf::new();
    for c in parent
        .trim_matches('/')
        .split('/')
        .filter(|c| !c.is_empty())
    {
        if bad_component(c) {
            return Err(Error::InvalidName(parent.to_string()));
        }
        rel.push(c);
    }
    rel.push(name);
    Ok(rel)
}

/// SIGKILLs every pid `procs` returns until it returns none, or times out.
/// `after_signal` runs after each round (v1 thaws a frozen cgroup there so
/// the signals are delivered).
fn kill_until_empty(
    dir: &Path,
    timeout: Duration,
    procs: impl Fn() -> Result<Vec<u32>>,
    after_signal: impl Fn() -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let pids = procs()?;
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                path: dir.to_path_buf(),
                what: "become empty after SIGKILL",
                timeout,
            });
        }
        for pid in pids {
            let Ok(raw) = i32::try_from(pid) else {
                continue;
            };
            match nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(raw),
                nix::sys::signal::Signal::SIGKILL,
            ) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(source) => return Err(Error::Signal { pid, source }),
            }
        }
        after_signal()?;
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `done` every few milliseconds until it is true or `timeout` passes.
fn wait_for(
    path: &Path,
    what: &'static str,
    timeout: Duration,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if done()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                path: path.to_path_buf(),
                what,
                timeout,
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Warnings in Docker's wording for limits a host cannot apply.
mod warn {
    pub const MEMORY: &str = "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.";
    pub const SWAP: &str = "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";
    pub const RESERVATION: &str = "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.";
    pub const CPU_SHARES: &str =
        "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.";
    pub const CPU_CFS: &str = "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. CPU period/quota discarded.";
    pub const CPUSET: &str =
        "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.";
    pub const PIDS: &str = "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.";
    pub const BLKIO_WEIGHT: &str = "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
    pub const READ_BPS: &str = "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.";
    pub const WRITE_BPS: &str = "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.";
    pub const READ_IOPS: &str = "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.";
    pub const WRITE_IOPS: &str = "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.";
    pub const OOM_KILL_DISABLE: &str =
        "Your kernel does not support OomKillDisable. OomKillDisable discarded.";
    pub const OOM_KILL_DISABLE_NO_MEMORY: &str = "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.";
    pub const HUGETLB: &str = "Your kernel does not support hugetlb limit.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_joins_parent_and_name() {
        assert_eq!(
            relative_path("/berth/web/", "abc").unwrap(),
            PathBuf::from("berth/web/abc")
        );
        assert_eq!(relative_path("", "abc").unwrap(), PathBuf::from("abc"));
    }

    #[test]
    fn relative_path_refuses_escapes() {
        for (p, n) in [
            ("..", "x"),
            ("berth", ".."),
            ("berth/../..", "x"),
            ("b", "a/b"),
            ("b", ""),
        ] {
            let err = relative_path(p, n).unwrap_err();
            assert!(matches!(err, Error::InvalidName(_)), "{p:?} {n:?}");
        }
    }
}
