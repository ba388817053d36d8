//! v2 memory: `memory.max`, `memory.swap.max`, `memory.low`; usage from
//! `memory.current`, `memory.stat`; OOM kills from `memory.events`.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::{Resources, SwapLimit};
use crate::stats::{limit, MemoryStats};
use crate::warn;

pub(super) fn apply(dir: &Path, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let max = dir.join("memory.max");
    if let Some(m) = r.memory.filter(|m| *m > 0) {
        if !max.exists() {
            warnings.push(warn::MEMORY.into());
            return Ok(());
        }
        fs::write(&max, &m.to_string())?;
    }
    if let Some(swap) = r.swap_only() {
        let file = dir.join("memory.swap.max");
        if !file.exists() {
            warnings.push(warn::SWAP.into());
        } else {
            let value = match swap {
                SwapLimit::Unlimited => "max".to_string(),
                SwapLimit::Bytes(b) => b.to_string(),
            };
            fs::write(&file, &value)?;
        }
    }
    if let Some(low) = r.memory_reservation.filter(|m| *m > 0) {
        let file = dir.join("memory.low");
        if !file.exists() {
            warnings.push(warn::RESERVATION.into());
        } else {
            fs::write(&file, &low.to_string())?;
        }
    }
    Ok(())
}

pub(super) fn stats(dir: &Path) -> Result<Option<MemoryStats>> {
    let Some(usage) = fs::read_u64_opt(&dir.join("memory.current"))? else {
        return Ok(None);
    };
    let events = fs::read_opt(&dir.join("memory.events"))?
        .map(|t| fs::parse_flat_keyed(&t))
        .unwrap_or_default();
    Ok(Some(MemoryStats {
        usage,
        max_usage: fs::read_u64_opt(&dir.join("memory.peak"))?,
        limit: fs::read_u64_opt(&dir.join("memory.max"))?.and_then(limit),
        failcnt: events.get("max").copied(),
        stat: fs::parse_flat_keyed(&fs::read(&dir.join("memory.stat"))?),
    }))
}

pub(super) fn oom_kill_count(dir: &Path) -> Result<u64> {
    let file = dir.join("memory.events");
    let text = fs::read_opt(&file)?.ok_or(crate::Error::Unsupported {
        what: "OOM kill counting",
        path: file,
    })?;
    Ok(fs::parse_flat_keyed(&text)
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}
