//! `--since` and `--until` values as docker reads them (`timetypes.GetTimestamp`):
//! a Go duration relative to now (`10m`, `1h30m`), an RFC 3339 time, a local
//! date or date-time, or Unix seconds passed through as they are.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};

/// Converts a user's time value into the `sec[.nanos]` form the API takes.
pub fn api_timestamp(value: &str, now: DateTime<Local>) -> Result<String, String> {
    if value != "0" {
        if let Some(nanos) = go_duration_nanos(value) {
            let then = now.timestamp_nanos_opt().unwrap_or(i64::MAX) - nanos;
            return Ok(then.div_euclid(1_000_000_000).to_string());
        }
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(format!(
            "{}.{:09}",
            time.timestamp(),
            time.timestamp_subsec_nanos()
        ));
    }
    let local = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    if let Some(naive) = local {
        if let Some(time) = Local.from_local_datetime(&naive).earliest() {
            return Ok(format!(
                "{}.{:09}",
                time.timestamp(),
                time.timestamp_subsec_nanos()
            ));
        }
    }
    if !value.contains('-') && is_unix_timestamp(value) {
        return Ok(value.to_string());
    }
    Err(format!(
        "failed to parse value as time or duration: {value:?}"
    ))
}

fn is_unix_timestamp(value: &str) -> bool {
    let (seconds, nanos) = value.split_once('.').unwrap_or((value, "0"));
    !seconds.is_empty()
        && seconds.bytes().all(|b| b.is_ascii_digit())
        && !nanos.is_empty()
        && nanos.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `time.ParseDuration`, in nanoseconds: `1h30m`, `1.5s`, `-10m`.
fn go_duration_nanos(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    let nanos = total as i64;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Local> {
        Local.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(api_timestamp("10m", now()).unwrap(), "1699999400");
        assert_eq!(api_timestamp("1h30m", now()).unwrap(), "1699994600");
        assert_eq!(api_timestamp("1.5s", now()).unwrap(), "1699999998");
    }

    #[test]
    fn times_and_unix_seconds() {
        assert_eq!(
            api_timestamp("2023-11-14T22:13:20Z", now()).unwrap(),
            "1700000000.000000000"
        );
        assert_eq!(
            api_timestamp("2023-11-14T22:13:20.5+00:00", now()).unwrap(),
            "1700000000.500000000"
        );
        assert_eq!(api_timestamp("1700000000", now()).unwrap(), "1700000000");
        assert_eq!(
            api_timestamp("1700000000.25", now()).unwrap(),
            "1700000000.25"
        );
        assert_eq!(api_timestamp("0", now()).unwrap(), "0");
        assert!(api_timestamp("2023-11-14", now()).is_ok());
    }

    #[test]
    fn garbage_is_rejected_with_dockers_words() {
        assert_eq!(
            api_timestamp("yesterday", now()).unwrap_err(),
            "failed to parse value as time or duration: \"yesterday\""
        );
        assert!(api_timestamp("10x", now()).is_err());
        assert!(api_timestamp("2023-13-45", now()).is_err());
    }
}
