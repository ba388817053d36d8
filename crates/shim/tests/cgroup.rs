//! `cgroup_procs`: the monitor puts the init in the container's cgroups
//! before it runs anything. Uses real cgroups: one of our own, created here
//! and removed on drop, in the memory, pids and v2 hierarchies (those of them
//! this host has). Skipped when not root or without any of them.

mod common;

use berth_runtime::StartReport;
use common::{processes_mentioning, wait_exit, wait_log_contains, Fixture, TIMEOUT};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Hierarchy directories tried under [`CGROUP_ROOT`]; "unified" is the v2
/// tree of a hybrid host.
const HIERARCHIES: &[&str] = &["memory", "pids", "unified"];

static NEXT: AtomicU64 = AtomicU64::new(1);

/// Test cgroups of our own, one per hierarchy; emptied (killing only the
/// pids listed in them, which are ours) and removed on drop.
struct TestCgroups {
    name: String,
    /// (hierarchy, directory)
    dirs: Vec<(&'static str, PathBuf)>,
}

impl TestCgroups {
    /// `None` when this host or user cannot have them (the test is skipped).
    fn create() -> Option<TestCgroups> {
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

    fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|(_, dir)| dir.join("cgroup.procs"))
            .collect()
    }

    fn pids(dir: &Path) -> Vec<i32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }

    /// Asserts that `pid` is in this cgroup in every hierarchy, as the host
    /// sees it (/proc/PID/cgroup and each cgroup.procs).
    fn assert_member(&self, pid: i32) {
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
            // An emptied cgroup can be busy for a moment.
            while std::fs::remove_dir(dir).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Host pids of the children of `pid`.
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

#[test]
fn the_init_and_its_children_run_in_the_cgroups() {
    // Declared first, dropped last: after the fixture has killed its containers.
    let Some(cgroups) = TestCgroups::create() else {
        return;
    };
    let fx = Fixture::new();
    let mut spec = fx.spec(
        "c",
        &[
            "sh",
            "-c",
            "cat /proc/self/cgroup; sleep 1000 & echo ready; wait",
        ],
    );
    spec.cgroup_procs = cgroups.procs_files();
    let (pid, _) = fx.start(&spec);
    let log = wait_log_contains(&spec, "ready\n");

    cgroups.assert_member(pid);
    let forked = children(pid);
    assert_eq!(forked.len(), 1, "the sleep: {forked:?}");
    cgroups.assert_member(forked[0]);
    // The cgroup namespace was made once the init was in its cgroups, so
    // inside the container they are the root in every hierarchy.
    let inside: Vec<&str> = log.lines().take_while(|l| *l != "ready").collect();
    assert!(!inside.is_empty(), "{log}");
    assert!(inside.iter().all(|l| l.ends_with(":/")), "{log}");

    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
    fx.wait_monitors_gone();
}

#[test]
fn the_command_inherits_no_descriptors_with_cgroups() {
    let Some(cgroups) = TestCgroups::create() else {
        return;
    };
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["ls", "/proc/self/fd"]);
    spec.cgroup_procs = cgroups.procs_files();
    assert_eq!(fx.output(&spec), "0\n1\n2\n3\n");
}

#[test]
fn a_cgroup_that_cannot_be_joined_fails_the_start_and_leaves_nothing() {
    let Some(cgroups) = TestCgroups::create() else {
        return;
    };
    let fx = Fixture::new();
    let missing = PathBuf::from(format!(
        "{CGROUP_ROOT}/berth-test-missing-{}/cgroup.procs",
        std::process::id()
    ));
    let mut spec = fx.spec("c", &["touch", "/ran"]);
    // The good ones first: the init is in them when the bad one fails.
    spec.cgroup_procs = cgroups.procs_files();
    spec.cgroup_procs.push(missing.clone());

    match fx.launch(&spec) {
        StartReport::Failed { message, exit_code } => {
            assert_eq!(exit_code, 128, "{message}");
            assert!(
                message.contains(&missing.display().to_string()),
                "{message}"
            );
            assert!(message.ends_with("no such file or directory"), "{message}");
        }
        started => panic!("started despite a missing cgroup: {started:?}"),
    }
    // The init was killed and reaped before the report.
    for (_, dir) in &cgroups.dirs {
        assert_eq!(
            TestCgroups::pids(dir),
            Vec::<i32>::new(),
            "{}",
            dir.display()
        );
    }
    let marker = fx.dir.path().to_string_lossy().into_owned();
    let deadline = Instant::now() + TIMEOUT;
    while !processes_mentioning(&marker).is_empty() {
        assert!(Instant::now() < deadline, "the monitor is still there");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!spec.exit_path.exists());
    assert!(
        !spec.rootfs.upper.join("ran").exists(),
        "the command never ran"
    );
}
