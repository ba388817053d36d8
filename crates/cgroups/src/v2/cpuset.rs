//! v2 cpuset: `cpuset.cpus` and `cpuset.mems`.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::warn;

pub(super) fn apply(dir: &Path, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    for (value, file) in [
        (&r.cpuset_cpus, "cpuset.cpus"),
        (&r.cpuset_mems, "cpuset.mems"),
    ] {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        let path = dir.join(file);
        if !path.exists() {
            warnings.push(warn::CPUSET.into());
            continue;
        }
        fs::write(&path, value)?;
    }
    Ok(())
}
