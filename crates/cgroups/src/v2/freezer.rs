//! v2 freezing: `cgroup.freeze`, confirmed by `frozen` in `cgroup.events`.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fs;

/// Whether the tree at `dir` has the v2 freezer.
pub(crate) fn available(dir: &Path) -> bool {
    dir.join("cgroup.freeze").exists()
}

/// Writes `cgroup.freeze` and waits for `cgroup.events` to agree.
pub(crate) fn set(dir: &Path, frozen: bool, timeout: Duration) -> Result<()> {
    let file = dir.join("cgroup.freeze");
    if !file.exists() {
        return Err(Error::Unsupported {
            what: "freezing",
            path: file,
        });
    }
    fs::write(&file, if frozen { "1" } else { "0" })?;
    let what = if frozen {
        "report frozen"
    } else {
        "report thawed"
    };
    crate::wait_for(&dir.join("cgroup.events"), what, timeout, || {
        Ok(is_frozen(dir)? == frozen)
    })
}

/// `frozen 1` in `cgroup.events`.
pub(crate) fn is_frozen(dir: &Path) -> Result<bool> {
    let events = fs::parse_flat_keyed(&fs::read(&dir.join("cgroup.events"))?);
    Ok(events.get("frozen") == Some(&1))
}
