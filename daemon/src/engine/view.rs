//! What the API shows of containers and the daemon: inspect, list rows,
//! version and info.

use super::container::{Record, Status};
use super::Engine;
use berth_api::container::{
    command_line, ContainerInspect, ContainerState, ContainerSummary, GraphDriver,
};
use berth_api::system::{Component, Info, Version};
use berth_api::time::human_duration;
use berth_api::{ApiError, Filters};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn seconds_since(rfc3339: Option<&str>) -> i64 {
    rfc3339
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0)
}

fn unix_seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// Docker's `Status` column: "Up 5 seconds", "Exited (0) 3 minutes ago", "Created".
fn status_text(record: &Record) -> String {
    match record.state.status {
        Status::Running => format!(
            "Up {}{}",
            human_duration(seconds_since(record.state.started_at.as_deref())),
            match record.state.health.as_ref().map(|h| h.status.as_str()) {
                Some(super::health::STARTING) => " (health: starting)".to_string(),
                Some(status) => format!(" ({status})"),
                None => String::new(),
            }
        ),
        Status::Paused => format!(
            "Up {} (Paused)",
            human_duration(seconds_since(record.state.started_at.as_deref()))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            record.state.exit_code,
            human_duration(seconds_since(record.state.finished_at.as_deref()))
        ),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            record.state.exit_code,
            human_duration(seconds_since(record.state.finished_at.as_deref()))
        ),
        Status::Created => "Created".to_string(),
        Status::Removing => "Removal In Progress".to_string(),
    }
}

fn network_mode(record: &Record) -> String {
    match record.host_config.network_mode.as_str() {
        "" => "default".to_string(),
        mode => mode.to_string(),
    }
}

impl Engine {
    pub fn inspect(&self, reference: &str) -> Result<ContainerInspect, ApiError> {
        let container = self.lookup(reference)?;
        let r = container.snapshot();
        let dir = self.paths.container_dir(&r.id);
        let running = r.running();
        let path_if_started = |file: &str| {
            if r.state.started_at.is_some() {
                dir.join(file).display().to_string()
            } else {
                String::new()
            }
        };
        let mut host_config = r.host_config.clone();
        if host_config.network_mode.is_empty() {
            host_config.network_mode = "default".to_string();
        }
        let mut config = r.config.clone();
        config.image = r.config.image.clone();
        Ok(ContainerInspect {
            id: r.id.clone(),
            created: r.created.clone(),
            path: r.path.clone(),
            args: r.args.clone(),
            state: ContainerState {
                status: r.state.status.as_str().to_string(),
                running,
                paused: r.paused(),
                restarting: r.state.status == Status::Restarting,
                oom_killed: r.state.oom_killed,
                dead: false,
                pid: if running { r.state.pid } else { 0 },
                exit_code: r.state.exit_code,
                error: r.state.error.clone(),
                started_at: r
                    .state
                    .started_at
                    .clone()
                    .unwrap_or_else(|| ZERO_TIME.into()),
                finished_at: r
                    .state
                    .finished_at
                    .clone()
                    .unwrap_or_else(|| ZERO_TIME.into()),
                health: r.state.health.clone(),
            },
            image: r.image_id.clone(),
            resolv_conf_path: path_if_started("resolv.conf"),
            hostname_path: path_if_started("hostname"),
            hosts_path: path_if_started("hosts"),
            log_path: self.paths.log_path(&r.id).display().to_string(),
            name: r.name.clone(),
            restart_count: r.restart_count,
            driver: "overlay2".to_string(),
            platform: "linux".to_string(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: Some(self.execs.of_container(&r.id)).filter(|ids| !ids.is_empty()),
            host_config,
            graph_driver: GraphDriver {
                name: "overlay2".to_string(),
                data: [
                    ("MergedDir", dir.join("rootfs")),
                    ("UpperDir", dir.join("upper")),
                    ("WorkDir", dir.join("work")),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.display().to_string()))
                .collect(),
            },
            mounts: r.mounts.iter().map(|m| m.to_api()).collect(),
            config,
            size_rw: None,
            size_root_fs: None,
            network_settings: serde_json::to_value(self.network_settings(&r))
                .expect("network settings serialize"),
        })
    }

    fn summary(&self, r: &Record) -> ContainerSummary {
        ContainerSummary {
            id: r.id.clone(),
            names: vec![r.name.clone()],
            image: r.config.image.clone(),
            image_id: r.image_id.clone(),
            command: command_line(&r.path, &r.args),
            created: unix_seconds(&r.created),
            ports: super::network_api::summary_ports(r)
                .iter()
                .map(|p| serde_json::to_value(p).expect("ports serialize"))
                .collect(),
            labels: r.config.labels.clone(),
            state: r.state.status.as_str().to_string(),
            status: status_text(r),
            host_config: json!({ "NetworkMode": network_mode(r) }),
            network_settings: json!({ "Networks": self.endpoint_settings(r) }),
            mounts: r.mounts.iter().map(|m| m.to_api()).collect(),
            size_rw: None,
            size_root_fs: None,
        }
    }

    /// `(SizeRw, SizeRootFs)` of containers (id, image id): the bytes in
    /// each writable layer, and with its image's layers (`size=1`, `GET
    /// /system/df`).
    pub async fn container_sizes(
        &self,
        containers: Vec<(String, String)>,
    ) -> Result<Vec<(i64, i64)>, ApiError> {
        let images = self.images.clone();
        let uppers: Vec<(PathBuf, String)> = containers
            .into_iter()
            .map(|(id, image)| (self.paths.container_dir(&id).join("upper"), image))
            .collect();
        super::blocking(move || {
            let image_sizes: HashMap<String, i64> = images
                .list()
                .map_err(super::image_error)?
                .into_iter()
                .map(|image| (image.id, image.size))
                .collect();
            Ok(uppers
                .iter()
                .map(|(upper, image)| {
                    let rw = i64::try_from(super::volumes::size_of(upper)).unwrap_or(i64::MAX);
                    (rw, rw + image_sizes.get(image).copied().unwrap_or_default())
                })
                .collect())
        })
        .await
    }

    /// Fills `SizeRw` and `SizeRootFs` of list rows.
    pub async fn with_sizes(
        &self,
        mut rows: Vec<ContainerSummary>,
    ) -> Result<Vec<ContainerSummary>, ApiError> {
        let ids = rows
            .iter()
            .map(|row| (row.id.clone(), row.image_id.clone()))
            .collect();
        for (row, (rw, root_fs)) in rows.iter_mut().zip(self.container_sizes(ids).await?) {
            row.size_rw = Some(rw);
            row.size_root_fs = Some(root_fs);
        }
        Ok(rows)
    }

    /// `GET /containers/json`.
    pub fn list(
        &self,
        all: bool,
        limit: Option<i64>,
        filters: &Filters,
    ) -> Result<Vec<ContainerSummary>, ApiError> {
        filters.validate(&[
            "id", "name", "label", "status", "ancestor", "exited", "before", "since", "volume",
            "network", "publish", "expose", "is-task", "health",
        ])?;
        let more = super::list_filters::ListFilters::parse(filters, |reference| {
            Ok(self.lookup(reference)?.snapshot().created)
        })?;
        let names: Vec<regex::Regex> = filters
            .get("name")
            .iter()
            .map(|n| {
                regex::Regex::new(n)
                    .map_err(|e| ApiError::invalid(format!("invalid filter 'name': {e}")))
            })
            .collect::<Result<_, _>>()?;
        for status in filters.get("status") {
            if !matches!(
                status.as_str(),
                "created" | "restarting" | "running" | "removing" | "paused" | "exited" | "dead"
            ) {
                return Err(ApiError::invalid(format!(
                    "invalid filter 'status={status}'"
                )));
            }
        }
        let exited: Vec<i32> = filters
            .get("exited")
            .iter()
            .map(|e| {
                e.parse()
                    .map_err(|_| ApiError::invalid(format!("invalid filter 'exited={e}'")))
            })
            .collect::<Result<_, _>>()?;
        let ancestors: Vec<String> = filters
            .get("ancestor")
            .iter()
            .filter_map(|a| self.images.get(a).ok().map(|img| img.id))
            .collect();
        let all = all || !filters.get("status").is_empty() || !exited.is_empty();
        let mut records: Vec<Record> = self.all().iter().map(|c| c.snapshot()).collect();
        records.retain(|r| {
            (all || r.running())
                && filters
                    .get("id")
                    .iter()
                    .all(|id| r.id.starts_with(id.as_str()))
                && names
                    .iter()
                    .all(|re| re.is_match(r.name.trim_start_matches('/')) || re.is_match(&r.name))
                && filters.labels_match(&r.config.labels)
                && (filters.get("status").is_empty()
                    || filters
                        .get("status")
                        .iter()
                        .any(|s| s == r.state.status.as_str()))
                && (exited.is_empty()
                    || (r.state.status == Status::Exited && exited.contains(&r.state.exit_code)))
                && (filters.get("ancestor").is_empty() || ancestors.contains(&r.image_id))
                && more.matches(r)
        });
        records.sort_by(|a, b| b.created.cmp(&a.created));
        if let Some(limit) = limit.filter(|l| *l > 0) {
            records.truncate(limit as usize);
        }
        Ok(records.iter().map(|r| self.summary(r)).collect())
    }

    /// The host's memory, which Docker reports as the limit of an unlimited container.
    pub fn info_mem_total(&self) -> u64 {
        mem_total() as u64
    }

    pub fn version(&self) -> Version {
        let version = env!("CARGO_PKG_VERSION").to_string();
        let kernel = kernel_release();
        Version {
            platform: Component {
                name: "Berth Engine".to_string(),
                version: String::new(),
            },
            components: vec![Component {
                name: "Engine".to_string(),
                version: version.clone(),
            }],
            version,
            api_version: berth_api::API_VERSION.to_string(),
            min_api_version: berth_api::MIN_API_VERSION.to_string(),
            git_commit: String::new(),
            go_version: String::new(),
            os: "linux".to_string(),
            arch: go_arch().to_string(),
            kernel_version: kernel,
            build_time: String::new(),
        }
    }

    /// What `docker info` lists under "Security Options", only what is in
    /// force: seccomp with the built-in profile when the kernel filters
    /// syscalls, and `cgroupns`, since containers get a private cgroup
    /// namespace by default on every host, and `userns` with
    /// `--userns-remap`. AppArmor and SELinux are not applied.
    fn security_options(&self) -> Vec<String> {
        let mut options = Vec::new();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if status.lines().any(|l| l.starts_with("Seccomp:")) {
            options.push("name=seccomp,profile=builtin".to_string());
        }
        if self.userns_remap.is_some() {
            options.push("name=userns".to_string());
        }
        options.push("name=cgroupns".to_string());
        options
    }

    pub async fn info(&self) -> Info {
        let records: Vec<Record> = self.all().iter().map(|c| c.snapshot()).collect();
        let running = records
            .iter()
            .filter(|r| r.running() && !r.paused())
            .count() as i64;
        let paused = records.iter().filter(|r| r.paused()).count() as i64;
        let images = self.images.list().map(|l| l.len()).unwrap_or(0) as i64;
        let cgroup_version = self
            .cgroups
            .as_ref()
            .map(|c| c.layout.version())
            .unwrap_or("");
        Info {
            id: String::new(),
            containers: records.len() as i64,
            containers_running: running,
            containers_paused: paused,
            containers_stopped: records.len() as i64 - running - paused,
            images,
            driver: "overlay2".to_string(),
            driver_status: vec![vec!["Backing Filesystem".into(), "extfs".into()]],
            logging_driver: "json-file".to_string(),
            cgroup_driver: "cgroupfs".to_string(),
            cgroup_version: cgroup_version.to_string(),
            kernel_version: kernel_release(),
            operating_system: os_name(),
            os_type: "linux".to_string(),
            architecture: std::env::consts::ARCH.to_string(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            mem_total: mem_total(),
            docker_root_dir: self.paths.data_root.display().to_string(),
            name: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            default_runtime: "berth".to_string(),
            security_options: self.security_options(),
            labels: Vec::new(),
            experimental_build: false,
            live_restore_enabled: true,
        }
    }
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".to_string())
}

fn mem_total() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_facts_are_real() {
        assert!(super::mem_total() > 0);
        assert!(!super::kernel_release().is_empty());
    }
}
