//! v2 io: `io.weight` (or `io.bfq.weight`) from BlkioWeight; bytes from `io.stat`.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::{blkio_weight_to_io_weight, Resources};
use crate::stats::{parse_v2_io_stat, BlkioStats};
use crate::warn;

pub(super) fn apply(dir: &Path, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let Some(w) = r.blkio_weight.filter(|w| *w > 0) else {
        return Ok(());
    };
    let io_weight = dir.join("io.weight");
    let bfq_weight = dir.join("io.bfq.weight");
    if io_weight.exists() {
        fs::write(
            &io_weight,
            &format!("default {}", blkio_weight_to_io_weight(w)),
        )
    } else if bfq_weight.exists() {
        // BFQ takes the v1 scale (1..=1000) directly.
        fs::write(&bfq_weight, &w.to_string())
    } else {
        warnings.push(warn::BLKIO_WEIGHT.into());
        Ok(())
    }
}

pub(super) fn stats(dir: &Path) -> Result<Option<BlkioStats>> {
    Ok(fs::read_opt(&dir.join("io.stat"))?.map(|t| BlkioStats {
        io_service_bytes: parse_v2_io_stat(&t),
    }))
}
