//! v1 devices: `a` to `devices.deny` (or `devices.allow`), then one line
//! per exception to the other file, each in its own write as the kernel
//! expects. `devices.list` shows the result.

use std::path::Path;

use crate::devices::Policy;
use crate::error::Result;
use crate::fs;

/// Writes `policy` into the devices cgroup at `dir`. The first write resets
/// the cgroup, so applying again replaces what was there.
pub(super) fn apply(dir: &Path, policy: &Policy) -> Result<()> {
    for (file, line) in policy.v1_writes() {
        fs::write(&dir.join(file), &line)?;
    }
    Ok(())
}
