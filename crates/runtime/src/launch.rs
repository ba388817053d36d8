//! The daemon's side of a monitor: spawning `berth-shim`, reading its start
//! report, reading the exit status it leaves behind, and recognising a live
//! monitor again after a daemon restart.
//!
//! The daemon is multi-threaded, so the shim is started with a plain
//! fork+exec (`std::process::Command`); every namespace operation happens in
//! the single-threaded shim.

use crate::error::RuntimeError;
use crate::spec::{ExitStatus, StartReport};
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The descriptor on which the shim finds the write end of the sync pipe.
pub const SYNC_FD: RawFd = 3;
/// The monitor's executable name, as [`shim_alive`] expects it in argv\[0\].
pub const SHIM_NAME: &str = "berth-shim";

/// Spawns `shim_binary spec_path` with the sync pipe on fd 3 and stdio on
/// /dev/null, reaps the shim's short-lived first process (the monitor itself
/// detaches), and returns the [`StartReport`] read from the pipe at EOF.
///
/// Blocks until the container's command has exec'd or failed; call it from
/// a blocking thread.
pub fn launch(shim_binary: &Path, spec_path: &Path) -> Result<StartReport, RuntimeError> {
    let (read_end, write_end) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| RuntimeError::Sys {
            action: "creating the monitor's sync pipe",
            source,
        })?;
    let sync = write_end.as_raw_fd();
    let mut command = Command::new(shim_binary);
    command
        .arg(spec_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the hook runs in the forked child before exec and only calls
    // dup2 or fcntl, which are async-signal-safe and allocate nothing.
    unsafe { command.pre_exec(move || put_on_sync_fd(sync)) };
    let mut child = command
        .spawn()
        .map_err(|source| RuntimeError::SpawnMonitor {
            binary: shim_binary.to_owned(),
            source,
        })?;
    drop(write_end);

    let mut report = Vec::new();
    let read = File::from(read_end).read_to_end(&mut report);
    let status = child.wait().map_err(|source| RuntimeError::SpawnMonitor {
        binary: shim_binary.to_owned(),
        source,
    })?;
    read.map_err(|source| RuntimeError::File {
        action: "reading the start report of",
        path: spec_path.to_owned(),
        source,
    })?;
    if report.is_empty() {
        return Err(RuntimeError::NoStartReport {
            spec: spec_path.to_owned(),
            status,
        });
    }
    serde_json::from_slice(&report).map_err(|source| RuntimeError::BadStartReport {
        spec: spec_path.to_owned(),
        source,
    })
}

/// In the shim's child before exec: the sync pipe's write end becomes fd 3,
/// the only descriptor without close-on-exec besides stdio.
pub(crate) fn put_on_sync_fd(fd: RawFd) -> io::Result<()> {
    let result = if fd == SYNC_FD {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).map(drop)
    } else {
        nix::unistd::dup2(fd, SYNC_FD).map(drop)
    };
    result.map_err(io::Error::from)
}

/// The exit status the monitor wrote at `path`, or `None` if it has not
/// written one (the container still runs, or never started).
pub fn read_exit_status(path: &Path) -> Result<Option<ExitStatus>, RuntimeError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RuntimeError::File {
                action: "reading exit status",
                path: path.to_owned(),
                source,
            })
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| RuntimeError::BadExitStatus {
            path: path.to_owned(),
            source,
        })
}

/// Whether `shim_pid` is still the monitor of `container_id`: its argv\[0\]
/// names `berth-shim` and its spec path contains the id. Guards re-adoption
/// after a daemon restart against pid reuse.
pub fn shim_alive(shim_pid: i32, container_id: &str) -> bool {
    if shim_pid <= 0 || container_id.is_empty() {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{shim_pid}/cmdline")) else {
        return false;
    };
    let mut args = cmdline.split(|&b| b == 0);
    let names_shim = args
        .next()
        .and_then(|argv0| argv0.rsplit(|&b| b == b'/').next())
        .is_some_and(|name| name == SHIM_NAME.as_bytes());
    let names_container = args.next().is_some_and(|spec| {
        spec.windows(container_id.len())
            .any(|w| w == container_id.as_bytes())
    });
    names_shim && names_container
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn missing_exit_file_is_none_and_a_written_one_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exit.json");
        assert_eq!(read_exit_status(&path).unwrap(), None);
        std::fs::write(&path, r#"{"exit_code":137,"finished_unix_nanos":5}"#).unwrap();
        assert_eq!(
            read_exit_status(&path).unwrap(),
            Some(ExitStatus {
                exit_code: 137,
                finished_unix_nanos: 5
            })
        );
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(
            read_exit_status(&path),
            Err(RuntimeError::BadExitStatus { .. })
        ));
    }

    #[test]
    fn shim_alive_rejects_other_processes_and_bad_pids() {
        let me = std::process::id() as i32;
        assert!(!shim_alive(me, "anything"));
        assert!(!shim_alive(0, "x"));
        assert!(!shim_alive(-1, "x"));
        assert!(!shim_alive(me, ""));
    }

    fn fake_shim(dir: &Path, body: &str) -> std::path::PathBuf {
        let script = dir.join("berth-shim");
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    #[test]
    fn launch_reads_the_report_the_shim_writes_on_fd_3() {
        let dir = tempfile::tempdir().unwrap();
        let shim = fake_shim(
            dir.path(),
            r#"printf '{"started":{"pid":7,"shim_pid":8}}' >&3"#,
        );
        let report = launch(&shim, &dir.path().join("spec.json")).unwrap();
        assert_eq!(
            report,
            StartReport::Started {
                pid: 7,
                shim_pid: 8
            }
        );
    }

    /// Descriptors of this test process that any child inherits (the test
    /// harness's parent may leak some); launch() cannot be blamed for them.
    fn inherited_by_any_child() -> Vec<u32> {
        std::fs::read_dir("/proc/self/fdinfo")
            .unwrap()
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let fd: u32 = entry.file_name().to_str()?.parse().ok()?;
                let info = std::fs::read_to_string(entry.path()).ok()?;
                let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
                let flags = u32::from_str_radix(flags.trim(), 8).ok()?;
                (fd > 3 && flags & libc::O_CLOEXEC as u32 == 0).then_some(fd)
            })
            .collect()
    }

    struct KillOnDrop(i32);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// Whether process `pid` is blocked in `nanosleep` or `clock_nanosleep`
    /// (the first field of `/proc/<pid>/syscall`).
    fn in_nanosleep(pid: i32) -> bool {
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let number = syscall
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<i64>().ok());
        matches!(number, Some(n) if n == libc::SYS_nanosleep || n == libc::SYS_clock_nanosleep)
    }

    #[test]
    fn the_shim_gets_the_sync_pipe_on_fd_3_stdio_on_dev_null_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let shim = fake_shim(
            dir.path(),
            &format!(
                "echo $$ > {}.tmp && mv {0}.tmp {0}\nexec sleep 30",
                pid_file.display()
            ),
        );
        let spec = dir.path().join("spec.json");
        let launcher = std::thread::spawn(move || launch(&shim, &spec));

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let pid = loop {
            let pid = std::fs::read_to_string(&pid_file).ok();
            let pid = pid.and_then(|p| p.trim().parse::<i32>().ok());
            // Asleep in sleep(1) itself: past the exec and the dynamic
            // loader, which holds libc open for a moment.
            if let Some(pid) = pid.filter(|&p| in_nanosleep(p)) {
                break pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "fake shim never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let guard = KillOnDrop(pid);
        let mut fds: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let fd = entry.file_name().to_str().unwrap().parse().unwrap();
                let target = std::fs::read_link(entry.path()).unwrap();
                (fd, target.to_string_lossy().into_owned())
            })
            .collect();
        drop(guard);
        let outcome = launcher.join().unwrap();

        fds.sort();
        let leaked = inherited_by_any_child();
        fds.retain(|(fd, _)| !leaked.contains(fd));
        let null = "/dev/null".to_owned();
        assert_eq!(fds.len(), 4, "{fds:?}");
        assert_eq!(
            &fds[..3],
            &[(0, null.clone()), (1, null.clone()), (2, null)]
        );
        assert_eq!(fds[3].0, 3);
        assert!(fds[3].1.starts_with("pipe:"), "{fds:?}");
        assert!(matches!(outcome, Err(RuntimeError::NoStartReport { .. })));
    }

    #[test]
    fn launch_without_a_report_is_an_error_naming_the_spec() {
        let error = launch(Path::new("/bin/true"), Path::new("/x/spec.json")).unwrap_err();
        assert!(matches!(error, RuntimeError::NoStartReport { .. }));
        assert!(error.to_string().contains("/x/spec.json"), "{error}");
        let error = launch(Path::new("/nonexistent/berth-shim"), Path::new("/x")).unwrap_err();
        assert!(matches!(error, RuntimeError::SpawnMonitor { .. }));
    }
}
