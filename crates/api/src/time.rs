//! Docker's human-readable durations ("Up 5 seconds", "3 minutes ago"),
//! and Go's duration strings (`1h30m`, `500ms`), which docker's flags and
//! filters take and its messages print.

/// Go duration units, in nanoseconds (`time.ParseDuration`).
const DURATION_UNITS: [(&str, f64); 7] = [
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
];

/// A Go duration (`time.ParseDuration`): an optional sign, then numbers
/// with units (`1h30m`, `1.5h`, `300ms`; `0` alone), in nanoseconds.
pub fn parse_go_duration(text: &str) -> Option<i128> {
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let (unit, scale) = DURATION_UNITS
            .iter()
            .filter(|(unit, _)| rest.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())?;
        rest = &rest[unit.len()..];
        total += number * scale;
    }
    Some((sign * total) as i128)
}

/// A duration as Go prints it (`time.Duration.String`) for whole
/// milliseconds and up: `1.5s`, `500ms`, `1m30s`, `2h0m0s`.
pub fn go_duration_text(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let ms = nanos as f64 / 1e6;
        return format!("{}ms", trim_float(ms));
    }
    let total = nanos as f64 / 1e9;
    let hours = (total / 3600.0).floor();
    let minutes = ((total - hours * 3600.0) / 60.0).floor();
    let seconds = total - hours * 3600.0 - minutes * 60.0;
    let seconds = format!("{}s", trim_float(seconds));
    if hours > 0.0 {
        format!("{hours}h{minutes}m{seconds}")
    } else if minutes > 0.0 {
        format!("{minutes}m{seconds}")
    } else {
        seconds
    }
}

fn trim_float(value: f64) -> String {
    let text = format!("{value:.9}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Go's `units.HumanDuration`, which `docker ps` uses for Status and CREATED.
pub fn human_duration(seconds: i64) -> String {
    let minutes = seconds / 60;
    let hours = (seconds as f64 / 3600.0 + 0.5) as i64;
    if seconds < 1 {
        "Less than a second".to_string()
    } else if seconds == 1 {
        "1 second".to_string()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", seconds / 3600 / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_durations_parse_and_print() {
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration("h"), None);
        assert_eq!(go_duration_text(30_000_000_000), "30s");
        assert_eq!(go_duration_text(1_500_000_000), "1.5s");
        assert_eq!(go_duration_text(500_000_000), "500ms");
        assert_eq!(go_duration_text(90_000_000_000), "1m30s");
        assert_eq!(go_duration_text(7_200_000_000_000), "2h0m0s");
    }

    use super::*;

    #[test]
    fn matches_docker_wording() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }
}
