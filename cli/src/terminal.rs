//! The local terminal: whether stdio is one, raw mode for `-it`, and its size
//! for resizing a container's TTY.

use nix::sys::termios::{self, SetArg, Termios};
use std::io::{self, IsTerminal};
use std::sync::{Arc, Mutex};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

/// Signals that end `berth` while the terminal is raw; the terminal is put
/// back before the process exits with `128 + signal`, as if killed.
const FATAL: [(SignalKind, i32); 4] = [
    (SignalKind::terminate(), libc::SIGTERM),
    (SignalKind::hangup(), libc::SIGHUP),
    (SignalKind::interrupt(), libc::SIGINT),
    (SignalKind::quit(), libc::SIGQUIT),
];

pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// Puts stdin in raw mode (as `cfmakeraw`, like docker's `term.MakeRaw`)
/// so keystrokes such as Ctrl-C reach the container's TTY. The terminal is
/// restored when this is dropped (on success, error or panic) and when a
/// signal ends `berth` meanwhile.
pub struct RawMode {
    saved: Arc<Mutex<Option<Termios>>>,
    watcher: JoinHandle<()>,
}

impl RawMode {
    /// Enables raw mode; must be called inside the tokio runtime.
    pub fn enable() -> io::Result<RawMode> {
        let stdin = io::stdin();
        let original = termios::tcgetattr(&stdin)?;
        let mut raw = original.clone();
        termios::cfmakeraw(&mut raw);
        let saved = Arc::new(Mutex::new(Some(original)));
        // Watch for signals before the terminal changes, so that no window
        // exists in which a signal leaves it raw.
        let watcher = watch_fatal_signals(saved.clone());
        if let Err(e) = termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw) {
            watcher.abort();
            return Err(e.into());
        }
        Ok(RawMode { saved, watcher })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.watcher.abort();
        restore(&self.saved);
    }
}

/// Puts the saved settings back, once.
fn restore(saved: &Mutex<Option<Termios>>) {
    let settings = saved.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(settings) = settings {
        // Nothing useful can be done if the terminal went away meanwhile.
        let _ = termios::tcsetattr(io::stdin(), SetArg::TCSANOW, &settings);
    }
}

fn watch_fatal_signals(saved: Arc<Mutex<Option<Termios>>>) -> JoinHandle<()> {
    let mut streams: Vec<_> = FATAL
        .iter()
        .filter_map(|(kind, number)| signal(*kind).ok().map(|s| (s, *number)))
        .collect();
    tokio::spawn(async move {
        if streams.is_empty() {
            return;
        }
        let received = streams
            .iter_mut()
            .map(|(stream, number)| Box::pin(async move { stream.recv().await.map(|_| *number) }));
        let (number, _, _) = futures_util::future::select_all(received).await;
        if let Some(number) = number {
            restore(&saved);
            std::process::exit(128 + number);
        }
    })
}

/// The size of the terminal on stdout as (rows, columns), if it is one.
pub fn size() -> Option<(u16, u16)> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points at a live, properly aligned `winsize`; fd 1 is only read.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}
