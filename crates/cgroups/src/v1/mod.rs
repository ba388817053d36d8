//! cgroup v1 (legacy, and the v1 half of hybrid hosts): one directory per
//! hierarchy. On hybrid hosts the cgroup is also created in the v2 tree,
//! whose `cgroup.freeze` and `cgroup.kill` are preferred to v1's freezer.

mod blkio;
mod cpu;
mod cpuset;
mod devices;
mod freezer;
mod memory;
mod pids;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::devices::{bpf, DeviceRule, Policy};
use crate::error::{Error, Result};
use crate::fs;
use crate::hugetlb;
use crate::layout::V1Mounts;
use crate::resources::Resources;
use crate::stats::Stats;
use crate::v2;
use crate::{Manager, Paths};

#[derive(Debug)]
pub(crate) struct V1Cgroup {
    paths: Paths,
}

impl V1Cgroup {
    pub(crate) fn create(
        mounts: &V1Mounts,
        unified: Option<&Path>,
        rel: &Path,
    ) -> Result<V1Cgroup> {
        for hierarchy in mounts.hierarchies() {
            let is_cpuset = mounts.get("cpuset") == Some(hierarchy);
            let mut dir = hierarchy.to_path_buf();
            for c in rel.components() {
                let parent = dir.clone();
                dir.push(c);
                fs::mkdir(&dir)?;
                if is_cpuset {
                    cpuset::copy_from_parent(&parent, &dir)?;
                }
            }
        }
        if let Some(unified) = unified {
            v2::create_chain(unified, rel, &[])?;
            // Only hugetlb can be a v2 controller here (the others are bound
            // to v1 hierarchies); enabled if the host delegated it, best
            // effort (a parent with processes refuses).
            v2::enable_chain_best_effort(unified, rel, &["hugetlb"]);
        }
        Ok(V1Cgroup {
            paths: Paths {
                unified: unified.map(|u| u.join(rel)),
                v1: mounts
                    .0
                    .iter()
                    .map(|(c, m)| (c.clone(), m.join(rel)))
                    .collect(),
            },
        })
    }

    pub(crate) fn open(mounts: &V1Mounts, unified: Option<&Path>, rel: &Path) -> Result<V1Cgroup> {
        let v1: BTreeMap<String, PathBuf> = mounts
            .0
            .iter()
            .map(|(c, m)| (c.clone(), m.join(rel)))
            .filter(|(_, d)| d.is_dir())
            .collect();
        let unified = unified.map(|u| u.join(rel)).filter(|d| d.is_dir());
        if v1.is_empty() && unified.is_none() {
            let root = mounts.hierarchies().first().map(|h| h.join(rel));
            return Err(Error::NotFound {
                path: root.unwrap_or_else(|| rel.to_path_buf()),
            });
        }
        Ok(V1Cgroup {
            paths: Paths { unified, v1 },
        })
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.paths.v1.get(controller).map(PathBuf::as_path)
    }

    /// The v2 directory when it has the v2 freezer (hybrid hosts, 5.2+).
    fn unified_freezer(&self) -> Option<&Path> {
        self.paths
            .unified
            .as_deref()
            .filter(|d| v2::freezer::available(d))
    }
}

impl Manager for V1Cgroup {
    fn paths(&self) -> &Paths {
        &self.paths
    }

    fn add_process(&self, pid: u32) -> Result<()> {
        let pid = pid.to_string();
        for dir in self.paths.dirs() {
            fs::write(&dir.join("cgroup.procs"), &pid)?;
        }
        Ok(())
    }

    fn procs(&self) -> Result<Vec<u32>> {
        let mut pids = Vec::new();
        for dir in self.paths.dirs() {
            pids.extend(fs::read_procs(dir)?);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn apply(&self, r: &Resources) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        memory::apply(self.dir("memory"), r, &mut warnings)?;
        cpu::apply(self.dir("cpu"), r, &mut warnings)?;
        cpuset::apply(self.dir("cpuset"), r, &mut warnings)?;
        pids::apply(self.dir("pids"), r, &mut warnings)?;
        blkio::apply(self.dir("blkio"), r, &mut warnings)?;
        // v1 hugetlb when mounted, else the v2 tree of hybrid hosts.
        let hugetlb = match (self.dir("hugetlb"), self.paths.unified.as_deref()) {
            (Some(d), _) => Some((d, hugetlb::V1)),
            (None, Some(u)) if hugetlb::available(u) => Some((u, hugetlb::V2)),
            _ => None,
        };
        hugetlb::apply(hugetlb, r, &mut warnings)?;
        Ok(warnings)
    }

    /// The v1 devices controller where mounted (what Docker uses on hybrid
    /// hosts too); without it, a hybrid host's v2 tree still takes the eBPF
    /// program (the kernel runs both kinds of check).
    fn apply_devices(&self, rules: &[DeviceRule]) -> Result<()> {
        let policy = Policy::from_rules(rules)?;
        match (self.dir("devices"), self.paths.unified.as_deref()) {
            (Some(dir), _) => devices::apply(dir, &policy),
            (None, Some(unified)) => bpf::apply(unified, &policy),
            (None, None) => Err(Error::Unsupported {
                what: "device rules",
                path: PathBuf::from("devices controller"),
            }),
        }
    }

    fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            memory: self.dir("memory").map(memory::stats).transpose()?,
            cpu: cpu::stats(self.dir("cpu"), self.dir("cpuacct"))?,
            pids: self.dir("pids").map(pids::stats).transpose()?,
            blkio: self.dir("blkio").map(blkio::stats).transpose()?,
        })
    }

    fn freeze(&self, timeout: Duration) -> Result<()> {
        match (self.unified_freezer(), self.dir("freezer")) {
            (Some(u), _) => v2::freezer::set(u, true, timeout),
            (None, Some(f)) => freezer::set(f, true, timeout),
            (None, None) => Err(unsupported_freezer(&self.paths)),
        }
    }

    fn thaw(&self, timeout: Duration) -> Result<()> {
        match (self.unified_freezer(), self.dir("freezer")) {
            (Some(u), _) => v2::freezer::set(u, false, timeout),
            (None, Some(f)) => freezer::set(f, false, timeout),
            (None, None) => Err(unsupported_freezer(&self.paths)),
        }
    }

    fn is_frozen(&self) -> Result<bool> {
        match (self.unified_freezer(), self.dir("freezer")) {
            (Some(u), _) => v2::freezer::is_frozen(u),
            (None, Some(f)) => freezer::is_frozen(f),
            (None, None) => Ok(false),
        }
    }

    fn kill_all(&self, timeout: Duration) -> Result<()> {
        if let Some(kill) = self
            .paths
            .unified
            .as_ref()
            .map(|u| u.join("cgroup.kill"))
            .filter(|k| k.exists())
        {
            fs::write(&kill, "1")?;
        }
        let first = self.paths.dirs().first().map(|d| d.to_path_buf());
        let dir = first.unwrap_or_default();
        crate::kill_until_empty(
            &dir,
            timeout,
            || self.procs(),
            || match self.dir("freezer") {
                // v1-frozen tasks only die once thawed.
                Some(f) if self.unified_freezer().is_none() && freezer::is_frozen(f)? => {
                    fs::write(&f.join("freezer.state"), "THAWED")
                }
                _ => Ok(()),
            },
        )
    }

    fn oom_kill_count(&self) -> Result<u64> {
        match self.dir("memory") {
            Some(dir) => memory::oom_kill_count(dir),
            None => Err(Error::Unsupported {
                what: "OOM kill counting",
                path: PathBuf::from("memory controller"),
            }),
        }
    }

    fn remove(&self) -> Result<()> {
        let mut first_err = None;
        for dir in self.paths.dirs() {
            if let Err(e) = fs::rmdir(dir) {
                tracing::warn!(error = %e, "removing cgroup directory");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn unsupported_freezer(paths: &Paths) -> Error {
    Error::Unsupported {
        what: "freezing",
        path: paths
            .unified
            .clone()
            .unwrap_or_else(|| PathBuf::from("freezer controller")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{DeviceRate, HugepageLimit};

    /// A fake v1 layout: one directory per controller with empty files.
    struct Fake(PathBuf);

    impl Fake {
        fn new(tag: &str, files: &[(&str, &str)]) -> (Fake, V1Cgroup) {
            let root = std::env::temp_dir().join(format!("berth-cg1-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let mut v1 = BTreeMap::new();
            for (controller, file) in files {
                let dir = root.join(controller);
                std::fs::create_dir_all(&dir).unwrap();
                if !file.is_empty() {
                    std::fs::write(dir.join(file), "").unwrap();
                }
                v1.insert(controller.to_string(), dir);
            }
            let cg = V1Cgroup {
                paths: Paths { unified: None, v1 },
            };
            (Fake(root), cg)
        }

        fn read(&self, controller: &str, f: &str) -> String {
            std::fs::read_to_string(self.0.join(controller).join(f)).unwrap()
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn v1_throttle_oom_control_and_hugetlb_files() {
        let (fake, cg) = Fake::new(
            "apply",
            &[
                ("blkio", "blkio.throttle.read_bps_device"),
                ("blkio", "blkio.throttle.write_bps_device"),
                ("blkio", "blkio.throttle.read_iops_device"),
                ("blkio", "blkio.throttle.write_iops_device"),
                ("memory", "memory.oom_control"),
                ("hugetlb", "hugetlb.2MB.limit_in_bytes"),
            ],
        );
        let d = |rate| {
            vec![DeviceRate {
                major: 254,
                minor: 0,
                rate,
            }]
        };
        let warnings = cg
            .apply(&Resources {
                blkio_device_read_bps: d(1),
                blkio_device_write_bps: d(2),
                blkio_device_read_iops: d(3),
                blkio_device_write_iops: d(4),
                oom_kill_disable: Some(true),
                hugepage_limits: vec![HugepageLimit {
                    page_size: "2MB".into(),
                    limit: 2 << 20,
                }],
                ..Default::default()
            })
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            fake.read("blkio", "blkio.throttle.read_bps_device"),
            "254:0 1"
        );
        assert_eq!(
            fake.read("blkio", "blkio.throttle.write_bps_device"),
            "254:0 2"
        );
        assert_eq!(
            fake.read("blkio", "blkio.throttle.read_iops_device"),
            "254:0 3"
        );
        assert_eq!(
            fake.read("blkio", "blkio.throttle.write_iops_device"),
            "254:0 4"
        );
        assert_eq!(fake.read("memory", "memory.oom_control"), "1");
        assert_eq!(
            fake.read("hugetlb", "hugetlb.2MB.limit_in_bytes"),
            (2 << 20).to_string()
        );
        let err = cg
            .apply(&Resources {
                hugepage_limits: vec![HugepageLimit {
                    page_size: "1GB".into(),
                    limit: 1,
                }],
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
    }

    #[test]
    fn oom_kill_disable_without_memory_limit_warns_like_docker() {
        let (fake, cg) = Fake::new("oom", &[("memory", "memory.oom_control")]);
        let cg = crate::Cgroup {
            manager: Box::new(cg),
        };
        let r = Resources {
            oom_kill_disable: Some(true),
            ..Default::default()
        };
        let warnings = cg.apply(&r).unwrap();
        assert_eq!(warnings, [crate::warn::OOM_KILL_DISABLE_NO_MEMORY]);
        assert_eq!(fake.read("memory", "memory.oom_control"), "1");
    }

    #[test]
    fn v1_missing_controllers_warn_in_dockers_words() {
        let (_fake, cg) = Fake::new("warn", &[("blkio", "")]);
        let r = Resources {
            blkio_device_write_iops: vec![DeviceRate::default()],
            oom_kill_disable: Some(true),
            hugepage_limits: vec![HugepageLimit {
                page_size: "2MB".into(),
                limit: 1,
            }],
            ..Default::default()
        };
        let warnings = cg.apply(&r).unwrap();
        use crate::warn::*;
        assert_eq!(
            warnings,
            [OOM_KILL_DISABLE, WRITE_IOPS, HUGETLB].map(String::from)
        );
    }
}
