//! cgroup v2 (unified): one directory per cgroup. Controllers are enabled in
//! `cgroup.subtree_control` of each parent directory this crate walks
//! through below the root; the root itself is never written, so the host
//! (systemd, or the VM's init) must delegate controllers there.
//!
//! Device rules are an eBPF program attached to the directory
//! (`crate::devices::bpf`).
//!
//! `freezer` and `kill` are also used by the v1 manager on hybrid hosts.

mod cpu;
mod cpuset;
pub(crate) mod freezer;
mod io;
pub(crate) mod kill;
mod memory;
mod pids;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::devices::{bpf, DeviceRule, Policy};
use crate::error::{Error, Result};
use crate::fs;
use crate::hugetlb;
use crate::resources::Resources;
use crate::stats::Stats;
use crate::{Manager, Paths};

/// Controllers a container cgroup uses, enabled down the parent chain.
const CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids", "hugetlb"];

#[derive(Debug)]
pub(crate) struct V2Cgroup {
    dir: PathBuf,
    paths: Paths,
}

impl V2Cgroup {
    pub(crate) fn create(root: &Path, rel: &Path) -> Result<V2Cgroup> {
        create_chain(root, rel, CONTROLLERS)?;
        Ok(V2Cgroup::at(root.join(rel)))
    }

    pub(crate) fn open(root: &Path, rel: &Path) -> Result<V2Cgroup> {
        let dir = root.join(rel);
        if !dir.is_dir() {
            return Err(Error::NotFound { path: dir });
        }
        Ok(V2Cgroup::at(dir))
    }

    fn at(dir: PathBuf) -> V2Cgroup {
        let paths = Paths {
            unified: Some(dir.clone()),
            v1: Default::default(),
        };
        V2Cgroup { dir, paths }
    }
}

/// Creates `root/rel` top-down. Each directory strictly between root and the
/// leaf gets those of `controllers` it has enabled in its
/// `cgroup.subtree_control` so the leaf has their files.
pub(crate) fn create_chain(root: &Path, rel: &Path, controllers: &[&str]) -> Result<()> {
    let mut dir = root.to_path_buf();
    let components: Vec<_> = rel.components().collect();
    for (i, c) in components.iter().enumerate() {
        dir.push(c);
        fs::mkdir(&dir)?;
        if !controllers.is_empty() && i + 1 < components.len() {
            enable_controllers(&dir, controllers)?;
        }
    }
    Ok(())
}

/// Enables `controllers` in each directory strictly between `root` and the
/// leaf `root/rel`, top-down, logging rather than failing.
pub(crate) fn enable_chain_best_effort(root: &Path, rel: &Path, controllers: &[&str]) {
    let mut dir = root.to_path_buf();
    let components: Vec<_> = rel.components().collect();
    for c in components.iter().take(components.len().saturating_sub(1)) {
        dir.push(c);
        if let Err(e) = enable_controllers(&dir, controllers) {
            tracing::debug!(error = %e, "enabling v2 controllers on a hybrid host");
            return;
        }
    }
}

/// Enables in `dir`'s subtree those of `controllers` `dir` itself has.
fn enable_controllers(dir: &Path, controllers: &[&str]) -> Result<()> {
    let available = fs::read(&dir.join("cgroup.controllers"))?;
    let enabled = fs::read(&dir.join("cgroup.subtree_control"))?;
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| controllers.contains(c) && !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    fs::write(&dir.join("cgroup.subtree_control"), &missing.join(" "))
}

impl Manager for V2Cgroup {
    fn paths(&self) -> &Paths {
        &self.paths
    }

    fn add_process(&self, pid: u32) -> Result<()> {
        fs::write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    fn procs(&self) -> Result<Vec<u32>> {
        let mut pids = fs::read_procs(&self.dir)?;
        pids.sort_unstable();
        Ok(pids)
    }

    fn apply(&self, r: &Resources) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        memory::apply(&self.dir, r, &mut warnings)?;
        cpu::apply(&self.dir, r, &mut warnings)?;
        cpuset::apply(&self.dir, r, &mut warnings)?;
        pids::apply(&self.dir, r, &mut warnings)?;
        io::apply(&self.dir, r, &mut warnings)?;
        let hugetlb = Some((self.dir.as_path(), hugetlb::V2));
        hugetlb::apply(hugetlb, r, &mut warnings)?;
        if r.oom_kill_disable == Some(true) {
            warnings.push(crate::warn::OOM_KILL_DISABLE.into());
        }
        Ok(warnings)
    }

    fn apply_devices(&self, rules: &[DeviceRule]) -> Result<()> {
        bpf::apply(&self.dir, &Policy::from_rules(rules)?)
    }

    fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            memory: memory::stats(&self.dir)?,
            cpu: cpu::stats(&self.dir)?,
            pids: pids::stats(&self.dir)?,
            blkio: io::stats(&self.dir)?,
        })
    }

    fn freeze(&self, timeout: Duration) -> Result<()> {
        freezer::set(&self.dir, true, timeout)
    }

    fn thaw(&self, timeout: Duration) -> Result<()> {
        freezer::set(&self.dir, false, timeout)
    }

    fn is_frozen(&self) -> Result<bool> {
        freezer::is_frozen(&self.dir)
    }

    fn kill_all(&self, timeout: Duration) -> Result<()> {
        kill::kill_all(&self.dir, timeout)
    }

    fn oom_kill_count(&self) -> Result<u64> {
        memory::oom_kill_count(&self.dir)
    }

    fn remove(&self) -> Result<()> {
        fs::rmdir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake v2 cgroup directory with empty interface files.
    struct FakeDir(PathBuf);

    impl FakeDir {
        fn new(tag: &str, files: &[&str]) -> FakeDir {
            let dir = std::env::temp_dir().join(format!("berth-cg-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for f in files {
                std::fs::write(dir.join(f), "").unwrap();
            }
            FakeDir(dir)
        }

        fn read(&self, f: &str) -> String {
            std::fs::read_to_string(self.0.join(f)).unwrap()
        }
    }

    impl Drop for FakeDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn apply_writes_v2_values_converted_from_docker_fields() {
        let files = [
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "cpu.weight",
            "cpu.max",
            "cpuset.cpus",
            "pids.max",
            "io.weight",
        ];
        let fake = FakeDir::new("apply", &files);
        let cg = V2Cgroup::at(fake.0.clone());
        let warnings = cg
            .apply(&Resources {
                memory: Some(100 << 20),
                memory_swap: Some(300 << 20),
                memory_reservation: Some(50 << 20),
                cpu_shares: Some(1024),
                nano_cpus: Some(500_000_000),
                cpuset_cpus: Some("0-1".into()),
                pids_limit: Some(-1),
                blkio_weight: Some(1000),
                ..Default::default()
            })
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(fake.read("memory.max"), (100 << 20).to_string());
        assert_eq!(fake.read("memory.swap.max"), (200 << 20).to_string());
        assert_eq!(fake.read("memory.low"), (50 << 20).to_string());
        assert_eq!(fake.read("cpu.weight"), "39");
        assert_eq!(fake.read("cpu.max"), "50000 100000");
        assert_eq!(fake.read("cpuset.cpus"), "0-1");
        assert_eq!(fake.read("pids.max"), "max");
        assert_eq!(fake.read("io.weight"), "default 10000");
    }

    #[test]
    fn missing_controller_files_become_warnings() {
        let fake = FakeDir::new("warn", &[]);
        let cg = V2Cgroup::at(fake.0.clone());
        let warnings = cg
            .apply(&Resources {
                memory: Some(1 << 20),
                pids_limit: Some(10),
                cpu_quota: Some(20_000),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }

    #[test]
    fn v2_stats_and_oom_count_parse_kernel_files() {
        let fake = FakeDir::new("stats", &[]);
        let w = |f: &str, s: &str| std::fs::write(fake.0.join(f), s).unwrap();
        w("memory.current", "4096\n");
        w("memory.max", "max\n");
        w("memory.stat", "anon 1000\ninactive_file 24\n");
        w("memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n");
        w("cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n");
        w("pids.current", "3\n");
        w("pids.max", "max\n");
        let cg = V2Cgroup::at(fake.0.clone());
        let s = cg.stats().unwrap();
        let mem = s.memory.unwrap();
        assert_eq!((mem.usage, mem.limit, mem.failcnt), (4096, None, Some(3)));
        assert_eq!(mem.stat["inactive_file"], 24);
        let cpu = s.cpu.unwrap();
        assert_eq!(cpu.usage_total_ns, 10_000);
        assert_eq!(cpu.throttling.throttled_time_ns, 7_000);
        assert_eq!(s.pids.unwrap().limit, None);
        assert!(s.blkio.is_none());
        assert_eq!(cg.oom_kill_count().unwrap(), 2);
    }

    #[test]
    fn throttles_hugetlb_and_oom_kill_disable_on_v2() {
        use crate::resources::{DeviceRate, HugepageLimit};
        let fake = FakeDir::new(
            "io-max",
            &["io.max", "memory.max", "hugetlb.2MB.max", "hugetlb.1GB.max"],
        );
        let cg = V2Cgroup::at(fake.0.clone());
        let rate = |rate| {
            vec![DeviceRate {
                major: 8,
                minor: 0,
                rate,
            }]
        };
        let r = Resources {
            blkio_device_read_bps: rate(1 << 20),
            blkio_device_write_iops: rate(0),
            hugepage_limits: vec![HugepageLimit {
                page_size: "2MB".into(),
                limit: 4 << 20,
            }],
            oom_kill_disable: Some(true),
            memory: Some(64 << 20),
            ..Default::default()
        };
        let warnings = cg.apply(&r).unwrap();
        assert_eq!(warnings, vec![crate::warn::OOM_KILL_DISABLE.to_string()]);
        assert_eq!(fake.read("io.max"), "8:0 rbps=1048576 wiops=max");
        assert_eq!(fake.read("hugetlb.2MB.max"), (4 << 20).to_string());

        let bad = Resources {
            hugepage_limits: vec![HugepageLimit {
                page_size: "3MB".into(),
                limit: 1,
            }],
            ..Default::default()
        };
        let err = cg.apply(&bad).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(
            err.to_string().contains("Invalid hugepage size: 3MB"),
            "{err}"
        );
    }

    #[test]
    fn io_max_lines_group_by_device() {
        use crate::resources::DeviceRate;
        let d = |major, minor, rate| DeviceRate { major, minor, rate };
        let r = Resources {
            blkio_device_read_bps: vec![d(8, 16, 10), d(8, 0, 1), d(8, 0, 2)],
            blkio_device_write_bps: vec![d(8, 0, 3)],
            blkio_device_read_iops: vec![d(8, 16, 4)],
            blkio_device_write_iops: vec![d(8, 0, 5)],
            ..Default::default()
        };
        assert_eq!(
            io::io_max_lines(&r),
            vec!["8:0 rbps=2 wbps=3 wiops=5", "8:16 rbps=10 riops=4"]
        );
        assert!(io::io_max_lines(&Resources::default()).is_empty());
    }

    #[test]
    fn missing_io_max_and_hugetlb_become_dockers_warnings() {
        use crate::resources::{DeviceRate, HugepageLimit};
        let fake = FakeDir::new("io-warn", &[]);
        let cg = V2Cgroup::at(fake.0.clone());
        let one = vec![DeviceRate {
            major: 8,
            minor: 0,
            rate: 1,
        }];
        let warnings = cg
            .apply(&Resources {
                blkio_device_read_bps: one.clone(),
                blkio_device_write_bps: one.clone(),
                blkio_device_read_iops: one.clone(),
                blkio_device_write_iops: one,
                hugepage_limits: vec![HugepageLimit {
                    page_size: "2MB".into(),
                    limit: 1,
                }],
                ..Default::default()
            })
            .unwrap();
        use crate::warn::*;
        assert_eq!(
            warnings,
            [READ_BPS, WRITE_BPS, READ_IOPS, WRITE_IOPS, HUGETLB].map(String::from)
        );
    }
}
