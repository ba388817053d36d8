//! `kill -9` of berthd leaves containers running; the next berthd re-adopts
//! them, records exits that happened while it was down, and no log line is lost.

use berth_tests::{eventually, Daemon};
use std::time::Duration;

#[test]
fn running_container_survives_kill_9_of_the_daemon() {
    let mut d = Daemon::with_busybox();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "survivor",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.05; done",
    ])
    .ok();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "shortlived",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ])
    .ok();
    let pid_before = d
        .berth(&["inspect", "-f", "{{.State.Pid}}", "survivor"])
        .ok()
        .stdout;
    assert!(eventually(Duration::from_secs(5), || d
        .berth(&["logs", "survivor"])
        .stdout
        .lines()
        .count()
        > 3));

    d.kill9();
    // While the daemon is down, one container keeps logging and the other exits.
    std::thread::sleep(Duration::from_millis(1500));
    let pid: i32 = pid_before.trim().parse().unwrap();
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(),
        "container died with the daemon"
    );
    d.restart();

    let pid_after = d
        .berth(&["inspect", "-f", "{{.State.Pid}}", "survivor"])
        .ok()
        .stdout;
    assert_eq!(pid_before, pid_after);
    let status = d
        .berth(&["inspect", "-f", "{{.State.Status}}", "survivor"])
        .ok()
        .stdout;
    assert_eq!(status.trim(), "running");
    assert!(eventually(Duration::from_secs(5), || {
        d.berth(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "shortlived",
        ])
        .stdout
        .trim()
            == "exited 7"
    }));
    d.berth(&["stop", "-t", "0", "survivor"]).ok();
    let logs = d.berth(&["logs", "survivor"]).ok().stdout;
    let numbers: Vec<u64> = logs
        .lines()
        .map(|l| l.trim_start_matches("line ").parse().unwrap())
        .collect();
    assert!(numbers.len() > 20, "too few lines: {}", numbers.len());
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    assert_eq!(
        numbers, expected,
        "log lines were lost or repeated across the restart"
    );
}

#[test]
fn restart_removes_half_created_containers_and_keeps_whole_ones() {
    let mut d = Daemon::with_busybox();
    d.berth(&["create", "--name", "whole", "busybox", "true"])
        .ok();
    d.kill9();
    // A create that died before its record was written leaves a bare directory.
    let half = d.root.join("data/containers").join("f".repeat(64));
    std::fs::create_dir_all(half.join("upper")).unwrap();
    d.restart();
    assert!(
        !half.exists(),
        "half-created container directory survived the restart"
    );
    let names = d.berth(&["ps", "-a", "--format", "{{.Names}}"]).ok().stdout;
    assert_eq!(names.trim(), "whole");
}

/// CVE-2019-5736: monitors run from a read-only mount of `berth-shim`, so
/// nobody, not even root on the host, can write the binary through a
/// monitor's `/proc/<pid>/exe`. While any monitor runs, a write gets ETXTBSY
/// anyway; the attack keeps the file open and waits for that to end, so
/// what counts is the mount the opened file is on.
#[test]
fn the_monitor_binary_is_reached_only_through_a_read_only_mount() {
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    let d = Daemon::with_busybox();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "watched",
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let pid = d
        .berth(&["inspect", "-f", "{{.State.Pid}}", "watched"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let monitor = stat
        .rsplit(") ")
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_string();
    let exe = std::fs::File::open(format!("/proc/{monitor}/exe")).unwrap();
    let flags = fstatvfs(&exe).unwrap().flags();
    assert!(flags.contains(FsFlags::ST_RDONLY), "{flags:?}");
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{monitor}/exe"))
        .unwrap_err();
    assert!(
        [Some(libc::EROFS), Some(libc::ETXTBSY)].contains(&err.raw_os_error()),
        "{err}"
    );
    d.berth(&["rm", "-f", "watched"]).ok();
}
