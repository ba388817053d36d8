//! Usage numbers read from a cgroup, version-neutral and serde-serializable
//! so the daemon can shape Docker's stats JSON. A section is `None` when the
//! host has no controller for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything `stats()` reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub memory: Option<MemoryStats>,
    pub cpu: Option<CpuStats>,
    pub pids: Option<PidsStats>,
    pub blkio: Option<BlkioStats>,
}

/// Memory usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Current usage in bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub usage: u64,
    /// Peak usage, where the kernel reports it.
    pub max_usage: Option<u64>,
    /// The limit in bytes; `None` when unlimited.
    pub limit: Option<u64>,
    /// Times the limit was hit (v1 `memory.failcnt`, v2 `memory.events` `max`).
    pub failcnt: Option<u64>,
    /// The `memory.stat` map as the kernel names it (v1 `total_inactive_file`, v2 `inactive_file`).
    pub stat: BTreeMap<String, u64>,
}

/// CPU time and throttling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Total CPU time in nanoseconds.
    pub usage_total_ns: u64,
    pub usage_user_ns: u64,
    pub usage_system_ns: u64,
    /// Per-CPU time in nanoseconds (v1 only; empty on v2).
    pub per_cpu_ns: Vec<u64>,
    pub throttling: Throttling,
}

/// CFS throttling counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time_ns: u64,
}

/// Process count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    pub current: u64,
    /// `None` when unlimited.
    pub limit: Option<u64>,
}

/// Block I/O per device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes by device and operation (`read`, `write`, ...).
    pub io_service_bytes: Vec<BlkioEntry>,
}

/// One device counter, as Docker's `blkio_stats` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Limits at or above this are "unlimited" (v1 reports PAGE_COUNTER_MAX pages).
const UNLIMITED: u64 = 1 << 62;

/// `None` for values the kernel uses to mean unlimited.
pub(crate) fn limit(v: u64) -> Option<u64> {
    (v < UNLIMITED).then_some(v)
}

/// v1 `blkio.*io_service_bytes*`: `8:0 Read 4096` lines, plus a `Total` line.
pub(crate) fn parse_v1_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let (major, minor) = parse_dev(it.next()?)?;
            let op = it.next()?.to_ascii_lowercase();
            let value = it.next()?.parse().ok()?;
            Some(BlkioEntry {
                major,
                minor,
                op,
                value,
            })
        })
        .collect()
}

/// v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
pub(crate) fn parse_v2_io_stat(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(parse_dev) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let op = match k {
                "rbytes" => "read",
                "wbytes" => "write",
                _ => continue,
            };
            if let Ok(value) = v.parse() {
                out.push(BlkioEntry {
                    major,
                    minor,
                    op: op.to_string(),
                    value,
                });
            }
        }
    }
    out
}

fn parse_dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_blkio_lines_parse_and_total_is_skipped() {
        let e = parse_v1_blkio("8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n");
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[1],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "write".into(),
                value: 8192
            }
        );
    }

    #[test]
    fn v2_io_stat_gives_read_and_write_bytes() {
        let e = parse_v2_io_stat("259:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].op, "read");
        assert_eq!(e[0].value, 100);
        assert_eq!(e[1].op, "write");
        assert_eq!((e[1].major, e[1].minor), (259, 0));
    }

    #[test]
    fn huge_limits_read_as_unlimited() {
        assert_eq!(limit(9_223_372_036_854_771_712), None);
        assert_eq!(limit(u64::MAX), None);
        assert_eq!(limit(16 << 20), Some(16 << 20));
    }

    #[test]
    fn stats_serialize_to_json() {
        let s = Stats {
            pids: Some(PidsStats {
                current: 3,
                limit: Some(5),
            }),
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["pids"]["current"], 3);
        assert!(v["memory"].is_null());
    }
}
