//! Test cgroups of our own: one per hierarchy (memory, pids and v2, those of
//! them this host has), created by the test and removed on drop.

use super::TIMEOUT;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Hierarchy directories tried under [`CGROUP_ROOT`]; "unified" is the v2
/// tree of a hybrid host.
const HIERARCHIES: &[&str] = &["memory", "pids", "unified"];

static NEXT: AtomicU64 = AtomicU64::new(1);

/// Test cgroups of our own, one per hierarchy; emptied (killing only the
/// pids listed in them, which are ours) and removed on drop.
pub struct TestCgroups {
    name: String,
    /// (hierarchy, directory)
    dirs: Vec<(&'static str, PathBuf)>,
}

impl TestCgroups {
    /// `None` when this host or user cannot have them (the test is skipped).
    pub fn create() -> Option<TestCgroups> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: not root");
            return None;
        }
        let name = format!(
            "berth-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut cgroups = TestCgroups {
            name,
            dirs: Vec::new(),
        };
        for &hierarchy in HIERARCHIES {
            let root = Path::new(CGROUP_ROOT).join(hierarchy);
            if !root.join("cgroup.procs").is_file() {
                continue;
            }
            let dir = root.join(&cgroups.name);
            std::fs::create_dir(&dir).unwrap();
            cgroups.dirs.push((hierarchy, dir));
        }
        if cgroups.dirs.is_empty() {
            eprintln!("skipped: none of {HIERARCHIES:?} under {CGROUP_ROOT}");
            return None;
        }
        Some(cgroups)
    }

    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|(_, dir)| dir.join("cgroup.procs"))
            .collect()
    }

    /// The directories, one per hierarchy.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(|(_, dir)| dir.as_path())
    }

    /// A `cgroup.procs` path whose cgroup does not exist.
    pub fn missing_procs_file(&self) -> PathBuf {
        let (_, dir) = &self.dirs[0];
        dir.with_file_name(format!("{}-missing", self.name))
            .join("cgroup.procs")
    }

    /// SIGKILLs every process in the cgroups (only our own containers' are
    /// there) until they are empty.
    pub fn kill_all(&self) {
        let deadline = Instant::now() + TIMEOUT;
        for (_, dir) in &self.dirs {
            loop {
                let pids = Self::pids(dir);
                if pids.is_empty() || Instant::now() >= deadline {
                    break;
                }
                for pid in pids {
                    // SAFETY: kill with a pid and a signal number; only our
                    // own containers' processes are in this cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    pub fn pids(dir: &Path) -> Vec<i32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }

    /// Asserts that `pid` is in this cgroup in every hierarchy, as the host
    /// sees it (/proc/PID/cgroup and each cgroup.procs).
    pub fn assert_member(&self, pid: i32) {
        let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for (hierarchy, dir) in &self.dirs {
            let line = membership
                .lines()
                .find(|line| {
                    let mut fields = line.splitn(3, ':');
                    let (_, controllers) = (fields.next(), fields.next().unwrap_or(""));
                    match *hierarchy {
                        "unified" => line.starts_with("0::"),
                        controller => controllers.split(',').any(|c| c == controller),
                    }
                })
                .unwrap_or_else(|| panic!("no {hierarchy} line in {membership}"));
            assert!(
                line.ends_with(&format!("/{}", self.name)),
                "process {pid} is not in {}: {membership}",
                dir.display()
            );
            assert!(Self::pids(dir).contains(&pid), "{pid} in {}", dir.display());
        }
    }
}

impl Drop for TestCgroups {
    fn drop(&mut self) {
        self.kill_all();
        let deadline = Instant::now() + TIMEOUT;
        for (_, dir) in &self.dirs {
            // An emptied cgroup can be busy for a moment.
            while std::fs::remove_dir(dir).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
