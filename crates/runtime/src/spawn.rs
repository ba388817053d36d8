//! Starting a container's init: one clone into fresh namespaces, and the
//! monitor's side of the start handshake.
//!
//! Before cloning, the monitor creates a close-on-exec error pipe. The child
//! ([`crate::init`]) either execs, which closes its end, or writes a
//! [`StartFailure`] and exits; the parent reads the pipe to EOF to tell which.

use crate::error::RuntimeError;
use crate::failure::StartFailure;
use crate::init;
use crate::spec::ContainerSpec;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;

/// Namespaces every container gets. User namespaces are not used yet.
const NAMESPACES: libc::c_int = libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP;

/// The container's ends of its standard streams: pipes to the monitor, or
/// /dev/null. The parent's copies are closed once the init is cloned.
#[derive(Debug)]
pub struct InitStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// How a start ended.
#[derive(Debug, Clone, PartialEq)]
pub enum InitOutcome {
    /// The init exec'd the container's command; `pid` is in the caller's pid namespace.
    Running { pid: Pid },
    /// The init failed before exec and has been reaped. `message` is worded as
    /// Docker words it; `exit_code` is 127, 126 or 128.
    Failed { message: String, exit_code: i32 },
}

/// `struct clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Clones the container's init into new pid, mount, UTS, IPC, network and
/// cgroup namespaces, waits until it has exec'd or failed, and reports which.
///
/// # Safety
///
/// The caller must be single-threaded: the child continues as a copy of the
/// calling process (like fork) and allocates, which is only sound when no
/// other thread can hold a lock at the moment of the clone. The caller must
/// also keep its own fds 0-2 open (on /dev/null, say), so that `stdio` is
/// never one of them.
pub unsafe fn spawn_init(
    spec: &ContainerSpec,
    stdio: InitStdio,
) -> Result<InitOutcome, RuntimeError> {
    let (error_read, error_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| RuntimeError::Sys {
            action: "creating the init's error pipe",
            source,
        })?;
    // SAFETY: single-threaded by this function's contract.
    let pid = match unsafe { clone_into_namespaces(NAMESPACES) } {
        Ok(Some(pid)) => pid,
        Ok(None) => {
            drop(error_read);
            init::run(spec, &stdio, error_write)
        }
        Err(source) => {
            return Err(RuntimeError::Sys {
                action: "cloning the container's init",
                source,
            })
        }
    };
    drop(error_write);
    drop(stdio);

    let mut report = Vec::new();
    let read = File::from(error_read).read_to_end(&mut report);
    if read.is_ok() && report.is_empty() {
        return Ok(InitOutcome::Running { pid });
    }
    reap(pid);
    let failure = match read {
        Ok(_) => StartFailure::decode(&report),
        Err(e) => StartFailure::io("reading the init's error pipe", &e),
    };
    Ok(InitOutcome::Failed {
        message: failure.message,
        exit_code: failure.exit_code,
    })
}

fn reap(pid: Pid) {
    while let Err(Errno::EINTR) = waitpid(pid, None) {}
}

/// fork(2) into new namespaces: clone3 without a stack, so the child runs on
/// a copy of the caller's stack, or plain clone where clone3 does not exist.
/// `Ok(None)` in the child, `Ok(Some(pid))` in the parent.
///
/// # Safety
///
/// As for [`spawn_init`]: the caller must be single-threaded.
unsafe fn clone_into_namespaces(namespaces: libc::c_int) -> Result<Option<Pid>, Errno> {
    let args = CloneArgs {
        flags: namespaces as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed and outlives
    // the call; with no stack the child resumes here like after fork.
    let mut rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc < 0 && Errno::last() == Errno::ENOSYS {
        // SAFETY: fork-like clone: no stack, no tid pointers, no TLS.
        rc = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (namespaces | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
    }
    match rc {
        rc if rc < 0 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as libc::pid_t))),
    }
}
