//! The daemon's side of an exec (`docker exec`): the command that starts an
//! exec monitor, and the protocol it speaks.
//!
//! # Invocation
//!
//! `berth-shim exec /path/exec.json` ([`crate::ExecSpec`]), started by the
//! daemon as its direct child, which it waits for (no double fork: an exec
//! never outlives the daemon's interest in it). Descriptors:
//!
//! * fd 0: the exec's stdin (a pipe from the daemon, or /dev/null when stdin
//!   is not attached);
//! * fd 1, fd 2: pipes to the daemon for the exec's stdout and stderr (with
//!   a TTY everything arrives on fd 1, and fd 2 carries nothing). With a TTY
//!   the monitor relays fd 0 into the terminal; at EOF on fd 0 it stops
//!   reading but leaves the terminal open (a terminal has no EOF to pass on);
//! * fd 3: the report pipe ([`exec_command`] puts it there).
//!
//! Nothing else is inherited by the exec'd process: it gets fds 0-2 only.
//!
//! # Reports on fd 3
//!
//! Newline-delimited JSON, at most two lines:
//!
//! 1. a [`crate::StartReport`]: `{"started":{"pid":P,"shim_pid":S}}` once the
//!    command has exec'd (`pid` in the host's pid namespace), or
//!    `{"failed":{"message":M,"exit_code":C}}` if it never ran. `M` is
//!    Docker's wording after its prefix, e.g. `exec: "nope": executable file
//!    not found in $PATH` (127), `exec: "/etc/passwd": permission denied`
//!    (126), `chdir to cwd ("/nope") set in config.json failed: no such file
//!    or directory` (126); the daemon adds `OCI runtime exec failed: exec
//!    failed: unable to start container process: ` before and `: unknown`
//!    after, as Docker does. After `failed` the monitor exits.
//! 2. after `started`, when the process has exited: an [`crate::ExitStatus`]
//!    `{"exit_code":C,"finished_unix_nanos":N}` (128 + signal number when it
//!    was killed, as when the container's init dies and takes every process
//!    of its pid namespace with it). With a TTY the monitor has written all
//!    of the terminal's output to fd 1 before this line. Without one, the
//!    process wrote to fds 1 and 2 itself, so everything it wrote is in the
//!    pipes by then, and the monitor holds no copy of fds 0-2 after the fork:
//!    the pipes reach EOF when the process and anything it left running
//!    have closed them.
//!
//! Then the monitor exits 0; a non-zero exit without a second line means the
//! monitor itself failed.
//!
//! # Resize (TTY only)
//!
//! With `process.tty` and a `control_socket` path in the spec, the monitor
//! listens there (mode 0600, created on the host before it joins the
//! container; gone when it exits) and answers
//! `{"resize":{"height":H,"width":W}}` with `{"ok":true}` or
//! `{"error":"..."}`, as a container's monitor does ([`crate::control`];
//! [`crate::control::resize`] is the client). The exec's stdin is fd 0, so a
//! `stdin` request is refused.

use crate::launch::put_on_sync_fd;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// A std `Command` for `shim exec spec_path` with `report_write` (the write
/// end of the report pipe) on fd 3 in the child: a `pre_exec` hook dup2's it
/// there, which clears close-on-exec on fd 3 only. The caller sets stdin,
/// stdout and stderr and spawns it (or converts it into an async runtime's
/// command first).
///
/// The command owns `report_write` until it is dropped: drop it once the
/// monitor is spawned, so that the report pipe reaches EOF when the monitor
/// exits.
pub fn exec_command(shim: &Path, spec_path: &Path, report_write: OwnedFd) -> Command {
    let mut command = Command::new(shim);
    command.arg("exec").arg(spec_path);
    let report = report_write.as_raw_fd();
    // SAFETY: the hook runs in the forked child before exec and only calls
    // dup2 or fcntl, which are async-signal-safe and allocate nothing. It
    // owns `report_write`, so the descriptor stays open until the command
    // is dropped.
    unsafe {
        command.pre_exec(move || {
            let _owned = &report_write;
            put_on_sync_fd(report)
        })
    };
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::OFlag;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Stdio;

    #[test]
    fn the_monitor_gets_exec_and_the_spec_path_and_the_report_pipe_on_fd_3() {
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("berth-shim");
        std::fs::write(&shim, "#!/bin/sh\necho \"$1 $2\" >&3\n").unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let spec = dir.path().join("exec.json");

        let mut command = exec_command(&shim, &spec, write_end);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = command.spawn().unwrap();
        drop(command);
        let mut report = String::new();
        std::fs::File::from(read_end)
            .read_to_string(&mut report)
            .unwrap();
        assert!(child.wait().unwrap().success());

        assert_eq!(report, format!("exec {}\n", spec.display()));
    }
}
