//! The network API: create, list, inspect, remove, prune, connect and
//! disconnect, in Docker's shapes; the networking parts of container
//! inspect; and putting the kernel in line with the records when berthd
//! starts and stops.

use super::container::{Container, Record};
use super::endpoints::{Attachment, Endpoint};
use super::networks::{IpamConfig, NetworkRecord, BRIDGE};
use super::shim_binary;
use super::Engine;
use berth_api::network::{
    ConnectRequest, DisconnectRequest, EndpointIpamConfig, EndpointResource, EndpointSettings,
    Ipam, Network, NetworkCreateRequest, NetworkCreateResponse, NetworkSettings, PortBinding,
    PortMap, PruneResponse,
};
use berth_api::{ApiError, Filters};
use berth_network::netns::Netns;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

impl Engine {
    /// Docker's view of a network; `Containers` lists running endpoints.
    fn network_view(&self, network: &NetworkRecord) -> Network {
        let mut containers = BTreeMap::new();
        for container in self.all() {
            let r = container.record();
            for a in r.networks.values().filter(|a| a.network_id == network.id) {
                if let Some(endpoint) = &a.endpoint {
                    containers.insert(
                        r.id.clone(),
                        EndpointResource {
                            name: r.name.trim_start_matches('/').to_string(),
                            endpoint_id: endpoint.id.clone(),
                            mac_address: endpoint.mac.clone(),
                            ipv4_address: endpoint.address.to_string(),
                            ipv6_address: String::new(),
                        },
                    );
                }
            }
        }
        let ipam = Ipam {
            driver: "default".to_string(),
            options: (!network.predefined()).then(BTreeMap::new),
            config: network
                .ipam
                .iter()
                .map(|i| berth_api::network::IpamConfig {
                    subnet: i.subnet.to_string(),
                    ip_range: i.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                    gateway: i.gateway.to_string(),
                    auxiliary_addresses: BTreeMap::new(),
                })
                .collect(),
        };
        Network {
            name: network.name.clone(),
            id: network.id.clone(),
            created: network.created.clone(),
            scope: "local".to_string(),
            driver: network.driver.clone(),
            enable_ipv6: false,
            ipam,
            internal: network.internal,
            attachable: network.attachable,
            ingress: false,
            config_from: Default::default(),
            config_only: false,
            containers,
            options: network.options.clone(),
            labels: network.labels.clone(),
        }
    }

    /// `GET /networks`.
    pub fn list_networks(&self, filters: &Filters) -> Result<Vec<Network>, ApiError> {
        filters.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
        for kind in filters.get("type") {
            if !matches!(kind.as_str(), "custom" | "builtin") {
                return Err(ApiError::invalid(format!(
                    "invalid filter: 'type'='{kind}'"
                )));
            }
        }
        let in_use = self.networks_in_use();
        Ok(self
            .net
            .networks
            .all()
            .into_iter()
            .filter(|n| {
                let any = |key: &str, test: &dyn Fn(&str) -> bool| {
                    let wanted = filters.get(key);
                    wanted.is_empty() || wanted.iter().any(|w| test(w))
                };
                any("name", &|w| n.name.contains(w))
                    && any("id", &|w| n.id.starts_with(w))
                    && any("driver", &|w| n.driver == w)
                    && any("scope", &|w| w == "local")
                    && any("type", &|w| (w == "builtin") == n.predefined())
                    && any("dangling", &|w| {
                        berth_api::parse_bool(w) == (!n.predefined() && !in_use.contains(&n.id))
                    })
                    && filters.labels_match(&n.labels)
            })
            .map(|n| {
                let mut view = self.network_view(&n);
                view.containers.clear();
                view
            })
            .collect())
    }

    /// `GET /networks/{id}`.
    pub fn inspect_network(&self, reference: &str) -> Result<Network, ApiError> {
        Ok(self.network_view(&self.net.networks.get(reference)?))
    }

    /// `POST /networks/create`: a user-defined bridge network and its bridge.
    pub async fn create_network(
        &self,
        request: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, ApiError> {
        let name = request.name.trim().to_string();
        if name.is_empty() {
            return Err(ApiError::invalid("network name must not be empty"));
        }
        match request.driver.as_str() {
            "" | BRIDGE => {}
            other => {
                return Err(ApiError::not_found(format!("plugin \"{other}\" not found")));
            }
        }
        if matches!(name.as_str(), "bridge" | "host" | "none") {
            return Err(ApiError::forbidden(format!(
                "{name} is a pre-defined network and cannot be created"
            )));
        }
        let ipam = match request.ipam.as_ref().map(|i| i.config.as_slice()) {
            None | Some([]) => None,
            Some([config]) => Some(ipam_config(config)?),
            Some(_) => {
                return Err(ApiError::invalid(
                    "berth supports one IPv4 subnet per network",
                ))
            }
        };
        let record = NetworkRecord {
            id: super::networks::new_network_id(),
            name,
            driver: BRIDGE.to_string(),
            created: super::now_rfc3339(),
            internal: request.internal,
            attachable: request.attachable,
            labels: request.labels,
            options: request.options,
            ipam,
            bridge: None,
        };
        let record = self.net.networks.create(record)?;
        if let Err(e) = self.ensure_network_bridge(&record).await {
            self.net.networks.remove(&record.id);
            return Err(e);
        }
        self.network_event("create", &record, &[]);
        Ok(NetworkCreateResponse {
            id: record.id,
            warning: String::new(),
        })
    }

    /// Ids of networks with a running container on them.
    fn networks_in_use(&self) -> std::collections::HashSet<String> {
        self.all()
            .iter()
            .flat_map(|c| {
                c.record()
                    .networks
                    .values()
                    .filter(|a| a.endpoint.is_some())
                    .map(|a| a.network_id.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove_network(&self, reference: &str) -> Result<(), ApiError> {
        let network = self.net.networks.get(reference)?;
        if network.predefined() {
            return Err(ApiError::forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                network.name
            )));
        }
        if self.networks_in_use().contains(&network.id) {
            return Err(ApiError::conflict(format!(
                "error while removing network: network {} id {} has active endpoints",
                network.name, network.id
            )));
        }
        self.net.networks.remove(&network.id);
        self.forget_bridge(&network).await;
        self.network_event("destroy", &network, &[]);
        Ok(())
    }

    /// `POST /networks/prune`: user-defined networks without endpoints.
    pub async fn prune_networks(&self, filters: &Filters) -> Result<PruneResponse, ApiError> {
        filters.validate(&["label", "label!", "until"])?;
        let until = super::prune_until(filters)?;
        let in_use = self.networks_in_use();
        let mut deleted = Vec::new();
        for network in self.net.networks.all() {
            if network.predefined()
                || in_use.contains(&network.id)
                || !filters.labels_match(&network.labels)
                || until.is_some_and(|until| {
                    super::logs::parse_timestamp(&network.created).is_some_and(|at| at > until)
                })
            {
                continue;
            }
            self.net.networks.remove(&network.id);
            self.forget_bridge(&network).await;
            self.network_event("destroy", &network, &[]);
            deleted.push(network.name);
        }
        self.prune_event("network", 0);
        Ok(PruneResponse {
            networks_deleted: (!deleted.is_empty()).then_some(deleted),
        })
    }

    /// `POST /networks/{id}/connect`: to a running container at once (a new
    /// interface in its namespace), to a stopped one at its next start.
    pub async fn connect_network(
        self: &Arc<Self>,
        reference: &str,
        request: ConnectRequest,
    ) -> Result<(), ApiError> {
        let network = self.net.networks.get(reference)?;
        let container = self.lookup(&request.container)?;
        let _op = container.op.lock().await;
        let record = container.snapshot();
        if record.networks.contains_key(&network.name) {
            return Err(ApiError::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                record.name.trim_start_matches('/'),
                network.name
            )));
        }
        let shares_namespace = record.host_config.network_mode.starts_with("container:")
            || record.networks.values().any(|a| {
                self.net
                    .networks
                    .find(&a.network_id)
                    .is_some_and(|n| !n.is_bridge())
            });
        if shares_namespace || !network.is_bridge() {
            return Err(ApiError::forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        let config = request.endpoint_config.unwrap_or_default();
        let ipv4_address = match config.ipam_config.as_ref().map(|c| c.ipv4_address.as_str()) {
            None | Some("") => None,
            Some(text) => Some(
                text.parse()
                    .map_err(|_| ApiError::invalid(format!("invalid IPv4 address: {text}")))?,
            ),
        };
        let mut attachment = Attachment {
            network_id: network.id.clone(),
            aliases: config.aliases.unwrap_or_default(),
            ipv4_address,
            endpoint: None,
        };
        if record.running() {
            let netns = Netns::open(format!("/proc/{}/ns/net", record.state.pid).as_ref())
                .map_err(|e| ApiError::system(format!("opening the container's network: {e}")))?;
            let index = record
                .networks
                .values()
                .filter(|a| a.endpoint.is_some())
                .count();
            let endpoint = self
                .attach_live(&netns, &network, &attachment, index, &record)
                .await?;
            attachment.endpoint = Some(endpoint);
        }
        container
            .record()
            .networks
            .insert(network.name.clone(), attachment);
        self.save(&container)?;
        if record.running() {
            self.network_event("connect", &network, &[("container", container.id.clone())]);
        }
        Ok(())
    }

    async fn attach_live(
        self: &Arc<Self>,
        netns: &Netns,
        network: &NetworkRecord,
        attachment: &Attachment,
        index: usize,
        record: &Record,
    ) -> Result<Endpoint, ApiError> {
        let endpoint = self
            .wire_endpoint(netns, network, attachment, index, record)
            .await?;
        if !network.predefined() && self.ensure_dns(netns, &record.id) {
            self.use_embedded_dns(&record.id);
        }
        Ok(endpoint)
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(
        &self,
        reference: &str,
        request: DisconnectRequest,
    ) -> Result<(), ApiError> {
        let network = self.net.networks.get(reference)?;
        let container = self.lookup(&request.container)?;
        let _op = container.op.lock().await;
        let attachment = container.record().networks.get(&network.name).cloned();
        let Some(attachment) = attachment else {
            return Err(ApiError::forbidden(format!(
                "container {} is not connected to network {}",
                container.id, network.name
            )));
        };
        if !network.is_bridge() && !request.force {
            return Err(ApiError::forbidden(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if let Some(endpoint) = &attachment.endpoint {
            self.unwire_endpoint(&attachment.network_id, endpoint).await;
            self.network_event(
                "disconnect",
                &network,
                &[("container", container.id.clone())],
            );
        }
        container.record().networks.remove(&network.name);
        self.save(&container)?;
        Ok(())
    }

    /// Container inspect's `NetworkSettings`.
    pub(super) fn network_settings(&self, r: &Record) -> NetworkSettings {
        let running = r.running();
        let mut settings = NetworkSettings {
            ports: Some(if running { port_map(r) } else { PortMap::new() }),
            sandbox_key: if running {
                format!("/proc/{}/ns/net", r.state.pid)
            } else {
                String::new()
            },
            networks: self.endpoint_settings(r),
            ..NetworkSettings::default()
        };
        if let Some(bridge) = settings.networks.get("bridge").cloned() {
            settings.endpoint_id = bridge.endpoint_id;
            settings.gateway = bridge.gateway;
            settings.ip_address = bridge.ip_address;
            settings.ip_prefix_len = bridge.ip_prefix_len;
            settings.mac_address = bridge.mac_address;
        }
        settings
    }

    /// `NetworkSettings.Networks` of inspect and of the container list.
    pub(super) fn endpoint_settings(&self, r: &Record) -> BTreeMap<String, EndpointSettings> {
        r.networks
            .iter()
            .map(|(name, a)| {
                let user_defined = self
                    .net
                    .networks
                    .find(&a.network_id)
                    .is_some_and(|n| n.is_bridge() && !n.predefined());
                let mut settings = EndpointSettings {
                    ipam_config: a.ipv4_address.map(|ip| EndpointIpamConfig {
                        ipv4_address: ip.to_string(),
                        ..EndpointIpamConfig::default()
                    }),
                    aliases: (!a.aliases.is_empty()).then(|| a.aliases.clone()),
                    network_id: a.network_id.clone(),
                    ..EndpointSettings::default()
                };
                if let Some(endpoint) = &a.endpoint {
                    settings.endpoint_id = endpoint.id.clone();
                    settings.gateway = endpoint.gateway.to_string();
                    settings.ip_address = endpoint.address.addr().to_string();
                    settings.ip_prefix_len = endpoint.address.prefix_len();
                    settings.mac_address = endpoint.mac.clone();
                    if user_defined {
                        let mut names = vec![
                            r.name.trim_start_matches('/').to_string(),
                            r.id[..12].to_string(),
                        ];
                        names.extend(a.aliases.iter().cloned());
                        settings.dns_names = Some(names);
                    }
                }
                (name.clone(), settings)
            })
            .collect()
    }

    /// After a restart: addresses of running containers are in use again,
    /// their ports reserved and their DNS servers serving; containers that
    /// died meanwhile give theirs back.
    pub(super) async fn reconcile_networks(self: &Arc<Self>, containers: &[Arc<Container>]) {
        for network in self.net.networks.all() {
            if network.bridge.is_some() && !network.predefined() {
                if let Err(e) = self.ensure_network_bridge(&network).await {
                    tracing::warn!(network = %network.name, error = %e.message, "bridge");
                }
            }
        }
        for container in containers {
            let record = container.snapshot();
            let alive =
                record.running() && berth_runtime::shim_alive(record.state.shim_pid, &record.id);
            if !alive {
                continue;
            }
            for a in record.networks.values() {
                if let Some(endpoint) = &a.endpoint {
                    self.net
                        .networks
                        .mark_used(&a.network_id, endpoint.address.addr());
                    if let Some(network) = self.net.networks.find(&a.network_id) {
                        let _ = self.ensure_network_bridge(&network).await;
                    }
                }
            }
            self.readopt_ports_and_dns(container, &record);
        }
        if let Err(e) = self.sync_firewall().await {
            tracing::warn!(error = %e.message, "restoring the firewall");
        }
    }

    /// At a clean exit with nothing running: the bridges, the firewall table
    /// and the monitor binary's mount go; with containers running they stay,
    /// for the next berthd.
    pub async fn shutdown(&self) {
        if self.all().iter().any(|c| c.record().running()) {
            return;
        }
        shim_binary::release(&self.paths.shim);
        for network in self.net.networks.all() {
            self.forget_bridge(&network).await;
        }
        if let Err(e) = self.net_firewall_remove().await {
            tracing::warn!(error = %e.message, "removing the firewall table");
        }
    }
}

/// `NetworkSettings.Ports` of a running container: every exposed port,
/// `null` unless published, and the published ones with their bindings.
fn port_map(r: &Record) -> PortMap {
    let mut map: PortMap = r
        .config
        .exposed_ports
        .iter()
        .flatten()
        .map(|(key, _)| (normalize_port_key(key), None))
        .collect();
    for p in &r.ports {
        map.entry(format!("{}/{}", p.container_port, p.proto))
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: p.host_ip.to_string(),
                host_port: p.host_port.to_string(),
            });
    }
    map
}

/// A port key with its protocol: `80` as `80/tcp`.
pub(super) fn normalize_port_key(key: &str) -> String {
    if key.contains('/') {
        key.to_string()
    } else {
        format!("{key}/tcp")
    }
}

/// The container list's `Ports`: one row per binding, or per unpublished
/// exposed port.
pub(super) fn summary_ports(r: &Record) -> Vec<berth_api::network::Port> {
    if !r.running() {
        return Vec::new();
    }
    let mut rows = Vec::new();
    for (key, bindings) in port_map(r) {
        let (port, proto) = key.split_once('/').unwrap_or((&key, "tcp"));
        let private_port = port.parse().unwrap_or(0);
        match bindings {
            None => rows.push(berth_api::network::Port {
                ip: String::new(),
                private_port,
                public_port: 0,
                kind: proto.to_string(),
            }),
            Some(bindings) => rows.extend(bindings.into_iter().map(|b| berth_api::network::Port {
                ip: b.host_ip,
                private_port,
                public_port: b.host_port.parse().unwrap_or(0),
                kind: proto.to_string(),
            })),
        }
    }
    rows
}

/// A create request's IPAM config, checked as Docker checks it.
fn ipam_config(config: &berth_api::network::IpamConfig) -> Result<IpamConfig, ApiError> {
    let cidr = |text: &str| -> Result<Ipv4Net, ApiError> {
        text.parse::<Ipv4Net>()
            .map_err(|_| ApiError::invalid(format!("invalid CIDR address: {text}")))
    };
    if config.subnet.is_empty() {
        return Err(ApiError::invalid(
            "berth needs a Subnet in each IPAM config",
        ));
    }
    let subnet = cidr(&config.subnet)?.trunc();
    let ip_range = match config.ip_range.as_str() {
        "" => None,
        text => {
            let range = cidr(text)?.trunc();
            if !subnet.contains(&range) {
                return Err(ApiError::invalid(format!(
                    "Invalid pool request: ip-range {range} is not within subnet {subnet}"
                )));
            }
            Some(range)
        }
    };
    let gateway = match config.gateway.as_str() {
        "" => super::networks::first_host(subnet),
        text => {
            let gateway: Ipv4Addr = text
                .parse()
                .map_err(|_| ApiError::invalid(format!("invalid gateway address: {text}")))?;
            if !subnet.contains(&gateway) {
                return Err(ApiError::forbidden(format!(
                    "no matching subnet for gateway {gateway}"
                )));
            }
            gateway
        }
    };
    Ok(IpamConfig {
        subnet,
        gateway,
        ip_range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipam_configs_are_checked_like_dockers() {
        let config = |subnet: &str, range: &str, gateway: &str| berth_api::network::IpamConfig {
            subnet: subnet.into(),
            ip_range: range.into(),
            gateway: gateway.into(),
            ..Default::default()
        };
        let ok = ipam_config(&config("10.9.0.0/16", "10.9.1.0/24", "")).unwrap();
        assert_eq!(ok.gateway, Ipv4Addr::new(10, 9, 0, 1));
        assert_eq!(ok.ip_range.unwrap().to_string(), "10.9.1.0/24");
        let e = ipam_config(&config("10.9.0.0/16", "", "10.8.0.1")).unwrap_err();
        assert_eq!(e.message, "no matching subnet for gateway 10.8.0.1");
        let e = ipam_config(&config("nope", "", "")).unwrap_err();
        assert_eq!(e.message, "invalid CIDR address: nope");
        assert!(ipam_config(&config("10.9.0.0/16", "10.10.0.0/24", "")).is_err());
    }

    #[test]
    fn port_keys_default_to_tcp() {
        assert_eq!(normalize_port_key("80"), "80/tcp");
        assert_eq!(normalize_port_key("53/udp"), "53/udp");
    }
}
