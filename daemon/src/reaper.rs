//! Reaping the orphans berthd inherits as a child subreaper.
//!
//! berthd waits for the children it starts itself (exec monitors, `ps`) and
//! reaps the container monitors it inherits by pid. Anything else that ends
//! up as its child is an orphan from inside a container: the container's
//! init when its monitor was killed, or an exec'd process whose exec monitor
//! died first. Left alone, such a zombie stays in the container's pid
//! namespace and the namespace's init waits for it forever when it exits.
//!
//! After a SIGCHLD the reaper looks for zombie children of berthd that live
//! in a nested pid namespace (`NSpid` has more than one entry) and reaps them
//! by pid. berthd never starts such a process itself, so this never takes an
//! exit status another part of berthd waits for. Such orphans are rare and
//! the scan reads every process's `stat`, so it runs at most once a
//! [`SCAN_INTERVAL`]: SIGCHLDs that arrive meanwhile are folded into one.

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// The shortest time between two scans.
const SCAN_INTERVAL: Duration = Duration::from_secs(1);

/// Runs until the runtime stops.
pub async fn run() {
    let mut sigchld = match signal(SignalKind::child()) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGCHLD; orphans from containers are not reaped");
            return;
        }
    };
    let me = std::process::id() as i32;
    while sigchld.recv().await.is_some() {
        for pid in orphaned_zombies(me) {
            tracing::debug!(pid, "reaping an orphan from a container");
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
        tokio::time::sleep(SCAN_INTERVAL).await;
    }
}

/// Zombie children of `parent` that live in a nested pid namespace.
fn orphaned_zombies(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| zombie_child_of(&stat, parent))
        })
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .is_ok_and(|status| nested_pid_namespace(&status))
        })
        .collect()
}

/// Whether a `/proc/PID/stat` line is of a zombie whose parent is `parent`.
/// The command name may contain anything, so fields count from its last `)`.
fn zombie_child_of(stat: &str, parent: i32) -> bool {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next();
    let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
    state == Some("Z") && ppid == Some(parent)
}

/// Whether a `/proc/PID/status` text says the process has a pid in more than
/// one pid namespace.
fn nested_pid_namespace(status: &str) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .is_some_and(|pids| pids.split_whitespace().count() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_after_the_command_name() {
        assert!(zombie_child_of("42 (sleep) Z 7 42 42 0", 7));
        assert!(!zombie_child_of("42 (sleep) S 7 42 42 0", 7));
        assert!(!zombie_child_of("42 (sleep) Z 8 42 42 0", 7));
        assert!(zombie_child_of("42 (a) Z 9 (b)) Z 7 1 1", 7));
        assert!(!zombie_child_of("garbage", 7));
    }

    #[test]
    fn only_processes_of_nested_pid_namespaces_count() {
        assert!(nested_pid_namespace("Name:\tsh\nNSpid:\t4242\t1\n"));
        assert!(!nested_pid_namespace("Name:\tsh\nNSpid:\t4242\n"));
        assert!(!nested_pid_namespace("Name:\tsh\n"));
    }
}
