//! The isolation flags of `run` and `create` as docker's CLI turns them into
//! a create request: `--cap-add`/`--cap-drop` (normalised, not validated:
//! the daemon knows the names), `--security-opt` (a `seccomp=FILE` is read
//! and its JSON sent; `systempaths=unconfined` becomes empty `MaskedPaths`
//! and `ReadonlyPaths`), `--tmpfs`, `--ulimit`, `--device` and
//! `--device-cgroup-rule`. Errors are docker's words.

use berth_api::container::{namespaced_sysctl, Ulimit};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// docker's message for a flag value its validator refuses.
fn invalid_flag(flag: &str, value: &str, message: &str) -> String {
    format!("invalid argument {value:?} for \"--{flag}\" flag: {message}")
}

/// Capability names as docker's CLI sends them: upper case with a `CAP_`
/// prefix, `ALL` as it is.
pub fn normalize_capabilities(names: &[String]) -> Option<Vec<String>> {
    let normalized: Vec<String> = names
        .iter()
        .map(|name| {
            let upper = name.trim().to_uppercase();
            if upper == "ALL" || upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            }
        })
        .collect();
    (!normalized.is_empty()).then_some(normalized)
}

/// `--security-opt` values to send, and whether `systempaths=unconfined`
/// was among them (it is the CLI's own, and not sent).
#[derive(Debug, Default, PartialEq)]
pub struct SecurityOptions {
    pub options: Vec<String>,
    pub unconfined_system_paths: bool,
}

/// Checks each `--security-opt` as docker's CLI does (every option but
/// `no-new-privileges` needs `key=value` or `key:value`), replaces
/// `seccomp=FILE` (anything but `unconfined` and `builtin`) with the file's
/// JSON, compacted, and takes out `systempaths=unconfined`.
pub fn security_options(values: &[String]) -> Result<SecurityOptions, String> {
    let mut parsed = SecurityOptions::default();
    for value in values {
        let split = match value.split_once('=') {
            None if value != "no-new-privileges" => value.split_once(':'),
            split => split,
        };
        let (key, option) = match split {
            Some((key, option)) if !option.is_empty() => (key, option),
            _ if value == "no-new-privileges" => (value.as_str(), ""),
            _ => return Err(format!("Invalid --security-opt: {value:?}")),
        };
        match (key, option) {
            ("seccomp", "unconfined" | "builtin") => parsed.options.push(value.clone()),
            ("seccomp", file) => {
                let bytes = std::fs::read(file).map_err(|e| {
                    format!(
                        "opening seccomp profile ({file}) failed: open {file}: {}",
                        super::io_error_text(&e)
                    )
                })?;
                let profile: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    format!("compacting json for seccomp profile ({file}) failed: {e}")
                })?;
                parsed.options.push(format!("seccomp={profile}"));
            }
            _ if value == "systempaths=unconfined" => parsed.unconfined_system_paths = true,
            _ => parsed.options.push(value.clone()),
        }
    }
    Ok(parsed)
}

/// `--tmpfs PATH[:OPTIONS]` as `HostConfig.Tmpfs`.
pub fn tmpfs(values: &[String]) -> Option<BTreeMap<String, String>> {
    let mounts: BTreeMap<String, String> = values
        .iter()
        .map(|value| match value.split_once(':') {
            Some((path, options)) => (path.to_string(), options.to_string()),
            None => (value.clone(), String::new()),
        })
        .collect();
    (!mounts.is_empty()).then_some(mounts)
}

/// `--sysctl name=value` as `HostConfig.Sysctls`, refusing as docker's CLI
/// does names outside the namespaced ones it allows (IPC's `kernel.msg*`,
/// `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`, and `net.*`).
pub fn sysctls(values: &[String]) -> Result<Option<BTreeMap<String, String>>, String> {
    let mut map = BTreeMap::new();
    for value in values {
        let allowed = value
            .split_once('=')
            .filter(|(name, _)| namespaced_sysctl(name));
        let Some((name, setting)) = allowed else {
            return Err(invalid_flag(
                "sysctl",
                value,
                &format!("sysctl '{value}' is not allowed"),
            ));
        };
        map.insert(name.to_string(), setting.to_string());
    }
    Ok((!map.is_empty()).then_some(map))
}

/// `--ulimit name=soft[:hard]` as `HostConfig.Ulimits`: one per name (the
/// last one given wins), in name order.
pub fn ulimits(values: &[String]) -> Result<Option<Vec<Ulimit>>, String> {
    let mut by_name = BTreeMap::new();
    for value in values {
        let ulimit = Ulimit::parse(value).map_err(|e| invalid_flag("ulimit", value, &e))?;
        by_name.insert(ulimit.name.clone(), ulimit);
    }
    Ok((!by_name.is_empty()).then(|| by_name.into_values().collect()))
}

/// Whether `mode` is a device cgroup permission set: some of `r`, `w`, `m`,
/// each at most once.
fn valid_device_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && mode
            .chars()
            .enumerate()
            .all(|(i, c)| !mode[..i].contains(c))
}

/// `path.Clean` for the absolute paths devices are given as.
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` as a `HostConfig.Devices` entry,
/// checked as docker's CLI checks it.
pub fn device(value: &str) -> Result<Value, String> {
    let refuse = |message: String| invalid_flag("device", value, &message);
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() > 3 || parts[0].is_empty() {
        return Err(refuse(format!("bad format for path: {value}")));
    }
    let (on_host, in_container, permissions) = match parts[..] {
        [host] => (host, host, "rwm"),
        [host, mode] if valid_device_mode(mode) => (host, host, mode),
        [host, container] => (host, container, "rwm"),
        [host, container, mode] => {
            if !valid_device_mode(mode) {
                return Err(refuse(format!("bad mode specified: {mode}")));
            }
            (host, container, mode)
        }
        _ => unreachable!("one to three parts"),
    };
    if !in_container.starts_with('/') {
        return Err(refuse(format!("{in_container} is not an absolute path")));
    }
    Ok(json!({
        "PathOnHost": on_host,
        "PathInContainer": clean_path(in_container),
        "CgroupPermissions": permissions,
    }))
}

/// `--device-cgroup-rule 'c 1:3 rwm'`, checked as docker's CLI checks it:
/// a type (`a`, `b`, `c`), `major:minor` (numbers or `*`), permissions.
pub fn device_cgroup_rule(value: &str) -> Result<String, String> {
    let number =
        |part: &str| part == "*" || (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    let fields: Vec<&str> = value.split(' ').collect();
    let valid = match fields[..] {
        [kind, numbers, access] => {
            matches!(kind, "a" | "b" | "c")
                && numbers
                    .split_once(':')
                    .is_some_and(|(major, minor)| number(major) && number(minor))
                && (1..=3).contains(&access.len())
                && access.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        }
        _ => false,
    };
    if valid {
        Ok(value.to_string())
    } else {
        Err(invalid_flag(
            "device-cgroup-rule",
            value,
            &format!("invalid device cgroup format '{value}'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn capabilities_are_normalised_as_docker_sends_them() {
        assert_eq!(
            normalize_capabilities(&strings(&["net_admin", "CAP_SYS_TIME", "all", "cap_kill"])),
            Some(strings(&[
                "CAP_NET_ADMIN",
                "CAP_SYS_TIME",
                "ALL",
                "CAP_KILL"
            ]))
        );
        assert_eq!(normalize_capabilities(&[]), None);
    }

    #[test]
    fn security_options_are_checked_and_seccomp_files_read() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile.json");
        std::fs::write(&profile, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").unwrap();
        let seccomp = format!("seccomp={}", profile.display());
        let parsed = security_options(&strings(&[
            "no-new-privileges",
            "no-new-privileges:false",
            "label=disable",
            "seccomp=unconfined",
            &seccomp,
            "systempaths=unconfined",
        ]))
        .unwrap();
        assert_eq!(
            parsed.options,
            strings(&[
                "no-new-privileges",
                "no-new-privileges:false",
                "label=disable",
                "seccomp=unconfined",
                r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#,
            ])
        );
        assert!(parsed.unconfined_system_paths);
        assert_eq!(
            security_options(&strings(&["bogus"])).unwrap_err(),
            "Invalid --security-opt: \"bogus\""
        );
        assert_eq!(
            security_options(&strings(&["label="])).unwrap_err(),
            "Invalid --security-opt: \"label=\""
        );
        let missing = dir.path().join("missing.json");
        assert_eq!(
            security_options(&[format!("seccomp={}", missing.display())]).unwrap_err(),
            format!(
                "opening seccomp profile ({}) failed: open {}: no such file or directory",
                missing.display(),
                missing.display()
            )
        );
        std::fs::write(&profile, "{not json").unwrap();
        assert!(security_options(&[seccomp])
            .unwrap_err()
            .starts_with("compacting json for seccomp profile"));
    }

    #[test]
    fn sysctls_are_docker_s_namespaced_ones() {
        let map = sysctls(&strings(&["net.ipv4.ip_forward=0", "kernel.shmmax=1=2"]))
            .unwrap()
            .unwrap();
        assert_eq!(map["net.ipv4.ip_forward"], "0");
        assert_eq!(map["kernel.shmmax"], "1=2");
        for bad in [
            "kernel.hostname=x",
            "vm.swappiness=1",
            "=1",
            "net.ipv4.ip_forward",
        ] {
            assert_eq!(
                sysctls(&strings(&[bad])).unwrap_err(),
                format!("invalid argument \"{bad}\" for \"--sysctl\" flag: sysctl '{bad}' is not allowed")
            );
        }
        assert_eq!(sysctls(&[]).unwrap(), None);
    }

    #[test]
    fn tmpfs_and_ulimits() {
        assert_eq!(
            tmpfs(&strings(&["/run:size=64m,mode=1777", "/x"])),
            Some(BTreeMap::from([
                ("/run".to_string(), "size=64m,mode=1777".to_string()),
                ("/x".to_string(), String::new())
            ]))
        );
        let list = ulimits(&strings(&["nproc=10:20", "nofile=100", "nofile=5:6"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(list).unwrap(),
            json!([{"Name": "nofile", "Hard": 6, "Soft": 5}, {"Name": "nproc", "Hard": 20, "Soft": 10}])
        );
        assert_eq!(
            ulimits(&strings(&["nofile=300:200"])).unwrap_err(),
            "invalid argument \"nofile=300:200\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: 300 > 200"
        );
        assert_eq!(ulimits(&[]).unwrap(), None);
    }

    #[test]
    fn devices_are_parsed_as_docker_does() {
        let mapping = |host: &str, container: &str, perms: &str| json!({"PathOnHost": host, "PathInContainer": container, "CgroupPermissions": perms});
        assert_eq!(
            device("/dev/fuse").unwrap(),
            mapping("/dev/fuse", "/dev/fuse", "rwm")
        );
        assert_eq!(
            device("/dev/fuse:r").unwrap(),
            mapping("/dev/fuse", "/dev/fuse", "r")
        );
        assert_eq!(
            device("/dev/null:/dev/n2").unwrap(),
            mapping("/dev/null", "/dev/n2", "rwm")
        );
        assert_eq!(
            device("/dev/null:/dev/x/../n2/:mw").unwrap(),
            mapping("/dev/null", "/dev/n2", "mw")
        );
        let refusal = |value: &str| device(value).unwrap_err();
        assert_eq!(
            refusal("/a:/b:rw:x"),
            "invalid argument \"/a:/b:rw:x\" for \"--device\" flag: bad format for path: /a:/b:rw:x"
        );
        assert_eq!(
            refusal("/a:/b:rwx"),
            "invalid argument \"/a:/b:rwx\" for \"--device\" flag: bad mode specified: rwx"
        );
        assert_eq!(
            refusal("/a:rr"),
            "invalid argument \"/a:rr\" for \"--device\" flag: rr is not an absolute path"
        );
        assert!(refusal(":/b").contains("bad format for path"));
    }

    #[test]
    fn device_cgroup_rules_are_checked() {
        for rule in ["c 1:3 rwm", "a *:* m", "b 8:* rw"] {
            assert_eq!(device_cgroup_rule(rule).unwrap(), rule);
        }
        for rule in ["c 1:3", "x 1:3 rwm", "c 1 rwm", "c 1:3 rwmx", "c a:3 r"] {
            assert_eq!(
                device_cgroup_rule(rule).unwrap_err(),
                format!(
                    "invalid argument {rule:?} for \"--device-cgroup-rule\" flag: invalid device cgroup format '{rule}'"
                )
            );
        }
    }
}
