//! The container list's filters beyond names, labels and states, as
//! dockerd reads them: `before` and `since` (another container, by name or
//! id), `volume` (a volume name or mount destination), `network` (a
//! network name or id), `publish` and `expose` (`port[/proto]` or
//! `start-end[/proto]`, container ports), `health` (`starting`, `healthy`,
//! `unhealthy`, `none`), `is-task` (no swarm here: no container is a
//! task).

use super::container::Record;
use super::network_api::normalize_port_key;
use berth_api::{ApiError, Filters};
use std::collections::BTreeSet;

/// A `publish` or `expose` value: container ports of one protocol.
#[derive(Debug, PartialEq)]
pub(super) struct PortFilter {
    start: u16,
    end: u16,
    proto: String,
}

impl PortFilter {
    /// `80`, `80/udp`, `8000-8080`, `8000-8080/tcp`.
    pub(super) fn parse(key: &str, value: &str) -> Result<PortFilter, ApiError> {
        let invalid = || ApiError::invalid(format!("invalid filter '{key}={value}'"));
        let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
        let (start, end) = ports.split_once('-').unwrap_or((ports, ports));
        let port = |text: &str| text.parse::<u16>().map_err(|_| invalid());
        let (start, end) = (port(start)?, port(end)?);
        if start > end || !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(invalid());
        }
        Ok(PortFilter {
            start,
            end,
            proto: proto.to_string(),
        })
    }

    /// Whether a port key (`80/tcp`) is among these.
    fn holds(&self, key: &str) -> bool {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        proto == self.proto
            && port
                .parse::<u16>()
                .is_ok_and(|p| (self.start..=self.end).contains(&p))
    }
}

/// The parsed filters a record is checked against.
pub(super) struct ListFilters {
    publish: Vec<PortFilter>,
    expose: Vec<PortFilter>,
    volumes: Vec<String>,
    networks: Vec<String>,
    health: Vec<String>,
    /// Creation times (RFC 3339) of the `before` and `since` containers.
    before: Option<String>,
    since: Option<String>,
    /// `is-task=true`: nothing matches.
    tasks_only: bool,
}

impl ListFilters {
    /// Parses the filters; `created_of` gives a container's creation time
    /// by name or id (its own error when there is none).
    pub(super) fn parse(
        filters: &Filters,
        created_of: impl Fn(&str) -> Result<String, ApiError>,
    ) -> Result<ListFilters, ApiError> {
        let ports = |key: &str| {
            filters
                .get(key)
                .iter()
                .map(|v| PortFilter::parse(key, v))
                .collect::<Result<Vec<_>, _>>()
        };
        let created = |key: &str| filters.get(key).last().map(|c| created_of(c)).transpose();
        for value in filters.get("health") {
            if !matches!(
                value.as_str(),
                "starting" | "healthy" | "unhealthy" | "none"
            ) {
                return Err(ApiError::invalid(format!(
                    "Unrecognised filter value for health: {value}"
                )));
            }
        }
        let tasks_only = match filters.get("is-task") {
            [] => false,
            [value] => berth_api::parse_bool(value),
            _ => return Err(ApiError::invalid("invalid filter 'is-task'")),
        };
        Ok(ListFilters {
            publish: ports("publish")?,
            expose: ports("expose")?,
            volumes: filters.get("volume").to_vec(),
            networks: filters.get("network").to_vec(),
            health: filters.get("health").to_vec(),
            before: created("before")?,
            since: created("since")?,
            tasks_only,
        })
    }

    /// Whether `r` passes.
    pub(super) fn matches(&self, r: &Record) -> bool {
        let any_port = |wanted: &[PortFilter], ports: &BTreeSet<String>| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|filter| ports.iter().any(|key| filter.holds(key)))
        };
        let health = r
            .state
            .health
            .as_ref()
            .map_or("none", |h| h.status.as_str());
        !self.tasks_only
            && (self.health.is_empty() || self.health.iter().any(|h| h == health))
            && self.before.as_ref().is_none_or(|at| r.created < *at)
            && self.since.as_ref().is_none_or(|at| r.created > *at)
            && any_port(&self.publish, &published_ports(r))
            && any_port(&self.expose, &exposed_ports(r))
            && (self.volumes.is_empty()
                || r.mounts.iter().any(|m| {
                    self.volumes
                        .iter()
                        .any(|v| *v == m.name || *v == m.destination)
                }))
            && (self.networks.is_empty()
                || r.networks.iter().any(|(name, attachment)| {
                    self.networks.iter().any(|n| {
                        n == name || (!n.is_empty() && attachment.network_id.starts_with(n))
                    })
                }))
    }
}

/// Container ports with a host binding: asked for at create, or bound now.
fn published_ports(r: &Record) -> BTreeSet<String> {
    let mut ports: BTreeSet<String> = r
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.container_port, p.proto))
        .collect();
    if let Some(bindings) = r
        .host_config
        .extra
        .get("PortBindings")
        .and_then(serde_json::Value::as_object)
    {
        ports.extend(bindings.keys().map(|k| normalize_port_key(k)));
    }
    ports
}

/// Exposed container ports: the image's and the container's, and those
/// published.
fn exposed_ports(r: &Record) -> BTreeSet<String> {
    let mut ports = published_ports(r);
    ports.extend(
        r.config
            .exposed_ports
            .iter()
            .flatten()
            .map(|(k, _)| normalize_port_key(k)),
    );
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_filters_take_dockers_forms() {
        let filter = PortFilter::parse("publish", "8000-8080/udp").unwrap();
        assert!(filter.holds("8080/udp"));
        assert!(!filter.holds("8080/tcp"));
        assert!(!filter.holds("7999/udp"));
        assert!(PortFilter::parse("expose", "80").unwrap().holds("80/tcp"));
        for bad in ["x", "80/xyz", "90-80", "70000"] {
            assert_eq!(
                PortFilter::parse("publish", bad).unwrap_err().message,
                format!("invalid filter 'publish={bad}'")
            );
        }
    }
}
