//! The monitor's control socket: its wire protocol, and the daemon's side of it.
//!
//! Each monitor listens on [`crate::ContainerSpec::control_socket`], a Unix
//! stream socket of mode 0600 that exists before the monitor reports
//! [`crate::StartReport::Started`] and is gone once the container has exited.
//! The monitor serves it from its single poll loop and never blocks on it.
//!
//! # Protocol
//!
//! A client connects and sends one request: a JSON object on one line,
//! ending in `\n` (at most [`MAX_REQUEST_LINE`] bytes).
//!
//! * `{"stdin":true}` — the connection becomes a stdin stream: every byte
//!   the client sends after the newline is written to the container's stdin
//!   (the stdin pipe, or the pty master with a TTY), in order. There is no
//!   reply. When the client half-closes (EOF) and the container has
//!   `stdin_once`, the container's stdin is closed (with pipes the process
//!   reads EOF; with a TTY only that client ends); otherwise only the client
//!   ends. Several stdin clients may be connected at once; their bytes are
//!   interleaved in the chunks they arrive in. The monitor buffers at most
//!   64 KiB per client and stops reading a client whose buffer is full, so a
//!   container that does not read its stdin makes the client's writes block.
//!   The monitor closes every stdin connection when the container's stdin
//!   closes or the container exits. If the container was not created with
//!   `open_stdin`, or its stdin is already closed, the monitor replies with
//!   an error line and closes the connection.
//! * `{"resize":{"height":H,"width":W}}` — sets the size of the container's
//!   terminal (the kernel sends SIGWINCH to its foreground process group).
//!   Reply: `{"ok":true}\n`, or `{"error":"the container has no TTY"}\n`;
//!   then the monitor closes the connection.
//! * Anything else: `{"error":"..."}\n`, and the connection is closed.
//!
//! The functions here are blocking std code for the daemon (call them from a
//! blocking thread, or wrap the returned stream in the async runtime). This
//! module does not own the server side: that is the monitor's
//! (`berth-shim`'s `control` module).

use crate::error::RuntimeError;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Longest request line the monitor accepts, newline included.
pub const MAX_REQUEST_LINE: usize = 4096;
/// How long [`resize`] waits for the monitor's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// One request, as sent on the first line of a connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// `{"stdin":true}`; `false` is refused.
    Stdin(bool),
    /// `{"resize":{"height":H,"width":W}}`
    Resize { height: u16, width: u16 },
}

/// The monitor's one-line answer to a request that gets one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// `{"ok":true}`
    Ok(bool),
    /// `{"error":"..."}`
    Error(String),
}

impl Request {
    /// The request's wire form: JSON and a newline.
    pub fn to_line(&self) -> Vec<u8> {
        line(self)
    }
}

impl Reply {
    /// The reply's wire form: JSON and a newline.
    pub fn to_line(&self) -> Vec<u8> {
        line(self)
    }
}

fn line(value: &impl Serialize) -> Vec<u8> {
    // Serialising these plain enums cannot fail.
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Connects to the monitor at `socket` and asks for the container's stdin;
/// the returned stream is that stdin: write to it, and `shutdown(Write)` to
/// send EOF. Writes block while the container does not read.
pub fn open_stdin(socket: &Path) -> Result<UnixStream, RuntimeError> {
    let mut stream = connect(socket)?;
    stream
        .write_all(&Request::Stdin(true).to_line())
        .map_err(|source| control_error(socket, source))?;
    Ok(stream)
}

/// Asks the monitor at `socket` to resize the container's terminal, and
/// waits for its answer.
pub fn resize(socket: &Path, height: u16, width: u16) -> Result<(), RuntimeError> {
    let mut stream = connect(socket)?;
    let request = Request::Resize { height, width };
    let mut reply = Vec::new();
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .and_then(|()| stream.write_all(&request.to_line()))
        .and_then(|()| {
            (&mut stream)
                .take(MAX_REQUEST_LINE as u64)
                .read_to_end(&mut reply)
        })
        .map_err(|source| control_error(socket, source))?;
    let text = reply.split(|&b| b == b'\n').next().unwrap_or_default();
    match serde_json::from_slice(text) {
        Ok(Reply::Ok(_)) => Ok(()),
        Ok(Reply::Error(message)) => Err(RuntimeError::ControlRefused { message }),
        Err(_) => Err(control_error(
            socket,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unreadable reply {:?}", String::from_utf8_lossy(text)),
            ),
        )),
    }
}

fn connect(socket: &Path) -> Result<UnixStream, RuntimeError> {
    UnixStream::connect(socket).map_err(|source| control_error(socket, source))
}

fn control_error(socket: &Path, source: io::Error) -> RuntimeError {
    RuntimeError::Control {
        socket: socket.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_have_the_documented_wire_form() {
        assert_eq!(Request::Stdin(true).to_line(), b"{\"stdin\":true}\n");
        assert_eq!(
            Request::Resize {
                height: 40,
                width: 120
            }
            .to_line(),
            b"{\"resize\":{\"height\":40,\"width\":120}}\n"
        );
        assert_eq!(Reply::Ok(true).to_line(), b"{\"ok\":true}\n");
        assert_eq!(
            Reply::Error("the container has no TTY".into()).to_line(),
            b"{\"error\":\"the container has no TTY\"}\n"
        );
    }

    #[test]
    fn unknown_or_malformed_requests_do_not_parse() {
        for bad in [
            &b"{}"[..],
            b"{\"stdin\":true,\"resize\":{\"height\":1,\"width\":1}}",
            b"{\"attach\":true}",
            b"{\"resize\":{\"height\":-1,\"width\":1}}",
            b"{\"resize\":{\"height\":1}}",
            b"stdin",
        ] {
            assert!(
                serde_json::from_slice::<Request>(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn resize_reports_the_monitors_refusal_in_its_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 64];
            let n = stream.read(&mut request).unwrap();
            stream
                .write_all(&Reply::Error("the container has no TTY".into()).to_line())
                .unwrap();
            request[..n].to_vec()
        });
        let error = resize(&path, 30, 100).unwrap_err();
        assert_eq!(error.to_string(), "the container has no TTY");
        assert_eq!(
            server.join().unwrap(),
            b"{\"resize\":{\"height\":30,\"width\":100}}\n"
        );
    }

    #[test]
    fn a_missing_socket_names_its_path() {
        let error = resize(Path::new("/nonexistent/berth.sock"), 1, 1).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/berth.sock"),
            "{error}"
        );
    }
}
