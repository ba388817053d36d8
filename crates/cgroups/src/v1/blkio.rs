//! v1 blkio: `blkio.weight` (CFQ) or `blkio.bfq.weight` (BFQ), absent on
//! hosts whose schedulers have no weights; bytes from the
//! `io_service_bytes_recursive` files.

use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::stats::{parse_v1_blkio, BlkioStats};
use crate::warn;

pub(super) fn apply(dir: Option<&Path>, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let Some(w) = r.blkio_weight.filter(|w| *w > 0) else {
        return Ok(());
    };
    let file = dir.and_then(|d| {
        ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .map(|f| d.join(f))
            .find(|f| f.exists())
    });
    match file {
        Some(f) => fs::write(&f, &w.to_string()),
        None => {
            warnings.push(warn::BLKIO_WEIGHT.into());
            Ok(())
        }
    }
}

pub(super) fn stats(dir: &Path) -> Result<BlkioStats> {
    for file in [
        "blkio.io_service_bytes_recursive",
        "blkio.throttle.io_service_bytes_recursive",
        "blkio.bfq.io_service_bytes_recursive",
    ] {
        if let Some(text) = fs::read_opt(&dir.join(file))? {
            return Ok(BlkioStats {
                io_service_bytes: parse_v1_blkio(&text),
            });
        }
    }
    Ok(BlkioStats::default())
}
