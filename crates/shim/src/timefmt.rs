//! UTC timestamps in RFC 3339 with nine fractional digits
//! (`2024-05-01T10:00:00.123456789Z`), as Docker's json-file log writes them.
//! A small formatter of its own keeps date libraries out of the monitor.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of every formatted timestamp.
pub const LEN: usize = 30;
/// 9999-12-31T23:59:59Z: the last second with a four-digit year.
const MAX_SECONDS: u64 = 253_402_300_799;

/// Formats `time`; times before 1970 or after 9999 are clamped to those bounds.
pub fn rfc3339_nanos(time: SystemTime) -> [u8; LEN] {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (seconds, nanos) = if since_epoch.as_secs() > MAX_SECONDS {
        (MAX_SECONDS, 999_999_999)
    } else {
        (since_epoch.as_secs(), since_epoch.subsec_nanos())
    };
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let second_of_day = seconds % 86_400;

    let mut out = *b"0000-00-00T00:00:00.000000000Z";
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], second_of_day / 3600);
    put_digits(&mut out[14..16], second_of_day / 60 % 60);
    put_digits(&mut out[17..19], second_of_day % 60);
    put_digits(&mut out[20..29], u64::from(nanos));
    out
}

/// Writes `value` as zero-padded decimal filling `field`.
fn put_digits(field: &mut [u8], mut value: u64) {
    for digit in field.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01,
/// after Howard Hinnant's `civil_from_days`, for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn format(seconds: u64, nanos: u32) -> String {
        let time = UNIX_EPOCH + Duration::new(seconds, nanos);
        String::from_utf8(rfc3339_nanos(time).to_vec()).unwrap()
    }

    #[test]
    fn formats_known_timestamps() {
        assert_eq!(format(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format(1_714_557_600, 123_456_789),
            "2024-05-01T10:00:00.123456789Z"
        );
        assert_eq!(format(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(
            format(951_868_799, 999_999_999),
            "2000-02-29T23:59:59.999999999Z"
        );
        assert_eq!(format(4_107_542_400, 0), "2100-03-01T00:00:00.000000000Z");
        assert_eq!(format(1_709_251_199, 5), "2024-02-29T23:59:59.000000005Z");
    }

    #[test]
    fn clamps_out_of_range_times() {
        let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(
            &rfc3339_nanos(before_epoch),
            b"1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(format(u64::MAX / 2, 0), "9999-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn agrees_with_chrono_across_four_centuries() {
        let mut seconds: u64 = 0;
        while seconds < MAX_SECONDS {
            let nanos = (seconds % 1_000_000_007) as u32 % 1_000_000_000;
            let expected = chrono::DateTime::from_timestamp(seconds as i64, nanos)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            assert_eq!(format(seconds, nanos), expected);
            seconds += 7_654_321;
        }
    }
}
