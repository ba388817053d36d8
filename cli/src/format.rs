//! How values are shown, the way the docker CLI shows them: short ids,
//! human sizes and durations, quoted and truncated commands, timestamps.
//! Tables live in [`table`], `--format` templates in [`template`].

pub mod table;
pub mod template;

/// Length of a short id (`stringid.TruncateID`).
const SHORT_ID_LEN: usize = 12;

/// The 12-hex short form of an id, without any `sha256:` prefix.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, hex)| hex);
    id.chars().take(SHORT_ID_LEN).collect()
}

/// Decimal sizes with three significant digits: `4.26MB`, `120kB`, `512B`
/// (`units.HumanSizeWithPrecision(size, 3)`).
pub fn human_size(bytes: i64) -> String {
    scaled(
        bytes as f64,
        1000.0,
        &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"],
        3,
    )
}

/// Binary sizes with four significant digits: `15.53GiB` (`units.BytesSize`).
pub fn binary_size(bytes: i64) -> String {
    scaled(
        bytes as f64,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"],
        4,
    )
}

fn scaled(mut size: f64, base: f64, units: &[&str], precision: usize) -> String {
    let mut unit = 0;
    while size >= base && unit < units.len() - 1 {
        size /= base;
        unit += 1;
    }
    format!("{}{}", go_general(size, precision), units[unit])
}

/// Go's `%.Ng`: `precision` significant digits, trailing zeros dropped,
/// exponent form when the exponent is below -4 or at least `precision`.
fn go_general(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` output always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponents are integers");
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim_fraction(&format!("{value:.decimals$}")).to_string()
    }
}

fn trim_fraction(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

/// Shortens `s` to `max` characters, the last one an ellipsis
/// (`formatter.Ellipsis`).
pub fn ellipsis(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    match max {
        0 => String::new(),
        1 => s.chars().take(1).collect(),
        _ => s
            .chars()
            .take(max - 1)
            .chain(std::iter::once('…'))
            .collect(),
    }
}

/// Go's `strconv.Quote`: double quotes, with escapes for quotes, backslashes
/// and control characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `3 minutes ago`, from a Unix time and the current one.
pub fn time_ago(then: i64, now: i64) -> String {
    format!("{} ago", berth_api::time::human_duration(now - then))
}

/// A Unix time the way Go's `time.Time.String` prints it in local time:
/// `2024-05-01 10:00:00 +0000 UTC`.
pub fn go_time(unix: i64) -> String {
    use chrono::{Local, Offset, TimeZone};
    let Some(time) = Local.timestamp_opt(unix, 0).single() else {
        return String::new();
    };
    let offset = time.offset().fix().local_minus_utc();
    let zone = if offset == 0 {
        "UTC".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let (hours, minutes) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
        if minutes == 0 {
            format!("{sign}{hours:02}")
        } else {
            format!("{sign}{hours:02}{minutes:02}")
        }
    };
    format!("{} {zone}", time.format("%Y-%m-%d %H:%M:%S %z"))
}

/// Splits `name[:tag]` into its repository and tag; a `:` before the last
/// `/` belongs to a registry port.
pub fn split_repo_tag(reference: &str) -> (&str, Option<&str>) {
    match reference.rfind(':') {
        Some(colon) if !reference[colon..].contains('/') => {
            (&reference[..colon], Some(&reference[colon + 1..]))
        }
        _ => (reference, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_drop_the_algorithm() {
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn human_sizes_match_docker_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(120_000), "120kB");
        assert_eq!(human_size(4_264_000), "4.26MB");
        assert_eq!(human_size(4_265_000), "4.26MB");
        assert_eq!(human_size(1_200_000_000), "1.2GB");
        assert_eq!(human_size(999_999), "1e+03kB");
        assert_eq!(human_size(1_234_567), "1.23MB");
        assert_eq!(human_size(12_345_678), "12.3MB");
    }

    #[test]
    fn binary_sizes_match_docker_units() {
        assert_eq!(binary_size(16_673_947_648), "15.53GiB");
        assert_eq!(binary_size(1024), "1KiB");
        assert_eq!(binary_size(1536), "1.5KiB");
    }

    #[test]
    fn go_general_format_matches_go() {
        assert_eq!(go_general(0.00001234, 3), "1.23e-05");
        assert_eq!(go_general(0.5, 3), "0.5");
        assert_eq!(go_general(100.0, 3), "100");
        assert_eq!(go_general(1234.0, 3), "1.23e+03");
    }

    #[test]
    fn commands_are_truncated_with_an_ellipsis() {
        assert_eq!(ellipsis("sleep 100", 20), "sleep 100");
        assert_eq!(ellipsis("12345678901234567890", 20), "12345678901234567890");
        assert_eq!(
            ellipsis("/bin/sh -c 'while true; do date; done'", 20),
            "/bin/sh -c 'while t…"
        );
        assert_eq!(ellipsis("abc", 1), "a");
    }

    #[test]
    fn quoting_follows_strconv_quote() {
        assert_eq!(go_quote("sleep 100"), "\"sleep 100\"");
        assert_eq!(go_quote("echo \"hi\"\n"), "\"echo \\\"hi\\\"\\n\"");
        assert_eq!(go_quote("a\\b\u{1b}"), "\"a\\\\b\\x1b\"");
        assert_eq!(go_quote("…"), "\"…\"");
    }

    #[test]
    fn repo_and_tag_split_at_the_last_colon_after_the_last_slash() {
        assert_eq!(
            split_repo_tag("busybox:latest"),
            ("busybox", Some("latest"))
        );
        assert_eq!(split_repo_tag("busybox"), ("busybox", None));
        assert_eq!(
            split_repo_tag("localhost:5000/app:v1"),
            ("localhost:5000/app", Some("v1"))
        );
        assert_eq!(
            split_repo_tag("localhost:5000/app"),
            ("localhost:5000/app", None)
        );
    }

    #[test]
    fn ages_read_like_docker() {
        assert_eq!(time_ago(100, 145), "45 seconds ago");
        assert_eq!(time_ago(100, 100), "Less than a second ago");
    }
}
