//! hugetlb, shared by v1 (`hugetlb.<size>.limit_in_bytes`) and v2
//! (`hugetlb.<size>.max`): the same directory scan, only the suffix differs.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::{invalid_page_size, Resources};
use crate::warn;

/// v1 file suffix.
pub(crate) const V1: &str = "limit_in_bytes";
/// v2 file suffix.
pub(crate) const V2: &str = "max";

/// Whether `dir` has hugetlb interface files (the controller is enabled).
pub(crate) fn available(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("hugetlb."))
        })
        .unwrap_or(false)
}

/// Writes `r.hugepage_limits` into `dir` (with `suffix`), or warns when there
/// is no hugetlb controller. A page size the kernel does not offer is
/// invalid input; every size is checked before anything is written.
pub(crate) fn apply(
    dir: Option<(&Path, &str)>,
    r: &Resources,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if r.hugepage_limits.is_empty() {
        return Ok(());
    }
    let Some((dir, suffix)) = dir.filter(|(d, _)| available(d)) else {
        warnings.push(warn::HUGETLB.into());
        return Ok(());
    };
    let mut writes = Vec::with_capacity(r.hugepage_limits.len());
    for h in &r.hugepage_limits {
        let file = dir.join(format!("hugetlb.{}.{suffix}", h.page_size));
        if !crate::resources::valid_page_size(&h.page_size) || !file.exists() {
            return Err(invalid_page_size(&h.page_size));
        }
        writes.push((file, h.limit));
    }
    for (file, limit) in writes {
        fs::write(&file, &limit.to_string())?;
    }
    Ok(())
}
