//! `cgroup_procs`: the monitor puts the init in the container's cgroups
//! before it runs anything. Uses real cgroups: one of our own, created here
//! and removed on drop, in the memory, pids and v2 hierarchies (those of them
//! this host has). Skipped when not root or without any of them.

mod common;

use berth_runtime::StartReport;
use common::cgroups::{TestCgroups, CGROUP_ROOT};
use common::{processes_mentioning, wait_exit, wait_log_contains, Fixture, TIMEOUT};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    // The good ones first: nothing may be left in them when the bad one fails.
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
    // No process is left in the cgroups that could be joined.
    for dir in cgroups.dirs() {
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
