//! Killing every process: `cgroup.kill` where the kernel has it (5.14+),
//! else SIGKILL to each pid in `cgroup.procs` until it is empty.

use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::fs;

/// Kills everything in the v2 cgroup at `dir` and waits until it is empty.
pub(crate) fn kill_all(dir: &Path, timeout: Duration) -> Result<()> {
    let kill = dir.join("cgroup.kill");
    if kill.exists() {
        fs::write(&kill, "1")?;
    }
    crate::kill_until_empty(dir, timeout, || fs::read_procs(dir), || Ok(()))
}
