//! Reading the json-file log that each monitor writes: `logs` (with tail,
//! since, until, timestamps, follow) and the output side of `attach`.
//!
//! The monitor is the only writer, so a reader follows the file; the daemon
//! learns of an exit only after the monitor has flushed every line, so a
//! reader that drains to EOF after seeing the exit has seen everything.

use super::container::Lifecycle;
use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What to read and how to frame it.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    /// Only entries at or after this time (nanoseconds since the epoch).
    pub since: Option<i128>,
    /// Only entries before this time.
    pub until: Option<i128>,
    pub timestamps: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Start at this byte offset instead (attach: the end at attach time).
    pub offset: Option<u64>,
    /// Docker's 8-byte frames (no TTY) or raw bytes (TTY).
    pub multiplexed: bool,
}

/// When a follower stops: after it has seen this and drained the file.
pub type StopWhen = Box<dyn Fn(&Lifecycle) -> bool + Send>;

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
}

const CHUNK: usize = 1 << 20;
const POLL: Duration = Duration::from_millis(20);

/// Streams the log at `path` into `tx` on a blocking thread. Without
/// `follow`, stops at EOF; with it, keeps reading until `stop` holds for
/// the container's lifecycle and the file is drained.
pub fn spawn_reader(
    path: PathBuf,
    options: LogOptions,
    follow: Option<(watch::Receiver<Lifecycle>, StopWhen)>,
    tx: mpsc::Sender<Bytes>,
) {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut follow = follow;
        let mut reader = Reader::new(options);
        let mut file: Option<File> = None;
        loop {
            let finished = match &mut follow {
                None => true,
                Some((rx, stop)) => stop(&rx.borrow_and_update()),
            };
            if file.is_none() {
                file = reader.open(&path);
            }
            if let Some(f) = file.as_mut() {
                match reader.drain(f, &tx) {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "reading log");
                        return;
                    }
                }
            }
            if finished || reader.past_until {
                return;
            }
            if let Some((rx, _)) = &mut follow {
                let _ = handle.block_on(async { tokio::time::timeout(POLL, rx.changed()).await });
            }
        }
    });
}

struct Reader {
    options: LogOptions,
    /// A partial line carried over to the next read.
    pending: Vec<u8>,
    past_until: bool,
}

impl Reader {
    fn new(options: LogOptions) -> Reader {
        Reader {
            options,
            pending: Vec::new(),
            past_until: false,
        }
    }

    fn open(&mut self, path: &PathBuf) -> Option<File> {
        let mut file = File::open(path).ok()?;
        let start = match (self.options.offset, self.options.tail) {
            (Some(offset), _) => offset,
            (None, Some(n)) => tail_offset(&mut file, n).ok()?,
            (None, None) => 0,
        };
        file.seek(SeekFrom::Start(start)).ok()?;
        Some(file)
    }

    /// Reads to EOF, sending framed output; `Ok(false)` when the client is gone.
    fn drain(&mut self, file: &mut File, tx: &mpsc::Sender<Bytes>) -> std::io::Result<bool> {
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                return Ok(true);
            }
            let mut out = BytesMut::with_capacity(n + n / 4);
            let mut data: &[u8] = &chunk[..n];
            if !self.pending.is_empty() {
                match memchr(b'\n', data) {
                    Some(i) => {
                        self.pending.extend_from_slice(&data[..i]);
                        let line = std::mem::take(&mut self.pending);
                        self.emit(&line, &mut out);
                        data = &data[i + 1..];
                    }
                    None => {
                        self.pending.extend_from_slice(data);
                        continue;
                    }
                }
            }
            while let Some(i) = memchr(b'\n', data) {
                self.emit(&data[..i], &mut out);
                data = &data[i + 1..];
                if self.past_until {
                    break;
                }
            }
            self.pending.extend_from_slice(data);
            if !out.is_empty() && tx.blocking_send(out.freeze()).is_err() {
                return Ok(false);
            }
            if self.past_until {
                return Ok(true);
            }
        }
    }

    fn emit(&mut self, line: &[u8], out: &mut BytesMut) {
        if self.past_until {
            return;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
            return;
        };
        let stream: u8 = match entry.stream.as_ref() {
            "stdout" if self.options.stdout => 1,
            "stderr" if self.options.stderr => 2,
            _ => return,
        };
        if self.options.since.is_some() || self.options.until.is_some() {
            let Some(at) = parse_time(&entry.time) else {
                return;
            };
            if self.options.since.is_some_and(|since| at < since) {
                return;
            }
            if self.options.until.is_some_and(|until| at > until) {
                self.past_until = true;
                return;
            }
        }
        let prefix_len = if self.options.timestamps {
            entry.time.len() + 1
        } else {
            0
        };
        let len = prefix_len + entry.log.len();
        if self.options.multiplexed {
            out.put_slice(&[stream, 0, 0, 0]);
            out.put_u32(len as u32);
        }
        if self.options.timestamps {
            out.put_slice(entry.time.as_bytes());
            out.put_u8(b' ');
        }
        out.put_slice(entry.log.as_bytes());
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn parse_time(text: &str) -> Option<i128> {
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(at.timestamp() as i128 * 1_000_000_000 + at.timestamp_subsec_nanos() as i128)
}

/// Parses Docker's `since`/`until`: Unix seconds with an optional fraction
/// (`1700000000.5`), or an RFC 3339 time. Returns nanoseconds.
pub fn parse_timestamp(value: &str) -> Option<i128> {
    if let Some(nanos) = parse_time(value) {
        return Some(nanos);
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i128 = secs.parse().ok()?;
    let mut frac_nanos: i128 = 0;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        frac_nanos = format!("{digits:0<9}").parse().ok()?;
    }
    Some(secs * 1_000_000_000 + frac_nanos)
}

/// The byte offset where the last `n` lines of the file begin.
fn tail_offset(file: &mut File, n: usize) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    let mut pos = len;
    let mut newlines = 0usize;
    let mut buf = vec![0u8; 64 << 10];
    while pos > 0 {
        let step = (buf.len() as u64).min(pos);
        pos -= step;
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut buf[..step as usize])?;
        for i in (0..step as usize).rev() {
            if buf[i] == b'\n' {
                // The file's final newline ends the last line; count the ones before it.
                if pos + i as u64 + 1 == len {
                    continue;
                }
                newlines += 1;
                if newlines == n {
                    return Ok(pos + i as u64 + 1);
                }
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn log_file(lines: &[(&str, &str, &str)]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for (stream, log, time) in lines {
            let entry = serde_json::json!({"log": log, "stream": stream, "time": time});
            writeln!(file, "{entry}").unwrap();
        }
        file
    }

    fn options() -> LogOptions {
        LogOptions {
            stdout: true,
            stderr: true,
            since: None,
            until: None,
            timestamps: false,
            tail: None,
            offset: None,
            multiplexed: true,
        }
    }

    async fn read_all(path: PathBuf, options: LogOptions) -> Vec<u8> {
        let (tx, mut rx) = mpsc::channel(4);
        spawn_reader(path, options, None, tx);
        let mut out = Vec::new();
        while let Some(b) = rx.recv().await {
            out.extend_from_slice(&b);
        }
        out
    }

    const T1: &str = "2024-05-01T10:00:00.000000001Z";
    const T2: &str = "2024-05-01T10:00:01.5Z";

    #[tokio::test]
    async fn frames_streams_with_docker_headers() {
        let file = log_file(&[("stdout", "out\n", T1), ("stderr", "err\n", T2)]);
        let out = read_all(file.path().into(), options()).await;
        assert_eq!(
            out,
            [
                &[1u8, 0, 0, 0, 0, 0, 0, 4][..],
                b"out\n",
                &[2, 0, 0, 0, 0, 0, 0, 4],
                b"err\n"
            ]
            .concat()
        );
    }

    #[tokio::test]
    async fn filters_streams_tail_since_and_timestamps() {
        let file = log_file(&[
            ("stdout", "a\n", T1),
            ("stderr", "b\n", T1),
            ("stdout", "c\n", T2),
        ]);
        let raw = LogOptions {
            multiplexed: false,
            ..options()
        };
        let only_out = LogOptions {
            stderr: false,
            ..raw.clone()
        };
        assert_eq!(read_all(file.path().into(), only_out).await, b"a\nc\n");
        let tail = LogOptions {
            tail: Some(2),
            ..raw.clone()
        };
        assert_eq!(read_all(file.path().into(), tail).await, b"b\nc\n");
        let since = LogOptions {
            since: parse_timestamp("1714557600.5"),
            ..raw.clone()
        };
        assert_eq!(read_all(file.path().into(), since).await, b"c\n");
        let until = LogOptions {
            until: parse_timestamp("1714557600.5"),
            ..raw.clone()
        };
        assert_eq!(read_all(file.path().into(), until).await, b"a\nb\n");
        let stamped = LogOptions {
            timestamps: true,
            tail: Some(1),
            ..raw
        };
        assert_eq!(
            read_all(file.path().into(), stamped).await,
            format!("{T2} c\n").as_bytes()
        );
    }

    #[test]
    fn timestamps_parse_in_docker_forms() {
        assert_eq!(parse_timestamp("10"), Some(10_000_000_000));
        assert_eq!(parse_timestamp("10.25"), Some(10_250_000_000));
        assert_eq!(parse_timestamp(T1), Some(1_714_557_600_000_000_001));
        assert_eq!(parse_timestamp("soon"), None);
    }
}
