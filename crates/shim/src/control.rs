//! The monitor's side of the control socket: accepting clients, reading
//! their one-line requests, resizing the terminal, and moving stdin clients'
//! bytes into the container's stdin. The protocol itself is documented in
//! `berth_runtime::control`, beside the daemon's client functions.
//!
//! Everything here is non-blocking and driven by the monitor's poll loop:
//! [`ControlSocket::poll_entries`] says which descriptors to wait on, and
//! [`ControlSocket::handle`] acts on what poll reported. Each stdin client
//! has a bounded buffer; a client whose buffer is full is not polled until
//! the container has read some of it, so a container that does not read its
//! stdin blocks the client, never the monitor. This module does not own the
//! container's output or its pty; the monitor lends it the terminal for
//! resizes.

use berth_runtime::control::{Reply, Request, MAX_REQUEST_LINE};
use berth_runtime::pty;
use nix::errno::Errno;
use nix::sys::stat::{umask, Mode};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Bytes buffered per stdin client before the monitor stops reading it.
pub const CLIENT_BUFFER: usize = 64 * 1024;
/// Connections served at once; more are closed as soon as they are accepted.
const MAX_CONNECTIONS: usize = 64;

/// The container's stdin as the monitor writes it. Its descriptor is
/// non-blocking and belongs to the monitor alone.
pub enum ContainerStdin {
    /// Nothing to write to: stdin was not kept open, or has been closed.
    Closed,
    /// The write end of the stdin pipe; dropping it is the container's EOF.
    Pipe(OwnedFd),
    /// The pty master (a descriptor of its own); the terminal has no EOF to
    /// send, so it stays open while the container runs.
    Console(OwnedFd),
}

impl ContainerStdin {
    fn fd(&self) -> Option<&OwnedFd> {
        match self {
            ContainerStdin::Closed => None,
            ContainerStdin::Pipe(fd) | ContainerStdin::Console(fd) => Some(fd),
        }
    }

    /// A poll entry waiting until the container can take more input, if
    /// there is input to give it.
    pub fn poll_entry(&self, has_input: bool) -> libc::pollfd {
        libc::pollfd {
            fd: self
                .fd()
                .filter(|_| has_input)
                .map_or(-1, AsRawFd::as_raw_fd),
            events: libc::POLLOUT,
            revents: 0,
        }
    }
}

/// The listening socket and its connections.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// `stdin_once`: the first stdin client's EOF closes a piped stdin.
    stdin_once: bool,
    connections: Vec<Connection>,
}

struct Connection {
    stream: UnixStream,
    state: State,
}

enum State {
    /// Waiting for the request line; the bytes so far.
    Request(Vec<u8>),
    /// A stdin stream: bytes read from the client and not yet written to the
    /// container, and whether the client has half-closed.
    Stdin { buffer: Vec<u8>, eof: bool },
    /// Served; closed at the end of this round.
    Done,
}

impl State {
    fn stdin_buffer(&self) -> Option<&[u8]> {
        match self {
            State::Stdin { buffer, .. } => Some(buffer),
            _ => None,
        }
    }
}

impl ControlSocket {
    /// Listens on `path` (a stale file there is replaced), mode 0600. The
    /// listener is non-blocking and close-on-exec.
    pub fn bind(path: &Path, stdin_once: bool) -> Result<ControlSocket, String> {
        let context = |e: io::Error| format!("creating control socket {}: {e}", path.display());
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(context(e)),
            _ => {}
        }
        // The file gets its mode at bind, so the umask makes it 0600 with no
        // window in which anyone else could connect. Single-threaded: no
        // other file is created meanwhile.
        let previous = umask(Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        umask(previous);
        let listener = bound.map_err(context)?;
        let socket = ControlSocket {
            listener,
            path: path.to_owned(),
            stdin_once,
            connections: Vec::new(),
        };
        socket.listener.set_nonblocking(true).map_err(context)?;
        Ok(socket)
    }

    /// Whether any stdin client has bytes waiting for the container.
    pub fn has_input(&self) -> bool {
        self.connections
            .iter()
            .any(|c| c.state.stdin_buffer().is_some_and(|b| !b.is_empty()))
    }

    /// Appends the listener and one entry per connection, in order, to
    /// `fds`. Connections that must not be read now (a full buffer, EOF
    /// seen) get fd -1, which poll skips.
    pub fn poll_entries(&self, fds: &mut Vec<libc::pollfd>) {
        fds.push(read_entry(self.listener.as_raw_fd()));
        for connection in &self.connections {
            let readable = match &connection.state {
                State::Request(_) => true,
                State::Stdin { buffer, eof } => !eof && buffer.len() < CLIENT_BUFFER,
                State::Done => false,
            };
            let fd = if readable {
                connection.stream.as_raw_fd()
            } else {
                -1
            };
            fds.push(read_entry(fd));
        }
    }

    /// Acts on one poll round. `ready` holds the entries that
    /// [`poll_entries`](Self::poll_entries) added, with their revents;
    /// `stdin_writable` says whether the container's stdin polled writable;
    /// `terminal` is the pty master when the container has one; `scratch`
    /// is a read buffer.
    pub fn handle(
        &mut self,
        ready: &[libc::pollfd],
        stdin: &mut ContainerStdin,
        stdin_writable: bool,
        terminal: Option<BorrowedFd<'_>>,
        scratch: &mut [u8],
    ) {
        let mut got_input = false;
        for (connection, entry) in self.connections.iter_mut().zip(&ready[1..]) {
            if entry.fd >= 0 && entry.revents != 0 {
                got_input |= connection.receive(stdin, terminal, scratch);
            }
        }
        if ready[0].revents != 0 {
            self.accept();
        }
        if got_input || stdin_writable {
            self.feed(stdin);
        }
        self.finish_ended_clients(stdin);
        self.connections.retain(|c| !matches!(c.state, State::Done));
    }

    /// Accepts every waiting connection.
    fn accept(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: all taken. Anything else (ECONNABORTED, a
                // descriptor limit far below MAX_CONNECTIONS): next round.
                Err(_) => return,
            };
            if self.connections.len() >= MAX_CONNECTIONS || stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.connections.push(Connection {
                stream,
                state: State::Request(Vec::new()),
            });
        }
    }

    /// Writes buffered client input into the container's stdin, client by
    /// client, until the container takes no more.
    fn feed(&mut self, stdin: &mut ContainerStdin) {
        let Some(fd) = stdin.fd() else {
            return;
        };
        let mut closed = false;
        'clients: for connection in &mut self.connections {
            let State::Stdin { buffer, .. } = &mut connection.state else {
                continue;
            };
            while !buffer.is_empty() {
                match nix::unistd::write(fd, buffer) {
                    Ok(n) => {
                        buffer.drain(..n);
                    }
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => break 'clients,
                    // EPIPE: the container closed its stdin; EIO: its
                    // terminal is gone.
                    Err(_) => {
                        closed = true;
                        break 'clients;
                    }
                }
            }
        }
        if closed {
            *stdin = ContainerStdin::Closed;
        }
    }

    /// Ends the stdin clients whose input is over: every one once the
    /// container's stdin is closed; otherwise each that half-closed and has
    /// nothing left to write, the first of which closes a piped stdin when
    /// `stdin_once` is set.
    fn finish_ended_clients(&mut self, stdin: &mut ContainerStdin) {
        for connection in &mut self.connections {
            let State::Stdin { buffer, eof } = &connection.state else {
                continue;
            };
            if matches!(stdin, ContainerStdin::Closed) {
                connection.state = State::Done;
            } else if *eof && buffer.is_empty() {
                connection.state = State::Done;
                if self.stdin_once && matches!(stdin, ContainerStdin::Pipe(_)) {
                    *stdin = ContainerStdin::Closed;
                }
            }
        }
        if matches!(stdin, ContainerStdin::Closed) {
            for connection in &mut self.connections {
                if let State::Stdin { .. } = connection.state {
                    connection.state = State::Done;
                }
            }
        }
    }
}

impl Connection {
    /// Reads what the client sent; returns whether stdin input arrived.
    fn receive(
        &mut self,
        stdin: &ContainerStdin,
        terminal: Option<BorrowedFd<'_>>,
        scratch: &mut [u8],
    ) -> bool {
        match &mut self.state {
            State::Request(line) => {
                let room = (MAX_REQUEST_LINE - line.len()).min(scratch.len());
                match read(&mut self.stream, &mut scratch[..room]) {
                    Received::Data(n) => line.extend_from_slice(&scratch[..n]),
                    Received::Again => return false,
                    Received::End => {
                        self.state = State::Done;
                        return false;
                    }
                }
                let Some(newline) = memchr::memchr(b'\n', line) else {
                    if line.len() == MAX_REQUEST_LINE {
                        self.reply(Reply::Error("the request line is too long".into()));
                    }
                    return false;
                };
                let mut line = std::mem::take(line);
                let rest = line.split_off(newline + 1);
                let request = serde_json::from_slice::<Request>(&line[..newline]);
                self.serve(request, rest, stdin, terminal)
            }
            State::Stdin { buffer, eof } => {
                let room = (CLIENT_BUFFER - buffer.len()).min(scratch.len());
                match read(&mut self.stream, &mut scratch[..room]) {
                    Received::Data(n) => {
                        buffer.extend_from_slice(&scratch[..n]);
                        true
                    }
                    Received::Again => false,
                    Received::End => {
                        *eof = true;
                        false
                    }
                }
            }
            State::Done => false,
        }
    }

    /// Acts on a complete request line; `rest` is what followed it.
    fn serve(
        &mut self,
        request: Result<Request, serde_json::Error>,
        rest: Vec<u8>,
        stdin: &ContainerStdin,
        terminal: Option<BorrowedFd<'_>>,
    ) -> bool {
        match request {
            Ok(Request::Stdin(true)) => match stdin {
                ContainerStdin::Closed => {
                    self.reply(Reply::Error(
                        "the container's stdin is not open (or already closed)".into(),
                    ));
                    false
                }
                _ => {
                    let got_input = !rest.is_empty();
                    self.state = State::Stdin {
                        buffer: rest,
                        eof: false,
                    };
                    got_input
                }
            },
            Ok(Request::Resize { height, width }) => {
                let reply = match terminal {
                    None => Reply::Error("the container has no TTY".into()),
                    Some(master) => match pty::set_window_size(master, height, width) {
                        Ok(()) => Reply::Ok(true),
                        Err(e) => Reply::Error(format!("resizing the terminal: {e}")),
                    },
                };
                self.reply(reply);
                false
            }
            Ok(Request::Stdin(false)) => {
                self.reply(Reply::Error("unsupported request: stdin false".into()));
                false
            }
            Err(e) => {
                self.reply(Reply::Error(format!("unknown request: {e}")));
                false
            }
        }
    }

    /// Sends a one-line reply and marks the connection to be closed. A reply
    /// this small fits a fresh socket's buffer; if it does not, the client
    /// gets none rather than stall the monitor.
    fn reply(&mut self, reply: Reply) {
        let _ = self.stream.write(&reply.to_line());
        self.state = State::Done;
    }
}

/// What a non-blocking read gave.
enum Received {
    Data(usize),
    /// Nothing yet.
    Again,
    /// EOF, or an error that ends the connection.
    End,
}

fn read(stream: &mut UnixStream, buffer: &mut [u8]) -> Received {
    loop {
        return match stream.read(buffer) {
            Ok(0) => Received::End,
            Ok(n) => Received::Data(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Received::Again,
            Err(_) => Received::End,
        };
    }
}

fn read_entry(fd: libc::c_int) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

impl Drop for ControlSocket {
    /// The socket file goes with the listener: nobody may connect to a
    /// container that is gone.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
