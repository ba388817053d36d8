//! Each container's cgroup: created under the daemon's parent (default
//! `berth`, or HostConfig.CgroupParent) when it starts, limits and device
//! rules (`super::devices`) from its HostConfig, removed when it exits; and
//! the stats Docker's clients read from it.

use super::{Container, Engine};
use berth_api::container::HostConfig;
use berth_api::ApiError;
use berth_cgroups::{Cgroup, DeviceRate, HugepageLimit, Layout, Resources, Stats};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The host's cgroup layout and the default parent for containers.
pub struct Cgroups {
    pub layout: Layout,
    pub parent: String,
}

fn int(host: &HostConfig, key: &str) -> Option<i64> {
    host.extra
        .get(key)
        .and_then(Value::as_i64)
        .filter(|v| *v != 0)
}

fn text(host: &HostConfig, key: &str) -> Option<String> {
    host.extra
        .get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Docker's HostConfig limits as cgroup resources; a device path that is
/// not a block device, or a malformed list, is a 400.
pub fn resources(host: &HostConfig) -> Result<Resources, ApiError> {
    Ok(Resources {
        memory: int(host, "Memory"),
        memory_swap: int(host, "MemorySwap"),
        memory_reservation: int(host, "MemoryReservation"),
        cpu_shares: int(host, "CpuShares").map(|v| v as u64),
        cpu_quota: int(host, "CpuQuota"),
        cpu_period: int(host, "CpuPeriod").map(|v| v as u64),
        nano_cpus: int(host, "NanoCpus"),
        cpuset_cpus: text(host, "CpusetCpus"),
        cpuset_mems: text(host, "CpusetMems"),
        pids_limit: int(host, "PidsLimit"),
        blkio_weight: int(host, "BlkioWeight").map(|v| v as u16),
        blkio_device_read_bps: device_rates(host, "BlkioDeviceReadBps")?,
        blkio_device_write_bps: device_rates(host, "BlkioDeviceWriteBps")?,
        blkio_device_read_iops: device_rates(host, "BlkioDeviceReadIOps")?,
        blkio_device_write_iops: device_rates(host, "BlkioDeviceWriteIOps")?,
        oom_kill_disable: host.extra.get("OomKillDisable").and_then(Value::as_bool),
        hugepage_limits: hugepage_limits(host)?,
    })
}

/// `[{"Path": "/dev/sda", "Rate": 1048576}]` with each path resolved to
/// its device numbers.
fn device_rates(host: &HostConfig, key: &str) -> Result<Vec<DeviceRate>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        path: String,
        rate: u64,
    }
    let Some(value) = host.extra.get(key).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let entries: Vec<Entry> = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid(format!("invalid {key}: {e}")))?;
    entries
        .into_iter()
        .map(|entry| {
            let (major, minor) = berth_cgroups::device_numbers(std::path::Path::new(&entry.path))
                .map_err(invalid_resources)?;
            Ok(DeviceRate {
                major,
                minor,
                rate: entry.rate,
            })
        })
        .collect()
}

/// `[{"PageSize": "2MB", "Limit": 4194304}]`.
fn hugepage_limits(host: &HostConfig) -> Result<Vec<HugepageLimit>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        page_size: String,
        limit: u64,
    }
    let Some(value) = host.extra.get("HugepageLimits").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let entries: Vec<Entry> = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid(format!("invalid HugepageLimits: {e}")))?;
    Ok(entries
        .into_iter()
        .map(|e| HugepageLimit {
            page_size: e.page_size,
            limit: e.limit,
        })
        .collect())
}

/// A refused set of limits as a 400, in Docker's words.
pub fn invalid_resources(e: berth_cgroups::Error) -> ApiError {
    match e {
        berth_cgroups::Error::InvalidResources(message) => ApiError::invalid(message),
        other => ApiError::invalid(other.to_string()),
    }
}

/// Parses a cpu list such as `0-2,4`.
fn cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b - a > 65536 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    Some(cpus)
}

/// Checks limits against this host, with Docker's messages: what
/// `Resources::validate` cannot know (the host's CPUs, the kernel minimum).
pub fn check_host_limits(resources: &Resources) -> Result<(), ApiError> {
    const MIN_MEMORY: i64 = 6 << 20;
    if resources.memory.is_some_and(|m| m > 0 && m < MIN_MEMORY) {
        return Err(ApiError::invalid("Minimum memory limit allowed is 6MB"));
    }
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    if let Some(nano) = resources.nano_cpus.filter(|n| *n != 0) {
        if nano < 10_000_000 || nano > ncpu * 1_000_000_000 {
            return Err(ApiError::invalid(format!(
                "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )));
        }
    }
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    if let (Some(wanted), Some(available)) = (resources.cpuset_cpus.as_deref(), cpu_list(&online)) {
        let ok = cpu_list(wanted).is_some_and(|cpus| cpus.iter().all(|c| available.contains(c)));
        if !ok {
            return Err(ApiError::invalid(format!(
                "Requested CPUs are not available - requested {wanted}, available: {}",
                online.trim()
            )));
        }
    }
    Ok(())
}

fn procs_files(cgroup: &Cgroup) -> Vec<PathBuf> {
    cgroup
        .paths()
        .dirs()
        .into_iter()
        .map(|d| d.join("cgroup.procs"))
        .collect()
}

/// Restricts the cgroup's devices as Docker does (every container gets at
/// least the default rules). A host with no devices cgroup at all runs the
/// container unrestricted, as Docker does there, with a warning in the log.
fn apply_device_rules(cgroup: &Cgroup, host: &HostConfig) -> Result<(), ApiError> {
    let rules = super::devices::cgroup_rules(host)?;
    match cgroup.apply_devices(&rules) {
        Err(e) if e.is_unsupported() => {
            tracing::warn!(error = %e, "device rules not applied");
            Ok(())
        }
        applied => applied.map_err(cgroup_error),
    }
}

fn cgroup_error(e: berth_cgroups::Error) -> ApiError {
    if e.is_invalid_input() {
        ApiError::invalid(e.to_string())
    } else {
        ApiError::system(e.to_string())
    }
}

impl Engine {
    fn cgroup_parent(&self, host: &HostConfig) -> Option<String> {
        let cgroups = self.cgroups.as_ref()?;
        Some(text(host, "CgroupParent").unwrap_or_else(|| cgroups.parent.clone()))
    }

    /// Creates the container's cgroup and applies its limits; returns the
    /// `cgroup.procs` files the init must join, and the warnings.
    pub(super) fn create_cgroup(
        &self,
        id: &str,
        host: &HostConfig,
    ) -> Result<(Vec<PathBuf>, Vec<String>), ApiError> {
        let (Some(cgroups), Some(parent)) = (self.cgroups.as_ref(), self.cgroup_parent(host))
        else {
            return Ok((Vec::new(), Vec::new()));
        };
        let cgroup = Cgroup::create(&cgroups.layout, &parent, id).map_err(cgroup_error)?;
        let applied = resources(host)
            .and_then(|r| cgroup.apply(&r).map_err(cgroup_error))
            .and_then(|warnings| apply_device_rules(&cgroup, host).map(|()| warnings));
        let warnings = match applied {
            Ok(warnings) => warnings,
            Err(e) => {
                let _ = cgroup.remove();
                return Err(e);
            }
        };
        Ok((procs_files(&cgroup), warnings))
    }

    /// What this host cannot apply of a new container's limits, for the
    /// create reply's Warnings: a probe cgroup is made, limited and removed.
    pub(super) fn limit_warnings(&self, id: &str, host: &HostConfig) -> Vec<String> {
        match self.create_cgroup(id, host) {
            Ok((_, warnings)) => {
                self.remove_cgroup(id, host);
                warnings
            }
            Err(e) => vec![e.message],
        }
    }

    fn open_cgroup(&self, id: &str, host: &HostConfig) -> Option<Cgroup> {
        let cgroups = self.cgroups.as_ref()?;
        Cgroup::open(&cgroups.layout, &self.cgroup_parent(host)?, id).ok()
    }

    /// Freezes (`true`) or thaws the container's cgroup.
    pub(super) fn freeze_cgroup(
        &self,
        id: &str,
        host: &HostConfig,
        frozen: bool,
    ) -> Result<(), ApiError> {
        let cgroup = self.open_cgroup(id, host).ok_or_else(|| {
            ApiError::system(
                "the container has no cgroup to freeze: cgroups are not available on this host",
            )
        })?;
        if frozen {
            cgroup.freeze()
        } else {
            cgroup.thaw()
        }
        .map_err(cgroup_error)
    }

    /// Applies `host`'s limits to a running container's cgroup.
    pub(super) fn apply_limits(
        &self,
        id: &str,
        host: &HostConfig,
    ) -> Result<Vec<String>, ApiError> {
        let cgroup = self.open_cgroup(id, host).ok_or_else(|| {
            ApiError::system("the container has no cgroup: cgroups are not available on this host")
        })?;
        cgroup.apply(&resources(host)?).map_err(cgroup_error)
    }

    /// SIGKILLs every process in the container's cgroup and waits until it
    /// is empty.
    pub(super) fn kill_cgroup(&self, container: &Container) {
        let (id, host) = {
            let record = container.record();
            (record.id.clone(), record.host_config.clone())
        };
        if let Some(cgroup) = self.open_cgroup(&id, &host) {
            if let Err(e) = cgroup.kill_all() {
                tracing::warn!(container = %id, error = %e, "killing the cgroup's processes");
            }
        }
    }

    /// The `cgroup.procs` files of a running container's cgroup, which an
    /// exec'd process joins (none without cgroups).
    pub(super) fn exec_cgroup_procs(&self, id: &str, host: &HostConfig) -> Vec<PathBuf> {
        self.open_cgroup(id, host)
            .map(|cgroup| procs_files(&cgroup))
            .unwrap_or_default()
    }

    /// Whether the OOM killer killed anything in the container's cgroup
    /// (created afresh at each start, so this is about the last run).
    pub(super) fn oom_killed(&self, id: &str, host: &HostConfig) -> bool {
        self.open_cgroup(id, host)
            .and_then(|cgroup| cgroup.oom_kill_count().ok())
            .is_some_and(|kills| kills > 0)
    }

    /// Removes the container's cgroup, if it has one.
    pub(super) fn remove_cgroup(&self, id: &str, host: &HostConfig) {
        if let Some(cgroup) = self.open_cgroup(id, host) {
            if let Err(e) = cgroup.remove() {
                tracing::warn!(container = %id, error = %e, "removing cgroup");
            }
        }
    }

    /// One sample of a running container's cgroup.
    pub fn cgroup_stats(&self, container: &Container) -> Result<Stats, ApiError> {
        let record = container.snapshot();
        if !record.running() {
            return Ok(Stats::default());
        }
        let cgroup = self
            .open_cgroup(&record.id, &record.host_config)
            .ok_or_else(|| {
                ApiError::system(
                    "the container has no cgroup: cgroups are not available on this host",
                )
            })?;
        cgroup.stats().map_err(cgroup_error)
    }
}

/// Total CPU time of the host in nanoseconds, from /proc/stat, as Docker
/// reports `system_cpu_usage`.
pub fn system_cpu_ns() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let ticks: u64 = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    ticks * 10_000_000
}

fn cpu_json(stats: &Stats, system: u64, online: u64) -> Value {
    let cpu = stats.cpu.clone().unwrap_or_default();
    json!({
        "cpu_usage": {
            "total_usage": cpu.usage_total_ns,
            "percpu_usage": if cpu.per_cpu_ns.is_empty() { Value::Null } else { json!(cpu.per_cpu_ns) },
            "usage_in_kernelmode": cpu.usage_system_ns,
            "usage_in_usermode": cpu.usage_user_ns,
        },
        "system_cpu_usage": system,
        "online_cpus": online,
        "throttling_data": {
            "periods": cpu.throttling.periods,
            "throttled_periods": cpu.throttling.throttled_periods,
            "throttled_time": cpu.throttling.throttled_time_ns,
        },
    })
}

/// Docker's stats object from two samples (`previous` may be empty).
pub fn stats_json(
    container: &Container,
    now: &Stats,
    system: u64,
    previous: Option<&(Stats, u64, String)>,
    read: &str,
    host_memory: u64,
) -> Value {
    let record = container.record();
    let online = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    let memory = now.memory.clone().unwrap_or_default();
    let pids = now.pids.clone().unwrap_or_default();
    let blkio: Vec<Value> = now
        .blkio
        .as_ref()
        .map(|b| {
            b.io_service_bytes
                .iter()
                .map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}))
                .collect()
        })
        .unwrap_or_default();
    let (precpu, preread) = match previous {
        Some((stats, system, read)) => (cpu_json(stats, *system, online), read.clone()),
        None => (
            json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}),
            "0001-01-01T00:00:00Z".to_string(),
        ),
    };
    json!({
        "read": read,
        "preread": preread,
        "pids_stats": { "current": pids.current, "limit": pids.limit },
        "blkio_stats": {
            "io_service_bytes_recursive": blkio,
            "io_serviced_recursive": null,
            "io_queue_recursive": null,
            "io_service_time_recursive": null,
            "io_wait_time_recursive": null,
            "io_merged_recursive": null,
            "io_time_recursive": null,
            "sectors_recursive": null,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(now, system, online),
        "precpu_stats": precpu,
        "memory_stats": {
            "usage": memory.usage,
            "max_usage": memory.max_usage,
            "stats": memory.stat,
            "limit": memory.limit.unwrap_or(host_memory),
        },
        "name": record.name,
        "id": record.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_the_kernel_writes_them() {
        assert_eq!(cpu_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(cpu_list("1"), Some(vec![1]));
        assert_eq!(cpu_list("3-1"), None);
        assert_eq!(cpu_list("x"), None);
    }

    #[test]
    fn host_limits_use_dockers_messages() {
        let small = Resources {
            memory: Some(1 << 20),
            ..Resources::default()
        };
        assert_eq!(
            check_host_limits(&small).unwrap_err().message,
            "Minimum memory limit allowed is 6MB"
        );
        let cpus = Resources {
            cpuset_cpus: Some("0-4095".into()),
            ..Resources::default()
        };
        assert!(check_host_limits(&cpus)
            .unwrap_err()
            .message
            .starts_with("Requested CPUs are not available"));
        let nano = Resources {
            nano_cpus: Some(1_000_000_000_000),
            ..Resources::default()
        };
        assert!(check_host_limits(&nano)
            .unwrap_err()
            .message
            .starts_with("Range of CPUs is from 0.01"));
        assert!(check_host_limits(&Resources::default()).is_ok());
    }
}
