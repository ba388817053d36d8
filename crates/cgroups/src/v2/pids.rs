//! v2 pids: `pids.max` and `pids.current`.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::stats::{limit, PidsStats};
use crate::warn;

pub(super) fn apply(dir: &Path, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let Some(n) = r.pids_limit else {
        return Ok(());
    };
    let file = dir.join("pids.max");
    if !file.exists() {
        warnings.push(warn::PIDS.into());
        return Ok(());
    }
    let value = if n > 0 { n.to_string() } else { "max".into() };
    fs::write(&file, &value)
}

pub(super) fn stats(dir: &Path) -> Result<Option<PidsStats>> {
    let Some(current) = fs::read_u64_opt(&dir.join("pids.current"))? else {
        return Ok(None);
    };
    Ok(Some(PidsStats {
        current,
        limit: fs::read_u64_opt(&dir.join("pids.max"))?.and_then(limit),
    }))
}
