//! v1 memory: `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` (only
//! with swap accounting), `memory.soft_limit_in_bytes`; usage, `memory.stat`
//! and the `oom_kill` counter of `memory.oom_control`.

use std::path::Path;

use crate::error::{Error, Result};
use crate::fs;
use crate::resources::Resources;
use crate::stats::{limit, MemoryStats};
use crate::warn;

pub(super) fn apply(dir: Option<&Path>, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let memory = r.memory.filter(|m| *m > 0);
    let swap = r.memory_swap.filter(|s| *s != 0);
    let reservation = r.memory_reservation.filter(|m| *m > 0);
    let Some(dir) = dir else {
        if r.oom_kill_disable == Some(true) {
            warnings.push(warn::OOM_KILL_DISABLE.into());
        }
        if memory.is_some() || swap.is_some() {
            warnings.push(warn::MEMORY.into());
        }
        if reservation.is_some() {
            warnings.push(warn::RESERVATION.into());
        }
        return Ok(());
    };
    let limit_file = dir.join("memory.limit_in_bytes");
    let memsw_file = dir.join("memory.memsw.limit_in_bytes");
    let swap = match swap {
        Some(_) if !memsw_file.exists() => {
            warnings.push(warn::SWAP.into());
            None
        }
        s => s,
    };
    match (memory, swap) {
        (Some(m), Some(s)) => {
            // The kernel keeps memory <= memory+swap at every step: raise
            // memsw first when the new memory limit exceeds the current one.
            let current_memsw = fs::read_u64(&memsw_file)?;
            if u64::try_from(m).unwrap_or(0) > current_memsw {
                fs::write(&memsw_file, &s.to_string())?;
                fs::write(&limit_file, &m.to_string())?;
            } else {
                fs::write(&limit_file, &m.to_string())?;
                fs::write(&memsw_file, &s.to_string())?;
            }
        }
        (Some(m), None) => fs::write(&limit_file, &m.to_string())?,
        (None, Some(s)) => fs::write(&memsw_file, &s.to_string())?,
        (None, None) => {}
    }
    if let Some(res) = reservation {
        fs::write(&dir.join("memory.soft_limit_in_bytes"), &res.to_string())?;
    }
    if let Some(disable) = r.oom_kill_disable {
        let file = dir.join("memory.oom_control");
        if file.exists() {
            fs::write(&file, if disable { "1" } else { "0" })?;
        } else if disable {
            warnings.push(warn::OOM_KILL_DISABLE.into());
        }
    }
    Ok(())
}

pub(super) fn stats(dir: &Path) -> Result<MemoryStats> {
    Ok(MemoryStats {
        usage: fs::read_u64(&dir.join("memory.usage_in_bytes"))?,
        max_usage: fs::read_u64_opt(&dir.join("memory.max_usage_in_bytes"))?,
        limit: limit(fs::read_u64(&dir.join("memory.limit_in_bytes"))?),
        failcnt: fs::read_u64_opt(&dir.join("memory.failcnt"))?,
        stat: fs::parse_flat_keyed(&fs::read(&dir.join("memory.stat"))?),
    })
}

pub(super) fn oom_kill_count(dir: &Path) -> Result<u64> {
    let file = dir.join("memory.oom_control");
    let text = fs::read(&file)?;
    fs::parse_flat_keyed(&text)
        .get("oom_kill")
        .copied()
        .ok_or(Error::Unsupported {
            what: "OOM kill counting (kernel older than 4.13)",
            path: file,
        })
}
