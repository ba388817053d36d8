//! Which cgroup layout the host has: unified (v2 only), hybrid (v1
//! controllers plus a v2 tree at `<root>/unified`), or legacy (v1 only).
//!
//! The v1 mount point of each controller comes from `/proc/self/mountinfo`,
//! so co-mounted hierarchies (`cpu,cpuacct`) map both controllers to one
//! directory. This module only reads; it never mounts anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The default cgroup root.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup2 mounted at the root.
    Unified { root: PathBuf },
    /// v1 controllers, with cgroup2 at `<root>/unified` (freeze, kill, events).
    Hybrid { v1: V1Mounts, unified: PathBuf },
    /// v1 controllers only.
    Legacy { v1: V1Mounts },
}

/// Mount point of each v1 controller (`memory` -> `/sys/fs/cgroup/memory`).
/// Named hierarchies such as `name=systemd` are not controllers and are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V1Mounts(pub BTreeMap<String, PathBuf>);

impl V1Mounts {
    /// The mount point of `controller`, if mounted.
    pub fn get(&self, controller: &str) -> Option<&Path> {
        self.0.get(controller).map(PathBuf::as_path)
    }

    /// Each distinct hierarchy once (co-mounted controllers share one).
    pub fn hierarchies(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.0.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v
    }
}

impl Layout {
    /// Detects the layout at [`DEFAULT_ROOT`].
    pub fn detect() -> Result<Layout> {
        Layout::detect_at(Path::new(DEFAULT_ROOT))
    }

    /// Detects the layout at `root`: cgroup2 there (a `cgroup.controllers`
    /// file) is unified; otherwise v1 mounts under `root` come from
    /// `/proc/self/mountinfo`, hybrid if `<root>/unified` is cgroup2.
    pub fn detect_at(root: &Path) -> Result<Layout> {
        if root.join("cgroup.controllers").exists() {
            return Ok(Layout::Unified {
                root: root.to_path_buf(),
            });
        }
        let mountinfo = crate::fs::read(Path::new("/proc/self/mountinfo"))?;
        let v1 = parse_v1_mounts(root, &mountinfo);
        if v1.0.is_empty() {
            return Err(Error::NoCgroupFs {
                path: root.to_path_buf(),
            });
        }
        let unified = root.join("unified");
        if unified.join("cgroup.controllers").exists() {
            Ok(Layout::Hybrid { v1, unified })
        } else {
            Ok(Layout::Legacy { v1 })
        }
    }

    /// Decides the layout from mountinfo text alone (no filesystem access):
    /// a cgroup2 mount at `root` is unified, one at `<root>/unified` hybrid.
    pub fn from_mountinfo(root: &Path, mountinfo: &str) -> Result<Layout> {
        let mounts: Vec<Mount> = mountinfo.lines().filter_map(parse_mount_line).collect();
        let cgroup2_at = |p: &Path| {
            mounts
                .iter()
                .any(|m| m.fstype == "cgroup2" && m.mount_point == p)
        };
        if cgroup2_at(root) {
            return Ok(Layout::Unified {
                root: root.to_path_buf(),
            });
        }
        let v1 = parse_v1_mounts(root, mountinfo);
        let unified = root.join("unified");
        match (v1.0.is_empty(), cgroup2_at(&unified)) {
            (true, _) => Err(Error::NoCgroupFs {
                path: root.to_path_buf(),
            }),
            (false, true) => Ok(Layout::Hybrid { v1, unified }),
            (false, false) => Ok(Layout::Legacy { v1 }),
        }
    }

    /// `"2"` for unified hosts, `"1"` otherwise (Docker's `CgroupVersion`).
    pub fn version(&self) -> &'static str {
        match self {
            Layout::Unified { .. } => "2",
            Layout::Hybrid { .. } | Layout::Legacy { .. } => "1",
        }
    }

    /// Docker's `CgroupDriver`: this crate writes cgroupfs directly.
    pub fn driver(&self) -> &'static str {
        "cgroupfs"
    }

    /// Every hierarchy root this layout uses (v1 mounts, then the v2 tree).
    pub fn hierarchy_roots(&self) -> Vec<PathBuf> {
        match self {
            Layout::Unified { root } => vec![root.clone()],
            Layout::Hybrid { v1, unified } => {
                let mut v: Vec<PathBuf> = v1
                    .hierarchies()
                    .into_iter()
                    .map(Path::to_path_buf)
                    .collect();
                v.push(unified.clone());
                v
            }
            Layout::Legacy { v1 } => v1
                .hierarchies()
                .into_iter()
                .map(Path::to_path_buf)
                .collect(),
        }
    }
}

struct Mount {
    mount_point: PathBuf,
    fstype: String,
    super_options: String,
}

/// One mountinfo line: `id parent maj:min root mountpoint opts [tags...] - fstype source superopts`.
fn parse_mount_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let fstype = right.next()?.to_string();
    let _source = right.next()?;
    let super_options = right.next().unwrap_or("").to_string();
    Some(Mount {
        mount_point: PathBuf::from(unescape_octal(mount_point)),
        fstype,
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(oct, 8) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The v1 cgroup mounts beneath `root`, keyed by controller.
fn parse_v1_mounts(root: &Path, mountinfo: &str) -> V1Mounts {
    let mut map = BTreeMap::new();
    for m in mountinfo.lines().filter_map(parse_mount_line) {
        if m.fstype != "cgroup" || !m.mount_point.starts_with(root) {
            continue;
        }
        for opt in m.super_options.split(',') {
            if is_v1_controller(opt) {
                map.entry(opt.to_string())
                    .or_insert_with(|| m.mount_point.clone());
            }
        }
    }
    V1Mounts(map)
}

/// Mount options of a v1 cgroup mount that name controllers (not `rw`,
/// `relatime`, `name=...`, `noprefix`, ...).
fn is_v1_controller(opt: &str) -> bool {
    matches!(
        opt,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "blkio"
            | "pids"
            | "hugetlb"
            | "net_cls"
            | "net_prio"
            | "perf_event"
            | "rdma"
            | "misc"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const LEGACY_COMOUNTED: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
33 25 0:30 / /mnt/elsewhere rw - cgroup cgroup rw,blkio
";

    const UNIFIED: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
26 21 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn hybrid_mountinfo_gives_v1_controllers_and_unified_tree() {
        let l = Layout::from_mountinfo(Path::new("/sys/fs/cgroup"), HYBRID).unwrap();
        let Layout::Hybrid { v1, unified } = &l else {
            panic!("expected hybrid, got {l:?}")
        };
        assert_eq!(unified, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(v1.get("memory"), Some(Path::new("/sys/fs/cgroup/memory")));
        assert_eq!(v1.get("cpuacct"), Some(Path::new("/sys/fs/cgroup/cpuacct")));
        assert!(!v1.0.contains_key("name=systemd"));
        assert_eq!(l.version(), "1");
        assert_eq!(l.hierarchy_roots().len(), 5);
    }

    #[test]
    fn legacy_mountinfo_maps_comounted_controllers_to_one_hierarchy() {
        let l = Layout::from_mountinfo(Path::new("/sys/fs/cgroup"), LEGACY_COMOUNTED).unwrap();
        let Layout::Legacy { v1 } = &l else {
            panic!("expected legacy, got {l:?}")
        };
        let cpu = Path::new("/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(v1.get("cpu"), Some(cpu));
        assert_eq!(v1.get("cpuacct"), Some(cpu));
        assert_eq!(v1.get("net_prio"), v1.get("net_cls"));
        assert_eq!(v1.get("blkio"), None, "mounts outside the root are ignored");
        assert_eq!(v1.hierarchies().len(), 3);
        assert_eq!(l.version(), "1");
    }

    #[test]
    fn unified_mountinfo_is_version_2() {
        let l = Layout::from_mountinfo(Path::new("/sys/fs/cgroup"), UNIFIED).unwrap();
        assert_eq!(
            l,
            Layout::Unified {
                root: PathBuf::from("/sys/fs/cgroup")
            }
        );
        assert_eq!(l.version(), "2");
        assert_eq!(l.driver(), "cgroupfs");
    }

    #[test]
    fn no_cgroup_mounts_is_an_error_naming_the_root() {
        let err = Layout::from_mountinfo(Path::new("/sys/fs/cgroup"), "").unwrap_err();
        assert!(err.to_string().contains("/sys/fs/cgroup"));
    }

    #[test]
    fn mount_points_with_escaped_spaces_are_unescaped() {
        let text = "1 0 0:1 / /cg\\040root/memory rw - cgroup cgroup rw,memory\n";
        let l = Layout::from_mountinfo(Path::new("/cg root"), text).unwrap();
        let Layout::Legacy { v1 } = l else { panic!() };
        assert_eq!(v1.get("memory"), Some(Path::new("/cg root/memory")));
    }
}
