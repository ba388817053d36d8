//! The limits a container asks for, in Docker's `HostConfig` terms, and the
//! pure conversions to what the v2 kernel interface expects.
//!
//! Docker's conventions: `None` or `0` leaves a limit unchanged (unlimited
//! for a new cgroup); `-1` for `memory_swap` means unlimited swap; a
//! `pids_limit` of `0` or less means unlimited. Defaults Docker applies in
//! the daemon (e.g. swap = 2 x memory when only memory is given) are the
//! caller's job.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The CFS period Docker uses with `NanoCpus`.
pub const NANO_CPUS_PERIOD_US: u64 = 100_000;

/// Resource limits, named after Docker's `HostConfig` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory plus swap in bytes; `-1` is unlimited swap.
    pub memory_swap: Option<i64>,
    /// Soft limit in bytes (v1 soft limit, v2 `memory.low`).
    pub memory_reservation: Option<i64>,
    /// Relative CPU weight (v1 shares, 2..=262144).
    pub cpu_shares: Option<u64>,
    /// CFS quota in microseconds per period; negative is unlimited.
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    pub cpu_period: Option<u64>,
    /// CPUs in units of 1e-9 CPUs; exclusive with `cpu_quota`/`cpu_period`.
    pub nano_cpus: Option<i64>,
    /// CPUs allowed, e.g. `0-2,4`.
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed, e.g. `0`.
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids; `0` or less is unlimited.
    pub pids_limit: Option<i64>,
    /// Block I/O weight, 10..=1000.
    pub blkio_weight: Option<u16>,
    /// Read bytes/s per device (BlkioDeviceReadBps); rate 0 removes a limit.
    pub blkio_device_read_bps: Vec<DeviceRate>,
    /// Write bytes/s per device (BlkioDeviceWriteBps).
    pub blkio_device_write_bps: Vec<DeviceRate>,
    /// Read operations/s per device (BlkioDeviceReadIOps).
    pub blkio_device_read_iops: Vec<DeviceRate>,
    /// Write operations/s per device (BlkioDeviceWriteIOps).
    pub blkio_device_write_iops: Vec<DeviceRate>,
    /// Disable the OOM killer (OomKillDisable); v1 only.
    pub oom_kill_disable: Option<bool>,
    /// Huge page limits by page size (HugepageLimits).
    pub hugepage_limits: Vec<HugepageLimit>,
}

/// A per-device throttle (Docker's `ThrottleDevice`, with the path already
/// resolved to device numbers, see [`device_numbers`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    pub major: u64,
    pub minor: u64,
    /// Bytes or operations per second; `0` removes the limit.
    pub rate: u64,
}

/// A huge page limit (Docker's `HugepageLimit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugepageLimit {
    /// Page size as the kernel names it: `2MB`, `1GB`, `64KB`.
    pub page_size: String,
    /// Limit in bytes.
    pub limit: u64,
}

/// The major and minor numbers of the block device at `path` (what the
/// daemon resolves Docker's `BlkioDevice*` paths to). Errors are invalid
/// input: no such path, or not a block device.
pub fn device_numbers(path: &Path) -> Result<(u64, u64)> {
    let st = nix::sys::stat::stat(path)
        .map_err(|e| Error::InvalidResources(format!("stat {}: {}", path.display(), e.desc())))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFBLK {
        return Err(Error::InvalidResources(format!(
            "{} is not a block device",
            path.display()
        )));
    }
    let dev = st.st_rdev;
    Ok((libc::major(dev) as u64, libc::minor(dev) as u64))
}

/// Whether `size` looks like a kernel huge page size name (`2MB`, `1GB`,
/// `64KB`); it becomes part of a file name, so nothing else is allowed.
pub(crate) fn valid_page_size(size: &str) -> bool {
    let Some(num) = ["KB", "MB", "GB"].iter().find_map(|u| size.strip_suffix(u)) else {
        return false;
    };
    !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
}

/// Docker's error for a page size the kernel does not offer.
pub(crate) fn invalid_page_size(size: &str) -> Error {
    Error::InvalidResources(format!("Invalid hugepage size: {size}"))
}

/// A CFS bandwidth setting resolved from the Docker fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuMax {
    /// `None` = leave the quota as is; `Some(None)` = unlimited.
    pub quota: Option<Option<u64>>,
    pub period: Option<u64>,
}

fn positive(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

impl Resources {
    /// Checks values that are wrong on any host, before anything is written.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidResources(m.to_string()));
        if let Some(m) = positive(self.memory) {
            if m < 0 {
                return bad("Memory must not be negative");
            }
        }
        if let Some(s) = positive(self.memory_swap) {
            if s < -1 {
                return bad("MemorySwap must be -1 (unlimited) or a byte count");
            }
            match positive(self.memory) {
                None if s > 0 => {
                    return bad(
                        "You should always set the Memory limit when using Memoryswap limit",
                    )
                }
                Some(m) if s > 0 && s < m => {
                    return bad("Minimum memoryswap limit should be larger than memory limit")
                }
                _ => {}
            }
        }
        if positive(self.memory_reservation).is_some_and(|r| r < 0) {
            return bad("MemoryReservation must not be negative");
        }
        if let (Some(m), Some(r)) = (positive(self.memory), positive(self.memory_reservation)) {
            if r > m {
                return bad("Minimum memory limit can not be less than memory reservation limit");
            }
        }
        if let Some(n) = positive(self.nano_cpus) {
            if n < 0 {
                return bad("NanoCpus must not be negative");
            }
            if positive(self.cpu_quota).is_some() {
                return bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
            }
            if self.cpu_period.is_some_and(|p| p != 0) {
                return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
            }
        }
        if let Some(p) = self.cpu_period.filter(|p| *p != 0) {
            if !(1000..=1_000_000).contains(&p) {
                return bad("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
            }
        }
        if let Some(q) = positive(self.cpu_quota) {
            if q > 0 && q < 1000 {
                return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
            }
        }
        if let Some(w) = self.blkio_weight.filter(|w| *w != 0) {
            if !(10..=1000).contains(&w) {
                return bad("Range of blkio weight is from 10 to 1000");
            }
        }
        if let Some(h) = self
            .hugepage_limits
            .iter()
            .find(|h| !valid_page_size(&h.page_size))
        {
            return Err(invalid_page_size(&h.page_size));
        }
        Ok(())
    }

    /// The CFS bandwidth to write, if any field asks for one.
    pub(crate) fn cpu_max(&self) -> Option<CpuMax> {
        if let Some(n) = positive(self.nano_cpus) {
            return Some(CpuMax {
                quota: Some(Some(nano_cpus_to_quota(n as u64, NANO_CPUS_PERIOD_US))),
                period: Some(NANO_CPUS_PERIOD_US),
            });
        }
        let quota = positive(self.cpu_quota).map(|q| u64::try_from(q).ok());
        let period = self.cpu_period.filter(|p| *p != 0);
        (quota.is_some() || period.is_some()).then_some(CpuMax { quota, period })
    }

    /// v2 `memory.swap.max`: swap alone is memory_swap minus memory.
    pub(crate) fn swap_only(&self) -> Option<SwapLimit> {
        match positive(self.memory_swap)? {
            -1 => Some(SwapLimit::Unlimited),
            s => Some(SwapLimit::Bytes((s - positive(self.memory)?).max(0) as u64)),
        }
    }
}

/// The swap setting derived from `MemorySwap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwapLimit {
    Unlimited,
    Bytes(u64),
}

/// v1 `cpu.shares` (2..=262144) to v2 `cpu.weight` (1..=10000), as the
/// kernel documents the mapping.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// v1 `blkio.weight` (10..=1000) to v2 `io.weight` (1..=10000).
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + ((w - 10) * 9999) / 990
}

/// `NanoCpus` to a CFS quota for `period_us`.
pub fn nano_cpus_to_quota(nano_cpus: u64, period_us: u64) -> u64 {
    nano_cpus * period_us / 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_to_weight_at_the_ends_and_default() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
    }

    #[test]
    fn blkio_weight_maps_to_io_weight() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
    }

    #[test]
    fn nano_cpus_become_quota_over_100ms_period() {
        let r = Resources {
            nano_cpus: Some(1_500_000_000),
            ..Default::default()
        };
        assert_eq!(
            r.cpu_max(),
            Some(CpuMax {
                quota: Some(Some(150_000)),
                period: Some(100_000)
            })
        );
    }

    #[test]
    fn negative_quota_means_unlimited_and_zero_means_unchanged() {
        let r = Resources {
            cpu_quota: Some(-1),
            ..Default::default()
        };
        assert_eq!(r.cpu_max().unwrap().quota, Some(None));
        let r = Resources {
            cpu_quota: Some(0),
            cpu_period: Some(0),
            ..Default::default()
        };
        assert_eq!(r.cpu_max(), None);
    }

    #[test]
    fn swap_only_is_memory_swap_minus_memory() {
        let r = Resources {
            memory: Some(100),
            memory_swap: Some(300),
            ..Default::default()
        };
        assert_eq!(r.swap_only(), Some(SwapLimit::Bytes(200)));
        let r = Resources {
            memory: Some(100),
            memory_swap: Some(-1),
            ..Default::default()
        };
        assert_eq!(r.swap_only(), Some(SwapLimit::Unlimited));
        assert_eq!(Resources::default().swap_only(), None);
    }

    #[test]
    fn page_sizes_are_kernel_names_only() {
        for ok in ["2MB", "1GB", "64KB"] {
            assert!(valid_page_size(ok), "{ok}");
        }
        for bad in ["", "MB", "2mb", "2M", "../2MB", "2 MB", "2MB/x"] {
            assert!(!valid_page_size(bad), "{bad}");
        }
        assert_eq!(
            invalid_page_size("3MB").to_string(),
            "invalid resources: Invalid hugepage size: 3MB"
        );
    }

    #[test]
    fn device_numbers_of_a_block_device_and_refusal_of_others() {
        let err = device_numbers(Path::new("/dev/null")).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        let err = device_numbers(Path::new("/nonexistent/berth")).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        // Any block device node on this host, compared with its sysfs dev.
        let Some(dev) = std::fs::read_dir("/dev").ok().and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                use std::os::unix::fs::FileTypeExt;
                std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
            })
        }) else {
            return;
        };
        let (major, minor) = device_numbers(&dev).unwrap();
        use std::os::unix::fs::MetadataExt;
        let rdev = std::fs::metadata(&dev).unwrap().rdev();
        assert_eq!(
            (major, minor),
            (libc::major(rdev) as u64, libc::minor(rdev) as u64)
        );
    }

    #[test]
    fn validate_rejects_contradictions_with_dockers_words() {
        let cases = [
            Resources {
                memory_swap: Some(100),
                ..Default::default()
            },
            Resources {
                memory: Some(200),
                memory_swap: Some(100),
                ..Default::default()
            },
            Resources {
                nano_cpus: Some(1),
                cpu_quota: Some(50_000),
                ..Default::default()
            },
            Resources {
                cpu_period: Some(10),
                ..Default::default()
            },
            Resources {
                blkio_weight: Some(5),
                ..Default::default()
            },
            Resources {
                memory: Some(-5),
                ..Default::default()
            },
            Resources {
                hugepage_limits: vec![HugepageLimit {
                    page_size: "../2MB".into(),
                    limit: 1,
                }],
                ..Default::default()
            },
        ];
        for r in cases {
            let err = r.validate().unwrap_err();
            assert!(err.is_invalid_input(), "{r:?}: {err}");
        }
        Resources {
            memory: Some(1 << 20),
            memory_swap: Some(-1),
            cpu_shares: Some(512),
            nano_cpus: Some(500_000_000),
            pids_limit: Some(-1),
            ..Default::default()
        }
        .validate()
        .unwrap();
    }
}
