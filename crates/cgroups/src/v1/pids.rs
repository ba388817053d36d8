//! v1 pids: `pids.max` and `pids.current`.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::stats::{limit, PidsStats};
use crate::warn;

pub(super) fn apply(dir: Option<&Path>, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let Some(n) = r.pids_limit else {
        return Ok(());
    };
    let Some(dir) = dir else {
        warnings.push(warn::PIDS.into());
        return Ok(());
    };
    let value = if n > 0 { n.to_string() } else { "max".into() };
    fs::write(&dir.join("pids.max"), &value)
}

pub(super) fn stats(dir: &Path) -> Result<PidsStats> {
    Ok(PidsStats {
        current: fs::read_u64(&dir.join("pids.current"))?,
        limit: fs::read_u64_opt(&dir.join("pids.max"))?.and_then(limit),
    })
}
