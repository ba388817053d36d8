//! The monitor's life with its container: open the log, create the stdio
//! pipes (or ask for a terminal), listen on the control socket, start the
//! init through `berth-runtime`, report the start on the sync pipe, then pump
//! output into the json-file log and stdin clients' input into the container
//! until the init dies, and record its exit status.
//!
//! One thread, one poll(2) loop over the output pipes (or the pty master), a
//! signalfd for SIGCHLD (the monitor is a subreaper, so it reaps whatever is
//! reparented to it as well as the init), and the control socket with its
//! clients ([`crate::control`]). Nothing in the loop blocks.

use crate::control::{ContainerStdin, ControlSocket};
use crate::logger::{JsonFileLog, Stream};
use berth_runtime::{
    spawn_init, ContainerSpec, ExitStatus, InitIo, InitOutcome, InitStdio, StartReport,
};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Exit code reported for failures of the monitor itself.
pub const EXIT_MONITOR_FAILED: i32 = 128;
/// Bytes read from an output pipe (or a control client) at a time.
const READ_CHUNK: usize = 64 * 1024;
/// How long to keep draining output after the init died. Every process in
/// its pid namespace is dead by then, so the pipes close at once; this only
/// bounds the wait if something outside the namespace holds a write end.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Fixed places in the poll set; the control socket's entries follow.
const POLL_STDOUT: usize = 0;
const POLL_STDERR: usize = 1;
const POLL_SIGCHLD: usize = 2;
const POLL_STDIN: usize = 3;
const POLL_CONTROL: usize = 4;

/// Everything the monitor holds for a running container.
struct Container {
    pid: Pid,
    /// What the container writes, until EOF: the stdout and stderr pipes, or
    /// the pty master as stdout.
    outputs: [Option<OwnedFd>; 2],
    /// The pty master, kept for resizes while the container runs.
    terminal: Option<OwnedFd>,
    stdin: ContainerStdin,
    /// Closed (and its file removed) when the init dies.
    control: Option<ControlSocket>,
    sigchld: SignalFd,
    log: JsonFileLog<File>,
}

/// What the monitor opens before the init exists.
struct Prepared {
    log: File,
    sigchld: SignalFd,
    control: Option<ControlSocket>,
    /// The init's stdio: its ends of the pipes, or a terminal to allocate.
    io: InitIo,
    /// Read ends of the stdout and stderr pipes (none with a terminal yet).
    outputs: [Option<OwnedFd>; 2],
    /// Write end of the stdin pipe, non-blocking, held while stdin is kept open.
    stdin: ContainerStdin,
}

/// Starts the container and monitors it to the end; returns the monitor's
/// exit code. `sync` receives the [`StartReport`] and is closed after it.
pub fn run(spec: &ContainerSpec, sync: File) -> i32 {
    let Prepared {
        log,
        sigchld,
        control,
        io,
        mut outputs,
        mut stdin,
    } = match prepare(spec) {
        Ok(prepared) => prepared,
        Err(message) => {
            let exit_code = EXIT_MONITOR_FAILED;
            report(sync, &StartReport::Failed { message, exit_code });
            return 1;
        }
    };
    // SAFETY: the monitor is single-threaded, and its fds 0-2 are /dev/null
    // (see `detach` in main.rs).
    let started = unsafe { spawn_init(spec, io) };
    let (pid, console) = match started {
        Ok(InitOutcome::Running { pid, console }) => (pid, console),
        failed => {
            // The socket goes first: once the daemon hears of the failure,
            // nothing of this container may be left.
            drop(control);
            let (message, exit_code, code) = match failed {
                Ok(InitOutcome::Failed { message, exit_code }) => (message, exit_code, 0),
                Err(error) => (error.to_string(), EXIT_MONITOR_FAILED, 1),
                Ok(InitOutcome::Running { .. }) => unreachable!("matched above"),
            };
            report(sync, &StartReport::Failed { message, exit_code });
            return code;
        }
    };
    if let Some(master) = &console {
        // The master's file description is the monitor's alone now; each
        // role gets a descriptor of its own, so that one can be closed
        // (output at EIO, stdin when over) without the others.
        let roles = set_nonblocking(master).and_then(|()| {
            let output = master.try_clone()?;
            let input = if spec.process.open_stdin {
                ContainerStdin::Console(master.try_clone()?)
            } else {
                ContainerStdin::Closed
            };
            Ok((output, input))
        });
        match roles {
            Ok((output, input)) => {
                outputs[Stream::Stdout as usize] = Some(output);
                stdin = input;
            }
            // Without its terminal the container cannot be served; it dies
            // here and the monitor records that like any other exit.
            Err(_) => {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            }
        }
    }
    let shim_pid = nix::unistd::getpid().as_raw();
    report(
        sync,
        &StartReport::Started {
            pid: pid.as_raw(),
            shim_pid,
        },
    );

    let container = Container {
        pid,
        outputs,
        terminal: console,
        stdin,
        control,
        sigchld,
        log: JsonFileLog::new(log),
    };
    let status = container.supervise();
    match write_exit_status(&spec.exit_path, &status) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// The log, the SIGCHLD signalfd (SIGCHLD blocked from here on, so no exit
/// is missed), the control socket and the stdio pipes.
fn prepare(spec: &ContainerSpec) -> Result<Prepared, String> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_NOCTTY)
        .open(&spec.log_path)
        .map_err(|e| format!("opening log file {}: {e}", spec.log_path.display()))?;

    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .map_err(|e| format!("blocking SIGCHLD: {e}"))?;
    let sigchld = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("creating signalfd: {e}"))?;

    let control = match &spec.control_socket {
        Some(path) => Some(ControlSocket::bind(path, spec.process.stdin_once)?),
        None => None,
    };

    if spec.process.tty {
        return Ok(Prepared {
            log,
            sigchld,
            control,
            io: InitIo::Console,
            outputs: [None, None],
            stdin: ContainerStdin::Closed,
        });
    }
    let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("creating pipe: {e}"));
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (stdin_read, stdin) = if spec.process.open_stdin {
        let (read, write) = pipe()?;
        set_nonblocking(&write).map_err(|e| format!("stdin pipe: {e}"))?;
        (read, ContainerStdin::Pipe(write))
    } else {
        let null = File::open("/dev/null").map_err(|e| format!("opening /dev/null: {e}"))?;
        (OwnedFd::from(null), ContainerStdin::Closed)
    };
    Ok(Prepared {
        log,
        sigchld,
        control,
        io: InitIo::Pipes(InitStdio {
            stdin: stdin_read,
            stdout: stdout_write,
            stderr: stderr_write,
        }),
        outputs: [Some(stdout_read), Some(stderr_read)],
        stdin,
    })
}

/// O_NONBLOCK on `fd`'s file description (not on the other end of a pipe,
/// which has a description of its own).
fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags))?;
    Ok(())
}

/// Sends the start report to the daemon. If the daemon is gone, nobody is
/// left to tell; the container runs on regardless.
fn report(mut sync: File, report: &StartReport) {
    if let Ok(bytes) = serde_json::to_vec(report) {
        let _ = sync.write_all(&bytes);
    }
}

impl Container {
    /// Pumps output and stdin until the init has died and its output is
    /// drained, then flushes the log. Returns how the init ended.
    fn supervise(mut self) -> ExitStatus {
        let mut buffer = vec![0u8; READ_CHUNK];
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut ended: Option<(ExitStatus, Instant)> = None;
        loop {
            let timeout = match &ended {
                Some((_, deadline)) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if self.outputs.iter().all(Option::is_none) || left.is_zero() {
                        break;
                    }
                    left.as_millis().min(i32::MAX as u128) as i32 + 1
                }
                None => -1,
            };
            fds.clear();
            fds.push(poll_entry(self.outputs[Stream::Stdout as usize].as_ref()));
            fds.push(poll_entry(self.outputs[Stream::Stderr as usize].as_ref()));
            fds.push(poll_entry(Some(&self.sigchld)));
            let has_input = self.control.as_ref().is_some_and(ControlSocket::has_input);
            fds.push(self.stdin.poll_entry(has_input));
            if let Some(control) = &self.control {
                control.poll_entries(&mut fds);
            }
            // SAFETY: `fds` is a valid array of pollfd of the length passed;
            // negative fds (closed streams) are ignored by poll.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if ready < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                break;
            }
            for (stream, index) in [(Stream::Stdout, POLL_STDOUT), (Stream::Stderr, POLL_STDERR)] {
                if fds[index].revents != 0 {
                    self.pump(stream, &mut buffer);
                }
            }
            if let Some(control) = &mut self.control {
                let terminal = self.terminal.as_ref().map(AsFd::as_fd);
                let stdin_writable = fds[POLL_STDIN].revents != 0;
                control.handle(
                    &fds[POLL_CONTROL..],
                    &mut self.stdin,
                    stdin_writable,
                    terminal,
                    &mut buffer,
                );
            }
            if fds[POLL_SIGCHLD].revents != 0 {
                if let (Some(status), None) = (self.reap(), &ended) {
                    ended = Some((status, Instant::now() + DRAIN_GRACE));
                    // The container is gone: so are its stdin, its
                    // clients and the socket to reach it.
                    self.control = None;
                    self.stdin = ContainerStdin::Closed;
                }
            }
        }
        let now = SystemTime::now();
        // A log that cannot be written must not lose the exit status.
        let _ = self.log.flush_pending(Stream::Stdout, now);
        let _ = self.log.flush_pending(Stream::Stderr, now);
        // No fsync of the log: readers share the page cache, so a daemon
        // restart loses nothing, and syncing megabytes of output would hold
        // up every exit (Docker's json-file does not sync either).
        match ended {
            Some((status, _)) => status,
            None => self.wait_for_init(),
        }
    }

    /// Blocks until the init dies; used only if polling itself failed, so
    /// that the exit status recorded is still the real one.
    fn wait_for_init(&self) -> ExitStatus {
        let exit_code = loop {
            match waitpid(self.pid, None) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, signal, _)) => break 128 + signal as i32,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => break EXIT_MONITOR_FAILED,
            }
        };
        ExitStatus {
            exit_code,
            finished_unix_nanos: unix_nanos(SystemTime::now()),
        }
    }

    /// Reads one chunk of `stream` into the log; closes the stream at EOF.
    fn pump(&mut self, stream: Stream, buffer: &mut [u8]) {
        let Some(fd) = &self.outputs[stream as usize] else {
            return;
        };
        match nix::unistd::read(fd.as_raw_fd(), buffer) {
            Ok(0) | Err(Errno::EBADF | Errno::EIO) => {
                self.outputs[stream as usize] = None;
                let _ = self.log.flush_pending(stream, SystemTime::now());
            }
            // Log write errors (a full disk) drop output rather than stall the container.
            Ok(n) => {
                let _ = self.log.write(stream, &buffer[..n], SystemTime::now());
            }
            Err(_) => {}
        }
    }

    /// Consumes pending SIGCHLDs and reaps every exited child; returns the
    /// init's exit status once it has died.
    fn reap(&mut self) -> Option<ExitStatus> {
        while let Ok(Some(_)) = self.sigchld.read_signal() {}
        let mut init_status = None;
        loop {
            let exit_code = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.pid => code,
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == self.pid => 128 + signal as i32,
                Ok(WaitStatus::StillAlive) | Err(_) => return init_status,
                Ok(_) => continue,
            };
            init_status = Some(ExitStatus {
                exit_code,
                finished_unix_nanos: unix_nanos(SystemTime::now()),
            });
        }
    }
}

fn poll_entry(fd: Option<&impl AsRawFd>) -> libc::pollfd {
    libc::pollfd {
        fd: fd.map_or(-1, AsRawFd::as_raw_fd),
        events: libc::POLLIN,
        revents: 0,
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
}

/// Writes the exit status atomically: a temporary file beside it, fsync'd,
/// renamed over it, and the directory fsync'd.
fn write_exit_status(path: &Path, status: &ExitStatus) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(&serde_json::to_vec(status)?)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exit.json");
        let status = ExitStatus {
            exit_code: 137,
            finished_unix_nanos: 1_714_557_600_123_456_789,
        };
        write_exit_status(&path, &status).unwrap();
        assert_eq!(
            berth_runtime::read_exit_status(&path).unwrap(),
            Some(status)
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
