//! A container's isolation settings from its HostConfig (`CapAdd`,
//! `CapDrop`, `Privileged`, `SecurityOpt`, `Ulimits`, `OomScoreAdj`,
//! `GroupAdd`, `ReadonlyRootfs`, `Tmpfs`, `MaskedPaths`, `ReadonlyPaths`):
//! checked at create with Docker's messages, completed with Docker's
//! defaults, and turned into the runtime's [`SecuritySpec`] (for the init
//! and every exec) and [`FilesystemSpec`] at start. The seccomp filter is
//! compiled once per profile and capability set ([`FilterCache`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::container::{namespaced_sysctl, HostConfig, SecurityOpts};
use berth_api::ApiError;
use berth_runtime::{
    FilesystemSpec, Rlimit, SecuritySpec, TmpfsMount, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS,
};
use berth_seccomp::{FilterCache, Profile};

/// Lowest and highest `OomScoreAdj`.
const OOM_SCORE_ADJ_RANGE: std::ops::RangeInclusive<i64> = -1000..=1000;

/// Refuses settings Docker refuses, with Docker's messages (400).
pub fn check(host: &HostConfig) -> Result<(), ApiError> {
    capabilities(host, false)?;
    security_opts(host)?;
    if !OOM_SCORE_ADJ_RANGE.contains(&host.oom_score_adj) {
        return Err(ApiError::invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            host.oom_score_adj
        )));
    }
    for ulimit in host.ulimits.iter().flatten() {
        ulimit.check().map_err(ApiError::invalid)?;
    }
    tmpfs_mounts(host)?;
    sysctls(host)?;
    Ok(())
}

/// `HostConfig.Sysctls`, checked as runc checks them before a start, with
/// its messages: the IPC ones, and the network ones (`net.*`) unless the
/// container shares the host's network namespace; anything else is not
/// namespaced. Every name is dot-separated words (it becomes a path under
/// `/proc/sys`).
pub fn sysctls(host: &HostConfig) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(value) = host.extra.get("Sysctls").filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let sysctls: BTreeMap<String, String> = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid(format!("invalid Sysctls: {e}")))?;
    for name in sysctls.keys() {
        let words = name
            .split('.')
            .all(|w| !w.is_empty() && !w.contains(['/', '\0']));
        if !words || !namespaced_sysctl(name) {
            return Err(ApiError::invalid(format!(
                "sysctl {name:?} is not in a separate kernel namespace"
            )));
        }
        if name.starts_with("net.") && host.network_mode == "host" {
            return Err(ApiError::invalid(format!(
                "sysctl {name:?} not allowed in host network namespace"
            )));
        }
    }
    Ok(sysctls)
}

/// The seccomp filter of the container's processes (its init and every
/// exec, compiled for the container's own capabilities) and its
/// `seccomp()` flags: none when privileged, with `seccomp=unconfined` or an
/// empty profile (`{}`), as Docker; else the built-in default profile, or
/// the JSON profile the client sent (`seccomp=<JSON>`, which the docker CLI
/// reads from the file). A profile that does not decode or validate is a
/// 400; called at create, so the error comes before anything exists, and
/// the compiled filter is cached for the start.
pub async fn seccomp_filter(
    cache: &Arc<FilterCache>,
    host: &HostConfig,
) -> Result<Option<(Arc<[u8]>, u32)>, ApiError> {
    if host.privileged {
        return Ok(None);
    }
    let profile = match security_opts(host)?.seccomp {
        Some(value) if value == "unconfined" => return Ok(None),
        Some(value) if value != "builtin" => Some(value),
        _ => None,
    };
    let flags = match &profile {
        Some(json) => {
            let decoded = Profile::from_json(json.as_bytes()).map_err(seccomp_error)?;
            if decoded.is_unconfined() {
                return Ok(None);
            }
            decoded.filter_flags().map_err(seccomp_error)?
        }
        None => 0,
    };
    let capabilities = capabilities(host, false)?;
    let cache = cache.clone();
    let filter = super::blocking(move || {
        match &profile {
            Some(json) => cache.get_or_compile(json.as_bytes(), &capabilities),
            None => cache.get_or_compile_default(&capabilities),
        }
        .map_err(seccomp_error)
    })
    .await?;
    Ok(Some((filter, flags)))
}

fn seccomp_error(e: berth_seccomp::Error) -> ApiError {
    if e.is_bad_input() {
        ApiError::invalid(e.to_string())
    } else {
        ApiError::system(e.to_string())
    }
}

/// `HostConfig.UsernsMode`: empty (the daemon's `--userns-remap`, if on)
/// or `host` (the host's ids). With remapping, Docker's refusals for what a
/// user namespace cannot share.
pub fn check_userns(host: &HostConfig, remapped: bool) -> Result<(), ApiError> {
    let mode = userns_mode(host);
    if !matches!(mode, "" | "host") {
        return Err(ApiError::invalid(format!("invalid UsernsMode: {mode}")));
    }
    if remapped && mode != "host" {
        if host.privileged {
            return Err(ApiError::invalid(
                "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode",
            ));
        }
        if host.network_mode == "host" {
            return Err(ApiError::invalid(
                "cannot share the host's network namespace when user namespaces are enabled",
            ));
        }
    }
    Ok(())
}

/// Whether the container opted out of the daemon's remapping
/// (`--userns host`).
pub fn shares_host_userns(host: &HostConfig) -> bool {
    userns_mode(host) == "host"
}

fn userns_mode(host: &HostConfig) -> &str {
    host.extra
        .get("UsernsMode")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

/// Fills in Docker's masked and read-only paths when the client sent none
/// (an empty list, as `--security-opt systempaths=unconfined` sends, stays
/// empty), so that inspect shows them as Docker does. Privileged containers
/// have none.
pub fn fill_defaults(host: &mut HostConfig) {
    if host.privileged {
        return;
    }
    let list = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect();
    host.masked_paths
        .get_or_insert_with(|| list(&DEFAULT_MASKED_PATHS));
    host.readonly_paths
        .get_or_insert_with(|| list(&DEFAULT_READONLY_PATHS));
}

/// The privileges and limits of the container's processes; a privileged
/// exec (`docker exec --privileged`) gets every capability.
/// `seccomp` is [`seccomp_filter`]'s answer.
pub fn security_spec(
    host: &HostConfig,
    privileged_exec: bool,
    seccomp: Option<(Arc<[u8]>, u32)>,
) -> Result<SecuritySpec, ApiError> {
    let options = security_opts(host)?;
    let limit = |value: i64| u64::try_from(value).unwrap_or(u64::MAX);
    let (seccomp, seccomp_flags) = match seccomp {
        Some((filter, flags)) => (Some(filter.to_vec()), flags),
        None => (None, 0),
    };
    Ok(SecuritySpec {
        capabilities: capabilities(host, privileged_exec)?,
        no_new_privileges: options.no_new_privileges,
        seccomp,
        seccomp_flags,
        rlimits: host
            .ulimits
            .iter()
            .flatten()
            .map(|u| Rlimit {
                name: u.name.clone(),
                soft: limit(u.soft),
                hard: limit(u.hard),
            })
            .collect(),
        // Always written, as Docker does: a container never inherits the
        // daemon's own adjustment.
        oom_score_adj: Some(host.oom_score_adj.clamp(-1000, 1000) as i32),
        additional_groups: host.group_add.clone().unwrap_or_default(),
    })
}

/// What of the container's filesystem is hidden, read-only or tmpfs.
pub fn filesystem_spec(host: &HostConfig) -> Result<FilesystemSpec, ApiError> {
    let paths = |given: &Option<Vec<String>>, defaults: &[&str]| -> Vec<String> {
        if host.privileged {
            return Vec::new();
        }
        match given {
            Some(paths) => paths.clone(),
            None => defaults.iter().map(|p| p.to_string()).collect(),
        }
    };
    Ok(FilesystemSpec {
        readonly_rootfs: host.readonly_rootfs,
        writable_sysfs: host.privileged,
        masked_paths: paths(&host.masked_paths, &DEFAULT_MASKED_PATHS),
        readonly_paths: paths(&host.readonly_paths, &DEFAULT_READONLY_PATHS),
        tmpfs: tmpfs_mounts(host)?,
    })
}

/// Docker's capability set for the container (or a privileged exec).
fn capabilities(host: &HostConfig, privileged_exec: bool) -> Result<Vec<String>, ApiError> {
    let list = |names: &Option<Vec<String>>| names.clone().unwrap_or_default();
    berth_runtime::capability_set(
        &list(&host.cap_add),
        &list(&host.cap_drop),
        host.privileged || privileged_exec,
    )
    .map_err(ApiError::invalid)
}

fn security_opts(host: &HostConfig) -> Result<SecurityOpts, ApiError> {
    SecurityOpts::parse(host.security_opt.as_deref().unwrap_or_default()).map_err(ApiError::invalid)
}

/// HostConfig.Tmpfs in path order (a parent before what is under it), each
/// with Docker's default options merged in.
fn tmpfs_mounts(host: &HostConfig) -> Result<Vec<TmpfsMount>, ApiError> {
    host.tmpfs
        .iter()
        .flatten()
        .map(|(destination, options)| {
            if !destination.starts_with('/') {
                return Err(ApiError::invalid(format!(
                    "invalid mount path: '{destination}' mount path must be absolute"
                )));
            }
            Ok(TmpfsMount {
                destination: destination.clone(),
                options: berth_runtime::tmpfs_options(options).map_err(ApiError::invalid)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(value: serde_json::Value) -> HostConfig {
        serde_json::from_value(value).unwrap()
    }

    fn refusal(value: serde_json::Value) -> String {
        check(&host(value)).unwrap_err().message
    }

    #[test]
    fn bad_settings_are_refused_with_dockers_messages() {
        assert_eq!(
            refusal(json!({"CapAdd": ["foo"]})),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        assert_eq!(
            refusal(json!({"CapDrop": ["CAP_BAR"], "Privileged": true})),
            "invalid CapDrop: unknown capability: \"CAP_BAR\""
        );
        assert_eq!(
            refusal(json!({"SecurityOpt": ["bogus"]})),
            "invalid --security-opt 1: \"bogus\""
        );
        assert_eq!(
            refusal(json!({"OomScoreAdj": 1001})),
            "Invalid value 1001, range for oom score adj is [-1000, 1000]"
        );
        assert_eq!(
            refusal(json!({"OomScoreAdj": -1001})),
            "Invalid value -1001, range for oom score adj is [-1000, 1000]"
        );
        assert_eq!(
            refusal(json!({"Ulimits": [{"Name": "foo", "Soft": 1, "Hard": 1}]})),
            "invalid ulimit type: foo"
        );
        assert_eq!(
            refusal(json!({"Ulimits": [{"Name": "nofile", "Soft": 3, "Hard": 1}]})),
            "ulimit soft limit must be less than or equal to hard limit: 3 > 1"
        );
        assert_eq!(
            refusal(json!({"Tmpfs": {"run": ""}})),
            "invalid mount path: 'run' mount path must be absolute"
        );
        assert_eq!(
            refusal(json!({"Tmpfs": {"/run": "foo"}})),
            "invalid tmpfs option [\"foo\"]"
        );
        let fine = json!({"CapAdd": ["net_admin"], "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges", "seccomp=unconfined"], "OomScoreAdj": -1000,
            "Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": -1}], "Tmpfs": {"/run": "size=1m"}});
        assert!(check(&host(fine)).is_ok());
    }

    #[test]
    fn user_namespace_conflicts_are_dockers() {
        let refusal = |value, remapped| check_userns(&host(value), remapped).unwrap_err().message;
        assert_eq!(
            refusal(json!({"UsernsMode": "private"}), false),
            "invalid UsernsMode: private"
        );
        assert!(refusal(json!({"Privileged": true}), true)
            .starts_with("privileged mode is incompatible with user namespaces."));
        assert_eq!(
            refusal(json!({"NetworkMode": "host"}), true),
            "cannot share the host's network namespace when user namespaces are enabled"
        );
        for fine in [
            json!({"Privileged": true, "NetworkMode": "host", "UsernsMode": "host"}),
            json!({"UsernsMode": ""}),
        ] {
            assert!(check_userns(&host(fine.clone()), true).is_ok());
            assert!(check_userns(&host(fine), false).is_ok());
        }
        assert!(check_userns(&host(json!({"Privileged": true})), false).is_ok());
        assert!(shares_host_userns(&host(json!({"UsernsMode": "host"}))));
        assert!(!shares_host_userns(&host(json!({}))));
    }

    #[test]
    fn the_security_spec_follows_dockers_rules() {
        let spec = security_spec(&host(json!({})), false, None).unwrap();
        assert_eq!(
            spec,
            SecuritySpec {
                oom_score_adj: Some(0),
                ..SecuritySpec::default()
            }
        );
        let spec = security_spec(
            &host(json!({"CapDrop": ["all"], "CapAdd": ["kill"],
                "SecurityOpt": ["no-new-privileges:true"], "GroupAdd": ["audio", "7"],
                "OomScoreAdj": 500,
                "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": -1}]})),
            false,
            None,
        )
        .unwrap();
        assert_eq!(spec.capabilities, ["CAP_KILL"]);
        assert!(spec.no_new_privileges);
        assert_eq!(spec.additional_groups, ["audio", "7"]);
        assert_eq!(spec.oom_score_adj, Some(500));
        assert_eq!(
            spec.rlimits,
            [Rlimit {
                name: "nofile".into(),
                soft: 100,
                hard: u64::MAX
            }]
        );
        let all = berth_runtime::all_capabilities();
        let privileged = host(json!({"Privileged": true, "CapDrop": ["kill"]}));
        assert_eq!(
            security_spec(&privileged, false, None)
                .unwrap()
                .capabilities,
            all
        );
        assert_eq!(
            security_spec(&host(json!({})), true, None)
                .unwrap()
                .capabilities,
            all
        );
    }

    #[test]
    fn masked_and_readonly_paths_are_dockers_unless_given_or_privileged() {
        let mut plain = host(json!({}));
        fill_defaults(&mut plain);
        assert_eq!(plain.masked_paths.as_ref().unwrap().len(), 12);
        assert_eq!(plain.readonly_paths.as_ref().unwrap()[3], "/proc/sys");
        let spec = filesystem_spec(&plain).unwrap();
        assert_eq!(spec, FilesystemSpec::default());

        let mut unconfined = host(json!({"MaskedPaths": [], "ReadonlyPaths": []}));
        fill_defaults(&mut unconfined);
        let spec = filesystem_spec(&unconfined).unwrap();
        assert!(spec.masked_paths.is_empty() && spec.readonly_paths.is_empty());

        let mut privileged = host(json!({"Privileged": true, "ReadonlyRootfs": true,
            "Tmpfs": {"/run/lock": "", "/run": "size=64m"}}));
        fill_defaults(&mut privileged);
        assert_eq!(privileged.masked_paths, None);
        let spec = filesystem_spec(&privileged).unwrap();
        assert!(spec.masked_paths.is_empty() && spec.readonly_paths.is_empty());
        assert!(spec.writable_sysfs && spec.readonly_rootfs);
        assert_eq!(
            spec.tmpfs,
            [
                TmpfsMount {
                    destination: "/run".into(),
                    options: ["noexec", "nosuid", "nodev", "size=64m"]
                        .map(String::from)
                        .to_vec()
                },
                TmpfsMount {
                    destination: "/run/lock".into(),
                    options: ["noexec", "nosuid", "nodev"].map(String::from).to_vec()
                }
            ]
        );
    }
}
