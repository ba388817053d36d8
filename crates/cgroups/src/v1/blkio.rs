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
    throttle(dir, r, warnings)?;
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

/// `blkio.throttle.*_device`: one `MAJ:MIN RATE` write per device (rate 0
/// removes the device's limit).
fn throttle(dir: Option<&Path>, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let kinds = [
        (
            &r.blkio_device_read_bps,
            "blkio.throttle.read_bps_device",
            warn::READ_BPS,
        ),
        (
            &r.blkio_device_write_bps,
            "blkio.throttle.write_bps_device",
            warn::WRITE_BPS,
        ),
        (
            &r.blkio_device_read_iops,
            "blkio.throttle.read_iops_device",
            warn::READ_IOPS,
        ),
        (
            &r.blkio_device_write_iops,
            "blkio.throttle.write_iops_device",
            warn::WRITE_IOPS,
        ),
    ];
    for (rates, file, warning) in kinds {
        if rates.is_empty() {
            continue;
        }
        let Some(file) = dir.map(|d| d.join(file)).filter(|f| f.exists()) else {
            warnings.push(warning.into());
            continue;
        };
        for d in rates {
            fs::write(&file, &format!("{}:{} {}", d.major, d.minor, d.rate))?;
        }
    }
    Ok(())
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
