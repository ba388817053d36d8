//! The container's init between clone and exec: the child side of a start.
//!
//! With cgroups to join, the child first waits on the go pipe
//! ([`wait_for_go`]) until the monitor has placed it in them, and unshares
//! its cgroup namespace before anything else.
//!
//! Runs in the freshly cloned child of the single-threaded monitor, already
//! in its new namespaces, so it may use std and allocate like any forked
//! process. It wires stdio, starts a session, builds the root filesystem,
//! names the host, brings up loopback, allocates its terminal if it has one,
//! creates its working directory, makes the root read-only if asked, locks
//! itself down around the user switch ([`crate::lockdown`]: rlimits, OOM
//! score, no_new_privs, capabilities, seccomp), changes directory and
//! execs. Any failure is written to the error pipe with Docker's wording and
//! ends the process with the matching exit code; a successful exec closes
//! the pipe.

use crate::exec;
use crate::failure::{StartFailure, EXIT_SETUP_FAILED};
use crate::fd;
use crate::lockdown::Lockdown;
use crate::net;
use crate::pty;
use crate::rootfs;
use crate::spawn::{ChildIo, InitStdio, UsernsSetup};
use crate::spec::{ContainerSpec, NetworkNamespace, ProcessSpec};
use crate::user::{self, ExecUser};
use crate::userns;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{Gid, Uid};
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::panic::{self, AssertUnwindSafe};

/// Highest signal number on Linux.
const MAX_SIGNAL: libc::c_int = 64;
/// Size of the kernel's signal set, as rt_sigaction wants it.
const SIGSET_BYTES: usize = MAX_SIGNAL as usize / 8;

/// Blocks until the monitor sends the go byte, i.e. has put this process in
/// the container's cgroups. Anything else (EOF: the monitor is gone, or an
/// error) ends the process at once with status 1, having done nothing.
pub(crate) fn wait_for_go(go: OwnedFd) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads at most one byte into a valid one-byte buffer.
        let n = unsafe { libc::read(go.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            return;
        }
        if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        // SAFETY: _exit ends this child at once, running none of the
        // monitor's atexit handlers.
        unsafe { libc::_exit(1) }
    }
}

/// Sets up the container and execs its command; never returns.
/// `cgroup_namespace`: unshare the cgroup namespace first (it was left out
/// of the clone so that it is rooted at the cgroups the monitor put us in).
/// `netns`: a network namespace to join before anything is mounted.
/// `userns`: with a user namespace, the socket to ask the monitor for its
/// id maps on ([`crate::userns`]), and for idmapped layers a namespace with
/// those maps already.
pub(crate) fn run(
    spec: &ContainerSpec,
    io: ChildIo<'_>,
    error_pipe: OwnedFd,
    cgroup_namespace: bool,
    netns: Option<OwnedFd>,
    userns: UsernsSetup,
) -> ! {
    let started = panic::catch_unwind(AssertUnwindSafe(|| {
        if cgroup_namespace {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
                .map_err(|e| StartFailure::sys("creating the cgroup namespace", e))?;
        }
        if let Some(netns) = netns {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| StartFailure::sys("joining the network namespace", e))?;
        }
        start(spec, io, userns)
    }));
    let failure = match started {
        Ok(Err(failure)) => failure,
        Ok(Ok(never)) => match never {},
        Err(_) => StartFailure::new(
            "the container's init panicked before exec",
            EXIT_SETUP_FAILED,
        ),
    };
    // Nothing more can be done if the monitor is gone; the exit code still tells.
    let _ = nix::unistd::write(&error_pipe, &failure.encode());
    // SAFETY: _exit ends this child at once, without running the monitor's
    // atexit handlers or flushing its copies of the monitor's buffers.
    unsafe { libc::_exit(failure.exit_code) }
}

fn start(
    spec: &ContainerSpec,
    io: ChildIo<'_>,
    userns: UsernsSetup,
) -> Result<Infallible, StartFailure> {
    let process = &spec.process;
    let console_socket = match io {
        ChildIo::Pipes(stdio) => {
            connect_stdio(stdio)?;
            None
        }
        ChildIo::Console(socket) => Some(socket),
    };
    // A session of its own: signals to the monitor's process group never
    // reach the container.
    nix::unistd::setsid().map_err(|e| StartFailure::sys("creating a session", e))?;
    umask(Mode::from_bits_truncate(0o022));
    let lockdown = Lockdown::new(&spec.security)?;
    if spec.network != NetworkNamespace::Host {
        net::set_default_sysctls()?;
    }
    net::set_sysctls(&spec.sysctls)?;
    rootfs::build(spec, userns.idmap.as_ref().map(AsFd::as_fd))?;
    drop(userns.idmap);
    nix::unistd::sethostname(&spec.hostname)
        .map_err(|e| StartFailure::sys(format!("setting hostname {:?}", spec.hostname), e))?;
    if spec.network == NetworkNamespace::New {
        net::bring_up_loopback().map_err(|e| StartFailure::sys("bringing up lo", e))?;
    }

    let user = resolve_user(&process.user, &spec.security.additional_groups)?;
    let cwd = working_dir(process);
    let owner = spec
        .user_namespace
        .as_ref()
        .and_then(|namespace| namespace.host_root());
    create_working_dir(&cwd, owner)?;
    if spec.filesystem.readonly_rootfs {
        rootfs::make_root_readonly(&spec.file_binds)?;
    }
    lockdown.set_limits()?;
    if let Some(sync) = userns.sync {
        userns::enter_new(sync)?;
    }
    if let Some(socket) = console_socket {
        connect_console(socket, process.console_size, &user)?;
    }
    lockdown.before_user_switch()?;
    switch_user(&user)?;
    lockdown.after_user_switch(user.uid)?;
    enter_working_dir(&cwd)?;

    let env = environment(&process.env, &user.home);
    let Some(command) = process.args.first() else {
        return Err(StartFailure::new("no command specified", EXIT_SETUP_FAILED));
    };
    let program = exec::find_executable(command, env_value(&env, "PATH"))?;
    reset_signals();
    fd::set_cloexec_from(3).map_err(|e| StartFailure::sys("closing inherited descriptors", e))?;
    lockdown.before_exec()?;
    Err(exec::exec(&program, &process.args, &env))
}

/// Makes the pipes (or /dev/null) the container's fds 0, 1 and 2. The monitor
/// keeps its own 0-2 on /dev/null, so the sources are never 0-2 themselves.
fn connect_stdio(stdio: &InitStdio) -> Result<(), StartFailure> {
    let pairs: [(&OwnedFd, RawFd); 3] = [(&stdio.stdin, 0), (&stdio.stdout, 1), (&stdio.stderr, 2)];
    for (source, target) in pairs {
        nix::unistd::dup2(source.as_raw_fd(), target)
            .map_err(|e| StartFailure::sys("connecting the container's stdio", e))?;
    }
    Ok(())
}

/// Allocates the container's terminal from its own devpts (mounted by now),
/// owned by the user it will run as (its group stays the devpts mount's
/// `tty`) and sized as asked; sends the master to the monitor, and makes the
/// slave fds 0-2 and the controlling terminal of this session.
fn connect_console(
    socket: OwnedFd,
    size: Option<[u16; 2]>,
    user: &ExecUser,
) -> Result<(), StartFailure> {
    let failed = |e| StartFailure::sys("setting up the container's terminal", e);
    let pty = pty::open("/dev/ptmx").map_err(failed)?;
    nix::unistd::fchown(pty.slave.as_raw_fd(), Some(Uid::from_raw(user.uid)), None)
        .map_err(failed)?;
    if let Some([height, width]) = size.filter(|&[h, w]| h > 0 && w > 0) {
        pty::set_window_size(pty.slave.as_fd(), height, width).map_err(failed)?;
    }
    pty::send_fd(socket.as_fd(), pty.master.as_fd()).map_err(failed)?;
    drop(pty.master);
    drop(socket);
    pty::make_controlling_terminal(pty.slave.as_fd()).map_err(failed)?;
    for target in 0..=2 {
        nix::unistd::dup2(pty.slave.as_raw_fd(), target).map_err(failed)?;
    }
    Ok(())
}

/// The user `spec` names (Docker's `User`), with the `additional` groups
/// (`GroupAdd`) among its supplementary groups, from the container's own
/// `/etc/passwd` and `/etc/group`.
pub(crate) fn resolve_user(spec: &str, additional: &[String]) -> Result<ExecUser, StartFailure> {
    let read = |path: &str| {
        user::read_database(path).map_err(|e| StartFailure::sys(format!("reading {path}"), e))
    };
    let passwd = read("/etc/passwd")?;
    let group = read("/etc/group")?;
    let refused = |message| StartFailure::new(message, EXIT_SETUP_FAILED);
    let mut user = user::resolve(spec, passwd.as_deref(), group.as_deref()).map_err(refused)?;
    for gid in user::additional_gids(additional, group.as_deref()).map_err(refused)? {
        if !user.supplementary_gids.contains(&gid) {
            user.supplementary_gids.push(gid);
        }
    }
    Ok(user)
}

/// Supplementary groups, then gid, then uid: each step needs the privilege
/// the next one drops.
pub(crate) fn switch_user(user: &ExecUser) -> Result<(), StartFailure> {
    let context = || format!("switching to user {}:{}", user.uid, user.gid);
    let groups: Vec<Gid> = user
        .supplementary_gids
        .iter()
        .map(|&g| Gid::from_raw(g))
        .collect();
    nix::unistd::setgroups(&groups).map_err(|e| StartFailure::sys(context(), e))?;
    nix::unistd::setgid(Gid::from_raw(user.gid)).map_err(|e| StartFailure::sys(context(), e))?;
    nix::unistd::setuid(Uid::from_raw(user.uid)).map_err(|e| StartFailure::sys(context(), e))
}

/// The working directory as an absolute path ("/" when unset).
pub(crate) fn working_dir(process: &ProcessSpec) -> String {
    if process.cwd.starts_with('/') {
        process.cwd.clone()
    } else {
        format!("/{}", process.cwd)
    }
}

/// Creates the working directory (and its parents) if missing. With a
/// user namespace, `owner` is the host uid and gid of the container's root,
/// who then owns what is created, as if it had made it: the init is still
/// the host's root here.
fn create_working_dir(cwd: &str, owner: Option<(u32, u32)>) -> Result<(), StartFailure> {
    if let Some((uid, gid)) = owner {
        nix::unistd::setfsgid(Gid::from_raw(gid));
        nix::unistd::setfsuid(Uid::from_raw(uid));
    }
    let created = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(cwd);
    if owner.is_some() {
        nix::unistd::setfsuid(Uid::from_raw(0));
        nix::unistd::setfsgid(Gid::from_raw(0));
    }
    created.map_err(|e| StartFailure::io(format!("creating working directory {cwd}"), &e))
}

/// Changes into the working directory and checks that it lies inside the
/// container's root. A path through a descriptor open on a host directory
/// (`-w /proc/self/fd/N`, the runc escape CVE-2024-21626) would leave the
/// process outside; the kernel then reports the directory as unreachable
/// and `getcwd` fails (or returns a relative path), so the command never
/// runs there.
pub(crate) fn enter_working_dir(cwd: &str) -> Result<(), StartFailure> {
    nix::unistd::chdir(cwd).map_err(|e| {
        StartFailure::sys(
            format!("chdir to cwd ({cwd:?}) set in config.json failed"),
            e,
        )
    })?;
    match nix::unistd::getcwd() {
        Ok(path) if path.is_absolute() => Ok(()),
        _ => Err(StartFailure::new(
            "current working directory is outside of container mount namespace root -- possible container breakout detected",
            EXIT_SETUP_FAILED,
        )),
    }
}

/// The command's environment: the spec's, plus `HOME` from the user's passwd
/// entry when the spec has none.
pub(crate) fn environment(env: &[String], home: &str) -> Vec<String> {
    let mut env = env.to_vec();
    if env_value(&env, "HOME").is_none() {
        env.push(format!("HOME={home}"));
    }
    env
}

/// The value of `key` in `KEY=value` entries; the last one wins, as when
/// they are applied in order.
pub(crate) fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|entry| {
        entry
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

/// Default dispositions and an empty mask for the command: exec keeps ignored
/// signals ignored, and the monitor ignores SIGPIPE and blocks SIGCHLD (and
/// whoever started the daemon may have ignored anything, glibc's reserved
/// real-time signals included, which glibc's own wrappers refuse to touch).
pub(crate) fn reset_signals() {
    // The kernel's `struct sigaction` with SIG_DFL (0), no flags and an empty
    // mask is all zeros on every architecture; 32 bytes cover its size.
    let default_action = [0u64; 4];
    for signal in 1..=MAX_SIGNAL {
        // SAFETY: rt_sigaction reads one kernel sigaction from a valid
        // buffer and writes nothing (no old action). The calls that fail
        // (SIGKILL, SIGSTOP) change nothing.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                default_action.as_ptr(),
                std::ptr::null_mut::<u64>(),
                SIGSET_BYTES,
            )
        };
    }
    // Cannot fail with a valid `how` and set.
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn home_is_added_only_when_missing() {
        assert_eq!(
            environment(&strings(&["A=1"]), "/home/app"),
            strings(&["A=1", "HOME=/home/app"])
        );
        assert_eq!(
            environment(&strings(&["HOME=/x"]), "/root"),
            strings(&["HOME=/x"])
        );
    }

    #[test]
    fn env_value_takes_the_last_exact_key() {
        let env = strings(&["PATHX=no", "PATH=/a", "PATH=/b", "OTHER=1"]);
        assert_eq!(env_value(&env, "PATH"), Some("/b"));
        assert_eq!(env_value(&env, "PAT"), None);
        assert_eq!(env_value(&strings(&["EMPTY="]), "EMPTY"), Some(""));
    }

    #[test]
    fn a_working_dir_outside_the_root_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("inside")).unwrap();
        let outside_fd = std::fs::File::open(outside.path()).unwrap();
        // SAFETY: the child only makes syscalls and leaves with _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = (|| {
                    nix::unistd::chroot(root.path()).ok()?;
                    nix::unistd::chdir("/").ok()?;
                    enter_working_dir("/inside").ok()?;
                    // What `-w /proc/self/fd/N` does with a leaked host
                    // directory descriptor.
                    nix::unistd::fchdir(outside_fd.as_raw_fd()).ok()?;
                    enter_working_dir(".")
                        .err()
                        .is_some_and(|e| e.message.contains("possible container breakout"))
                        .then_some(0)
                })()
                .unwrap_or(1);
                // SAFETY: ends the forked child without unwinding.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn working_dir_is_absolute() {
        let mut process = ProcessSpec {
            args: vec![],
            env: vec![],
            cwd: String::new(),
            user: String::new(),
            open_stdin: false,
            tty: false,
            console_size: None,
            stdin_once: false,
        };
        assert_eq!(working_dir(&process), "/");
        process.cwd = "srv/app".into();
        assert_eq!(working_dir(&process), "/srv/app");
        process.cwd = "/data".into();
        assert_eq!(working_dir(&process), "/data");
    }
}
