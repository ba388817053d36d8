//! Docker's json-file log: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}`.
//!
//! Output is split at newlines, each entry keeping its `\n`. A line that
//! reaches [`MAX_ENTRY`] bytes without one is logged as a partial entry with
//! no `\n`; an unfinished line waits for more data, and is flushed on its own
//! when its stream ends. Invalid UTF-8 becomes U+FFFD. Entries are built in
//! one reused buffer and written with one write per chunk of output (more
//! only when a chunk's entries pass 64 KiB, which keeps the buffer small).

use crate::timefmt;
use std::io::{self, Write};
use std::time::SystemTime;

/// Longest entry: Docker's 16 KiB split of long lines.
pub const MAX_ENTRY: usize = 16 * 1024;
/// Write the buffer out once it holds this much.
const FLUSH_AT: usize = 64 * 1024;

/// Which of the container's output streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    /// What goes between an entry's log text and its timestamp.
    fn middle(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b"\",\"stream\":\"stdout\",\"time\":\"",
            Stream::Stderr => b"\",\"stream\":\"stderr\",\"time\":\"",
        }
    }
}

/// For each byte: 0 if it goes into a JSON string as it is, else the letter
/// after the backslash (`u` for `\u00XX`).
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// A json-file log being appended to.
pub struct JsonFileLog<W: Write> {
    sink: W,
    out: Vec<u8>,
    /// The unfinished line of each stream.
    pending: [Vec<u8>; 2],
}

impl<W: Write> JsonFileLog<W> {
    pub fn new(sink: W) -> Self {
        JsonFileLog {
            sink,
            out: Vec::new(),
            pending: [Vec::new(), Vec::new()],
        }
    }

    /// Logs a chunk of `stream`'s output, read at `now`.
    pub fn write(&mut self, stream: Stream, data: &[u8], now: SystemTime) -> io::Result<()> {
        let time = timefmt::rfc3339_nanos(now);
        let pending = &mut self.pending[stream as usize];
        let mut rest = data;
        while !rest.is_empty() {
            let room = MAX_ENTRY - pending.len();
            let window = &rest[..rest.len().min(room)];
            let entry_len = match memchr::memchr(b'\n', window) {
                Some(newline) => newline + 1,
                None if window.len() == room => room,
                None => {
                    pending.extend_from_slice(window);
                    break;
                }
            };
            let (line, tail) = rest.split_at(entry_len);
            if pending.is_empty() {
                encode(&mut self.out, stream, line, &time);
            } else {
                pending.extend_from_slice(line);
                encode(&mut self.out, stream, pending, &time);
                pending.clear();
            }
            rest = tail;
            if self.out.len() >= FLUSH_AT {
                write_out(&mut self.sink, &mut self.out)?;
            }
        }
        write_out(&mut self.sink, &mut self.out)
    }

    /// Logs `stream`'s unfinished line, if any, as an entry without `\n`.
    pub fn flush_pending(&mut self, stream: Stream, now: SystemTime) -> io::Result<()> {
        let pending = &mut self.pending[stream as usize];
        if pending.is_empty() {
            return Ok(());
        }
        encode(&mut self.out, stream, pending, &timefmt::rfc3339_nanos(now));
        pending.clear();
        write_out(&mut self.sink, &mut self.out)
    }

    #[cfg(test)]
    pub fn sink(&self) -> &W {
        &self.sink
    }
}

fn write_out<W: Write>(sink: &mut W, out: &mut Vec<u8>) -> io::Result<()> {
    let result = sink.write_all(out);
    out.clear();
    result
}

/// Appends one entry for `line` to `out`.
fn encode(out: &mut Vec<u8>, stream: Stream, line: &[u8], time: &[u8; timefmt::LEN]) {
    out.reserve(line.len() + 80);
    out.extend_from_slice(b"{\"log\":\"");
    match std::str::from_utf8(line) {
        Ok(text) => escape_into(out, text.as_bytes()),
        Err(_) => {
            for chunk in line.utf8_chunks() {
                escape_into(out, chunk.valid().as_bytes());
                if !chunk.invalid().is_empty() {
                    out.extend_from_slice("\u{FFFD}".as_bytes());
                }
            }
        }
    }
    out.extend_from_slice(stream.middle());
    out.extend_from_slice(time);
    out.extend_from_slice(b"\"}\n");
}

/// Appends valid UTF-8 `text` as the inside of a JSON string. Eight bytes at
/// a time are checked for anything to escape, and copied in runs.
fn escape_into(out: &mut Vec<u8>, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if let Some(word) = text.get(i..i + 8) {
            let word = u64::from_ne_bytes(word.try_into().expect("eight bytes"));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let byte = text[i];
        let escape = ESCAPES[byte as usize];
        if escape != 0 {
            out.extend_from_slice(&text[start..i]);
            match escape {
                b'u' => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(byte >> 4) as usize],
                    HEX[(byte & 0xf) as usize],
                ]),
                letter => out.extend_from_slice(&[b'\\', letter]),
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&text[start..]);
}

/// Whether any byte of `word` is a control character, `"` or `\` (the
/// exact SWAR tests for "a byte below n" and "a byte equal to c").
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * n as u64) & !w & HIGH;
    let equal = |c: u8| below(word ^ (ONES * c as u64), 1);
    (below(word, 0x20) | equal(b'"') | equal(b'\\')) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const T: &str = "2024-05-01T10:00:00.123456789Z";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_714_557_600, 123_456_789)
    }

    fn log() -> JsonFileLog<Vec<u8>> {
        JsonFileLog::new(Vec::new())
    }

    /// (log, stream) of every entry, checking each is valid JSON with the time.
    fn entries(log: &JsonFileLog<Vec<u8>>) -> Vec<(String, String)> {
        let text = std::str::from_utf8(log.sink()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
        text.lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(value["time"], T);
                (
                    value["log"].as_str().unwrap().to_owned(),
                    value["stream"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn entry(log: &str, stream: &str) -> (String, String) {
        (log.to_owned(), stream.to_owned())
    }

    #[test]
    fn writes_dockers_exact_line_format() {
        let mut log = log();
        log.write(Stream::Stdout, b"hello\n", now()).unwrap();
        log.write(Stream::Stderr, b"oops\n", now()).unwrap();
        assert_eq!(
            String::from_utf8(log.sink().clone()).unwrap(),
            format!(
                "{{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"{T}\"}}\n\
                 {{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"time\":\"{T}\"}}\n"
            )
        );
    }

    #[test]
    fn splits_a_chunk_into_one_entry_per_line() {
        let mut log = log();
        log.write(Stream::Stdout, b"a\n\nb\nc", now()).unwrap();
        assert_eq!(
            entries(&log),
            [
                entry("a\n", "stdout"),
                entry("\n", "stdout"),
                entry("b\n", "stdout")
            ]
        );
    }

    #[test]
    fn joins_a_line_split_across_reads_and_keeps_streams_apart() {
        let mut log = log();
        log.write(Stream::Stdout, b"hel", now()).unwrap();
        log.write(Stream::Stderr, b"err", now()).unwrap();
        log.write(Stream::Stdout, b"lo\nwor", now()).unwrap();
        log.write(Stream::Stderr, b"or\n", now()).unwrap();
        log.write(Stream::Stdout, b"ld\n", now()).unwrap();
        assert_eq!(
            entries(&log),
            [
                entry("hello\n", "stdout"),
                entry("error\n", "stderr"),
                entry("world\n", "stdout")
            ]
        );
    }

    #[test]
    fn unfinished_line_is_flushed_without_newline_at_end_of_stream() {
        let mut log = log();
        log.write(Stream::Stderr, b"done\nno newline", now())
            .unwrap();
        log.flush_pending(Stream::Stdout, now()).unwrap();
        log.flush_pending(Stream::Stderr, now()).unwrap();
        log.flush_pending(Stream::Stderr, now()).unwrap();
        assert_eq!(
            entries(&log),
            [entry("done\n", "stderr"), entry("no newline", "stderr")]
        );
    }

    #[test]
    fn a_line_without_newline_is_logged_in_16k_partial_entries() {
        let mut log = log();
        let long = "x".repeat(MAX_ENTRY * 2 + 10);
        for piece in long.as_bytes().chunks(1000) {
            log.write(Stream::Stdout, piece, now()).unwrap();
        }
        let logged = entries(&log);
        assert_eq!(logged.len(), 2);
        assert!(logged
            .iter()
            .all(|(l, _)| l.len() == MAX_ENTRY && !l.ends_with('\n')));
        log.flush_pending(Stream::Stdout, now()).unwrap();
        assert_eq!(entries(&log)[2], entry(&"x".repeat(10), "stdout"));
    }

    #[test]
    fn a_long_line_with_newline_is_split_at_16k() {
        let mut log = log();
        let mut data = vec![b'y'; MAX_ENTRY + 5];
        data.push(b'\n');
        log.write(Stream::Stdout, &data, now()).unwrap();
        let logged = entries(&log);
        assert_eq!(logged.len(), 2);
        assert_eq!(logged[0].0, "y".repeat(MAX_ENTRY));
        assert_eq!(logged[1].0, "yyyyy\n");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut log = log();
        log.write(Stream::Stdout, b"a\xffb\xe2\x82c\xf0\x9f\x98\x80\n", now())
            .unwrap();
        assert_eq!(
            entries(&log),
            [entry("a\u{FFFD}b\u{FFFD}c\u{1F600}\n", "stdout")]
        );
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        let mut log = log();
        let text = "q\"b\\t\tr\rb\u{8}f\u{c}z\u{0}e\u{1b}[0m é\n";
        log.write(Stream::Stdout, text.as_bytes(), now()).unwrap();
        assert_eq!(entries(&log), [entry(text, "stdout")]);
        let raw = String::from_utf8(log.sink().clone()).unwrap();
        assert!(
            raw.starts_with(r#"{"log":"q\"b\\t\tr\rb\bf\fz\u0000e\u001b[0m é\n""#),
            "{raw}"
        );
    }

    #[test]
    fn word_at_a_time_check_finds_every_byte_to_escape_in_any_position() {
        for position in 0..8 {
            for byte in 0..=255u8 {
                let mut word = *b"abcdefgh";
                word[position] = byte;
                assert_eq!(
                    needs_escape(u64::from_ne_bytes(word)),
                    ESCAPES[byte as usize] != 0,
                    "byte {byte:#x} at {position}"
                );
            }
        }
        let mut word = [0xe9u8; 8];
        word[3] = b'"';
        assert!(needs_escape(u64::from_ne_bytes(word)));
        assert!(!needs_escape(u64::from_ne_bytes([0xff; 8])));
    }

    #[test]
    fn many_tiny_lines_in_one_chunk_are_all_logged() {
        let mut log = log();
        let data = "\n".repeat(100_000);
        log.write(Stream::Stderr, data.as_bytes(), now()).unwrap();
        assert_eq!(entries(&log).len(), 100_000);
    }
}
