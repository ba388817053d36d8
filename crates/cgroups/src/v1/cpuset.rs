//! v1 cpuset: `cpuset.cpus` and `cpuset.mems`. A new v1 cpuset starts empty
//! and no task can join it, so each directory created is filled from its
//! parent first.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::warn;

/// Copies the parent's cpus and mems into `dir` where `dir`'s are empty.
pub(super) fn copy_from_parent(parent: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fs::read(&dir.join(file))?;
        if own.trim().is_empty() {
            let inherited = fs::read(&parent.join(file))?;
            fs::write(&dir.join(file), inherited.trim())?;
        }
    }
    Ok(())
}

pub(super) fn apply(dir: Option<&Path>, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    for (value, file) in [
        (&r.cpuset_cpus, "cpuset.cpus"),
        (&r.cpuset_mems, "cpuset.mems"),
    ] {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        match dir {
            Some(d) => fs::write(&d.join(file), value)?,
            None => warnings.push(warn::CPUSET.into()),
        }
    }
    Ok(())
}
