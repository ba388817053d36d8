//! v1 cpu and cpuacct: `cpu.shares`, `cpu.cfs_period_us`, `cpu.cfs_quota_us`;
//! usage from `cpuacct.*` (nanoseconds), throttling from `cpu.stat`.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::stats::{CpuStats, Throttling};
use crate::warn;

pub(super) fn apply(dir: Option<&Path>, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    if let Some(shares) = r.cpu_shares.filter(|s| *s > 0) {
        match dir.map(|d| d.join("cpu.shares")).filter(|f| f.exists()) {
            Some(f) => fs::write(&f, &shares.to_string())?,
            None => warnings.push(warn::CPU_SHARES.into()),
        }
    }
    if let Some(cpu_max) = r.cpu_max() {
        let Some(dir) = dir.filter(|d| d.join("cpu.cfs_quota_us").exists()) else {
            warnings.push(warn::CPU_CFS.into());
            return Ok(());
        };
        if let Some(p) = cpu_max.period {
            fs::write(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
        }
        if let Some(q) = cpu_max.quota {
            let value = q.map_or_else(|| "-1".to_string(), |q| q.to_string());
            fs::write(&dir.join("cpu.cfs_quota_us"), &value)?;
        }
    }
    Ok(())
}

pub(super) fn stats(cpu: Option<&Path>, cpuacct: Option<&Path>) -> Result<Option<CpuStats>> {
    let Some(acct) = cpuacct else {
        return Ok(None);
    };
    let per_cpu = fs::read(&acct.join("cpuacct.usage_percpu"))?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let (user, system) = match (
        fs::read_u64_opt(&acct.join("cpuacct.usage_user"))?,
        fs::read_u64_opt(&acct.join("cpuacct.usage_sys"))?,
    ) {
        (Some(u), Some(s)) => (u, s),
        _ => ticks_to_ns(&fs::read(&acct.join("cpuacct.stat"))?),
    };
    let throttle = match cpu {
        Some(dir) => fs::read_opt(&dir.join("cpu.stat"))?
            .map(|t| fs::parse_flat_keyed(&t))
            .unwrap_or_default(),
        None => Default::default(),
    };
    let get = |k: &str| throttle.get(k).copied().unwrap_or(0);
    Ok(Some(CpuStats {
        usage_total_ns: fs::read_u64(&acct.join("cpuacct.usage"))?,
        usage_user_ns: user,
        usage_system_ns: system,
        per_cpu_ns: per_cpu,
        throttling: Throttling {
            periods: get("nr_periods"),
            throttled_periods: get("nr_throttled"),
            throttled_time_ns: get("throttled_time"),
        },
    }))
}

/// `cpuacct.stat` counts `user`/`system` in clock ticks.
fn ticks_to_ns(text: &str) -> (u64, u64) {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let m = fs::parse_flat_keyed(text);
    let ns = |k: &str| m.get(k).copied().unwrap_or(0) * (1_000_000_000 / hz);
    (ns("user"), ns("system"))
}
