//! An attached container session, as `run` and `start -a` hold it: the
//! container's output copied to ours (demultiplexed unless it has a TTY),
//! our stdin copied in, signals forwarded, the TTY kept the terminal's size,
//! and the local terminal in raw mode while an interactive TTY is attached.

use crate::terminal::{self, RawMode};
use berth_client::demux::copy_demuxed;
use berth_client::{AttachOptions, Client, ClientError};
use std::io;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::task::JoinHandle;

/// Signals `run` forwards to a container without a TTY (with one, the
/// terminal delivers keystrokes such as Ctrl-C itself).
const FORWARDED: [(SignalKind, &str); 6] = [
    (SignalKind::interrupt(), "SIGINT"),
    (SignalKind::terminate(), "SIGTERM"),
    (SignalKind::hangup(), "SIGHUP"),
    (SignalKind::quit(), "SIGQUIT"),
    (SignalKind::user_defined1(), "SIGUSR1"),
    (SignalKind::user_defined2(), "SIGUSR2"),
];

/// What to attach and how the container's streams look.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    /// The container has a TTY: output is raw, not multiplexed.
    pub tty: bool,
    /// Send our stdin to the container.
    pub stdin: bool,
}

/// A running session; dropping it stops the copying and restores the
/// terminal.
pub struct Session {
    output: JoinHandle<io::Result<()>>,
    helpers: Vec<JoinHandle<()>>,
    streams: Streams,
    raw_mode: Option<RawMode>,
}

/// Attaches to `id` and starts copying at once, before the container is
/// started, so none of its output is missed.
pub async fn attach(client: &Client, id: &str, streams: Streams) -> Result<Session, ClientError> {
    let options = AttachOptions {
        stream: true,
        stdin: streams.stdin,
        stdout: true,
        stderr: true,
        logs: false,
    };
    let connection = client.attach_container(id, &options).await?;
    let raw_mode = if streams.tty && streams.stdin && terminal::stdin_is_terminal() {
        RawMode::enable().ok()
    } else {
        None
    };
    let (mut reader, mut writer) = tokio::io::split(connection);
    let output = tokio::spawn(async move {
        let (mut stdout, mut stderr) = (tokio::io::stdout(), tokio::io::stderr());
        let copied = if streams.tty {
            tokio::io::copy(&mut reader, &mut stdout).await.map(drop)
        } else {
            copy_demuxed(reader, &mut stdout, &mut stderr).await
        };
        stdout.flush().await?;
        copied
    });
    let mut helpers = Vec::new();
    if streams.stdin {
        helpers.push(tokio::spawn(async move {
            // The container sees EOF when our stdin ends; a failed copy means
            // the connection is gone, which the output side reports.
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut writer).await;
            let _ = writer.shutdown().await;
        }));
    }
    if !streams.tty {
        helpers.push(forward_signals(client.clone(), id.to_string()));
    }
    Ok(Session {
        output,
        helpers,
        streams,
        raw_mode,
    })
}

impl Session {
    /// Once the container runs: size its TTY like our terminal, and keep it so.
    pub fn started(&mut self, client: &Client, id: &str) {
        if self.streams.tty && terminal::stdout_is_terminal() {
            self.helpers
                .push(track_terminal_size(client.clone(), id.to_string()));
        }
    }

    /// Waits for the container's output to end.
    pub async fn finish(mut self) -> io::Result<()> {
        let result = match (&mut self.output).await {
            Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Ok(result) => result,
            Err(join) => Err(io::Error::other(join)),
        };
        self.raw_mode.take();
        result
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.output.abort();
        for helper in &self.helpers {
            helper.abort();
        }
    }
}

/// Forwards the signals we receive to the container (docker's sig-proxy).
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

/// Resizes the container's TTY now and on every SIGWINCH.
fn track_terminal_size(client: Client, id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut changes = signal(SignalKind::window_change()).ok();
        loop {
            if let Some((rows, columns)) = terminal::size() {
                // A resize that races the container's exit is harmless.
                let _ = client.resize_container(&id, rows, columns).await;
            }
            let Some(changes) = changes.as_mut() else {
                return;
            };
            if changes.recv().await.is_none() {
                return;
            }
        }
    })
}
