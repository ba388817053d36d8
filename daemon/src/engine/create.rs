//! `POST /containers/create`: merge the image's config with the request,
//! pick the name, and write the record.

use super::container::{write_atomic, Container, Record, State, Status};
use super::{blocking, image_error, names, now_rfc3339, Engine};
use berth_api::container::{valid_container_name, ContainerConfig, CreateRequest};
use berth_api::ApiError;
use berth_image::RunConfig;
use std::sync::Arc;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Engine {
    pub async fn create(
        &self,
        name: Option<&str>,
        request: CreateRequest,
    ) -> Result<(String, Vec<String>), ApiError> {
        let mut config = request.config;
        let mut host_config = request.host_config.unwrap_or_default();
        if config.image.is_empty() {
            return Err(ApiError::invalid(
                "No image specified: config.Image is required",
            ));
        }
        let networks = self.attachments(&host_config, request.networking_config.as_ref())?;
        match host_config
            .extra
            .get("CgroupnsMode")
            .and_then(|m| m.as_str())
        {
            None | Some("" | "private" | "host") => {}
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "invalid cgroup namespace mode: {other}"
                )))
            }
        }
        let resources = super::cgroups::resources(&host_config)?;
        resources
            .validate()
            .map_err(super::cgroups::invalid_resources)?;
        super::cgroups::check_host_limits(&resources)?;
        super::security::check(&host_config)?;
        super::security::check_userns(&host_config, self.userns_remap.is_some())?;
        super::devices::validate(&host_config)?;
        super::health::check(config.healthcheck.as_ref())?;
        super::restart::check(&host_config)?;
        super::name_files::check(&host_config)?;
        super::security::seccomp_filter(&self.seccomp, &host_config).await?;
        super::security::fill_defaults(&mut host_config);
        let images = self.images.clone();
        let reference = config.image.clone();
        let image = blocking(move || images.get(&reference).map_err(image_error)).await?;
        merge_image_config(&mut config, image.config.config.as_ref());
        let (path, args) = command(&config)?;
        let planned = self.plan_mounts(&host_config, config.volumes.as_ref())?;

        let id = new_id();
        if config.hostname.is_empty() {
            config.hostname = id[..12].to_string();
        }
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                if !valid_container_name(n) {
                    return Err(ApiError::invalid(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                let n = format!("/{}", n.trim_start_matches('/'));
                self.reserve_name(&n, &id)?;
                n
            }
            None => loop {
                let n = format!("/{}", names::generate());
                if self.reserve_name(&n, &id).is_ok() {
                    break n;
                }
            },
        };
        let created = match self.create_mounts(&id, planned).await {
            Ok(created) => created,
            Err(e) => {
                self.release_name(&name, &id);
                return Err(e);
            }
        };
        let record = Record {
            id: id.clone(),
            name: name.clone(),
            created: now_rfc3339(),
            image_id: image.id.clone(),
            path,
            args,
            config,
            host_config,
            state: State {
                health: None,
                manually_stopped: false,
                status: Status::Created,
                pid: 0,
                shim_pid: 0,
                exit_code: 0,
                oom_killed: false,
                error: String::new(),
                started_at: None,
                finished_at: None,
            },
            restart_count: 0,
            networks,
            ports: Vec::new(),
            mounts: created.mounts,
        };
        let dir = self.paths.container_dir(&id);
        let record_path = self.paths.record_path(&id);
        let bytes = serde_json::to_vec_pretty(&record).expect("records serialize");
        let written = blocking(move || {
            let io = |e: std::io::Error| ApiError::system(format!("creating container: {e}"));
            for sub in ["upper", "work", "rootfs"] {
                std::fs::create_dir_all(dir.join(sub)).map_err(io)?;
            }
            write_atomic(&record_path, &bytes).map_err(io)
        })
        .await;
        if let Err(e) = written {
            self.release_name(&name, &id);
            self.undo_mounts(&id, created.volumes).await;
            let _ = std::fs::remove_dir_all(self.paths.container_dir(&id));
            return Err(e);
        }
        let container = Arc::new(Container::new(record));
        self.insert_reserved(container.clone());
        self.container_event(&container, "create", &[]);
        tracing::info!(container = %id, name = %name, "created");
        let warnings = if resources == berth_cgroups::Resources::default() {
            Vec::new()
        } else {
            self.limit_warnings(&id, &container.record().host_config)
        };
        Ok((id, warnings))
    }
}

/// 64 random hex digits, never all-numeric (Docker avoids ids that look like numbers).
fn new_id() -> String {
    loop {
        let bytes: [u8; 32] = rand::random();
        let id = hex::encode(bytes);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// Fills what the request left unset from the image, as Docker merges them.
fn merge_image_config(config: &mut ContainerConfig, image: Option<&RunConfig>) {
    // `--entrypoint ""` arrives as `[""]`: an explicit, empty entrypoint.
    if config.entrypoint.as_deref() == Some(&[String::new()][..]) {
        config.entrypoint = Some(Vec::new());
    }
    let Some(image) = image else {
        if !config.env.iter().any(|e| e.starts_with("PATH=")) {
            config.env.insert(0, DEFAULT_PATH.to_string());
        }
        return;
    };
    let mut env: Vec<String> = image.env.clone().unwrap_or_default();
    for entry in std::mem::take(&mut config.env) {
        let key = entry.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    config.env = env;
    if config.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            config.cmd = image.cmd.clone();
        }
        if config.entrypoint.is_none() {
            config.entrypoint = image.entrypoint.clone();
        }
    }
    if config.working_dir.is_empty() {
        config.working_dir = image.working_dir.clone().unwrap_or_default();
    }
    if config.user.is_empty() {
        config.user = image.user.clone().unwrap_or_default();
    }
    if let Some(labels) = &image.labels {
        for (k, v) in labels {
            config.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if config.stop_signal.is_none() {
        config.stop_signal = image.stop_signal.clone();
    }
    let image_health = image
        .extra
        .get("Healthcheck")
        .and_then(|h| serde_json::from_value(h.clone()).ok());
    config.healthcheck = super::health::merge(config.healthcheck.take(), image_health);
    if let Some(ports) = &image.exposed_ports {
        let mine = config.exposed_ports.get_or_insert_with(Default::default);
        for (k, v) in ports {
            mine.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if let Some(volumes) = &image.volumes {
        let mine = config.volumes.get_or_insert_with(Default::default);
        for (k, v) in volumes {
            mine.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// Docker's Path and Args: the entrypoint followed by the command.
fn command(config: &ContainerConfig) -> Result<(String, Vec<String>), ApiError> {
    let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
    argv.extend(config.cmd.clone().unwrap_or_default());
    if argv.is_empty() {
        return Err(ApiError::invalid("No command specified"));
    }
    let path = argv.remove(0);
    Ok((path, argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> RunConfig {
        let list = |v: Option<&[&str]>| v.map(|v| v.iter().map(|s| s.to_string()).collect());
        RunConfig {
            env: Some(vec!["PATH=/bin".into(), "A=image".into(), "B=image".into()]),
            entrypoint: list(entrypoint),
            cmd: list(cmd),
            working_dir: Some("/srv".into()),
            user: Some("app".into()),
            ..RunConfig::default()
        }
    }

    #[test]
    fn image_defaults_fill_what_the_request_leaves_unset() {
        let mut config = ContainerConfig {
            env: vec!["B=mine".into(), "C=mine".into()],
            ..Default::default()
        };
        merge_image_config(&mut config, Some(&image(None, Some(&["sh"]))));
        assert_eq!(config.env, ["PATH=/bin", "A=image", "B=mine", "C=mine"]);
        assert_eq!(config.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(config.working_dir, "/srv");
        assert_eq!(config.user, "app");
        assert_eq!(command(&config).unwrap(), ("sh".to_string(), vec![]));
    }

    #[test]
    fn request_command_replaces_image_command_but_keeps_entrypoint() {
        let mut config = ContainerConfig {
            cmd: Some(vec!["-x".into()]),
            ..Default::default()
        };
        merge_image_config(&mut config, Some(&image(Some(&["app"]), Some(&["--help"]))));
        assert_eq!(
            command(&config).unwrap(),
            ("app".to_string(), vec!["-x".to_string()])
        );
    }

    #[test]
    fn request_entrypoint_drops_image_command() {
        let mut config = ContainerConfig {
            entrypoint: Some(vec!["echo".into()]),
            ..Default::default()
        };
        merge_image_config(&mut config, Some(&image(Some(&["app"]), Some(&["--help"]))));
        assert_eq!(command(&config).unwrap(), ("echo".to_string(), vec![]));
    }

    #[test]
    fn empty_entrypoint_clears_the_images() {
        let mut config = ContainerConfig {
            entrypoint: Some(vec![String::new()]),
            cmd: Some(vec!["ls".into()]),
            ..Default::default()
        };
        merge_image_config(&mut config, Some(&image(Some(&["app"]), None)));
        assert_eq!(command(&config).unwrap(), ("ls".to_string(), vec![]));
    }

    #[test]
    fn no_command_anywhere_is_a_bad_request() {
        let mut config = ContainerConfig::default();
        merge_image_config(&mut config, Some(&image(None, None)));
        assert_eq!(
            command(&config).unwrap_err().message,
            "No command specified"
        );
        assert!(config.env.iter().any(|e| e == "PATH=/bin"));
    }

    #[test]
    fn ids_are_64_hex_and_not_numeric() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
