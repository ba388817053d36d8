//! Docker's progress stream (`POST /images/create`, `/images/{name}/push`):
//! one JSON object a line, each flushed as it is written, in the shape the
//! docker CLI's jsonmessage renders and docker-py reads: `status`, `id`,
//! `progressDetail` (`current`, `total`), `progress` (the bar old clients
//! print), and at the end either nothing more or `errorDetail`/`error`.

use bytes::Bytes;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Width of the bar in the `progress` string, as Docker draws it.
const BAR_WIDTH: usize = 50;
/// Byte counts are reported at most this often per layer.
const BYTES_EVERY: Duration = Duration::from_millis(100);

/// Writes progress lines to a streaming response. Cheap to clone; a client
/// that went away makes writes no-ops.
#[derive(Clone)]
pub struct Progress {
    tx: mpsc::Sender<Bytes>,
}

impl Progress {
    pub fn new(tx: mpsc::Sender<Bytes>) -> Progress {
        Progress { tx }
    }

    async fn send(&self, value: Value) {
        let mut line = serde_json::to_vec(&value).expect("JSON values serialize");
        line.push(b'\n');
        let _ = self.tx.send(Bytes::from(line)).await;
    }

    /// `{"status": S}`, or with `"id"` and an empty `progressDetail` for a
    /// layer line.
    pub async fn status(&self, id: Option<&str>, status: &str) {
        let value = match id {
            Some(id) => json!({"status": status, "progressDetail": {}, "id": id}),
            None => json!({ "status": status }),
        };
        self.send(value).await;
    }

    /// A byte count for layer `id` (`Downloading`), from code that cannot
    /// wait (a download's callback): dropped if the client is behind, as a
    /// later count follows.
    pub fn bytes_now(&self, id: &str, status: &str, current: u64, total: u64) {
        let mut line = serde_json::to_vec(&json!({
            "status": status,
            "progressDetail": {"current": current, "total": total},
            "progress": bar(current, total),
            "id": id,
        }))
        .expect("JSON values serialize");
        line.push(b'\n');
        let _ = self.tx.try_send(Bytes::from(line));
    }

    /// An `aux` line (a push's `{"Tag", "Digest", "Size"}`).
    pub async fn aux(&self, aux: Value) {
        self.send(json!({"progressDetail": {}, "aux": aux})).await;
    }

    /// The error that ended the stream.
    pub async fn error(&self, message: &str) {
        self.send(json!({"errorDetail": {"message": message}, "error": message}))
            .await;
    }
}

/// Limits byte-count lines of one layer to one per [`BYTES_EVERY`] (the last
/// one always goes out).
pub struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    pub fn new() -> Throttle {
        Throttle { last: None }
    }

    /// Whether a line is due now.
    pub fn due(&mut self) -> bool {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < BYTES_EVERY => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// `[=====>        ]  1.23MB/4.56MB`, sizes in Docker's decimal units.
fn bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let filled = ((current.min(total) as f64 / total as f64) * BAR_WIDTH as f64) as usize;
    let mut bar = "=".repeat(filled);
    if filled < BAR_WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
    }
    format!("[{bar}] {:>8}/{}", human_size(current), human_size(total))
}

/// Docker's `units.HumanSize`: decimal units, three significant digits.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit + 1 < UNITS.len() {
        size /= 1000.0;
        unit += 1;
    }
    // Go's %.4g: four significant digits, trailing zeros dropped.
    let decimals = if size >= 100.0 {
        1
    } else if size >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{size:.decimals$}");
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1234), "1.234kB");
        assert_eq!(human_size(5_600_000), "5.6MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }

    #[test]
    fn the_bar_fills_with_the_count() {
        let half = bar(50, 100);
        assert!(half.starts_with(&format!("[{}>", "=".repeat(25))), "{half}");
        assert!(half.ends_with("50B/100B"), "{half}");
        assert!(bar(100, 100).starts_with(&format!("[{}]", "=".repeat(50))));
    }

    #[tokio::test]
    async fn lines_are_json_objects_each_on_its_own_line() {
        let (tx, mut rx) = mpsc::channel(8);
        let progress = Progress::new(tx);
        progress.status(None, "Pulling from library/busybox").await;
        progress
            .status(Some("a1b2c3d4e5f6"), "Pulling fs layer")
            .await;
        progress.bytes_now("a1b2c3d4e5f6", "Downloading", 10, 20);
        progress.error("boom").await;
        let mut lines = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            lines.push(String::from_utf8(chunk.to_vec()).unwrap());
        }
        assert_eq!(lines[0], "{\"status\":\"Pulling from library/busybox\"}\n");
        let layer: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(layer["id"], "a1b2c3d4e5f6");
        assert_eq!(layer["progressDetail"], json!({}));
        let bytes: Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(bytes["progressDetail"], json!({"current": 10, "total": 20}));
        let error: Value = serde_json::from_str(&lines[3]).unwrap();
        assert_eq!(error["errorDetail"]["message"], "boom");
    }
}
