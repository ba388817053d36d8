//! A hijacked stdio session with a container or an exec process, as `run`,
//! `start -a`, `attach` and `exec` hold it: the process's output copied to
//! ours (demultiplexed unless it has a TTY), our stdin copied in and
//! half-closed at its end, the detach keys watched for on a TTY, signals
//! forwarded, the TTY kept the terminal's size, and the local terminal in
//! raw mode while an interactive TTY is attached.

use crate::detach::EscapeDetector;
use crate::terminal::{self, RawMode};
use berth_client::demux::copy_demuxed;
use berth_client::{AttachConnection, Client, ClientError};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::task::JoinHandle;

/// Signals forwarded to a container without a TTY (docker's sig-proxy;
/// with a TTY, the terminal delivers keystrokes such as Ctrl-C itself).
const FORWARDED: [(SignalKind, &str); 6] = [
    (SignalKind::interrupt(), "SIGINT"),
    (SignalKind::terminate(), "SIGTERM"),
    (SignalKind::hangup(), "SIGHUP"),
    (SignalKind::quit(), "SIGQUIT"),
    (SignalKind::user_defined1(), "SIGUSR1"),
    (SignalKind::user_defined2(), "SIGUSR2"),
];

/// Tries after a failed first resize (the process may not be ready yet).
const RESIZE_RETRIES: u64 = 10;

/// What is attached and how the streams look.
#[derive(Debug, Clone)]
pub struct Streams {
    /// The process has a TTY: output is raw, not multiplexed.
    pub tty: bool,
    /// Send our stdin to the process.
    pub stdin: bool,
    /// The detach sequence, watched for when a TTY takes our stdin.
    pub detach_keys: Vec<u8>,
}

/// Whose TTY to resize.
#[derive(Debug, Clone)]
pub enum TtyOwner {
    Container(String),
    Exec(String),
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The output stream ended: the process exited (or the daemon let go).
    Ended,
    /// The user typed the detach keys; the process keeps running.
    Detached,
}

/// How our stdin ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEnd {
    /// End of input: the connection's write side was shut down.
    Eof,
    /// The detach keys were typed.
    Detached,
}

/// A running session; dropping it stops the copying and restores the
/// terminal.
pub struct Session {
    output: JoinHandle<io::Result<()>>,
    input: Option<JoinHandle<io::Result<InputEnd>>>,
    helpers: Vec<JoinHandle<()>>,
    tty: bool,
    raw_mode: Option<RawMode>,
}

impl Session {
    /// Starts copying over a hijacked connection at once; for a container,
    /// attach before starting it so none of its output is missed.
    pub fn begin(connection: AttachConnection, streams: Streams) -> Session {
        let interactive_tty = streams.tty && streams.stdin;
        let raw_mode = if interactive_tty && terminal::stdin_is_terminal() {
            RawMode::enable().ok()
        } else {
            None
        };
        let (reader, writer) = tokio::io::split(connection);
        let tty = streams.tty;
        let output = tokio::spawn(async move {
            let (mut stdout, mut stderr) = (tokio::io::stdout(), tokio::io::stderr());
            let mut reader = reader;
            let copied = if tty {
                tokio::io::copy(&mut reader, &mut stdout).await.map(drop)
            } else {
                copy_demuxed(reader, &mut stdout, &mut stderr).await
            };
            stdout.flush().await?;
            copied
        });
        let input = streams.stdin.then(|| {
            let detector = interactive_tty.then(|| EscapeDetector::new(streams.detach_keys));
            tokio::spawn(pump_input(tokio::io::stdin(), writer, detector))
        });
        Session {
            output,
            input,
            helpers: Vec::new(),
            tty,
            raw_mode,
        }
    }

    /// Forwards the signals we receive to the container (docker's
    /// sig-proxy); only without a TTY.
    pub fn forward_signals(&mut self, client: &Client, container: &str) {
        if !self.tty {
            self.helpers
                .push(forward_signals(client.clone(), container.to_string()));
        }
    }

    /// Once the process runs: size its TTY like our terminal, and keep it so.
    pub fn track_terminal_size(&mut self, client: &Client, owner: TtyOwner) {
        if self.tty && terminal::stdout_is_terminal() {
            self.helpers
                .push(track_terminal_size(client.clone(), owner));
        }
    }

    /// Waits for the session to end, as docker's hijacked streamer does:
    /// the output ending ends it; the end of our stdin waits for the output
    /// (the process sees EOF and finishes); the detach keys end it at once.
    /// The terminal is restored before this returns.
    pub async fn finish(mut self) -> io::Result<SessionEnd> {
        if let Some(mut input) = self.input.take() {
            tokio::select! {
                output = &mut self.output => {
                    self.raw_mode.take();
                    return output_result(output).map(|()| SessionEnd::Ended);
                }
                // An input that failed means the connection is gone, which
                // the output side reports.
                input = &mut input => {
                    if let Ok(Ok(InputEnd::Detached)) = input {
                        self.raw_mode.take();
                        return Ok(SessionEnd::Detached);
                    }
                }
            }
        }
        let output = (&mut self.output).await;
        self.raw_mode.take();
        output_result(output).map(|()| SessionEnd::Ended)
    }
}

fn output_result(joined: Result<io::Result<()>, tokio::task::JoinError>) -> io::Result<()> {
    match joined {
        Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Ok(result) => result,
        Err(join) => Err(io::Error::other(join)),
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.output.abort();
        if let Some(input) = &self.input {
            input.abort();
        }
        for helper in &self.helpers {
            helper.abort();
        }
    }
}

/// Copies `input` to the connection byte for byte. At the end of `input`
/// (or when reading it fails) the write side is shut down, so the process
/// sees EOF while its output keeps flowing back. With a detector, the
/// detach keys end the copy instead, without being sent.
pub async fn pump_input<R, W>(
    mut input: R,
    mut connection: W,
    mut detector: Option<EscapeDetector>,
) -> io::Result<InputEnd>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut forward = Vec::new();
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some(detector) = detector.as_mut() else {
            connection.write_all(&buf[..n]).await?;
            connection.flush().await?;
            continue;
        };
        forward.clear();
        let detached = detector.feed(&buf[..n], &mut forward);
        connection.write_all(&forward).await?;
        connection.flush().await?;
        if detached {
            return Ok(InputEnd::Detached);
        }
    }
    if let Some(detector) = &detector {
        connection.write_all(detector.pending()).await?;
    }
    connection.shutdown().await?;
    Ok(InputEnd::Eof)
}

/// Forwards the signals we receive to the container.
fn forward_signals(client: Client, id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut streams: Vec<(Signal, &str)> = FORWARDED
            .iter()
            .filter_map(|(kind, name)| signal(*kind).ok().map(|s| (s, *name)))
            .collect();
        if streams.is_empty() {
            return;
        }
        loop {
            let received = streams
                .iter_mut()
                .map(|(stream, name)| Box::pin(async move { stream.recv().await.map(|_| *name) }));
            let (name, _, _) = futures_util::future::select_all(received).await;
            let Some(name) = name else {
                return;
            };
            // The container may already be gone; its exit is reported anyway.
            let _ = client.kill_container(&id, Some(name)).await;
        }
    })
}

async fn resize(client: &Client, owner: &TtyOwner, size: (u16, u16)) -> Result<(), ClientError> {
    let (rows, columns) = size;
    match owner {
        TtyOwner::Container(id) => client.resize_container(id, rows, columns).await,
        TtyOwner::Exec(id) => client.resize_exec(id, rows, columns).await,
    }
}

/// Resizes the TTY now — retrying a few times, since the process may not
/// be ready for it yet — and again on every SIGWINCH.
fn track_terminal_size(client: Client, owner: TtyOwner) -> JoinHandle<()> {
    // Subscribe before the first resize so no change is missed.
    let mut changes = signal(SignalKind::window_change()).ok();
    tokio::spawn(async move {
        if let Some(size) = terminal::size() {
            let mut resized = resize(&client, &owner, size).await.is_ok();
            for retry in 0..RESIZE_RETRIES {
                if resized {
                    break;
                }
                tokio::time::sleep(Duration::from_millis((retry + 1) * 10)).await;
                resized = resize(&client, &owner, size).await.is_ok();
            }
            if !resized {
                eprintln!("failed to resize tty, using default size");
            }
        }
        let Some(changes) = changes.as_mut() else {
            return;
        };
        while changes.recv().await.is_some() {
            if let Some(size) = terminal::size() {
                // A resize that races the process's exit is harmless.
                let _ = resize(&client, &owner, size).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detach::DEFAULT_DETACH_KEYS;

    /// Pumps `input` through a duplex pipe and returns what the other end
    /// read, whether it saw EOF, and how the pump ended.
    async fn pump(input: Vec<u8>, detect: bool) -> (Vec<u8>, bool, InputEnd) {
        let (mut near, mut far) = tokio::io::duplex(1024);
        let detector = detect.then(|| EscapeDetector::new(DEFAULT_DETACH_KEYS.to_vec()));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let eof = tokio::time::timeout(Duration::from_millis(200), far.read_to_end(&mut got))
                .await
                .is_ok();
            (got, eof, far)
        });
        // The session keeps the connection open (its read half) whatever
        // the pump does; only a shutdown may end the far side's reading.
        let end = pump_input(std::io::Cursor::new(input), &mut near, detector)
            .await
            .unwrap();
        let (got, eof, _far) = reader.await.unwrap();
        drop(near);
        (got, eof, end)
    }

    #[tokio::test]
    async fn stdin_is_copied_byte_exact_then_half_closed() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (got, eof, end) = pump(data.clone(), false).await;
        assert_eq!(end, InputEnd::Eof);
        assert!(eof, "the far side saw EOF");
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn without_a_tty_the_detach_keys_are_just_bytes() {
        let (got, eof, end) = pump(b"a\x10\x11b".to_vec(), false).await;
        assert_eq!(
            (got.as_slice(), eof, end),
            (&b"a\x10\x11b"[..], true, InputEnd::Eof)
        );
    }

    #[tokio::test]
    async fn detach_keys_end_the_copy_without_closing_stdin() {
        let (got, eof, end) = pump(b"ls\r\x10\x11rest".to_vec(), true).await;
        assert_eq!(end, InputEnd::Detached);
        assert_eq!(got, b"ls\r");
        assert!(!eof, "a detach must not half-close the process's stdin");
    }

    #[tokio::test]
    async fn a_held_back_prefix_is_sent_at_eof() {
        let (got, eof, end) = pump(b"echo\x10".to_vec(), true).await;
        assert_eq!(
            (got.as_slice(), eof, end),
            (&b"echo\x10"[..], true, InputEnd::Eof)
        );
    }

    #[tokio::test]
    async fn the_far_side_still_writes_after_the_half_close() {
        // The connection stays readable after our write side is shut down:
        // the process's output keeps coming after its stdin ended.
        let (near, far) = tokio::io::duplex(64);
        let (mut near_read, near_write) = tokio::io::split(near);
        let (mut far_read, mut far_write) = tokio::io::split(far);
        pump_input(std::io::Cursor::new(b"data\n".to_vec()), near_write, None)
            .await
            .unwrap();
        let mut got = Vec::new();
        far_read.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"data\n");
        far_write.write_all(b"output\n").await.unwrap();
        far_write.shutdown().await.unwrap();
        let mut out = Vec::new();
        near_read.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"output\n");
    }
}
