//! The container's `/sys/fs/cgroup`, as Docker gives it: the host's cgroup
//! file systems mounted again inside the container's cgroup namespace, so
//! they show the container's own cgroups as their roots; read-only unless
//! the container's `/sys` is writable (`--privileged`).
//!
//! The host's layout is read from its mount table before the pivot: a
//! unified host (cgroup2 on `/sys/fs/cgroup`) gets cgroup2 there; a v1 or
//! hybrid host gets a tmpfs with one mount per hierarchy (the same
//! subsystems or name, cgroup2 for a hybrid's `unified`) and the host's
//! links between them (`cpu -> cpu,cpuacct`), then the tmpfs is made
//! read-only.

use crate::failure::StartFailure;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use std::path::Path;

/// Where cgroup file systems are mounted, on the host and in containers.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The host's cgroup file systems under [`CGROUP_ROOT`].
#[derive(Debug, PartialEq)]
pub(crate) enum HostCgroups {
    /// cgroup2 on the root itself.
    Unified,
    /// A tmpfs with hierarchies and links in it.
    Hierarchies {
        mounts: Vec<Hierarchy>,
        /// Links in the root: name, target.
        links: Vec<(String, String)>,
    },
    /// Nothing mounted there.
    Absent,
}

/// One cgroup hierarchy mounted in the root.
#[derive(Debug, PartialEq)]
pub(crate) struct Hierarchy {
    /// Its directory's name in the root (`memory`, `cpu,cpuacct`, `unified`).
    name: String,
    /// `cgroup` or `cgroup2`.
    fstype: String,
    /// The subsystems or `name=` that pick the hierarchy (v1).
    options: String,
}

/// Reads the host's layout from the caller's mount table (before the pivot).
pub(crate) fn host_cgroups() -> Result<HostCgroups, StartFailure> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| StartFailure::io("reading /proc/self/mountinfo", &e))?;
    let mut layout = parse_mountinfo(&mountinfo);
    if let HostCgroups::Hierarchies { links, .. } = &mut layout {
        *links = std::fs::read_dir(CGROUP_ROOT)
            .map_err(|e| StartFailure::io(format!("listing {CGROUP_ROOT}"), &e))?
            .flatten()
            .filter_map(|entry| {
                let target = std::fs::read_link(entry.path()).ok()?;
                Some((
                    entry.file_name().to_string_lossy().into_owned(),
                    target.to_string_lossy().into_owned(),
                ))
            })
            .collect();
    }
    Ok(layout)
}

/// The cgroup mounts of a mount table (`/proc/self/mountinfo`); the last
/// mount on a path wins, as it hides those under it.
fn parse_mountinfo(mountinfo: &str) -> HostCgroups {
    let mut root_fstype = None;
    let mut mounts: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(point), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-"))
        else {
            continue;
        };
        let fstype = fields.get(dash + 1).copied().unwrap_or_default();
        let options = fields.get(dash + 3).copied().unwrap_or_default();
        if *point == CGROUP_ROOT {
            root_fstype = Some(fstype.to_string());
            mounts.clear();
            continue;
        }
        let Some(name) = point.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if name.contains('/') || !matches!(fstype, "cgroup" | "cgroup2") {
            continue;
        }
        let options = options
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro") && (fstype == "cgroup" && is_selector(o)))
            .collect::<Vec<_>>()
            .join(",");
        mounts.retain(|m| m.name != name);
        mounts.push(Hierarchy {
            name: name.to_string(),
            fstype: fstype.to_string(),
            options,
        });
    }
    match root_fstype.as_deref() {
        Some("cgroup2") => HostCgroups::Unified,
        Some(_) if !mounts.is_empty() => HostCgroups::Hierarchies {
            mounts,
            links: Vec::new(),
        },
        _ => HostCgroups::Absent,
    }
}

/// Whether a v1 super option picks the hierarchy (a subsystem or its
/// name) rather than tuning it (`xattr`, `release_agent=...`, ...).
fn is_selector(option: &str) -> bool {
    const TUNING: [&str; 5] = [
        "xattr",
        "noprefix",
        "clone_children",
        "cpuset_v2_mode",
        "none",
    ];
    option.starts_with("name=") || (!option.contains('=') && !TUNING.contains(&option))
}

/// Mounts the container's `/sys/fs/cgroup` after its `/sys` (the caller is
/// in the container's root and cgroup namespace).
pub(crate) fn mount_cgroups(host: &HostCgroups, writable: bool) -> Result<(), StartFailure> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let ro = if writable {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    match host {
        HostCgroups::Absent => Ok(()),
        HostCgroups::Unified => mount_one("cgroup2", CGROUP_ROOT, flags | ro, None),
        HostCgroups::Hierarchies { mounts, links } => {
            mount(
                Some("tmpfs"),
                CGROUP_ROOT,
                Some("tmpfs"),
                flags,
                Some("mode=755"),
            )
            .map_err(|e| StartFailure::sys(format!("mounting tmpfs on {CGROUP_ROOT}"), e))?;
            for hierarchy in mounts {
                let path = format!("{CGROUP_ROOT}/{}", hierarchy.name);
                nix::unistd::mkdir(path.as_str(), Mode::from_bits_truncate(0o755))
                    .map_err(|e| StartFailure::sys(format!("creating {path}"), e))?;
                let options = Some(hierarchy.options.as_str()).filter(|o| !o.is_empty());
                mount_one(&hierarchy.fstype, &path, flags | ro, options)?;
            }
            for (name, target) in links {
                let link = Path::new(CGROUP_ROOT).join(name);
                std::os::unix::fs::symlink(target, &link)
                    .map_err(|e| StartFailure::io(format!("creating {}", link.display()), &e))?;
            }
            if writable {
                return Ok(());
            }
            mount(
                None::<&str>,
                CGROUP_ROOT,
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| StartFailure::sys(format!("making {CGROUP_ROOT} read-only"), e))
        }
    }
}

fn mount_one(
    fstype: &str,
    path: &str,
    flags: MsFlags,
    options: Option<&str>,
) -> Result<(), StartFailure> {
    mount(Some(fstype), path, Some(fstype), flags, options)
        .map_err(|e| StartFailure::sys(format!("mounting {fstype} on {path}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(point: &str, fstype: &str, options: &str) -> String {
        format!("30 20 0:26 / {point} rw,nosuid,nodev,noexec,relatime shared:9 - {fstype} {fstype} {options}\n")
    }

    #[test]
    fn a_unified_host_gets_cgroup2() {
        let table = line("/sys", "sysfs", "rw") + &line(CGROUP_ROOT, "cgroup2", "rw,nsdelegate");
        assert_eq!(parse_mountinfo(&table), HostCgroups::Unified);
    }

    #[test]
    fn a_hybrid_host_gets_each_hierarchy_by_its_subsystems_or_name() {
        let table = line(CGROUP_ROOT, "tmpfs", "rw,mode=755")
            + &line("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")
            + &line(
                "/sys/fs/cgroup/systemd",
                "cgroup",
                "rw,xattr,name=systemd,release_agent=/x",
            )
            + &line("/sys/fs/cgroup/unified", "cgroup2", "rw,nsdelegate")
            + &line("/sys/fs/cgroup/memory/inner", "cgroup", "rw,memory");
        let hierarchy = |name: &str, fstype: &str, options: &str| Hierarchy {
            name: name.into(),
            fstype: fstype.into(),
            options: options.into(),
        };
        assert_eq!(
            parse_mountinfo(&table),
            HostCgroups::Hierarchies {
                mounts: vec![
                    hierarchy("cpu,cpuacct", "cgroup", "cpu,cpuacct"),
                    hierarchy("systemd", "cgroup", "name=systemd"),
                    hierarchy("unified", "cgroup2", ""),
                ],
                links: Vec::new(),
            }
        );
    }

    #[test]
    fn no_cgroup_mounts_mean_nothing_to_mount() {
        assert_eq!(
            parse_mountinfo(&line("/sys", "sysfs", "rw")),
            HostCgroups::Absent
        );
        // A later mount on the root hides what was under it.
        let table = line(CGROUP_ROOT, "tmpfs", "rw")
            + &line("/sys/fs/cgroup/memory", "cgroup", "rw,memory")
            + &line(CGROUP_ROOT, "cgroup2", "rw");
        assert_eq!(parse_mountinfo(&table), HostCgroups::Unified);
    }
}
