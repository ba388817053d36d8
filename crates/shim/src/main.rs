//! berth-shim: the per-container monitor.
//!
//! `berth-shim SPEC.json`, started by the daemon with the write end of a sync
//! pipe on fd 3. It reads the spec, forks once so the daemon can reap the
//! first process at once, and the detached second process becomes the
//! container's monitor for its whole life ([`monitor`]): it starts the init,
//! reports `StartReport` JSON on fd 3 and closes it, writes the json-file
//! log, and writes the exit status when the init dies. It outlives the
//! daemon (even `kill -9`), holds none of the daemon's descriptors, and is
//! single-threaded with no async runtime, to stay small.
//!
//! `berth-shim exec EXEC.json`, started by the daemon as a direct child with
//! the exec's stdio on fds 0-2 and a report pipe on fd 3, is the exec
//! monitor instead ([`exec`]): it joins a running container, runs one
//! process in it, and reports its start and its exit.

mod control;
mod exec;
mod logger;
mod monitor;
mod timefmt;

use berth_runtime::{fd, ContainerSpec, StartReport, SYNC_FD};
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::ForkResult;
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::process::exit;

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.as_slice() {
        [command, exec_spec_path] if command == "exec" => exit(exec::run(exec_spec_path)),
        [spec_path] => monitor_container(spec_path),
        _ => {
            eprintln!(
                "usage: berth-shim SPEC.json | berth-shim exec EXEC.json \
                 (with the report pipe's write end on fd 3)"
            );
            exit(2);
        }
    }
}

/// The write end of the sync (report) pipe, which the daemon put on fd 3;
/// `None`, after saying so on stderr, if fd 3 is not open.
fn take_sync_pipe() -> Option<File> {
    if fcntl(SYNC_FD, FcntlArg::F_GETFD).is_err() {
        eprintln!("berth-shim: fd {SYNC_FD} (the sync pipe) is not open");
        return None;
    }
    // SAFETY: fd 3 is open (checked above) and by contract belongs to us.
    Some(unsafe { File::from_raw_fd(SYNC_FD) })
}

/// Starts the container of `spec_path` and becomes its monitor.
fn monitor_container(spec_path: &OsString) -> ! {
    let Some(sync) = take_sync_pipe() else {
        exit(2);
    };

    let spec = match load_spec(spec_path) {
        Ok(spec) => spec,
        Err(message) => fail(sync, message),
    };
    // SAFETY: single-threaded; the child only continues this program.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Parent { .. }) => exit(0),
        Ok(ForkResult::Child) => {}
        Err(e) => fail(sync, format!("berth-shim: fork: {e}")),
    }
    if let Err(message) = detach() {
        fail(sync, message);
    }
    exit(monitor::run(&spec, sync))
}

fn load_spec(path: &OsString) -> Result<ContainerSpec, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("berth-shim: reading spec {}: {e}", path.to_string_lossy()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("berth-shim: parsing spec {}: {e}", path.to_string_lossy()))
}

/// Reports a failure to start on the sync pipe and exits.
fn fail(mut sync: File, message: String) -> ! {
    let report = StartReport::Failed {
        message,
        exit_code: monitor::EXIT_MONITOR_FAILED,
    };
    if let Ok(bytes) = serde_json::to_vec(&report) {
        let _ = sync.write_all(&bytes);
    }
    exit(1)
}

/// Cuts every tie to the daemon: a session of its own (no controlling
/// terminal, no process-group signals), subreaper for the container's
/// orphans, `/` as working directory, stdio on /dev/null, and no inherited
/// descriptor but the sync pipe, which is close-on-exec from here on.
fn detach() -> Result<(), String> {
    nix::unistd::setsid().map_err(|e| format!("berth-shim: setsid: {e}"))?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "berth-shim: becoming a subreaper: {}",
            std::io::Error::last_os_error()
        ));
    }
    // A write to a vanished reader (the daemon, an attach client) must be an
    // EPIPE error here, never the death of the container's monitor. The
    // container's init puts SIGPIPE back to default before exec.
    // SAFETY: SIG_IGN is a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    nix::unistd::chdir("/").map_err(|e| format!("berth-shim: chdir /: {e}"))?;
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| format!("berth-shim: opening /dev/null: {e}"))?;
    for target in 0..=2 {
        nix::unistd::dup2(null, target)
            .map_err(|e| format!("berth-shim: redirecting stdio: {e}"))?;
    }
    fd::close_from(SYNC_FD + 1).map_err(|e| format!("berth-shim: closing inherited fds: {e}"))?;
    fcntl(SYNC_FD, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map_err(|e| format!("berth-shim: sync pipe: {e}"))?;
    Ok(())
}
