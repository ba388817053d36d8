//! Starting a container's init: one clone into fresh namespaces, and the
//! monitor's side of the start handshake.
//!
//! Before cloning, the monitor creates a close-on-exec error pipe. The child
//! ([`crate::init`]) either execs, which closes its end, or writes a
//! [`StartFailure`] and exits; the parent reads the pipe to EOF to tell which.
//!
//! With cgroups to join ([`ContainerSpec::cgroup_procs`]), a close-on-exec
//! "go" pipe holds the child back: its first act is to block reading one
//! byte from it. The parent writes the child's pid into every `cgroup.procs`
//! file and only then sends the byte, so the init runs none of the
//! container's code outside its cgroups. If the parent goes away first, the
//! child reads EOF and exits 1 without doing anything. The child's cgroup
//! namespace is unshared only after that (not at clone), so that it is rooted
//! at the container's cgroups rather than the monitor's.
//!
//! With a user namespace ([`ContainerSpec::user_namespace`]), a socketpair
//! lets the child ask for its id maps once it has unshared the namespace
//! (see [`crate::userns`]); the parent writes them before it reads the
//! error pipe.
//!
//! With a terminal, the child allocates the pty inside the container (see
//! [`crate::pty`]) and sends the master back over a close-on-exec socketpair
//! before it execs; the parent picks it up once the error pipe says the
//! command runs.

use crate::cgroup_join::CgroupProcs;
use crate::error::RuntimeError;
use crate::failure::StartFailure;
use crate::init;
use crate::pty;
use crate::spec::{ContainerSpec, NetworkNamespace};
use crate::userns;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Namespaces every container gets at clone; a new network namespace too
/// unless it joins one or shares the host's ([`NetworkNamespace`]). A user
/// namespace is unshared later, by the init itself ([`crate::userns`]).
const NAMESPACES: libc::c_int = libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP;

/// The container's ends of its standard streams: pipes to the monitor, or
/// /dev/null. The parent's copies are closed once the init is cloned.
#[derive(Debug)]
pub struct InitStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// What the container's fds 0, 1 and 2 are.
#[derive(Debug)]
pub enum InitIo {
    /// Pipes to the monitor (or /dev/null).
    Pipes(InitStdio),
    /// A pseudo-terminal from the container's own devpts, which the init
    /// allocates, sized by [`crate::ProcessSpec::console_size`]; its master
    /// comes back in [`InitOutcome::Running`].
    Console,
}

/// The child's side of [`InitIo`].
pub(crate) enum ChildIo<'a> {
    Pipes(&'a InitStdio),
    /// The socket to send the pty master on.
    Console(OwnedFd),
}

/// The child's side of a user namespace ([`ContainerSpec::user_namespace`]).
pub(crate) struct UsernsSetup {
    /// The socket to ask the monitor for the id maps on.
    pub(crate) sync: Option<OwnedFd>,
    /// A namespace with those maps, to idmap the layers with
    /// ([`crate::RootfsSpec::idmapped`]).
    pub(crate) idmap: Option<OwnedFd>,
}

/// How a start ended.
#[derive(Debug)]
pub enum InitOutcome {
    /// The init exec'd the container's command; `pid` is in the caller's pid
    /// namespace. `console` is the pty master when [`InitIo::Console`] was
    /// asked for (non-blocking is left to the caller).
    Running { pid: Pid, console: Option<OwnedFd> },
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
/// cgroup namespaces with `io` as its stdio, waits until it has exec'd or
/// failed, and reports which.
///
/// # Safety
///
/// The caller must be single-threaded: the child continues as a copy of the
/// calling process (like fork) and allocates, which is only sound when no
/// other thread can hold a lock at the moment of the clone. The caller must
/// also keep its own fds 0-2 open (on /dev/null, say), so that the pipes of
/// `io` are never one of them.
pub unsafe fn spawn_init(spec: &ContainerSpec, io: InitIo) -> Result<InitOutcome, RuntimeError> {
    let cgroups = match CgroupProcs::open(&spec.cgroup_procs, "the container's init") {
        Ok(cgroups) => cgroups,
        Err(failure) => {
            return Ok(InitOutcome::Failed {
                message: failure.message,
                exit_code: failure.exit_code,
            })
        }
    };
    // Only when there are cgroups to join: the common path stays as it was.
    let go = cgroups.go_pipe().map_err(|source| RuntimeError::Sys {
        action: "creating the init's go pipe",
        source,
    })?;
    // With a go pipe the init unshares its cgroup namespace itself, once it
    // is in its cgroups.
    let mut namespaces = match (&go, spec.cgroupns_host) {
        (None, false) => NAMESPACES,
        _ => NAMESPACES & !libc::CLONE_NEWCGROUP,
    };
    let netns = match &spec.network {
        NetworkNamespace::New => {
            namespaces |= libc::CLONE_NEWNET;
            None
        }
        NetworkNamespace::Join(path) => match open_netns(path) {
            Ok(fd) => Some(fd),
            Err(failure) => {
                return Ok(InitOutcome::Failed {
                    message: failure.message,
                    exit_code: failure.exit_code,
                })
            }
        },
        NetworkNamespace::Host => None,
    };
    let (error_read, error_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| RuntimeError::Sys {
            action: "creating the init's error pipe",
            source,
        })?;
    let console_socket = match &io {
        InitIo::Console => Some(
            socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|source| RuntimeError::Sys {
                action: "creating the console socket",
                source,
            })?,
        ),
        InitIo::Pipes(_) => None,
    };
    let userns_sync = match &spec.user_namespace {
        Some(_) => Some(
            socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|source| RuntimeError::Sys {
                action: "creating the user namespace socket",
                source,
            })?,
        ),
        None => None,
    };
    let idmap = match &spec.user_namespace {
        Some(namespace) if spec.rootfs.idmapped => match userns::mapped_user_namespace(namespace) {
            Ok(fd) => Some(fd),
            Err(e) => {
                let failure = StartFailure::io("idmapping the image layers", &e);
                return Ok(InitOutcome::Failed {
                    message: failure.message,
                    exit_code: failure.exit_code,
                });
            }
        },
        _ => None,
    };
    // SAFETY: single-threaded by this function's contract.
    let pid = match unsafe { clone_into_namespaces(namespaces) } {
        Ok(Some(pid)) => pid,
        Ok(None) => {
            let cgroup_namespace = match go {
                Some((go_read, go_write)) => {
                    drop(go_write);
                    init::wait_for_go(go_read);
                    !spec.cgroupns_host
                }
                None => false,
            };
            drop(error_read);
            let child_io = match (&io, console_socket) {
                (InitIo::Pipes(stdio), _) => ChildIo::Pipes(stdio),
                (InitIo::Console, Some((parent, child))) => {
                    drop(parent);
                    ChildIo::Console(child)
                }
                (InitIo::Console, None) => unreachable!("the console socket exists"),
            };
            let userns = UsernsSetup {
                sync: userns_sync.map(|(parent, child)| {
                    drop(parent);
                    child
                }),
                idmap,
            };
            init::run(spec, child_io, error_write, cgroup_namespace, netns, userns)
        }
        Err(source) => {
            return Err(RuntimeError::Sys {
                action: "cloning the container's init",
                source,
            })
        }
    };
    drop(error_write);
    drop(io);
    drop(idmap);
    if let Some((go_read, go_write)) = go {
        drop(go_read);
        if let Err(failure) = cgroups.enter(pid, go_write) {
            let _ = kill(pid, Signal::SIGKILL);
            reap(pid);
            return Ok(InitOutcome::Failed {
                message: failure.message,
                exit_code: failure.exit_code,
            });
        }
    }
    if let (Some(namespace), Some((parent, child))) = (&spec.user_namespace, userns_sync) {
        drop(child);
        if let Err(failure) = userns::write_maps(pid, namespace, parent) {
            let _ = kill(pid, Signal::SIGKILL);
            reap(pid);
            return Ok(InitOutcome::Failed {
                message: failure.message,
                exit_code: failure.exit_code,
            });
        }
    }
    let console_socket = console_socket.map(|(parent, child)| {
        drop(child);
        parent
    });

    let mut report = Vec::new();
    let read = File::from(error_read).read_to_end(&mut report);
    if read.is_ok() && report.is_empty() {
        // The init sent the master before it exec'd, so it is waiting.
        match console_socket.map(|socket| pty::receive_fd(socket.as_fd())) {
            None => return Ok(InitOutcome::Running { pid, console: None }),
            Some(Ok(Some(master))) => {
                let console = Some(master);
                return Ok(InitOutcome::Running { pid, console });
            }
            // A command without the terminal it was promised must not run on.
            Some(outcome) => {
                let _ = kill(pid, Signal::SIGKILL);
                reap(pid);
                let errno = outcome.err().unwrap_or(Errno::EPROTO);
                let failure = StartFailure::sys("receiving the container's terminal", errno);
                return Ok(InitOutcome::Failed {
                    message: failure.message,
                    exit_code: failure.exit_code,
                });
            }
        }
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

/// The network namespace to join, opened on the host before the clone.
fn open_netns(path: &Path) -> Result<OwnedFd, StartFailure> {
    std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| StartFailure::io(format!("opening network namespace {}", path.display()), &e))
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
/// As for [`spawn_init`]: the caller must be single-threaded, unless the
/// child makes only async-signal-safe calls until it execs or exits.
pub(crate) unsafe fn clone_into_namespaces(namespaces: libc::c_int) -> Result<Option<Pid>, Errno> {
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
