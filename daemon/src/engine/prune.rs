//! `POST /containers/prune`, and the `until` filter of every prune.
//!
//! A container prune removes every container that is not running (nor
//! paused) and matches the filters, as `DELETE /containers/{id}` would
//! without `v` (its anonymous volumes stay), and reports the space its
//! writable layer took. One prune runs at a time; another gets Docker's
//! 409. Each prune ends with a `prune` event carrying what it reclaimed.

use super::events::Event;
use super::Engine;
use berth_api::container::ContainerPruneResponse;
use berth_api::filters::Filters;
use berth_api::ApiError;

impl Engine {
    /// `POST /containers/prune` with filters `label`, `label!` and `until`.
    pub async fn prune_containers(
        &self,
        filters: &Filters,
    ) -> Result<ContainerPruneResponse, ApiError> {
        filters.validate(&["label", "label!", "until"])?;
        let until = prune_until(filters)?;
        let Ok(_running) = self.prune_lock.try_lock() else {
            return Err(ApiError::conflict("a prune operation is already running"));
        };
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for container in self.all() {
            let record = container.snapshot();
            if record.running()
                || !filters.labels_match(&record.config.labels)
                || until.is_some_and(|until| created_after(&record.created, until))
            {
                continue;
            }
            let upper = self.paths.container_dir(&record.id).join("upper");
            let size = super::blocking(move || Ok(super::volumes::size_of(&upper))).await?;
            match self.remove_container(&container, false, false).await {
                Ok(()) => {
                    reclaimed += size;
                    deleted.push(record.id);
                }
                Err(e) => {
                    tracing::warn!(container = %record.id, error = %e.message, "pruning a container");
                }
            }
        }
        self.prune_event("container", reclaimed);
        Ok(ContainerPruneResponse {
            containers_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: reclaimed,
        })
    }

    /// The `prune` event of `kind` (container, image, network, volume).
    pub fn prune_event(&self, kind: &'static str, reclaimed: u64) {
        self.events.publish(
            Event::new(kind, "prune", String::new()).with("reclaimed", reclaimed.to_string()),
        );
    }
}

/// Whether an RFC 3339 creation time is after `until` (nanoseconds).
fn created_after(created: &str, until: i128) -> bool {
    super::logs::parse_timestamp(created).is_some_and(|at| at > until)
}

/// The `until` filter of a prune, in nanoseconds since the epoch: at most
/// one, a Go duration back from now (`24h`, `1h30m`), a date or time
/// (RFC 3339, or without a zone in local time), or Unix seconds.
pub fn prune_until(filters: &Filters) -> Result<Option<i128>, ApiError> {
    match filters.get("until") {
        [] => Ok(None),
        [value] => {
            let now = chrono::Utc::now();
            let now = i128::from(now.timestamp()) * 1_000_000_000
                + i128::from(now.timestamp_subsec_nanos());
            parse_until(value, now)
                .map(Some)
                .map_err(|e| ApiError::invalid(format!("invalid value for 'until' filter: {e}")))
        }
        _ => Err(ApiError::invalid("more than one until filter specified")),
    }
}

/// Docker's time-or-duration value (see [`prune_until`]) relative to `now`.
fn parse_until(value: &str, now: i128) -> Result<i128, String> {
    let failed = || format!("failed to parse value as time or duration: {value:?}");
    if value.trim().is_empty() {
        return Err("failed to parse value as time or duration: value is empty".to_string());
    }
    if value != "0" {
        if let Some(duration) = berth_api::time::parse_go_duration(value) {
            return Ok(now - duration);
        }
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(nanos(at.timestamp(), at.timestamp_subsec_nanos()));
    }
    if value.contains('-') {
        return local_time(value).ok_or_else(failed);
    }
    super::logs::parse_timestamp(value).ok_or_else(failed)
}

/// A date or time without a zone (`2024-01-02`, `2024-01-02T15`,
/// `2024-01-02T15:04`, `2024-01-02T15:04:05[.999]`), in local time.
fn local_time(value: &str) -> Option<i128> {
    use chrono::{Local, NaiveDateTime, TimeZone};
    let missing = match value.split_once('T') {
        None => "T00:00:00",
        Some((_, time)) => match time.matches(':').count() {
            0 => ":00:00",
            1 => ":00",
            _ => "",
        },
    };
    let naive =
        NaiveDateTime::parse_from_str(&format!("{value}{missing}"), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let at = Local.from_local_datetime(&naive).earliest()?;
    Some(nanos(at.timestamp(), at.timestamp_subsec_nanos()))
}

fn nanos(seconds: i64, subsec: u32) -> i128 {
    i128::from(seconds) * 1_000_000_000 + i128::from(subsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i128 = 1_700_000_000 * 1_000_000_000;

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_until("24h", NOW), Ok(NOW - 86_400 * 1_000_000_000));
        assert_eq!(parse_until("1h30m", NOW), Ok(NOW - 5_400 * 1_000_000_000));
        assert_eq!(parse_until("1.5s", NOW), Ok(NOW - 1_500_000_000));
        assert_eq!(parse_until("300ms", NOW), Ok(NOW - 300_000_000));
    }

    #[test]
    fn times_and_timestamps_are_absolute() {
        let at = 1_700_000_000 * 1_000_000_000;
        assert_eq!(parse_until("2023-11-14T22:13:20Z", NOW), Ok(at));
        assert_eq!(parse_until("2023-11-14T23:13:20+01:00", NOW), Ok(at));
        assert_eq!(parse_until("1700000000", NOW), Ok(at));
        assert_eq!(parse_until("1700000000.5", NOW), Ok(at + 500_000_000));
        assert_eq!(parse_until("0", NOW), Ok(0));
        let midnight = local_time("2023-11-14").unwrap();
        assert_eq!(local_time("2023-11-14T00").unwrap(), midnight);
        assert_eq!(local_time("2023-11-14T00:00").unwrap(), midnight);
        assert_eq!(
            local_time("2023-11-14T00:00:01.5").unwrap(),
            midnight + 1_500_000_000
        );
    }

    #[test]
    fn nonsense_is_refused_with_dockers_words() {
        assert_eq!(
            parse_until("soon", NOW).unwrap_err(),
            "failed to parse value as time or duration: \"soon\""
        );
        assert!(parse_until("2023-13-45", NOW).is_err());
        assert!(parse_until(" ", NOW)
            .unwrap_err()
            .contains("value is empty"));
        let mut filters = Filters::default();
        filters.insert("until", "1h");
        filters.insert("until", "2h");
        assert_eq!(
            prune_until(&filters).unwrap_err().message,
            "more than one until filter specified"
        );
    }
}
