//! Container endpoints: create body, inspect, list, wait.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// `Config` of the create body and of inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    #[serde(default, deserialize_with = "nullable_vec")]
    pub env: Vec<String>,
    #[serde(default, deserialize_with = "crate::strslice::deserialize")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    /// Paths that get an anonymous volume (`-v /path`), merged with the
    /// image's `Volumes` at create; a path a bind or mount covers is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    #[serde(default, deserialize_with = "crate::strslice::deserialize")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_disabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable_map")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Fields Berth does not act on yet, kept so inspect shows them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Config.Healthcheck`: the test (`["NONE"]`, `["CMD", ...]` or
/// `["CMD-SHELL", "..."]`) and its timing, durations in nanoseconds (0:
/// inherited, then Docker's default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "null_as_zero")]
    pub interval: i64,
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "null_as_zero")]
    pub timeout: i64,
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "null_as_zero")]
    pub start_period: i64,
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "null_as_zero")]
    pub start_interval: i64,
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "null_as_zero")]
    pub retries: i64,
}

/// `null` (docker-py's unset timing) as 0.
fn null_as_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or_default())
}

/// `State.Health`: `starting`, `healthy` or `unhealthy`, failed probes in a
/// row, and the last probes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthLog>,
}

/// One probe of `State.Health.Log`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable_map")]
    pub config: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            kind: "json-file".to_string(),
            config: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `-v`: `[src:]dst[:mode]`, `src` a host path (bind) or a volume
    /// name; mode words `ro`/`rw`, `z`/`Z`, `nocopy`, a propagation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binds: Option<Vec<String>>,
    pub network_mode: String,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub log_config: LogConfig,
    /// Every capability, no masked or read-only paths, `/sys` writable, the
    /// host's devices.
    pub privileged: bool,
    /// `--read-only`: the root filesystem is mounted read-only.
    pub readonly_rootfs: bool,
    /// Capabilities added to Docker's defaults (`NET_ADMIN`, `CAP_NET_ADMIN`,
    /// `ALL`; any case).
    #[serde(deserialize_with = "crate::strslice::deserialize")]
    pub cap_add: Option<Vec<String>>,
    /// Capabilities dropped from Docker's defaults (applied before
    /// `CapAdd`; `ALL` drops every one).
    #[serde(deserialize_with = "crate::strslice::deserialize")]
    pub cap_drop: Option<Vec<String>>,
    /// `no-new-privileges[:true|false]`, `seccomp=unconfined|<profile JSON>`,
    /// `apparmor=...`, `label=...`.
    pub security_opt: Option<Vec<String>>,
    /// tmpfs mounts: path in the container to mount options (`size=64m`).
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// Resource limits (`--ulimit nofile=1024:2048`).
    pub ulimits: Option<Vec<Ulimit>>,
    /// Extra supplementary groups: names from the container's `/etc/group`,
    /// or numeric gids.
    pub group_add: Option<Vec<String>>,
    /// The container's OOM score adjustment, -1000 to 1000.
    pub oom_score_adj: i64,
    /// Paths hidden in the container; Docker's list when unset (the daemon
    /// fills it in at create), none when privileged.
    pub masked_paths: Option<Vec<String>>,
    /// Paths read-only in the container; Docker's list when unset (the
    /// daemon fills it in at create), none when privileged.
    pub readonly_paths: Option<Vec<String>>,
    /// `--mount`: bind, volume and tmpfs mounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    /// `--volumes-from CONTAINER[:ro|:rw]`: the mounts of other containers.
    pub volumes_from: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `HostConfig.Mounts` (`--mount`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// A host path (bind), a volume name (volume; empty: a new anonymous
    /// one), nothing (tmpfs).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Absolute path in the container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    /// `rprivate` (default), `private`, `rshared`, `shared`, `rslave`, `slave`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub non_recursive: bool,
    /// Create a missing source directory instead of refusing the mount.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub create_mountpoint: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    /// Do not fill a new volume with the image's content at the target.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_copy: bool,
    /// Labels of a volume created by this mount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// A directory inside the volume to mount instead; refused (400) by
    /// Berth for now.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<VolumeDriver>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeDriver {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Size in bytes; 0: the kernel's default (half the memory).
    #[serde(skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
    /// Permission bits of the tmpfs root (Go's `os.FileMode`); 0: 1777.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}

/// One entry of inspect's `Mounts` (and of `GET /containers/json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host path: the bind source or the volume's data directory.
    pub source: String,
    pub destination: String,
    /// `local` (volumes only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// The options of a `Binds` entry as given (`ro`, `ro,z`, ...); `z`
    /// for a local volume given without any; empty otherwise.
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Bind propagation (`rprivate`); empty for volumes and tmpfs.
    pub propagation: String,
}

/// One resource limit of `HostConfig.Ulimits` (`--ulimit name=soft[:hard]`).
/// -1 means unlimited.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub hard: i64,
    pub soft: i64,
}

/// `POST /containers/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerPruneResponse {
    /// `null` when nothing went, as Docker sends it.
    pub containers_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// Whether `name` is a sysctl a container may set (`Sysctls`, `--sysctl`)
/// as Docker allows them: the IPC ones (the container always has an IPC
/// namespace of its own), `fs.mqueue.*` and `net.*`.
pub fn namespaced_sysctl(name: &str) -> bool {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    IPC.contains(&name) || name.starts_with("fs.mqueue.") || name.starts_with("net.")
}

/// The resource names a ulimit may have.
pub const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

impl Ulimit {
    /// Parses the CLI's `name=soft[:hard]` (`--ulimit`), as docker does:
    /// without a hard limit it equals the soft one. The error is docker's.
    pub fn parse(value: &str) -> Result<Ulimit, String> {
        let Some((name, limits)) = value.split_once('=') else {
            return Err(format!("invalid ulimit argument: {value}"));
        };
        if !ULIMIT_NAMES.contains(&name) {
            return Err(format!("invalid ulimit type: {name}"));
        }
        let number = |text: &str| {
            text.parse::<i64>()
                .map_err(|_| format!("strconv.ParseInt: parsing {text:?}: invalid syntax"))
        };
        let parts: Vec<&str> = limits.split(':').collect();
        let (soft, hard) = match parts[..] {
            [soft] => (number(soft)?, number(soft)?),
            [soft, hard] => (number(soft)?, number(hard)?),
            _ => {
                return Err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            ))
            }
        };
        let ulimit = Ulimit {
            name: name.to_string(),
            hard,
            soft,
        };
        ulimit.check()?;
        Ok(ulimit)
    }

    /// Checks the name and that the soft limit is within the hard one
    /// (-1 is unlimited); the error is docker's.
    pub fn check(&self) -> Result<(), String> {
        if !ULIMIT_NAMES.contains(&self.name.as_str()) {
            return Err(format!("invalid ulimit type: {}", self.name));
        }
        if self.hard != -1 && self.soft > self.hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                self.soft, self.hard
            ));
        }
        Ok(())
    }
}

/// `HostConfig.SecurityOpt` as the daemon reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurityOpts {
    /// `no-new-privileges`, `no-new-privileges=true` (or `:true`).
    pub no_new_privileges: bool,
    /// The value of the last `seccomp=`: `unconfined`, `builtin`, or a
    /// profile's JSON (the docker CLI sends the file's content).
    pub seccomp: Option<String>,
}

impl SecurityOpts {
    /// Parses the options as dockerd does: `no-new-privileges` alone, or
    /// `key=value` (`key:value`, deprecated) with key `no-new-privileges`
    /// (a boolean), `seccomp`, `apparmor` or `label` (the last two have no
    /// effect in Berth), and `disable` (label). The error is dockerd's.
    pub fn parse(options: &[String]) -> Result<SecurityOpts, String> {
        let mut parsed = SecurityOpts::default();
        for option in options {
            if option == "no-new-privileges" {
                parsed.no_new_privileges = true;
                continue;
            }
            if option == "disable" {
                continue;
            }
            let split = if option.contains('=') {
                option.split_once('=')
            } else {
                option.split_once(':')
            };
            let Some((key, value)) = split else {
                return Err(format!("invalid --security-opt 1: {option:?}"));
            };
            match key {
                "label" | "apparmor" => {}
                "seccomp" => parsed.seccomp = Some(value.to_string()),
                "no-new-privileges" => {
                    parsed.no_new_privileges = parse_go_bool(value)
                        .ok_or_else(|| format!("invalid --security-opt 2: {option:?}"))?;
                }
                _ => return Err(format!("invalid --security-opt 2: {option:?}")),
            }
        }
        Ok(parsed)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Body of `POST /containers/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    pub host_config: Option<HostConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateResponse {
    pub id: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<MountPoint>,
    pub config: ContainerConfig,
    pub network_settings: serde_json::Value,
    /// With `size=1`: bytes in the writable layer, and in it and the
    /// image together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub ports: Vec<serde_json::Value>,
    pub labels: Labels,
    pub state: String,
    pub status: String,
    pub host_config: serde_json::Value,
    pub network_settings: serde_json::Value,
    pub mounts: Vec<MountPoint>,
    /// With `size=1`: bytes in the writable layer, and in it and the
    /// image together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitError {
    pub message: String,
}

/// `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitResponse {
    pub status_code: i64,
    pub error: Option<WaitError>,
}

/// Docker's `Command` column: the entrypoint and arguments joined by spaces.
pub fn command_line(path: &str, args: &[String]) -> String {
    std::iter::once(path)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

fn nullable_vec<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

fn nullable_map<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<BTreeMap<String, String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Valid container names, as Docker checks them: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`,
/// with an optional leading `/`.
pub fn valid_container_name(name: &str) -> bool {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    name.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_parses_docker_cli_shape() {
        let body = r#"{"Hostname":"","User":"","Env":null,"Cmd":["echo","hi"],
            "Image":"busybox","Entrypoint":null,"Labels":{"a":"b"},
            "HostConfig":{"AutoRemove":true,"NetworkMode":"none","Memory":0},
            "NetworkingConfig":{"EndpointsConfig":{}}}"#;
        let req: CreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.config.cmd, Some(vec!["echo".into(), "hi".into()]));
        assert_eq!(req.config.image, "busybox");
        assert!(req.config.env.is_empty());
        let host = req.host_config.unwrap();
        assert!(host.auto_remove);
        assert_eq!(host.network_mode, "none");
        assert_eq!(host.extra.get("Memory"), Some(&serde_json::json!(0)));
    }

    #[test]
    fn wrong_types_are_rejected() {
        assert!(serde_json::from_str::<CreateRequest>(r#"{"Image":5}"#).is_err());
        assert!(serde_json::from_str::<CreateRequest>(r#"{"Tty":"yes"}"#).is_err());
    }

    #[test]
    fn isolation_fields_parse_and_round_trip() {
        let body = r#"{"Image":"busybox","HostConfig":{"CapAdd":"net_admin",
            "CapDrop":["ALL"],"SecurityOpt":["no-new-privileges"],
            "Tmpfs":{"/run":"size=64m"},"Ulimits":[{"Name":"nofile","Soft":1,"Hard":2}],
            "GroupAdd":["audio"],"OomScoreAdj":500,"MaskedPaths":[],"Privileged":true}}"#;
        let host = serde_json::from_str::<CreateRequest>(body)
            .unwrap()
            .host_config
            .unwrap();
        assert_eq!(host.cap_add, Some(vec!["net_admin".to_string()]));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.oom_score_adj, 500);
        assert_eq!(host.masked_paths, Some(vec![]));
        assert_eq!(host.readonly_paths, None);
        let shown = serde_json::to_value(&host).unwrap();
        assert_eq!(
            shown["Ulimits"],
            serde_json::json!([{"Name": "nofile", "Hard": 2, "Soft": 1}])
        );
        assert_eq!(shown["Tmpfs"], serde_json::json!({"/run": "size=64m"}));
        assert_eq!(shown["ReadonlyPaths"], serde_json::Value::Null);
        assert!(host.extra.is_empty(), "{:?}", host.extra);
        let wrong = r#"{"HostConfig":{"OomScoreAdj":"high"}}"#;
        assert!(serde_json::from_str::<CreateRequest>(wrong).is_err());
    }

    #[test]
    fn ulimits_parse_like_docker() {
        let ulimit = |name: &str, soft, hard| Ulimit {
            name: name.to_string(),
            hard,
            soft,
        };
        assert_eq!(
            Ulimit::parse("nofile=100:200"),
            Ok(ulimit("nofile", 100, 200))
        );
        assert_eq!(Ulimit::parse("nproc=10"), Ok(ulimit("nproc", 10, 10)));
        assert_eq!(Ulimit::parse("core=-1"), Ok(ulimit("core", -1, -1)));
        assert_eq!(Ulimit::parse("core=0:-1"), Ok(ulimit("core", 0, -1)));
        for (value, error) in [
            ("nofile", "invalid ulimit argument: nofile"),
            ("foo=1", "invalid ulimit type: foo"),
            (
                "nofile=abc",
                "strconv.ParseInt: parsing \"abc\": invalid syntax",
            ),
            (
                "nofile=300:200",
                "ulimit soft limit must be less than or equal to hard limit: 300 > 200",
            ),
            (
                "nofile=1:2:3",
                "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`",
            ),
        ] {
            assert_eq!(Ulimit::parse(value).unwrap_err(), error, "{value}");
        }
    }

    #[test]
    fn security_opts_parse_like_dockerd() {
        let opts = |items: &[&str]| {
            SecurityOpts::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(opts(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(opts(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(
            !opts(&["no-new-privileges", "no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        let parsed = opts(&[
            "seccomp=unconfined",
            "apparmor=unconfined",
            "label=disable",
            "label:type:svirt_t",
            "disable",
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#,
        ])
        .unwrap();
        assert_eq!(
            parsed.seccomp.as_deref(),
            Some(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
        );
        assert_eq!(
            opts(&["label"]).unwrap_err(),
            "invalid --security-opt 1: \"label\""
        );
        assert_eq!(
            opts(&["foo=bar"]).unwrap_err(),
            "invalid --security-opt 2: \"foo=bar\""
        );
        assert_eq!(
            opts(&["no-new-privileges:maybe"]).unwrap_err(),
            "invalid --security-opt 2: \"no-new-privileges:maybe\""
        );
    }

    #[test]
    fn container_names_follow_docker_rules() {
        assert!(valid_container_name("web"));
        assert!(valid_container_name("/web-1.a_b"));
        assert!(!valid_container_name("a"));
        assert!(!valid_container_name("-web"));
        assert!(!valid_container_name("we b"));
        assert!(!valid_container_name("web/x"));
    }
}
