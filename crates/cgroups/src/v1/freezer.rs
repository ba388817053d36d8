//! v1 freezer: `freezer.state` (THAWED, FREEZING, FROZEN).

use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::fs;

/// Writes the wanted state and polls until the kernel reports it; while
/// FREEZING, the write is repeated (the kernel retries tasks it could not
/// freeze yet only on a new write).
pub(super) fn set(dir: &Path, frozen: bool, timeout: Duration) -> Result<()> {
    let file = dir.join("freezer.state");
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let what = if frozen {
        "report FROZEN"
    } else {
        "report THAWED"
    };
    crate::wait_for(&file, what, timeout, || {
        fs::write(&file, want)?;
        Ok(fs::read(&file)?.trim() == want)
    })
}

pub(super) fn is_frozen(dir: &Path) -> Result<bool> {
    Ok(fs::read(&dir.join("freezer.state"))?.trim() == "FROZEN")
}
