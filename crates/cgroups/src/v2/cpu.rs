//! v2 cpu: `cpu.weight` from shares, `cpu.max` from quota/period or
//! NanoCpus; usage and throttling from `cpu.stat` (microseconds).

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::{shares_to_weight, Resources};
use crate::stats::{CpuStats, Throttling};
use crate::warn;

pub(super) fn apply(dir: &Path, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    if let Some(shares) = r.cpu_shares.filter(|s| *s > 0) {
        let file = dir.join("cpu.weight");
        if file.exists() {
            fs::write(&file, &shares_to_weight(shares).to_string())?;
        } else {
            warnings.push(warn::CPU_SHARES.into());
        }
    }
    if let Some(cpu_max) = r.cpu_max() {
        let file = dir.join("cpu.max");
        if !file.exists() {
            warnings.push(warn::CPU_CFS.into());
            return Ok(());
        }
        let current = fs::read(&file)?;
        let mut cur = current.split_whitespace();
        let cur_quota = cur.next().unwrap_or("max").to_string();
        let cur_period = cur.next().unwrap_or("100000").to_string();
        let quota = match cpu_max.quota {
            None => cur_quota,
            Some(None) => "max".to_string(),
            Some(Some(q)) => q.to_string(),
        };
        let period = cpu_max.period.map_or(cur_period, |p| p.to_string());
        fs::write(&file, &format!("{quota} {period}"))?;
    }
    Ok(())
}

pub(super) fn stats(dir: &Path) -> Result<Option<CpuStats>> {
    let Some(text) = fs::read_opt(&dir.join("cpu.stat"))? else {
        return Ok(None);
    };
    let s = fs::parse_flat_keyed(&text);
    let us = |k: &str| s.get(k).copied().unwrap_or(0).saturating_mul(1000);
    Ok(Some(CpuStats {
        usage_total_ns: us("usage_usec"),
        usage_user_ns: us("user_usec"),
        usage_system_ns: us("system_usec"),
        per_cpu_ns: Vec::new(),
        throttling: Throttling {
            periods: s.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: s.get("nr_throttled").copied().unwrap_or(0),
            throttled_time_ns: us("throttled_usec"),
        },
    }))
}
