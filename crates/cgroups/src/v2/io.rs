//! v2 io: `io.weight` (or `io.bfq.weight`) from BlkioWeight; `io.max` from
//! the BlkioDevice{Read,Write}{Bps,IOps} throttles; bytes from `io.stat`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Result;
use crate::fs;
use crate::resources::{blkio_weight_to_io_weight, Resources};
use crate::stats::{parse_v2_io_stat, BlkioStats};
use crate::warn;

pub(super) fn apply(dir: &Path, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    throttle(dir, r, warnings)?;
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

/// The `io.max` lines for the throttles in `r`: one per device, keys in
/// `rbps wbps riops wiops` order, only those asked for (others keep their
/// value); rate 0 is `max` (no limit), as in Docker.
pub(super) fn io_max_lines(r: &Resources) -> Vec<String> {
    let kinds = [
        ("rbps", &r.blkio_device_read_bps),
        ("wbps", &r.blkio_device_write_bps),
        ("riops", &r.blkio_device_read_iops),
        ("wiops", &r.blkio_device_write_iops),
    ];
    let mut devices: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    for (key, rates) in kinds {
        for d in rates {
            let value = if d.rate == 0 {
                "max".to_string()
            } else {
                d.rate.to_string()
            };
            let entry = devices.entry((d.major, d.minor)).or_default();
            // A later entry for the same device and key wins, as in v1.
            entry.retain(|kv| !kv.starts_with(&format!("{key}=")));
            entry.push(format!("{key}={value}"));
        }
    }
    devices
        .into_iter()
        .map(|((major, minor), kvs)| format!("{major}:{minor} {}", kvs.join(" ")))
        .collect()
}

fn throttle(dir: &Path, r: &Resources, warnings: &mut Vec<String>) -> Result<()> {
    let lines = io_max_lines(r);
    if lines.is_empty() {
        return Ok(());
    }
    let file = dir.join("io.max");
    if !file.exists() {
        for (rates, warning) in [
            (&r.blkio_device_read_bps, warn::READ_BPS),
            (&r.blkio_device_write_bps, warn::WRITE_BPS),
            (&r.blkio_device_read_iops, warn::READ_IOPS),
            (&r.blkio_device_write_iops, warn::WRITE_IOPS),
        ] {
            if !rates.is_empty() {
                warnings.push(warning.into());
            }
        }
        return Ok(());
    }
    for line in lines {
        fs::write(&file, &line)?;
    }
    Ok(())
}

pub(super) fn stats(dir: &Path) -> Result<Option<BlkioStats>> {
    Ok(fs::read_opt(&dir.join("io.stat"))?.map(|t| BlkioStats {
        io_service_bytes: parse_v2_io_stat(&t),
    }))
}
