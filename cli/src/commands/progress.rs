//! Showing a progress stream (pull, push) the way docker's `jsonmessage`
//! does.
//!
//! On a terminal, each layer id gets a line of its own that later messages
//! for that id rewrite in place (cursor up, erase line, write, cursor
//! down), with a bar `[==>   ]  1.2MB/5.6MB` drawn from `progressDetail`
//! when the terminal is wider than 110 columns. Elsewhere every status is
//! printed once as `id: status`, and messages that only move a counter
//! (`Downloading`, `Extracting` with numbers) are left out. A message
//! without a layer line (`Digest: ...`) ends the block of layer lines.
//! `aux` messages are for programs and never shown; an error ends the
//! display and is returned for the caller to report.

use berth_api::progress::{Progress, ProgressMessage};
use berth_client::{ClientError, ProgressStream};
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Width assumed when the terminal's cannot be read, as docker does.
const DEFAULT_WIDTH: u16 = 200;
/// Terminals wider than this get a bar.
const BAR_MIN_WIDTH: u16 = 110;
/// Terminals wider than this get the time left.
const ETA_MIN_WIDTH: u16 = 50;

const ERASE_LINE: &str = "\x1b[2K";

/// Where a progress stream is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stdout,
    /// `run` and `create` pull with the progress on stderr, keeping stdout
    /// for the container's id.
    Stderr,
    /// `-q`: read the stream for its errors, show nothing.
    Discard,
}

/// Reads `stream` to its end, showing every message on `target`; a message
/// that reports an error ends it with [`ClientError::Stream`].
pub async fn show(stream: &mut ProgressStream, target: Target) -> Result<(), ClientError> {
    let (terminal, fd) = match target {
        Target::Stdout => (io::stdout().is_terminal(), libc::STDOUT_FILENO),
        Target::Stderr => (io::stderr().is_terminal(), libc::STDERR_FILENO),
        Target::Discard => (false, -1),
    };
    let width = if terminal {
        terminal_width(fd).unwrap_or(DEFAULT_WIDTH)
    } else {
        DEFAULT_WIDTH
    };
    let mut renderer = Renderer::new(terminal, width);
    while let Some(message) = stream.next().await? {
        let mut text = String::new();
        let shown = renderer.show(&message, &mut text);
        // As docker: output that cannot be written is not an error.
        let _ = match target {
            Target::Stdout => write_all(io::stdout().lock(), &text),
            Target::Stderr => write_all(io::stderr().lock(), &text),
            Target::Discard => Ok(()),
        };
        shown.map_err(ClientError::Stream)?;
    }
    Ok(())
}

fn write_all(mut out: impl Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// The width of the terminal on `fd`, if it is one.
fn terminal_width(fd: libc::c_int) -> Option<u16> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points at a live, properly aligned `winsize`; `fd` is only queried.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(size.ws_col)
}

/// Renders one progress stream, remembering which layer ids own which
/// line.
pub struct Renderer {
    terminal: bool,
    width: u16,
    /// Layer id -> its line, counted from the top of the current block.
    lines: HashMap<String, usize>,
    /// Now, as nanoseconds since the epoch (for the time left).
    clock: fn() -> i128,
}

impl Renderer {
    pub fn new(terminal: bool, width: u16) -> Renderer {
        Renderer {
            terminal,
            width,
            lines: HashMap::new(),
            clock: now_nanos,
        }
    }

    /// Appends what `message` shows to `out`; `Err` with the message's
    /// error when it reports one.
    pub fn show(&mut self, message: &ProgressMessage, out: &mut String) -> Result<(), String> {
        if message.aux.is_some() {
            return Ok(());
        }
        let mut up = 0;
        if !message.id.is_empty() && message.progress_detail.is_some() {
            let count = self.lines.len();
            let line = *self.lines.entry(message.id.clone()).or_insert_with(|| {
                if self.terminal {
                    out.push('\n');
                }
                count
            });
            up = self.lines.len() - line;
            if self.terminal {
                cursor(out, up, 'A');
            }
        } else {
            self.lines.clear();
        }
        let shown = self.line(message, out);
        if !message.id.is_empty() && self.terminal {
            cursor(out, up, 'B');
        }
        shown
    }

    /// docker's `Display` of one message.
    fn line(&self, message: &ProgressMessage, out: &mut String) -> Result<(), String> {
        if let Some(error) = message.error_message() {
            return Err(error.to_string());
        }
        let mut end = "";
        match &message.progress_detail {
            Some(_) if self.terminal && message.stream.is_empty() => {
                out.push_str(ERASE_LINE);
                end = "\r";
                out.push_str(end);
            }
            // Counters only mean something on a terminal.
            Some(detail) if detail.has_counts() => return Ok(()),
            _ => {}
        }
        if !message.id.is_empty() {
            out.push_str(&message.id);
            out.push_str(": ");
        }
        match &message.progress_detail {
            Some(detail) if self.terminal => {
                let bar = self.bar(detail);
                out.push_str(&format!("{} {bar}{end}", message.status));
            }
            _ if !message.stream.is_empty() => {
                out.push_str(&message.stream);
                out.push_str(end);
            }
            _ => {
                out.push_str(&message.status);
                out.push_str(end);
                out.push('\n');
            }
        }
        Ok(())
    }

    /// docker's `RenderTUIProgress`: `[==>   ]  1.2MB/5.6MB 3s`.
    fn bar(&self, p: &Progress) -> String {
        if p.current <= 0 && p.total <= 0 {
            return String::new();
        }
        if p.total <= 0 {
            return match p.units.as_str() {
                "" => format!("{:>8}", human_size(p.current)),
                units => format!("{} {units}", p.current),
            };
        }
        let percent = ((p.current as f64 / p.total as f64 * 100.0) as i64 / 2).min(50);
        let mut bar = String::new();
        if self.width > BAR_MIN_WIDTH {
            let done = percent.max(0) as usize;
            bar = format!("[{}>{}] ", "=".repeat(done), " ".repeat(50 - done));
        }
        let numbers = match (p.hide_counts, p.units.as_str()) {
            (true, _) => String::new(),
            (false, "") if p.current > p.total => format!("{:>8}", human_size(p.current)),
            (false, "") => format!("{:>8}/{}", human_size(p.current), human_size(p.total)),
            (false, units) if p.current > p.total => format!("{} {units}", p.current),
            (false, units) => format!("{}/{} {units}", p.current, p.total),
        };
        let mut left = String::new();
        if self.width > ETA_MIN_WIDTH && p.current > 0 && p.start > 0 && percent < 50 {
            let elapsed = (self.clock)() - i128::from(p.start) * 1_000_000_000;
            let per_unit = elapsed / i128::from(p.current);
            let remaining = i128::from(p.total - p.current) * per_unit;
            left = format!(" {}", go_seconds(remaining));
        }
        format!("{bar}{numbers}{left}")
    }
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or_default()
}

/// `\x1b[NA` (up) or `\x1b[NB` (down); nothing for 0.
fn cursor(out: &mut String, lines: usize, direction: char) {
    if lines > 0 {
        out.push_str(&format!("\x1b[{lines}{direction}"));
    }
}

/// go-units' `HumanSize`: decimal units, four significant digits, as Go's
/// `%.4g` writes them (`5.6MB`, `1.235kB`, `999B`).
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{}{}", go_g4(size), UNITS[unit])
}

/// Go's `%.4g` for values below 10000, which never take the exponent form.
fn go_g4(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    // Round to four significant digits, then drop the trailing zeros.
    let scientific = format!("{value:.3e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits = mantissa.replace(['.', '-'], "");
    let significant = digits.trim_end_matches('0').len().max(1) as i32;
    let decimals = (significant - exponent - 1).max(0) as usize;
    format!("{value:.decimals$}")
}

/// A duration in nanoseconds rounded to the second, as Go's
/// `Duration.String` writes it: `0s`, `45s`, `1m5s`, `2h0m3s`.
fn go_seconds(nanos: i128) -> String {
    let negative = nanos < 0;
    let abs = nanos.unsigned_abs();
    // Go rounds halfway away from zero.
    let seconds = (abs + 500_000_000) / 1_000_000_000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let sign = if negative && seconds > 0 { "-" } else { "" };
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Vec<ProgressMessage> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn render(renderer: &mut Renderer, messages: &[ProgressMessage]) -> (String, Option<String>) {
        let mut out = String::new();
        for message in messages {
            if let Err(e) = renderer.show(message, &mut out) {
                return (out, Some(e));
            }
        }
        (out, None)
    }

    fn pull_of_two_layers() -> Vec<ProgressMessage> {
        parse(&[
            r#"{"status":"Pulling from library/busybox","id":"latest"}"#,
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"bbbbbbbbbbbb"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":1200000,"total":5600000},"progress":"[==>  ]","id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"Verifying Checksum","progressDetail":{},"id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"Download complete","progressDetail":{},"id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"Extracting","progressDetail":{"current":32768,"total":5600000},"id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"Pull complete","progressDetail":{},"id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"Already exists","progressDetail":{},"id":"bbbbbbbbbbbb"}"#,
            r#"{"status":"Digest: sha256:abc"}"#,
            r#"{"status":"Status: Downloaded newer image for busybox:latest"}"#,
        ])
    }

    #[test]
    fn without_a_terminal_each_status_is_printed_once() {
        let mut renderer = Renderer::new(false, DEFAULT_WIDTH);
        let (out, error) = render(&mut renderer, &pull_of_two_layers());
        assert_eq!(error, None);
        assert_eq!(
            out,
            "latest: Pulling from library/busybox\n\
             aaaaaaaaaaaa: Pulling fs layer\n\
             bbbbbbbbbbbb: Pulling fs layer\n\
             aaaaaaaaaaaa: Verifying Checksum\n\
             aaaaaaaaaaaa: Download complete\n\
             aaaaaaaaaaaa: Pull complete\n\
             bbbbbbbbbbbb: Already exists\n\
             Digest: sha256:abc\n\
             Status: Downloaded newer image for busybox:latest\n"
        );
    }

    #[test]
    fn on_a_terminal_layer_lines_are_rewritten_in_place() {
        let mut renderer = Renderer::new(true, 120);
        let (out, error) = render(&mut renderer, &pull_of_two_layers()[..5]);
        assert_eq!(error, None);
        let bar = format!("[{}>{}] ", "=".repeat(10), " ".repeat(40));
        let expected = [
            "latest: Pulling from library/busybox\n",
            // A new layer takes a new line: newline, up 1, erase, write, down 1.
            "\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Pulling fs layer \r\x1b[1B",
            "\n\x1b[1A\x1b[2K\rbbbbbbbbbbbb: Pulling fs layer \r\x1b[1B",
            // The first layer's line is two up from the cursor.
            &format!("\x1b[2A\x1b[2K\raaaaaaaaaaaa: Downloading {bar}   1.2MB/5.6MB\r\x1b[2B"),
            "\x1b[2A\x1b[2K\raaaaaaaaaaaa: Verifying Checksum \r\x1b[2B",
        ]
        .concat();
        assert_eq!(out, expected);

        // A message without a layer line ends the block; the next layer
        // starts a new one.
        let mut out = String::new();
        let more = parse(&[
            r#"{"status":"Digest: sha256:abc"}"#,
            r#"{"status":"Waiting","progressDetail":{},"id":"cccccccccccc"}"#,
        ]);
        for message in &more {
            renderer.show(message, &mut out).unwrap();
        }
        assert_eq!(
            out,
            "Digest: sha256:abc\n\n\x1b[1A\x1b[2K\rcccccccccccc: Waiting \r\x1b[1B"
        );
    }

    #[test]
    fn narrow_terminals_get_numbers_without_a_bar() {
        let renderer = Renderer::new(true, 80);
        let p = Progress {
            current: 1_234_567,
            total: 5_600_000,
            ..Progress::default()
        };
        assert_eq!(renderer.bar(&p), " 1.235MB/5.6MB");
        let p = Progress {
            current: 10,
            total: 0,
            ..Progress::default()
        };
        assert_eq!(renderer.bar(&p), "     10B");
        let p = Progress {
            current: 3,
            total: 7,
            units: "layers".into(),
            ..Progress::default()
        };
        assert_eq!(renderer.bar(&p), "3/7 layers");
        let p = Progress {
            current: 9,
            total: 7,
            ..Progress::default()
        };
        assert_eq!(renderer.bar(&p), "      9B");
    }

    #[test]
    fn the_time_left_comes_from_the_start() {
        let mut renderer = Renderer::new(true, 200);
        renderer.clock = || 1_000_010 * 1_000_000_000;
        let p = Progress {
            current: 1_000_000,
            total: 4_000_000,
            start: 1_000_000,
            ..Progress::default()
        };
        let bar = format!("[{}>{}] ", "=".repeat(12), " ".repeat(38));
        assert_eq!(renderer.bar(&p), format!("{bar}     1MB/4MB 30s"));
        let full = Progress {
            current: 4_000_000,
            total: 4_000_000,
            ..Progress::default()
        };
        assert_eq!(
            renderer.bar(&full),
            format!("[{}>] {:>8}/4MB", "=".repeat(50), "4MB")
        );
    }

    #[test]
    fn errors_end_the_display_and_aux_is_hidden() {
        let messages = parse(&[
            r#"{"status":"The push refers to repository [localhost:5000/app]"}"#,
            r#"{"status":"Preparing","progressDetail":{},"id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"Layer already exists","progressDetail":{},"id":"aaaaaaaaaaaa"}"#,
            r#"{"status":"v1: digest: sha256:abc size: 527"}"#,
            r#"{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:abc","Size":527}}"#,
            r#"{"errorDetail":{"message":"denied: requested access to the resource is denied"},"error":"denied: requested access to the resource is denied"}"#,
            r#"{"status":"never shown"}"#,
        ]);
        let mut renderer = Renderer::new(false, DEFAULT_WIDTH);
        let (out, error) = render(&mut renderer, &messages);
        assert_eq!(
            out,
            "The push refers to repository [localhost:5000/app]\n\
             aaaaaaaaaaaa: Preparing\n\
             aaaaaaaaaaaa: Layer already exists\n\
             v1: digest: sha256:abc size: 527\n"
        );
        assert_eq!(
            error.as_deref(),
            Some("denied: requested access to the resource is denied")
        );
    }

    #[test]
    fn stream_text_is_printed_as_it_is() {
        let messages = parse(&[r#"{"stream":"Step 1/2 : FROM busybox\n"}"#]);
        let (out, _) = render(&mut Renderer::new(true, 200), &messages);
        assert_eq!(out, "Step 1/2 : FROM busybox\n");
    }

    #[test]
    fn sizes_read_like_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(1234), "1.234kB");
        assert_eq!(human_size(1_236_400), "1.236MB");
        assert_eq!(human_size(5_600_000), "5.6MB");
        assert_eq!(human_size(12_500_000), "12.5MB");
        assert_eq!(human_size(999_960), "1000kB");
        assert_eq!(human_size(2_000_000_000), "2GB");
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_seconds(0), "0s");
        assert_eq!(go_seconds(400_000_000), "0s");
        assert_eq!(go_seconds(1_500_000_000), "2s");
        assert_eq!(go_seconds(65_000_000_000), "1m5s");
        assert_eq!(go_seconds(7_203_000_000_000), "2h0m3s");
        assert_eq!(go_seconds(-3_000_000_000), "-3s");
    }
}
