//! `berth-shim exec SPEC`: the exec monitor, one process per `docker exec`.
//!
//! The daemon's direct child, short-lived, single-threaded. It reads the
//! [`ExecSpec`], binds the resize socket on the host (with a TTY), joins the
//! running container ([`JoinTarget`]), allocates the pty from the
//! container's own devpts, forks the command with `berth-runtime`
//! ([`spawn_exec`]) into the container's cgroups (opened before joining; the
//! monitor stays out of them) with the container's privileges and limits
//! (`ExecSpec::security`), reports on fd 3, and reports again when the
//! command exits. The invocation and the report protocol are documented in
//! `berth_runtime::exec_command`'s module.
//!
//! Without a TTY the command inherits fds 0-2 (the daemon's pipes) and the
//! monitor never touches the data: it lets go of its own copies and waits.
//! With a TTY it relays fd 0 to the pty master and the master to fd 1 in a
//! poll loop that never blocks on either side, and serves resize requests
//! ([`ControlSocket`]). This module does not own the container: the
//! container's own monitor does, and is not involved in an exec.

use crate::control::{ContainerStdin, ControlSocket, CLIENT_BUFFER};
use berth_runtime::fd;
use berth_runtime::pty::{self, Pty};
use berth_runtime::{
    spawn_exec, CgroupProcs, ExecOutcome, ExecSpec, ExecStdio, ExitStatus, JoinTarget, StartReport,
    SYNC_FD,
};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Exit code reported when the exec could not start for a reason of the
/// monitor's own (Docker gives every failed exec 126).
const EXIT_EXEC_FAILED: i32 = 126;
/// Bytes buffered in each direction of the terminal relay.
const RELAY_BUFFER: usize = 64 * 1024;
/// How long to keep draining the terminal after the command exited, if
/// something it left running still holds the terminal open.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Runs the exec described at `spec_path` with the report pipe on fd 3;
/// returns the monitor's exit code: 0 once its reports are complete, 1 if
/// it failed itself (after saying so on fd 3 if it could), 2 on misuse.
pub fn run(spec_path: &OsStr) -> i32 {
    let Some(report) = crate::take_sync_pipe() else {
        return 2;
    };
    let mut report = Report(report);
    // SIGPIPE: a daemon that went away is an EPIPE, not the monitor's death.
    // SAFETY: SIG_IGN is a valid disposition for SIGPIPE; the command gets
    // default dispositions back before exec.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };

    let mut started = match start(spec_path) {
        Ok(started) => started,
        Err(message) => {
            report.failed(message, EXIT_EXEC_FAILED);
            return 1;
        }
    };
    let pid = match started.outcome {
        Ok(ExecOutcome::Running { pid }) => pid,
        Ok(ExecOutcome::Failed { message, exit_code }) => {
            report.failed(message, exit_code);
            return 0;
        }
        Err(message) => {
            report.failed(message, EXIT_EXEC_FAILED);
            return 1;
        }
    };
    let status = match started.terminal.take() {
        None => {
            report.started(pid);
            // The command holds the pipes now; the daemon sees EOF when it
            // (and whatever it left running) closes them.
            release_stdio(&started.null);
            wait_for(pid)
        }
        Some(master) => {
            let child = match pidfd_open(pid) {
                Ok(child) => child,
                Err(e) => {
                    let _ = kill(pid, Signal::SIGKILL);
                    wait_for(pid);
                    let message = format!("berth-shim: watching the exec's process: {e}");
                    report.failed(message, EXIT_EXEC_FAILED);
                    return 1;
                }
            };
            report.started(pid);
            // With a TTY nothing goes to fd 2: the daemon sees its EOF now.
            let _ = nix::unistd::dup2(started.null.as_raw_fd(), 2);
            let control = started.control.as_mut().map(|c| &mut c.socket);
            Relay::new(master).run(pid, child, control)
        }
    };
    let sent = report.send(serde_json::to_vec(&status));
    // Back in its directory on the host, the socket file is removed.
    drop(started.control);
    if sent {
        0
    } else {
        1
    }
}

/// What [`start`] leaves the monitor holding.
struct Started {
    /// The command's start; `Err` for the monitor's own failures.
    outcome: Result<ExecOutcome, String>,
    /// The pty master, when the command has a terminal.
    terminal: Option<OwnedFd>,
    control: Option<Control>,
    /// The host's /dev/null, for the monitor's own fds 0-2 once the command
    /// holds the real ones.
    null: OwnedFd,
}

/// Reads the spec, prepares what must come from the host, joins the
/// container, and forks the command. `Err` before the container was joined.
fn start(spec_path: &OsStr) -> Result<Started, String> {
    fd::close_from(SYNC_FD + 1).map_err(|e| format!("berth-shim: closing inherited fds: {e}"))?;
    let spec = load_spec(spec_path)?;
    let null = open_null()?;
    let control = match (&spec.control_socket, spec.process.tty) {
        (Some(path), true) => Some(Control::bind(path)?),
        _ => None,
    };
    let cgroups = CgroupProcs::open_for_exec(&spec.cgroup_procs)?;
    let short_id = spec.container_id.get(..12).unwrap_or(&spec.container_id);
    JoinTarget::open(&spec.container_id, spec.init_pid)
        .and_then(|target| target.enter())
        .map_err(|e| format!("cannot join container {short_id}: {e}"))?;

    let (stdio, terminal) = if spec.process.tty {
        let pty = open_terminal(spec.process.console_size)?;
        (ExecStdio::Terminal(pty.slave), Some(pty.master))
    } else {
        (ExecStdio::Inherited, None)
    };
    // SAFETY: the monitor is single-threaded, has entered the container,
    // and its fds 0-2 are the daemon's pipes, meant for the command.
    let outcome = unsafe { spawn_exec(&spec.process, &spec.security, stdio, &cgroups) }
        .map_err(|e| e.to_string());
    Ok(Started {
        outcome,
        terminal,
        control,
        null,
    })
}

fn load_spec(path: &OsStr) -> Result<ExecSpec, String> {
    let shown = Path::new(path).display();
    let bytes =
        std::fs::read(path).map_err(|e| format!("berth-shim: reading exec spec {shown}: {e}"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("berth-shim: parsing exec spec {shown}: {e}"))
}

fn open_null() -> Result<OwnedFd, String> {
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| format!("berth-shim: opening /dev/null: {e}"))?;
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(null) })
}

/// A pty from the container's devpts (the monitor's `/dev/ptmx` is the
/// container's now), sized as asked.
fn open_terminal(size: Option<[u16; 2]>) -> Result<Pty, String> {
    let failed = |e| format!("berth-shim: allocating the exec's terminal: {e}");
    let pty = pty::open("/dev/ptmx").map_err(failed)?;
    if let Some([height, width]) = size.filter(|&[h, w]| h > 0 && w > 0) {
        pty::set_window_size(pty.master.as_fd(), height, width).map_err(failed)?;
    }
    Ok(pty)
}

/// Points the monitor's fds 0-2 at /dev/null.
fn release_stdio(null: &OwnedFd) {
    for target in 0..=2 {
        // Cannot fail for open descriptors; if it did, the daemon would
        // only see EOF when the monitor exits.
        let _ = nix::unistd::dup2(null.as_raw_fd(), target);
    }
}

/// The report pipe on fd 3: one JSON line per report.
struct Report(File);

impl Report {
    /// Reports the start. If the daemon is gone, nobody is left to tell,
    /// and the exec runs on regardless.
    fn started(&mut self, pid: Pid) {
        let shim_pid = nix::unistd::getpid().as_raw();
        let pid = pid.as_raw();
        self.send(serde_json::to_vec(&StartReport::Started { pid, shim_pid }));
    }

    fn failed(&mut self, message: String, exit_code: i32) {
        self.send(serde_json::to_vec(&StartReport::Failed {
            message,
            exit_code,
        }));
    }

    /// Writes one serialised report and a newline; whether it got through.
    fn send(&mut self, json: serde_json::Result<Vec<u8>>) -> bool {
        let Ok(mut line) = json else {
            return false;
        };
        line.push(b'\n');
        self.0.write_all(&line).is_ok()
    }
}

/// The resize socket and the host directory it lives in.
struct Control {
    socket: ControlSocket,
    /// The socket's directory on the host, to return to before the socket
    /// (and with it its file) is dropped.
    dir: OwnedFd,
}

impl Control {
    /// Binds `path` by its file name from inside its directory, so that the
    /// name still resolves from there after the monitor has joined the
    /// container's mount namespace and root: before dropping, the monitor
    /// goes back into the directory (`fchdir` on a descriptor kept open).
    fn bind(path: &Path) -> Result<Control, String> {
        let context = |e: Errno| format!("creating control socket {}: {e}", path.display());
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(context(Errno::EINVAL));
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let dir = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(context)?;
        // SAFETY: `open` just returned this descriptor and nothing else owns it.
        let dir = unsafe { OwnedFd::from_raw_fd(dir) };
        nix::unistd::fchdir(dir.as_raw_fd()).map_err(context)?;
        let socket = ControlSocket::bind(Path::new(name), false)?;
        Ok(Control { socket, dir })
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        // Failing, the socket file outlives the exec; the daemon removes
        // the exec's directory anyway.
        let _ = nix::unistd::fchdir(self.dir.as_raw_fd());
    }
}

/// The terminal relay: fd 0 to the pty master, the master to fd 1.
struct Relay {
    master: OwnedFd,
    /// Read from fd 0, not yet written to the master.
    input: Vec<u8>,
    /// Read from the master, not yet written to fd 1.
    output: Vec<u8>,
    /// Until fd 0 reaches EOF.
    stdin_open: bool,
    /// Until the master reports EIO: nobody holds the terminal any more.
    master_open: bool,
    /// Until fd 1 fails (the daemon is gone); then output is discarded.
    stdout_open: bool,
}

impl Relay {
    fn new(master: OwnedFd) -> Relay {
        for fd in [0, 1, master.as_raw_fd()] {
            // A descriptor left blocking could only stall the relay on it,
            // and a failure here leaves it so.
            let _ = set_nonblocking(fd);
        }
        Relay {
            master,
            input: Vec::with_capacity(RELAY_BUFFER),
            output: Vec::with_capacity(RELAY_BUFFER),
            stdin_open: true,
            master_open: true,
            stdout_open: true,
        }
    }

    /// Relays, and serves resize requests on `control`, until the command
    /// (`pid`, watched through its pidfd `child`) has exited and its
    /// terminal is drained (or [`DRAIN_GRACE`] passed); returns how it ended.
    fn run(
        mut self,
        pid: Pid,
        child: OwnedFd,
        mut control: Option<&mut ControlSocket>,
    ) -> ExitStatus {
        let mut scratch = vec![0u8; RELAY_BUFFER.max(CLIENT_BUFFER)];
        let mut exited: Option<(ExitStatus, Instant)> = None;
        let mut no_stdin = ContainerStdin::Closed;
        loop {
            let timeout = match &exited {
                Some((_, deadline)) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if (!self.master_open && self.output.is_empty()) || left.is_zero() {
                        break;
                    }
                    left.as_millis().min(i32::MAX as u128) as i32 + 1
                }
                None => -1,
            };
            let mut fds = vec![
                entry(
                    0,
                    self.stdin_open && self.input.len() < RELAY_BUFFER,
                    libc::POLLIN,
                ),
                entry(1, !self.output.is_empty(), libc::POLLOUT),
                self.master_entry(),
                entry(child.as_raw_fd(), exited.is_none(), libc::POLLIN),
            ];
            if let Some(control) = &control {
                control.poll_entries(&mut fds);
            }
            // SAFETY: `fds` is a valid array of pollfd of the length passed;
            // negative fds are ignored by poll.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if ready < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                break;
            }
            if fds[0].revents != 0 {
                self.read_stdin(&mut scratch);
            }
            if fds[2].revents != 0 {
                self.exchange_with_master(&mut scratch);
            }
            if fds[1].revents != 0 {
                self.write_stdout();
            }
            if fds[3].revents != 0 && exited.is_none() {
                if let Some(status) = reap(pid) {
                    exited = Some((status, Instant::now() + DRAIN_GRACE));
                }
            }
            if let Some(control) = &mut control {
                let master = Some(self.master.as_fd());
                control.handle(&fds[4..], &mut no_stdin, false, master, &mut scratch);
            }
        }
        match exited {
            Some((status, _)) => status,
            None => wait_for(pid),
        }
    }

    fn master_entry(&self) -> libc::pollfd {
        let mut events = 0;
        if self.master_open && self.output.len() < RELAY_BUFFER {
            events |= libc::POLLIN;
        }
        if self.master_open && !self.input.is_empty() {
            events |= libc::POLLOUT;
        }
        entry(self.master.as_raw_fd(), events != 0, events)
    }

    fn read_stdin(&mut self, scratch: &mut [u8]) {
        let room = RELAY_BUFFER - self.input.len();
        match nix::unistd::read(0, &mut scratch[..room]) {
            Ok(0) => self.stdin_open = false,
            Ok(n) => self.input.extend_from_slice(&scratch[..n]),
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => self.stdin_open = false,
        }
    }

    /// Writes pending input into the master and reads output from it.
    fn exchange_with_master(&mut self, scratch: &mut [u8]) {
        if self.master_open && !self.input.is_empty() {
            match nix::unistd::write(&self.master, &self.input) {
                Ok(n) => {
                    self.input.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => self.master_closed(),
            }
        }
        let room = RELAY_BUFFER - self.output.len();
        if self.master_open && room > 0 {
            match nix::unistd::read(self.master.as_raw_fd(), &mut scratch[..room]) {
                Ok(0) => self.master_closed(),
                Ok(n) if self.stdout_open => self.output.extend_from_slice(&scratch[..n]),
                Ok(_) | Err(Errno::EAGAIN | Errno::EINTR) => {}
                // EIO: every holder of the terminal has closed it.
                Err(_) => self.master_closed(),
            }
        }
    }

    fn master_closed(&mut self) {
        self.master_open = false;
        self.input.clear();
    }

    fn write_stdout(&mut self) {
        match nix::unistd::write(std::io::stdout(), &self.output) {
            Ok(n) => {
                self.output.drain(..n);
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => {
                self.stdout_open = false;
                self.output.clear();
            }
        }
    }
}

fn entry(fd: RawFd, wanted: bool, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: if wanted { fd } else { -1 },
        events,
        revents: 0,
    }
}

fn set_nonblocking(fd: RawFd) -> Result<(), Errno> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (close-on-exec by definition).
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a non-negative result is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The command's exit status if it has exited (without blocking).
fn reap(pid: Pid) -> Option<ExitStatus> {
    loop {
        return match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => Some(exit_status(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => Some(exit_status(128 + signal as i32)),
            Err(Errno::EINTR) => continue,
            Ok(_) | Err(_) => None,
        };
    }
}

/// Blocks until the command exits.
fn wait_for(pid: Pid) -> ExitStatus {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return exit_status(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return exit_status(128 + signal as i32),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return exit_status(EXIT_EXEC_FAILED),
        }
    }
}

fn exit_status(exit_code: i32) -> ExitStatus {
    let finished_unix_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
    ExitStatus {
        exit_code,
        finished_unix_nanos,
    }
}
