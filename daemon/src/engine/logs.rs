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
            // A client that went away ends the reader even when no output
            // comes to fail a send.
            if tx.is_closed() {
                return;
            }
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
                let changed =
                    handle.block_on(async { tokio::time::timeout(POLL, rx.changed()).await });
                if let Ok(Err(_)) = changed {
                    // The container is gone: drain once more, then stop.
                    follow = None;
                }
            }
        }
    });
}

struct Reader {
    options: LogOptions,
    /// Reused for every read.
    chunk: Vec<u8>,
    /// A partial line carried over to the next read.
    pending: Vec<u8>,
    past_until: bool,
}

impl Reader {
    fn new(options: LogOptions) -> Reader {
        Reader {
            options,
            chunk: vec![0u8; CHUNK],
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
        let mut chunk = std::mem::take(&mut self.chunk);
        let result = self.drain_with(file, tx, &mut chunk);
        self.chunk = chunk;
        result
    }

    fn drain_with(
        &mut self,
        file: &mut File,
        tx: &mpsc::Sender<Bytes>,
        chunk: &mut [u8],
    ) -> std::io::Result<bool> {
        loop {
            let n = file.read(chunk)?;
            if n == 0 {
                return Ok(true);
            }
            let mut out = BytesMut::with_capacity(n + n / 4);
            let mut data: &[u8] = &chunk[..n];
            if !self.pending.is_empty() {
                match memchr::memchr(b'\n', data) {
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
            while let Some(i) = memchr::memchr(b'\n', data) {
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
        let fallback;
        let (stream, time, log) = match parse_line(line) {
            Some(parsed) => parsed,
            None => {
                let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
                    return;
                };
                fallback = entry;
                (
                    fallback.stream.as_ref(),
                    fallback.time.as_ref(),
                    LogText::Plain(fallback.log.as_bytes()),
                )
            }
        };
        let stream: u8 = match stream {
            "stdout" if self.options.stdout => 1,
            "stderr" if self.options.stderr => 2,
            _ => return,
        };
        if self.options.since.is_some() || self.options.until.is_some() {
            let Some(at) = parse_time(time) else {
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
        let header_at = out.len();
        if self.options.multiplexed {
            out.put_slice(&[stream, 0, 0, 0, 0, 0, 0, 0]);
        }
        let payload_at = out.len();
        if self.options.timestamps {
            out.put_slice(time.as_bytes());
            out.put_u8(b' ');
        }
        log.write_to(out);
        if self.options.multiplexed {
            let len = (out.len() - payload_at) as u32;
            out[header_at + 4..header_at + 8].copy_from_slice(&len.to_be_bytes());
        }
    }
}

/// A log line's text: still JSON-escaped (fast path) or already decoded.
enum LogText<'a> {
    Escaped(&'a [u8]),
    Plain(&'a [u8]),
}

impl LogText<'_> {
    fn write_to(&self, out: &mut BytesMut) {
        match self {
            LogText::Plain(bytes) => out.put_slice(bytes),
            LogText::Escaped(bytes) => unescape_into(bytes, out),
        }
    }
}

/// The exact shape the monitor writes,
/// `{"log":"...","stream":"stdout","time":"..."}`, parsed without a JSON
/// parser; anything else returns `None` and goes to serde_json.
fn parse_line(line: &[u8]) -> Option<(&str, &str, LogText<'_>)> {
    let rest = line.strip_prefix(br#"{"log":""#)?;
    let end = string_end(rest)?;
    let (log, rest) = (&rest[..end], &rest[end..]);
    let rest = rest.strip_prefix(br#"","stream":""#)?;
    let (stream, rest) = if let Some(r) = rest.strip_prefix(b"stdout") {
        ("stdout", r)
    } else {
        ("stderr", rest.strip_prefix(b"stderr")?)
    };
    let rest = rest.strip_prefix(br#"","time":""#)?;
    let time = rest.strip_suffix(br#""}"#)?;
    if time.iter().any(|&b| b == b'"' || b == b'\\') || !valid_escapes(log) {
        return None;
    }
    Some((
        stream,
        std::str::from_utf8(time).ok()?,
        LogText::Escaped(log),
    ))
}

/// Index of the closing quote of a JSON string body.
fn string_end(text: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += memchr::memchr2(b'"', b'\\', &text[at..])?;
        if text[at] == b'"' {
            return Some(at);
        }
        at += 2;
        if at > text.len() {
            return None;
        }
    }
}

/// Whether every escape is one `unescape_into` decodes.
fn valid_escapes(text: &[u8]) -> bool {
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'\\', &text[at..]) {
        at += i + 1;
        match text.get(at) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 1,
            Some(b'u') if text.len() >= at + 5 && hex4(&text[at + 1..at + 5]).is_some() => at += 5,
            _ => return false,
        }
    }
    true
}

fn hex4(digits: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Decodes a JSON string body checked by [`valid_escapes`] into `out`.
fn unescape_into(mut text: &[u8], out: &mut BytesMut) {
    while let Some(i) = memchr::memchr(b'\\', text) {
        out.put_slice(&text[..i]);
        let escape = text[i + 1];
        text = &text[i + 2..];
        let byte = match escape {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut code = hex4(&text[..4]).unwrap_or(0xfffd);
                text = &text[4..];
                if (0xd800..0xdc00).contains(&code) && text.len() >= 6 && text.starts_with(b"\\u") {
                    if let Some(low) = hex4(&text[2..6]).filter(|l| (0xdc00..0xe000).contains(l)) {
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                        text = &text[6..];
                    }
                }
                let c = char::from_u32(code).unwrap_or('\u{fffd}');
                out.put_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
                continue;
            }
            other => other,
        };
        out.put_u8(byte);
    }
    out.put_slice(text);
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
    fn fast_path_decodes_exactly_what_serde_json_decodes() {
        let samples = [
            "plain line\n",
            "quote \" backslash \\ tab \t cr \r\n",
            "controls \u{0} \u{1b}[0m \u{8} \u{c}",
            "unicode é ✓ 😀 \u{fffd}",
            "",
        ];
        for text in samples {
            let line = serde_json::json!({"log": text, "stream": "stderr", "time": T1}).to_string();
            let (stream, time, log) = parse_line(line.as_bytes()).expect("fast path applies");
            assert_eq!((stream, time), ("stderr", T1));
            let mut out = BytesMut::new();
            log.write_to(&mut out);
            assert_eq!(&out[..], text.as_bytes(), "{line}");
        }
        let surrogate = format!(r#"{{"log":"\ud83d\ude00 x\n","stream":"stdout","time":"{T1}"}}"#);
        let (_, _, log) = parse_line(surrogate.as_bytes()).unwrap();
        let mut out = BytesMut::new();
        log.write_to(&mut out);
        assert_eq!(&out[..], "😀 x\n".as_bytes());
        assert!(parse_line(br#"{"stream":"stdout","log":"x","time":"t"}"#).is_none());
        assert!(parse_line(br#"{"log":"bad \q","stream":"stdout","time":"t"}"#).is_none());
    }

    #[test]
    fn timestamps_parse_in_docker_forms() {
        assert_eq!(parse_timestamp("10"), Some(10_000_000_000));
        assert_eq!(parse_timestamp("10.25"), Some(10_250_000_000));
        assert_eq!(parse_timestamp(T1), Some(1_714_557_600_000_000_001));
        assert_eq!(parse_timestamp("soon"), None);
    }
}
