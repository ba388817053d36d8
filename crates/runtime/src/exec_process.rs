//! Starting a process inside a container that already runs (`docker exec`):
//! the fork, the child's setup between fork and exec, and the handshake that
//! tells the monitor whether the command exec'd.
//!
//! The monitor has already joined the container ([`crate::JoinTarget`]), so
//! a plain fork lands the child in the container's pid namespace and root;
//! the monitor then puts it in the container's cgroups, which it opened
//! before joining ([`crate::CgroupProcs`]), and only then lets it go on.
//! The child starts a session (taking the pty as its controlling terminal
//! when it has one), locks itself down around the switch to the user
//! resolved from the container's own `/etc/passwd` and `/etc/group` (the
//! container's [`SecuritySpec`]: rlimits, OOM score, no_new_privs,
//! capabilities, extra groups, seccomp; see [`crate::lockdown`]), enters the
//! working directory (which must exist: an exec never creates it), resets
//! its signal state, looks the command up in the container's `PATH` and
//! execs, with the same rules and wording as the container's init
//! ([`crate::init`]). Failures travel back
//! over a close-on-exec error pipe, as for the init.

use crate::cgroup_join::CgroupProcs;
use crate::error::RuntimeError;
use crate::exec;
use crate::failure::{StartFailure, EXIT_CANNOT_INVOKE, EXIT_SETUP_FAILED};
use crate::fd;
use crate::init;
use crate::lockdown::Lockdown;
use crate::pty;
use crate::spec::{ProcessSpec, SecuritySpec};
use crate::user::ExecUser;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, Uid};
use std::convert::Infallible;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};

/// Where the exec'd process's standard streams come from.
#[derive(Debug)]
pub enum ExecStdio {
    /// The monitor's own fds 0, 1 and 2, inherited as they are.
    Inherited,
    /// A pty slave (from the container's devpts): stdin, stdout, stderr and
    /// controlling terminal. The parent's copy is closed after the fork.
    Terminal(OwnedFd),
}

/// How an exec's start ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecOutcome {
    /// The command exec'd; `pid` is in the monitor's pid namespace.
    Running { pid: Pid },
    /// The command never ran, and its process has been reaped. `message` is
    /// worded as Docker words it; `exit_code` is 127 when the command was not
    /// found and 126 otherwise (Docker's exit code for a failed exec).
    Failed { message: String, exit_code: i32 },
}

/// Forks the exec's process, which joins `cgroups` (see
/// [`crate::CgroupProcs`]), sets itself up, locks itself down as `security`
/// says and execs `process.args`; waits until it has exec'd or failed and
/// reports which.
///
/// # Safety
///
/// The caller must be single-threaded (the child continues as a copy of it
/// and allocates) and must already have entered the container with
/// [`crate::JoinTarget::enter`]. With [`ExecStdio::Inherited`], the caller's
/// fds 0-2 are the streams the command gets.
pub unsafe fn spawn_exec(
    process: &ProcessSpec,
    security: &SecuritySpec,
    stdio: ExecStdio,
    cgroups: &CgroupProcs,
) -> Result<ExecOutcome, RuntimeError> {
    let go = cgroups.go_pipe().map_err(|source| RuntimeError::Sys {
        action: "creating the exec's go pipe",
        source,
    })?;
    let (error_read, error_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| RuntimeError::Sys {
            action: "creating the exec's error pipe",
            source,
        })?;
    // SAFETY: single-threaded by this function's contract.
    let pid = match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Parent { child }) => child,
        Ok(ForkResult::Child) => {
            drop(error_read);
            if let Some((go_read, go_write)) = go {
                drop(go_write);
                init::wait_for_go(go_read);
            }
            run(process, security, &stdio, error_write)
        }
        Err(source) => {
            return Err(RuntimeError::Sys {
                action: "forking the exec's process",
                source,
            })
        }
    };
    drop(error_write);
    drop(stdio);
    if let Some((go_read, go_write)) = go {
        drop(go_read);
        if let Err(failure) = cgroups.enter(pid, go_write) {
            let _ = kill(pid, Signal::SIGKILL);
            while let Err(Errno::EINTR) = waitpid(pid, None) {}
            return Ok(ExecOutcome::Failed {
                exit_code: exec_exit_code(failure.exit_code),
                message: failure.message,
            });
        }
    }

    let mut report = Vec::new();
    let read = File::from(error_read).read_to_end(&mut report);
    if read.is_ok() && report.is_empty() {
        return Ok(ExecOutcome::Running { pid });
    }
    while let Err(Errno::EINTR) = waitpid(pid, None) {}
    let failure = match read {
        Ok(_) => StartFailure::decode(&report),
        Err(e) => StartFailure::io("reading the exec's error pipe", &e),
    };
    Ok(ExecOutcome::Failed {
        exit_code: exec_exit_code(failure.exit_code),
        message: failure.message,
    })
}

/// Docker gives a failed exec 126 unless the command was not found (127).
fn exec_exit_code(start_exit_code: i32) -> i32 {
    if start_exit_code == EXIT_SETUP_FAILED {
        EXIT_CANNOT_INVOKE
    } else {
        start_exit_code
    }
}

/// The child: sets up and execs; never returns.
fn run(
    process: &ProcessSpec,
    security: &SecuritySpec,
    stdio: &ExecStdio,
    error_pipe: OwnedFd,
) -> ! {
    let started = panic::catch_unwind(AssertUnwindSafe(|| start(process, security, stdio)));
    let failure = match started {
        Ok(Err(failure)) => failure,
        Ok(Ok(never)) => match never {},
        Err(_) => StartFailure::new("the exec's process panicked before exec", EXIT_SETUP_FAILED),
    };
    // Nothing more can be done if the monitor is gone; the exit code still tells.
    let _ = nix::unistd::write(&error_pipe, &failure.encode());
    // SAFETY: _exit ends this child at once, without running the monitor's
    // atexit handlers or flushing its copies of the monitor's buffers.
    unsafe { libc::_exit(failure.exit_code) }
}

fn start(
    process: &ProcessSpec,
    security: &SecuritySpec,
    stdio: &ExecStdio,
) -> Result<Infallible, StartFailure> {
    // A session of its own: signals to the daemon's process group never
    // reach the container, and a pty can become the controlling terminal.
    nix::unistd::setsid().map_err(|e| StartFailure::sys("creating a session", e))?;
    let lockdown = Lockdown::new(security)?;
    let user = init::resolve_user(&process.user, &security.additional_groups)?;
    if let ExecStdio::Terminal(slave) = stdio {
        connect_terminal(slave, &user)?;
    }
    umask(Mode::from_bits_truncate(0o022));
    lockdown.set_limits()?;
    lockdown.before_user_switch()?;
    init::switch_user(&user)?;
    lockdown.after_user_switch(user.uid)?;
    let cwd = init::working_dir(process);
    init::enter_working_dir(&cwd)?;
    let env = init::environment(&process.env, &user.home);
    let Some(command) = process.args.first() else {
        return Err(StartFailure::new("no command specified", EXIT_SETUP_FAILED));
    };
    let program = exec::find_executable(command, init::env_value(&env, "PATH"))?;
    init::reset_signals();
    fd::set_cloexec_from(3).map_err(|e| StartFailure::sys("closing inherited descriptors", e))?;
    lockdown.before_exec()?;
    Err(exec::exec(&program, &process.args, &env))
}

/// The pty slave, owned by the user the command runs as (its group stays
/// devpts' `tty`), becomes the controlling terminal and fds 0, 1 and 2.
fn connect_terminal(slave: &OwnedFd, user: &ExecUser) -> Result<(), StartFailure> {
    let failed = |e| StartFailure::sys("setting up the exec's terminal", e);
    nix::unistd::fchown(slave.as_raw_fd(), Some(Uid::from_raw(user.uid)), None).map_err(failed)?;
    pty::make_controlling_terminal(slave.as_fd()).map_err(failed)?;
    for target in 0..=2 {
        nix::unistd::dup2(slave.as_raw_fd(), target).map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_execs_exit_126_unless_the_command_was_not_found() {
        assert_eq!(exec_exit_code(127), 127);
        assert_eq!(exec_exit_code(126), 126);
        assert_eq!(exec_exit_code(EXIT_SETUP_FAILED), 126);
    }
}
