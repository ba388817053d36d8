//! The flags `run` and `create` share, and how they become a create request:
//! environment (`-e`, `--env-file`), labels, entrypoint, networks and
//! published ports, restart policy, storage (`-v`, `--mount`,
//! `--volumes-from`; see [`mounts`]), isolation (capabilities,
//! security options, read-only root, tmpfs, ulimits, groups, OOM score,
//! devices; see [`isolation`]), and the image with its command.

use super::isolation;
use super::mounts::{self, VolumeFlags};
use berth_api::container::{
    ContainerConfig, CreateRequest, HealthConfig, HostConfig, RestartPolicy,
};
use berth_api::network::{
    EndpointIpamConfig, EndpointSettings, NetworkModeKind, NetworkingConfig, PortBinding, StringMap,
};
use clap::ArgAction;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct ContainerOptions {
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass the caller's value)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image ("" clears it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Connect a container to a network (none, bridge, host, container:NAME,
    /// a network's name or id, or name=NET,alias=A,ip=IP,...)
    #[arg(long, visible_alias = "net", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(
        long = "network-alias",
        visible_alias = "net-alias",
        value_name = "ALIAS"
    )]
    pub network_aliases: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "[HOSTIP:][HOSTPORT:]PORT[/PROTO]"
    )]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "PORT[-END][/PROTO]")]
    pub expose: Vec<String>,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    pub stop_timeout: Option<i64>,
    /// Bind mount a volume (SRC:DST[:OPTS]), or create an anonymous one (DST)
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount to the container
    /// (type=bind|volume|tmpfs,source=SRC,target=DST[,readonly][,...])
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mounts: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|:rw])
    #[arg(long = "volumes-from", value_name = "CONTAINER")]
    pub volumes_from: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// User namespace to use (`host` opts out of the daemon's remapping)
    #[arg(long)]
    pub userns: Option<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "CAPABILITY")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "CAPABILITY")]
    pub cap_drop: Vec<String>,
    /// Security options (no-new-privileges, seccomp=FILE|unconfined, ...)
    #[arg(long = "security-opt", value_name = "OPTION")]
    pub security_opt: Vec<String>,
    /// Mount a tmpfs directory (PATH[:OPTIONS])
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Ulimit options (NAME=SOFT[:HARD])
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Sysctl options (NAME=VALUE)
    #[arg(long, value_name = "NAME=VALUE")]
    pub sysctl: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(
        long = "oom-score-adj",
        value_name = "INT",
        allow_negative_numbers = true
    )]
    pub oom_score_adj: Option<i64>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "STRING")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", value_name = "DURATION")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", value_name = "DURATION")]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", value_name = "DURATION")]
    pub health_start_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(
        long = "health-retries",
        value_name = "INT",
        allow_negative_numbers = true
    )]
    pub health_retries: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('c 1:3 rwm')
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Print help (`-h` is --hostname, as in docker)
    #[arg(long = "help", action = ArgAction::Help)]
    _help: Option<bool>,
    /// The image, then the command and its arguments, passed as they are
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl ContainerOptions {
    pub fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    pub fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }

    /// The create body. `attach` says whether the caller will attach to the
    /// container's output (not for `run -d`).
    /// `--health-*` and `--no-healthcheck` as docker's CLI reads them.
    fn healthcheck(&self) -> Result<Option<HealthConfig>, String> {
        let duration = |flag: &str, value: &Option<String>| -> Result<i64, String> {
            let Some(text) = value else {
                return Ok(0);
            };
            let nanos = berth_api::time::parse_go_duration(text).ok_or_else(|| {
                format!("invalid argument {text:?} for \"--{flag}\" flag: time: invalid duration {text:?}")
            })?;
            if nanos < 0 {
                return Err(format!("--{flag} cannot be negative"));
            }
            Ok(i64::try_from(nanos).unwrap_or(i64::MAX))
        };
        let config = HealthConfig {
            test: self
                .health_cmd
                .as_ref()
                .filter(|cmd| !cmd.is_empty())
                .map(|cmd| vec!["CMD-SHELL".to_string(), cmd.clone()]),
            interval: duration("health-interval", &self.health_interval)?,
            timeout: duration("health-timeout", &self.health_timeout)?,
            start_period: duration("health-start-period", &self.health_start_period)?,
            start_interval: duration("health-start-interval", &self.health_start_interval)?,
            retries: self.health_retries.unwrap_or(0),
        };
        let any = config != HealthConfig::default();
        if self.no_healthcheck {
            if any {
                return Err("--no-healthcheck conflicts with --health-* options".to_string());
            }
            return Ok(Some(HealthConfig {
                test: Some(vec!["NONE".to_string()]),
                ..HealthConfig::default()
            }));
        }
        if config.retries < 0 {
            return Err("--health-retries cannot be negative".to_string());
        }
        Ok(any.then_some(config))
    }

    pub fn create_request(&self, attach: bool) -> Result<CreateRequest, String> {
        let env = collect_env(&self.env_file, &self.env)?;
        let restart_policy = parse_restart(&self.restart)?;
        if self.rm && !matches!(restart_policy.name.as_str(), "" | "no") {
            return Err("Conflicting options: --restart and --rm".to_string());
        }
        let VolumeFlags { binds, anonymous } = mounts::volume_flags(&self.volumes)?;
        let mounts = self
            .mounts
            .iter()
            .map(|value| mounts::mount(value))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(mac) = &self.mac_address {
            validate_mac(mac)?;
        }
        let ports = self.ports()?;
        let network = self.networks()?;
        let attach_stdin = attach && self.interactive;
        let config = ContainerConfig {
            hostname: self.hostname.clone().unwrap_or_default(),
            user: self.user.clone().unwrap_or_default(),
            attach_stdin,
            attach_stdout: attach,
            attach_stderr: attach,
            tty: self.tty,
            open_stdin: self.interactive,
            stdin_once: attach_stdin,
            env,
            cmd: (!self.command().is_empty()).then(|| self.command().to_vec()),
            image: self.image().to_string(),
            volumes: (!anonymous.is_empty()).then(|| {
                anonymous
                    .into_iter()
                    .map(|path| (path, serde_json::json!({})))
                    .collect()
            }),
            working_dir: self.workdir.clone().unwrap_or_default(),
            entrypoint: self.entrypoint.clone().map(|e| vec![e]),
            labels: parse_labels(&self.labels),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            exposed_ports: (!ports.exposed.is_empty()).then_some(ports.exposed),
            healthcheck: self.healthcheck()?,
            ..ContainerConfig::default()
        };
        let security = isolation::security_options(&self.security_opt)?;
        let unconfined = security.unconfined_system_paths.then(Vec::new);
        let devices = self
            .device
            .iter()
            .map(|value| isolation::device(value))
            .collect::<Result<Vec<_>, _>>()?;
        let device_cgroup_rules = self
            .device_cgroup_rule
            .iter()
            .map(|value| isolation::device_cgroup_rule(value))
            .collect::<Result<Vec<_>, _>>()?;
        let mut host_config = HostConfig {
            binds: (!binds.is_empty()).then_some(binds),
            network_mode: network.mode,
            restart_policy,
            auto_remove: self.rm,
            privileged: self.privileged,
            readonly_rootfs: self.read_only,
            cap_add: isolation::normalize_capabilities(&self.cap_add),
            cap_drop: isolation::normalize_capabilities(&self.cap_drop),
            security_opt: (!security.options.is_empty()).then_some(security.options),
            tmpfs: isolation::tmpfs(&self.tmpfs),
            ulimits: isolation::ulimits(&self.ulimit)?,
            group_add: (!self.group_add.is_empty()).then(|| self.group_add.clone()),
            oom_score_adj: self.oom_score_adj.unwrap_or(0),
            masked_paths: unconfined.clone(),
            readonly_paths: unconfined,
            mounts: (!mounts.is_empty()).then_some(mounts),
            volumes_from: (!self.volumes_from.is_empty()).then(|| self.volumes_from.clone()),
            ..HostConfig::default()
        };
        match self.userns.as_deref() {
            None | Some("") => {}
            Some("host") => {
                host_config.extra.insert("UsernsMode".into(), json!("host"));
            }
            Some(_) => return Err("--userns: invalid USER mode".to_string()),
        }
        if !devices.is_empty() {
            host_config.extra.insert("Devices".into(), json!(devices));
        }
        for (key, values) in [
            ("Dns", &self.dns),
            ("DnsSearch", &self.dns_search),
            ("DnsOptions", &self.dns_option),
            ("ExtraHosts", &self.add_host),
        ] {
            if !values.is_empty() {
                host_config.extra.insert(key.into(), json!(values));
            }
        }
        if let Some(sysctls) = isolation::sysctls(&self.sysctl)? {
            host_config.extra.insert("Sysctls".into(), json!(sysctls));
        }
        if !device_cgroup_rules.is_empty() {
            host_config
                .extra
                .insert("DeviceCgroupRules".into(), json!(device_cgroup_rules));
        }
        host_config
            .extra
            .insert("PortBindings".into(), json!(ports.bindings));
        host_config
            .extra
            .insert("PublishAllPorts".into(), json!(self.publish_all));
        let networking_config =
            serde_json::to_value(network.config).expect("a networking config always serializes");
        Ok(CreateRequest {
            config,
            host_config: Some(host_config),
            networking_config: Some(networking_config),
        })
    }

    /// `-p` and `--expose` as docker's CLI turns them into `ExposedPorts`
    /// and `PortBindings`: every published port is also exposed.
    fn ports(&self) -> Result<Ports, String> {
        let mut ports = Ports::default();
        for spec in &self.publish {
            let spec = publish_standard_notation(spec)?;
            let pairs = berth_network::ports::parse_publish(&spec).map_err(|e| e.to_string())?;
            for (port, binding) in pairs {
                ports.exposed.insert(port.to_string(), json!({}));
                ports
                    .bindings
                    .entry(port.to_string())
                    .or_default()
                    .push(PortBinding {
                        host_ip: binding.host_ip,
                        host_port: binding.host_port,
                    });
            }
        }
        for spec in &self.expose {
            for port in parse_expose(spec)? {
                ports.exposed.entry(port).or_insert_with(|| json!({}));
            }
        }
        Ok(ports)
    }

    /// `--network` (the first one is the network mode) with `--network-alias`,
    /// `--ip`, `--ip6` and `--mac-address` applied to the first network, as
    /// docker's `parseNetworkOpts` does. Without `--network` the endpoint is
    /// asked of the `default` network.
    fn networks(&self) -> Result<Networks, String> {
        let attachments = self
            .network
            .iter()
            .map(|value| parse_attachment(value))
            .collect::<Result<Vec<_>, _>>()?;
        let mut endpoints = BTreeMap::new();
        if attachments.is_empty() {
            let mut attachment = Attachment {
                target: "default".to_string(),
                ..Attachment::default()
            };
            self.apply_to(&mut attachment)?;
            endpoints.insert(attachment.target.clone(), attachment.endpoint()?);
        }
        let (mut user_defined, mut other) = (false, false);
        for (i, mut attachment) in attachments.iter().cloned().enumerate() {
            if NetworkModeKind::parse(&attachment.target).is_user_defined() {
                user_defined = true;
            } else {
                other = true;
            }
            if i == 0 {
                self.apply_to(&mut attachment)?;
            }
            let endpoint = attachment.endpoint()?;
            if endpoints.contains_key(&attachment.target) {
                return Err(format!(
                    "network {:?} is specified multiple times",
                    attachment.target
                ));
            }
            // As docker: a lone network without options sends no endpoint.
            if i == 0 && attachments.len() == 1 && endpoint == EndpointSettings::default() {
                continue;
            }
            endpoints.insert(attachment.target, endpoint);
        }
        if user_defined && other {
            return Err("conflicting options: cannot attach both user-defined and non-user-defined network-modes".to_string());
        }
        let mode = attachments
            .first()
            .map_or("default".to_string(), |a| a.target.clone());
        Ok(Networks {
            mode,
            config: NetworkingConfig {
                endpoints_config: endpoints,
            },
        })
    }

    /// Puts `--network-alias`, `--ip`, `--ip6` and `--mac-address` on an
    /// attachment, refusing to mix them with the same setting given in
    /// `--network name=...`.
    fn apply_to(&self, attachment: &mut Attachment) -> Result<(), String> {
        let conflict = |what: &str| Err(format!("conflicting options: cannot specify both {what}"));
        if !attachment.aliases.is_empty() && !self.network_aliases.is_empty() {
            return conflict("--network-alias and per-network alias");
        }
        if !attachment.ipv4_address.is_empty() && self.ip.is_some() {
            return conflict("--ip and per-network IPv4 address");
        }
        if !attachment.ipv6_address.is_empty() && self.ip6.is_some() {
            return conflict("--ip6 and per-network IPv6 address");
        }
        if !attachment.mac_address.is_empty() && self.mac_address.is_some() {
            return conflict("--mac-address and per-network MAC address");
        }
        if !self.network_aliases.is_empty() {
            attachment.aliases = self.network_aliases.clone();
        }
        if let Some(ip) = &self.ip {
            attachment.ipv4_address = ip.clone();
        }
        if let Some(ip6) = &self.ip6 {
            attachment.ipv6_address = ip6.clone();
        }
        if let Some(mac) = &self.mac_address {
            attachment.mac_address = mac.clone();
        }
        Ok(())
    }
}

/// What `-p` and `--expose` add to a create request.
#[derive(Debug, Default)]
struct Ports {
    /// `Config.ExposedPorts`: `"80/tcp"` to `{}`.
    exposed: BTreeMap<String, Value>,
    /// `HostConfig.PortBindings`.
    bindings: BTreeMap<String, Vec<PortBinding>>,
}

/// What `--network` and its companions add to a create request.
#[derive(Debug)]
struct Networks {
    /// `HostConfig.NetworkMode`.
    mode: String,
    config: NetworkingConfig,
}

/// One `--network` value.
#[derive(Debug, Clone, Default)]
struct Attachment {
    target: String,
    aliases: Vec<String>,
    driver_opts: StringMap,
    ipv4_address: String,
    ipv6_address: String,
    link_local_ips: Vec<String>,
    mac_address: String,
}

impl Attachment {
    /// The endpoint asked for; aliases only on user-defined networks.
    fn endpoint(&self) -> Result<EndpointSettings, String> {
        if self.target.trim().is_empty() {
            return Err("no name set for network".to_string());
        }
        if !NetworkModeKind::parse(&self.target).is_user_defined() && !self.aliases.is_empty() {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".to_string(),
            );
        }
        if !self.mac_address.is_empty() {
            validate_mac(&self.mac_address)?;
        }
        let has_addresses = !self.ipv4_address.is_empty()
            || !self.ipv6_address.is_empty()
            || !self.link_local_ips.is_empty();
        Ok(EndpointSettings {
            ipam_config: has_addresses.then(|| EndpointIpamConfig {
                ipv4_address: self.ipv4_address.clone(),
                ipv6_address: self.ipv6_address.clone(),
                link_local_ips: self.link_local_ips.clone(),
            }),
            aliases: (!self.aliases.is_empty()).then(|| self.aliases.clone()),
            mac_address: self.mac_address.clone(),
            driver_opts: (!self.driver_opts.is_empty()).then(|| self.driver_opts.clone()),
            ..EndpointSettings::default()
        })
    }
}

/// A `--network` value: a plain name, or docker's advanced form
/// `name=NET,alias=A,ip=IP,ip6=IP,mac-address=MAC,link-local-ip=IP,driver-opt=K=V`
/// (which docker lowercases whole).
fn parse_attachment(value: &str) -> Result<Attachment, String> {
    if !is_advanced_network_syntax(value) {
        return Ok(Attachment {
            target: value.to_string(),
            ..Attachment::default()
        });
    }
    let mut attachment = Attachment::default();
    for field in value.split(',') {
        let lowered = field.to_lowercase();
        let (key, val) = match lowered.split_once('=') {
            Some((key, val)) if !key.is_empty() => (key.trim(), val.trim()),
            _ => return Err(format!("invalid field {field}")),
        };
        match key {
            "name" => attachment.target = val.to_string(),
            "alias" => attachment.aliases.push(val.to_string()),
            "ip" => attachment.ipv4_address = val.to_string(),
            "ip6" => attachment.ipv6_address = val.to_string(),
            "mac-address" => attachment.mac_address = val.to_string(),
            "link-local-ip" => attachment.link_local_ips.push(val.to_string()),
            "driver-opt" => match val.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    attachment.driver_opts.insert(k.to_string(), v.to_string());
                }
                _ => return Err("invalid key value pair format in driver options".to_string()),
            },
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if attachment.target.is_empty() {
        return Err("network name/id is not specified".to_string());
    }
    Ok(attachment)
}

/// Docker's test for the advanced `--network` form: some `word=word`
/// anywhere in the value.
fn is_advanced_network_syntax(value: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = value.as_bytes();
    (1..bytes.len().saturating_sub(1))
        .any(|i| bytes[i] == b'=' && word(bytes[i - 1]) && word(bytes[i + 1]))
}

/// The long `-p` form `target=80,published=8080,protocol=udp` in the short
/// notation (`8080:80/udp`); other specs as they are.
fn publish_standard_notation(spec: &str) -> Result<String, String> {
    if !spec.contains('=') {
        return Ok(spec.to_string());
    }
    let mut params: BTreeMap<&str, &str> = BTreeMap::from([("protocol", "tcp")]);
    for param in spec.split(',') {
        match param.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                params.insert(key, value);
            }
            _ => {
                return Err(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ))
            }
        }
    }
    let get = |key: &str| params.get(key).copied().unwrap_or_default();
    Ok(format!(
        "{}:{}/{}",
        get("published"),
        get("target"),
        get("protocol")
    ))
}

/// One `--expose` value: `PORT[/PROTO]` or `START-END[/PROTO]`, as the
/// `"80/tcp"` keys it exposes.
fn parse_expose(spec: &str) -> Result<Vec<String>, String> {
    if spec.contains(':') {
        return Err(format!("invalid port format for --expose: {spec}"));
    }
    let (port, proto) = match spec.split('/').collect::<Vec<_>>()[..] {
        [""] | ["", ..] => ("", "tcp"),
        [port] | [port, ""] => (port, "tcp"),
        [port, proto, ..] => (port, proto),
        [] => ("", "tcp"),
    };
    let (start, end) = parse_port_range(port)
        .map_err(|e| format!("invalid range format for --expose: {spec}, error: {e}"))?;
    Ok((start..=end).map(|n| format!("{n}/{proto}")).collect())
}

/// `PORT` or `START-END`, with Go's `nat.ParsePortRange` messages.
fn parse_port_range(ports: &str) -> Result<(u16, u16), String> {
    if ports.is_empty() {
        return Err("empty string specified for ports".to_string());
    }
    let Some((start, rest)) = ports.split_once('-') else {
        let port = parse_uint16(ports)?;
        return Ok((port, port));
    };
    let end = rest.split('-').next().unwrap_or_default();
    let (start, end) = (parse_uint16(start)?, parse_uint16(end)?);
    if end < start {
        return Err(format!("invalid range specified for port: {ports}"));
    }
    Ok((start, end))
}

/// A port number, or Go's `strconv.ParseUint(text, 10, 16)` error.
pub fn parse_uint16(text: &str) -> Result<u16, String> {
    let error = |reason: &str| {
        format!(
            "strconv.ParseUint: parsing {}: {reason}",
            crate::format::go_quote(text)
        )
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error("invalid syntax"));
    }
    text.parse().map_err(|_| error("value out of range"))
}

/// A MAC address as Go's `net.ParseMAC` takes it: 6, 8 or 20 bytes written
/// `00:00:5e:00:53:01`, `00-00-5e-00-53-01` or `0000.5e00.5301`.
fn validate_mac(mac: &str) -> Result<(), String> {
    let hex = |group: &str, len: usize| {
        group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let valid = [':', '-'].iter().any(|&separator| {
        let groups: Vec<&str> = mac.split(separator).collect();
        matches!(groups.len(), 6 | 8 | 20) && groups.iter().all(|g| hex(g, 2))
    }) || {
        let groups: Vec<&str> = mac.split('.').collect();
        matches!(groups.len(), 3 | 4 | 10) && groups.iter().all(|g| hex(g, 4))
    };
    if valid {
        Ok(())
    } else {
        Err(format!("{mac} is not a valid mac address"))
    }
}

/// The environment from `--env-file`s (in order) then `-e` values, as
/// docker's `run`, `create` and `exec` build it.
pub fn collect_env(env_files: &[PathBuf], env: &[String]) -> Result<Vec<String>, String> {
    let lookup = |key: &str| std::env::var(key).ok();
    let mut all = Vec::new();
    for path in env_files {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("open {}: {}", path.display(), super::io_error_text(&e)))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("env file {} contains invalid utf8 bytes", path.display()))?;
        all.extend(parse_env_file(&text, lookup)?);
    }
    for value in env {
        all.extend(parse_env(value, lookup)?);
    }
    Ok(all)
}

/// One `-e` value: `KEY=VALUE` as is; a bare `KEY` takes the caller's value
/// and is dropped when the caller has none.
pub fn parse_env(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    match value.split_once('=') {
        Some(("", _)) => Err(format!("invalid environment variable: {value}")),
        Some(_) => Ok(Some(value.to_string())),
        None if value.is_empty() => Err(format!("invalid environment variable: {value}")),
        None => Ok(lookup(value).map(|v| format!("{value}={v}"))),
    }
}

/// An `--env-file`, in docker's format: `KEY=VALUE` lines with the value
/// kept verbatim, `#` comments and blank lines skipped, leading whitespace
/// ignored, and bare `KEY` lines taken from the caller's environment.
pub fn parse_env_file(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut env = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line, None),
        };
        if key.is_empty() {
            return Err(format!("no variable name on line '{line}'"));
        }
        if key.contains(char::is_whitespace) {
            return Err(format!("variable '{key}' contains whitespaces"));
        }
        match value {
            Some(value) => env.push(format!("{key}={value}")),
            None => env.extend(lookup(key).map(|value| format!("{key}={value}"))),
        }
    }
    Ok(env)
}

/// `-l key=value` and `-l key` (an empty value).
pub fn parse_labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (label.clone(), String::new()),
        })
        .collect()
}

/// `--restart no|always|unless-stopped|on-failure[:N]`; the daemon judges
/// the name.
pub fn parse_restart(policy: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match policy.split_once(':') {
        Some(("", _)) => {
            return Err(
                "invalid restart policy format: no policy provided before colon".to_string(),
            )
        }
        Some((name, count)) => (name, Some(count)),
        None => (policy, None),
    };
    let maximum_retry_count = match count {
        None | Some("") => 0,
        Some(count) => count.parse().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?,
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(disable_help_flag = true)]
    struct Create {
        #[command(flatten)]
        options: ContainerOptions,
    }

    /// The create body for `berth create ARGS... busybox`, as JSON.
    fn body(args: &[&str]) -> Result<Value, String> {
        let argv = std::iter::once("create")
            .chain(args.iter().copied())
            .chain(["busybox"]);
        let request = Create::try_parse_from(argv)
            .unwrap()
            .options
            .create_request(true)?;
        Ok(serde_json::to_value(request).unwrap())
    }

    /// An endpoint as docker's CLI writes it: every field, nulls included.
    fn endpoint(changes: Value) -> Value {
        let mut endpoint = serde_json::to_value(EndpointSettings::default()).unwrap();
        for (key, value) in changes.as_object().unwrap() {
            endpoint[key] = value.clone();
        }
        endpoint
    }

    #[test]
    fn publish_fills_exposed_ports_and_port_bindings() {
        let body = body(&["-p", "127.0.0.1:8080:80/udp"]).unwrap();
        assert_eq!(body["ExposedPorts"], json!({"80/udp": {}}));
        assert_eq!(
            body["HostConfig"]["PortBindings"],
            json!({"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]})
        );
        assert_eq!(body["HostConfig"]["PublishAllPorts"], json!(false));
    }

    #[test]
    fn publish_forms_ranges_expose_and_publish_all() {
        let body = body(&[
            "-p",
            "8080:80",
            "--publish",
            "8081:80",
            "-p",
            "8000-8001:90-91",
            "-p",
            "127.0.0.1::53/udp",
            "-p",
            "[::1]:9000-9010:9000",
            "-p",
            "443",
            "-p",
            "target=7000,published=7001,protocol=sctp",
            "--expose",
            "5000-5001",
            "--expose",
            "80",
            "--expose",
            "6000/udp",
            "-P",
        ])
        .unwrap();
        assert_eq!(
            body["ExposedPorts"],
            json!({
                "443/tcp": {}, "5000/tcp": {}, "5001/tcp": {}, "53/udp": {},
                "6000/udp": {}, "7000/sctp": {}, "80/tcp": {}, "90/tcp": {},
                "9000/tcp": {}, "91/tcp": {}
            })
        );
        assert_eq!(
            body["HostConfig"]["PortBindings"],
            json!({
                "443/tcp": [{"HostIp": "", "HostPort": ""}],
                "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                "7000/sctp": [{"HostIp": "", "HostPort": "7001"}],
                "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "", "HostPort": "8081"}],
                "90/tcp": [{"HostIp": "", "HostPort": "8000"}],
                "91/tcp": [{"HostIp": "", "HostPort": "8001"}],
                "9000/tcp": [{"HostIp": "::1", "HostPort": "9000-9010"}]
            })
        );
        assert_eq!(body["HostConfig"]["PublishAllPorts"], json!(true));
    }

    #[test]
    fn bad_ports_are_refused_with_dockers_words() {
        let err = |args: &[&str]| body(args).unwrap_err();
        assert_eq!(err(&["-p", "8080:http"]), "invalid containerPort: http");
        assert_eq!(
            err(&["-p", "target=80,bogus"]),
            "invalid publish opts format (should be name=value but got 'bogus')"
        );
        assert_eq!(
            err(&["--expose", "8080:80"]),
            "invalid port format for --expose: 8080:80"
        );
        assert_eq!(
            err(&["--expose", "http"]),
            "invalid range format for --expose: http, error: strconv.ParseUint: parsing \"http\": invalid syntax"
        );
        assert_eq!(
            err(&["--expose", "90-80"]),
            "invalid range format for --expose: 90-80, error: invalid range specified for port: 90-80"
        );
    }

    #[test]
    fn without_network_flags_the_default_network_gets_an_empty_endpoint() {
        let body = body(&[]).unwrap();
        assert_eq!(body["HostConfig"]["NetworkMode"], "default");
        assert_eq!(
            body["NetworkingConfig"],
            json!({"EndpointsConfig": {"default": endpoint(json!({}))}})
        );
        assert_eq!(body["HostConfig"]["PortBindings"], json!({}));
        assert!(body.get("ExposedPorts").is_none());
        assert!(body.get("MacAddress").is_none());
    }

    #[test]
    fn a_lone_network_without_options_sends_no_endpoint() {
        for mode in ["app", "bridge", "host", "none", "container:db"] {
            let body = body(&["--network", mode]).unwrap();
            assert_eq!(body["HostConfig"]["NetworkMode"], mode);
            assert_eq!(body["NetworkingConfig"], json!({"EndpointsConfig": {}}));
        }
    }

    #[test]
    fn alias_and_ip_go_to_the_first_networks_endpoint() {
        let app = body(&[
            "--network",
            "app",
            "--network-alias",
            "web",
            "--net-alias",
            "www",
            "--ip",
            "10.1.0.9",
        ])
        .unwrap();
        assert_eq!(app["HostConfig"]["NetworkMode"], "app");
        assert_eq!(
            app["NetworkingConfig"]["EndpointsConfig"],
            json!({"app": endpoint(json!({
                "IPAMConfig": {"IPv4Address": "10.1.0.9"},
                "Aliases": ["web", "www"]
            }))})
        );
        // The daemon, not the CLI, refuses an address on the default bridge.
        let on_default = body(&["--ip", "172.17.0.9"]).unwrap();
        assert_eq!(
            on_default["NetworkingConfig"]["EndpointsConfig"]["default"]["IPAMConfig"],
            json!({"IPv4Address": "172.17.0.9"})
        );
    }

    #[test]
    fn advanced_network_syntax_and_mac_addresses() {
        let body = body(&[
            "--network",
            "name=app,alias=Web,ip=10.1.0.5,driver-opt=com.x=1",
            "--network",
            "db",
            "--mac-address",
            "92:d0:c6:0a:29:33",
        ])
        .unwrap();
        assert_eq!(body["HostConfig"]["NetworkMode"], "app");
        // Only in the endpoint: API 1.44 and later have no Config.MacAddress.
        assert!(body.get("MacAddress").is_none());
        assert_eq!(
            body["NetworkingConfig"]["EndpointsConfig"],
            json!({
                "app": endpoint(json!({
                    "IPAMConfig": {"IPv4Address": "10.1.0.5"},
                    "Aliases": ["web"],
                    "MacAddress": "92:d0:c6:0a:29:33",
                    "DriverOpts": {"com.x": "1"}
                })),
                "db": endpoint(json!({}))
            })
        );
        assert_eq!(
            body_err(&["--mac-address", "92:d0:c6"]),
            "92:d0:c6 is not a valid mac address"
        );
        assert!(validate_mac("0000.5e00.5301").is_ok());
        assert!(validate_mac("00-00-5e-00-53-01").is_ok());
    }

    fn body_err(args: &[&str]) -> String {
        body(args).unwrap_err()
    }

    #[test]
    fn network_flags_are_refused_where_docker_refuses_them() {
        let aliases_only = "network-scoped aliases are only supported for user-defined networks";
        assert_eq!(body_err(&["--network-alias", "web"]), aliases_only);
        assert_eq!(
            body_err(&["--network", "bridge", "--network-alias", "web"]),
            aliases_only
        );
        assert_eq!(
            body_err(&["--network", "app", "--network", "bridge"]),
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
        );
        assert_eq!(
            body_err(&["--network", "app", "--network", "app"]),
            "network \"app\" is specified multiple times"
        );
        assert_eq!(
            body_err(&["--network", "name=app,alias=a", "--network-alias", "b"]),
            "conflicting options: cannot specify both --network-alias and per-network alias"
        );
        assert_eq!(
            body_err(&["--network", "alias=a,ip=1"]),
            "network name/id is not specified"
        );
        assert_eq!(
            body_err(&["--network", "name=app,colour=red"]),
            "invalid field key colour"
        );
    }

    #[test]
    fn isolation_flags_fill_the_host_config() {
        let request = body(&[
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "all",
            "--privileged",
            "--read-only",
            "--security-opt",
            "no-new-privileges",
            "--tmpfs",
            "/run:size=64m",
            "--ulimit",
            "nofile=100:200",
            "--group-add",
            "audio",
            "--oom-score-adj",
            "-500",
            "--device",
            "/dev/fuse",
            "--device-cgroup-rule",
            "c 1:3 rwm",
        ])
        .unwrap();
        let host = &request["HostConfig"];
        assert_eq!(host["CapAdd"], json!(["CAP_NET_ADMIN"]));
        assert_eq!(host["CapDrop"], json!(["ALL"]));
        assert_eq!(host["Privileged"], json!(true));
        assert_eq!(host["ReadonlyRootfs"], json!(true));
        assert_eq!(host["SecurityOpt"], json!(["no-new-privileges"]));
        assert_eq!(host["Tmpfs"], json!({"/run": "size=64m"}));
        assert_eq!(
            host["Ulimits"],
            json!([{"Name": "nofile", "Hard": 200, "Soft": 100}])
        );
        assert_eq!(host["GroupAdd"], json!(["audio"]));
        assert_eq!(host["OomScoreAdj"], json!(-500));
        assert_eq!(
            host["Devices"],
            json!([{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}])
        );
        assert_eq!(host["DeviceCgroupRules"], json!(["c 1:3 rwm"]));
        assert_eq!(host["MaskedPaths"], Value::Null);

        let plain = body(&[]).unwrap();
        assert_eq!(plain["HostConfig"]["CapAdd"], Value::Null);
        assert_eq!(plain["HostConfig"]["OomScoreAdj"], json!(0));
        assert!(plain["HostConfig"].get("Devices").is_none());

        let unconfined = body(&["--security-opt", "systempaths=unconfined"]).unwrap();
        assert_eq!(unconfined["HostConfig"]["MaskedPaths"], json!([]));
        assert_eq!(unconfined["HostConfig"]["ReadonlyPaths"], json!([]));
        assert_eq!(unconfined["HostConfig"]["SecurityOpt"], Value::Null);

        assert_eq!(
            body_err(&["--security-opt", "bogus"]),
            "Invalid --security-opt: \"bogus\""
        );
        assert!(body_err(&["--ulimit", "foo=1"]).ends_with("invalid ulimit type: foo"));
        assert!(body_err(&["--device", "/a:/b:x"]).ends_with("bad mode specified: x"));
    }

    #[test]
    fn storage_flags_fill_binds_volumes_mounts_and_volumes_from() {
        let request = body(&[
            "-v",
            "/host:/in:ro",
            "-v",
            "/anon",
            "-v",
            "named:/data",
            "--volume",
            "/anon",
            "--mount",
            "type=bind,src=/etc,dst=/host-etc,readonly",
            "--mount",
            "type=tmpfs,dst=/cache,tmpfs-size=64m",
            "--volumes-from",
            "db:ro",
            "--volumes-from",
            "web",
        ])
        .unwrap();
        let host = &request["HostConfig"];
        assert_eq!(host["Binds"], json!(["/host:/in:ro", "named:/data"]));
        assert_eq!(request["Volumes"], json!({"/anon": {}}));
        assert_eq!(
            host["Mounts"],
            json!([
                {"Type": "bind", "Source": "/etc", "Target": "/host-etc", "ReadOnly": true},
                {"Type": "tmpfs", "Target": "/cache", "TmpfsOptions": {"SizeBytes": 67108864}}
            ])
        );
        assert_eq!(host["VolumesFrom"], json!(["db:ro", "web"]));

        let plain = body(&[]).unwrap();
        assert!(plain["HostConfig"].get("Binds").is_none());
        assert!(plain["HostConfig"].get("Mounts").is_none());
        assert!(plain.get("Volumes").is_none());
        assert_eq!(plain["HostConfig"]["VolumesFrom"], Value::Null);
    }

    #[test]
    fn bad_storage_flags_are_refused_with_dockers_words() {
        assert_eq!(
            body_err(&["--mount", "type=bind,src=/a"]),
            "invalid argument \"type=bind,src=/a\" for \"--mount\" flag: target is required"
        );
        assert_eq!(
            body_err(&["--mount", "type=volume,foo,dst=/x"]),
            "invalid argument \"type=volume,foo,dst=/x\" for \"--mount\" flag: invalid field 'foo' must be a key=value pair"
        );
        assert_eq!(
            body_err(&["-v", "/a:/b:ro:x"]),
            "invalid spec: /a:/b:ro:x: too many colons"
        );
    }

    fn env_of(key: &str) -> Option<String> {
        match key {
            "HOME" => Some("/root".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn env_key_alone_takes_the_callers_value_or_is_dropped() {
        assert_eq!(parse_env("A=1", env_of).unwrap(), Some("A=1".into()));
        assert_eq!(parse_env("A=", env_of).unwrap(), Some("A=".into()));
        assert_eq!(parse_env("A=b=c", env_of).unwrap(), Some("A=b=c".into()));
        assert_eq!(
            parse_env("HOME", env_of).unwrap(),
            Some("HOME=/root".into())
        );
        assert_eq!(parse_env("EMPTY", env_of).unwrap(), Some("EMPTY=".into()));
        assert_eq!(parse_env("UNSET_VAR", env_of).unwrap(), None);
        assert_eq!(
            parse_env("=x", env_of).unwrap_err(),
            "invalid environment variable: =x"
        );
    }

    #[test]
    fn env_files_follow_dockers_format() {
        let text = "\u{feff}# a comment\n\
                    A=1\n\
                    \n\
                    \x20  B=two words  \n\
                    C=\"quoted\"\n\
                    HOME\n\
                    UNSET_VAR\n\
                    D=x=y\n\
                    \t# indented comment\n";
        assert_eq!(
            parse_env_file(text, env_of).unwrap(),
            vec![
                "A=1",
                "B=two words  ",
                "C=\"quoted\"",
                "HOME=/root",
                "D=x=y"
            ]
        );
    }

    #[test]
    fn env_file_errors() {
        assert_eq!(
            parse_env_file("A B=1\n", env_of).unwrap_err(),
            "variable 'A B' contains whitespaces"
        );
        assert_eq!(
            parse_env_file("=1\n", env_of).unwrap_err(),
            "no variable name on line '=1'"
        );
        assert_eq!(
            parse_env_file("HOME  \n", env_of).unwrap_err(),
            "variable 'HOME  ' contains whitespaces"
        );
    }

    #[test]
    fn labels_and_restart_policies() {
        let labels = parse_labels(&["a=1".into(), "b".into(), "c=x=y".into()]);
        assert_eq!(labels["a"], "1");
        assert_eq!(labels["b"], "");
        assert_eq!(labels["c"], "x=y");
        let policy = parse_restart("on-failure:3").unwrap();
        assert_eq!(
            (policy.name.as_str(), policy.maximum_retry_count),
            ("on-failure", 3)
        );
        assert_eq!(parse_restart("always").unwrap().name, "always");
        assert!(parse_restart(":3").is_err());
        assert!(parse_restart("on-failure:x").is_err());
    }
}
