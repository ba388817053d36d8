//! Docker's device options: `HostConfig.Devices` (`--device
//! /dev/fuse[:/dev/fuse][:rwm]`), `DeviceCgroupRules`
//! (`--device-cgroup-rule 'c 10:229 rwm'`) and `Privileged`, turned into
//! the container's device cgroup rules ([`cgroup_rules`], applied where its
//! cgroup is created) and the device nodes its init creates ([`nodes`]).
//!
//! As moby: a `--device` path is resolved if it is a symlink; a directory
//! stands for every device node below it; a missing path is
//! `error gathering device information while adding custom device "/dev/x":
//! no such file or directory`. `--privileged` allows every device and gets
//! a node for each one under the host's `/dev` (not in `pts`, `shm`, `fd`,
//! `mqueue`, `.lxc`, `.lxd-mounts`, `.udev`; not `console`; not the nodes
//! every container has anyway); its `--device` mappings only add nodes
//! under other names, and `DeviceCgroupRules` are ignored.

use berth_api::container::HostConfig;
use berth_api::ApiError;
use berth_cgroups::{docker_default_rules, DeviceRule};
use berth_runtime::DeviceNode;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Subdirectories of the host's `/dev` that `--privileged` does not copy
/// (containerd's list: other mounts, or container-manager bookkeeping).
const SKIPPED_DIRS: [&str; 7] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// Paths every container's init makes itself (the runtime's standard nodes
/// and `/dev/ptmx`, a link to `pts/ptmx`), left out of `--privileged`'s
/// copy of the host's `/dev`.
const STANDARD_PATHS: [&str; 7] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
];

/// One `HostConfig.Devices` entry, with the CLI's defaults filled in.
struct Mapping {
    on_host: String,
    in_container: String,
    permissions: String,
}

/// Checks the device options of a container being created, so that what
/// would fail at start is a 400 now: every `--device` host path exists and
/// holds device nodes, permissions and rules are well formed.
pub fn validate(host: &HostConfig) -> Result<(), ApiError> {
    cgroup_rules(host)?;
    nodes(host)?;
    Ok(())
}

/// The device cgroup rules for the container, in order: `a *:* rwm` for a
/// privileged one; else Docker's defaults, an allow rule for each
/// `--device` node (with its permissions), then `DeviceCgroupRules`.
pub fn cgroup_rules(host: &HostConfig) -> Result<Vec<DeviceRule>, ApiError> {
    if host.privileged {
        return Ok(vec![DeviceRule::allow_all()]);
    }
    let mut rules = docker_default_rules();
    for mapping in mappings(host)? {
        for node in devices_from_path(&mapping)? {
            rules.push(DeviceRule::allow_device(
                node.kind,
                node.major,
                node.minor,
                &mapping.permissions,
            ));
        }
    }
    for text in strings(host, "DeviceCgroupRules")? {
        rules.push(DeviceRule::parse(&text).map_err(|e| ApiError::invalid(e.to_string()))?);
    }
    Ok(rules)
}

/// The device nodes the container's init creates: those of each
/// `--device`, and with `--privileged` every device node of the host's
/// `/dev` (plus `--device` mappings to other paths).
pub fn nodes(host: &HostConfig) -> Result<Vec<DeviceNode>, ApiError> {
    let mappings = mappings(host)?;
    let mut nodes = Vec::new();
    if host.privileged {
        walk(Path::new("/dev"), &SKIPPED_DIRS, &mut nodes);
        nodes.retain(|n| !STANDARD_PATHS.contains(&n.path.as_str()));
        for mapping in mappings.iter().filter(|m| m.on_host != m.in_container) {
            nodes.extend(devices_from_path(mapping)?);
        }
    } else {
        for mapping in &mappings {
            nodes.extend(devices_from_path(mapping)?);
        }
    }
    Ok(nodes)
}

/// A list of strings in `HostConfig` (`null` or absent is empty).
fn strings(host: &HostConfig, key: &str) -> Result<Vec<String>, ApiError> {
    match host.extra.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| ApiError::invalid(format!("invalid {key}: {e}"))),
    }
}

/// `HostConfig.Devices`: `PathInContainer` defaults to `PathOnHost` and
/// `CgroupPermissions` to `rwm`, as the CLI fills them in.
fn mappings(host: &HostConfig) -> Result<Vec<Mapping>, ApiError> {
    #[derive(Default, serde::Deserialize)]
    #[serde(rename_all = "PascalCase", default)]
    struct Entry {
        path_on_host: String,
        path_in_container: String,
        cgroup_permissions: String,
    }
    let entries: Vec<Entry> = match host.extra.get("Devices") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| ApiError::invalid(format!("invalid Devices: {e}")))?,
    };
    entries
        .into_iter()
        .map(|e| {
            let in_container = if e.path_in_container.is_empty() {
                e.path_on_host.clone()
            } else {
                e.path_in_container
            };
            if !in_container.starts_with('/') {
                return Err(ApiError::invalid(format!(
                    "{in_container} is not an absolute path"
                )));
            }
            let permissions = if e.cgroup_permissions.is_empty() {
                "rwm".to_string()
            } else {
                e.cgroup_permissions
            };
            if !valid_permissions(&permissions) {
                return Err(ApiError::invalid(format!(
                    "invalid device permissions {permissions:?} for {}: use a combination of r, w and m",
                    e.path_on_host
                )));
            }
            Ok(Mapping {
                on_host: e.path_on_host,
                in_container,
                permissions,
            })
        })
        .collect()
}

/// `r`, `w`, `m`, each at most once (the CLI's check).
fn valid_permissions(permissions: &str) -> bool {
    let mut seen = String::new();
    permissions.chars().all(|c| {
        let fresh = "rwm".contains(c) && !seen.contains(c);
        seen.push(c);
        fresh
    }) && !permissions.is_empty()
}

/// Why a path holds no device node.
enum NotDevice {
    /// Not a block or character device (a directory, a file, a link).
    Other,
    /// It could not be looked at.
    Errno(nix::errno::Errno),
}

/// The node at `path` itself (not following a final symlink), named `path`.
fn device_at(path: &Path) -> Result<DeviceNode, NotDevice> {
    let st = nix::sys::stat::lstat(path).map_err(NotDevice::Errno)?;
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFBLK => 'b',
        libc::S_IFCHR => 'c',
        _ => return Err(NotDevice::Other),
    };
    let major = libc::major(st.st_rdev) as u64;
    if major == 0 {
        return Err(NotDevice::Other);
    }
    Ok(DeviceNode {
        path: path.to_string_lossy().into_owned(),
        kind,
        major,
        minor: libc::minor(st.st_rdev) as u64,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
    })
}

/// moby's `DevicesFromPath`: the device at the host path (a symlink is
/// resolved first), or every device below it if it is a directory, with
/// their paths moved to the container path.
fn devices_from_path(mapping: &Mapping) -> Result<Vec<DeviceNode>, ApiError> {
    let on_host = Path::new(&mapping.on_host);
    let resolved = match std::fs::symlink_metadata(on_host) {
        Ok(meta) if meta.file_type().is_symlink() => {
            std::fs::canonicalize(on_host).unwrap_or_else(|_| on_host.to_path_buf())
        }
        _ => on_host.to_path_buf(),
    };
    let why = match device_at(&resolved) {
        Ok(mut node) => {
            node.path = mapping.in_container.clone();
            return Ok(vec![node]);
        }
        Err(NotDevice::Errno(errno)) => go_errno_text(errno),
        Err(NotDevice::Other) => {
            let mut found = Vec::new();
            if resolved.is_dir() {
                walk(&resolved, &[], &mut found);
            }
            for node in &mut found {
                let below = Path::new(&node.path)
                    .strip_prefix(&resolved)
                    .unwrap_or(Path::new(""));
                node.path = Path::new(&mapping.in_container)
                    .join(below)
                    .to_string_lossy()
                    .into_owned();
            }
            if !found.is_empty() {
                return Ok(found);
            }
            "not a device node".to_string()
        }
    };
    Err(ApiError::invalid(format!(
        "error gathering device information while adding custom device {:?}: {why}",
        mapping.on_host
    )))
}

/// Go's text for an errno (lower-case, as `syscall.Errno` prints it).
fn go_errno_text(errno: nix::errno::Errno) -> String {
    let text = errno.desc();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

/// Every device node below `dir`, depth first in name order, not following
/// symlinks and not entering subdirectories named in `skip`; `console` is
/// never taken (the container gets its own). Entries that cannot be read
/// are passed over.
fn walk(dir: &Path, skip: &[&str], out: &mut Vec<DeviceNode>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(String, PathBuf, bool)> = entries
        .flatten()
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                is_dir,
            )
        })
        .collect();
    entries.sort();
    for (name, path, is_dir) in entries {
        if is_dir {
            if !skip.contains(&name.as_str()) {
                walk(&path, skip, out);
            }
        } else if name != "console" {
            if let Ok(node) = device_at(&path) {
                out.push(node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(extra: Value, privileged: bool) -> HostConfig {
        let mut host: HostConfig = serde_json::from_value(extra).unwrap();
        host.privileged = privileged;
        host
    }

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn a_missing_device_gets_dockers_message_as_a_400() {
        let h = host(
            json!({"Devices": [{"PathOnHost": "/dev/nope", "PathInContainer": "/dev/nope", "CgroupPermissions": "rwm"}]}),
            false,
        );
        for err in [
            validate(&h).unwrap_err(),
            nodes(&h).unwrap_err(),
            cgroup_rules(&h).unwrap_err(),
        ] {
            assert_eq!(err.status(), 400);
            assert_eq!(
                err.message,
                "error gathering device information while adding custom device \"/dev/nope\": no such file or directory"
            );
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        let h = host(json!({"Devices": [{"PathOnHost": file.path()}]}), false);
        let message = validate(&h).unwrap_err().message;
        assert!(message.ends_with("\": not a device node"), "{message}");
    }

    #[test]
    fn a_device_gives_its_node_and_an_allow_rule_with_its_permissions() {
        let h = host(
            json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}]}),
            false,
        );
        validate(&h).unwrap();
        let made = nodes(&h).unwrap();
        assert_eq!(made.len(), 1);
        let n = &made[0];
        assert_eq!(
            (n.path.as_str(), n.kind, n.major, n.minor),
            ("/dev/mynull", 'c', 1, 3)
        );
        assert_eq!(n.mode, 0o666);
        let rules = cgroup_rules(&h).unwrap();
        assert_eq!(rules[..rules.len() - 1], docker_default_rules()[..]);
        assert_eq!(
            rules.last(),
            Some(&DeviceRule::allow_device('c', 1, 3, "rw"))
        );
        // The CLI's defaults: same path inside, all permissions.
        let h = host(json!({"Devices": [{"PathOnHost": "/dev/zero"}]}), false);
        assert_eq!(nodes_of(&h), ["/dev/zero"]);
        assert_eq!(
            cgroup_rules(&h).unwrap().last(),
            Some(&DeviceRule::allow_device('c', 1, 5, "rwm"))
        );
    }

    fn nodes_of(h: &HostConfig) -> Vec<String> {
        nodes(h).unwrap().into_iter().map(|n| n.path).collect()
    }

    #[test]
    fn a_directory_stands_for_every_device_below_it() {
        if !is_root() {
            eprintln!("skipping: mknod needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let mknod = |path: &Path, kind, minor| {
            nix::sys::stat::mknod(
                path,
                kind,
                nix::sys::stat::Mode::from_bits_truncate(0o640),
                nix::sys::stat::makedev(1, minor),
            )
            .unwrap();
        };
        mknod(&dir.path().join("a"), nix::sys::stat::SFlag::S_IFCHR, 3);
        mknod(&sub.join("b"), nix::sys::stat::SFlag::S_IFCHR, 5);
        std::fs::write(dir.path().join("plain"), "x").unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("link")).unwrap();
        let h = host(
            json!({"Devices": [{"PathOnHost": dir.path(), "PathInContainer": "/dev/mine", "CgroupPermissions": "r"}]}),
            false,
        );
        let made = nodes(&h).unwrap();
        let paths: Vec<&str> = made.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["/dev/mine/a", "/dev/mine/sub/b"]);
        assert_eq!(made[0].mode, 0o640);
        let rules = cgroup_rules(&h).unwrap();
        assert_eq!(
            rules[rules.len() - 2..],
            [
                DeviceRule::allow_device('c', 1, 3, "r"),
                DeviceRule::allow_device('c', 1, 5, "r")
            ]
        );
        // A symlink to a device is resolved; an empty directory is not a device.
        let link = host(
            json!({"Devices": [{"PathOnHost": dir.path().join("link"), "PathInContainer": "/dev/z"}]}),
            false,
        );
        assert_eq!(nodes(&link).unwrap()[0].minor, 5);
        let empty = tempfile::tempdir().unwrap();
        let h = host(json!({"Devices": [{"PathOnHost": empty.path()}]}), false);
        assert!(validate(&h)
            .unwrap_err()
            .message
            .ends_with("not a device node"));
    }

    #[test]
    fn device_cgroup_rules_follow_the_defaults_and_bad_ones_are_400s() {
        let h = host(json!({"DeviceCgroupRules": ["c 1:3 mr", "b 8:* r"]}), false);
        let rules = cgroup_rules(&h).unwrap();
        assert_eq!(rules.len(), docker_default_rules().len() + 2);
        assert_eq!(rules[rules.len() - 1].to_string(), "b 8:* r");
        for bad in [json!(["c 1:3"]), json!(["x 1:3 r"]), json!("c 1:3 r")] {
            let h = host(json!({ "DeviceCgroupRules": bad }), false);
            let err = validate(&h).unwrap_err();
            assert_eq!(err.status(), 400, "{}", err.message);
        }
        let h = host(json!({"DeviceCgroupRules": ["c 1:3"]}), false);
        assert_eq!(
            validate(&h).unwrap_err().message,
            "invalid device cgroup rule format: 'c 1:3'"
        );
        assert_eq!(
            cgroup_rules(&host(json!({"DeviceCgroupRules": null}), false)).unwrap(),
            docker_default_rules()
        );
    }

    #[test]
    fn bad_permissions_and_relative_container_paths_are_400s() {
        for (perms, path) in [("rx", "/dev/n"), ("rr", "/dev/n"), ("rwm", "dev/n")] {
            let h = host(
                json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": path, "CgroupPermissions": perms}]}),
                false,
            );
            assert_eq!(validate(&h).unwrap_err().status(), 400, "{perms} {path}");
        }
    }

    #[test]
    fn privileged_allows_everything_and_copies_the_hosts_dev() {
        let h = host(
            json!({"DeviceCgroupRules": ["not checked"], "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/null2", "CgroupPermissions": "r"}]}),
            true,
        );
        validate(&h).unwrap();
        assert_eq!(cgroup_rules(&h).unwrap(), [DeviceRule::allow_all()]);
        let paths = nodes_of(&h);
        assert!(paths.contains(&"/dev/null2".to_string()), "{paths:?}");
        assert!(paths.contains(&"/dev/kmsg".to_string()), "{paths:?}");
        for left_out in STANDARD_PATHS.iter().chain(&["/dev/console"]) {
            assert!(
                !paths.iter().any(|p| p == left_out),
                "{left_out} in {paths:?}"
            );
        }
        assert!(
            !paths.iter().any(|p| p.starts_with("/dev/pts/")),
            "{paths:?}"
        );
    }

    #[test]
    fn nothing_asked_means_the_defaults_and_no_nodes() {
        let h = host(json!({}), false);
        validate(&h).unwrap();
        assert_eq!(cgroup_rules(&h).unwrap(), docker_default_rules());
        assert!(nodes(&h).unwrap().is_empty());
    }
}
