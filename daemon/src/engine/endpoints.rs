//! A container's place on its networks: which networks it is connected to
//! (decided at create), the endpoints it gets at each start (a veth into a
//! network namespace berthd prepares, an address, published ports, the
//! embedded DNS server on user-defined networks), and their removal when it
//! exits.
//!
//! The namespace is made and wired before the monitor starts: the init
//! joins it ([`NetworkNamespace::Join`]), so the container's command finds
//! `eth0` configured from its first instruction. The namespace lives as long
//! as the container's processes; when the init dies it goes, and its veth
//! pairs with it.

use super::container::{Container, Record};
use super::events::Event;
use super::networks::{NetworkRecord, HOST, NULL};
use super::Engine;
use berth_api::container::HostConfig;
use berth_api::ApiError;
use berth_network::dns;
use berth_network::firewall::{Firewall, NetworkRules, PortRule, Ruleset};
use berth_network::link;
use berth_network::netns::Netns;
use berth_network::ports::{self, Port, Reservation};
use berth_runtime::NetworkNamespace;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};

/// `/etc/hosts` of every container, before its own address.
pub const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The embedded DNS server's address inside a container.
const DNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// One network a container is connected to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub network_id: String,
    /// Network-scoped aliases (`--network-alias`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A fixed address (`--ip`).
    #[serde(default)]
    pub ipv4_address: Option<Ipv4Addr>,
    /// While the container runs.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
}

/// A container's live endpoint on one network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub address: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// The veth's host end.
    pub host_ifname: String,
}

/// A port published for the current run.
pub type PublishedPort = ports::Mapping;

/// What berthd holds for a running container's networking.
#[derive(Default)]
struct Live {
    /// Host ports kept bound so that nothing else takes them.
    reservations: Vec<Reservation>,
    /// The embedded DNS server, on user-defined networks.
    dns: Option<dns::ServerHandle>,
}

/// The network side of the engine.
pub struct NetState {
    pub networks: super::networks::Networks,
    firewall: Firewall,
    /// Networks whose bridge is known to be up.
    bridges_up: Mutex<HashSet<String>>,
    live: Mutex<HashMap<String, Live>>,
    upstreams: Vec<SocketAddr>,
    firewall_lock: tokio::sync::Mutex<()>,
}

impl NetState {
    pub fn new(networks: super::networks::Networks) -> NetState {
        let table = format!("berth_{}", networks.config.bridge.replace(['-', '.'], "_"));
        NetState {
            networks,
            firewall: Firewall::new(&table),
            bridges_up: Mutex::default(),
            live: Mutex::default(),
            upstreams: dns::host_upstreams(),
            firewall_lock: tokio::sync::Mutex::default(),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the start of a container needs from its networks.
pub struct Prepared {
    pub network: NetworkNamespace,
    /// A namespace berthd made; must stay open until the init has joined.
    pub netns: Option<Netns>,
    pub hosts: String,
    pub resolv_conf: Vec<u8>,
}

/// The network a `NetworkMode` names: `default` is the `bridge` network.
fn primary_name(host: &HostConfig) -> &str {
    match host.network_mode.as_str() {
        "" | "default" => "bridge",
        mode => mode,
    }
}

/// The attachment to the network `NetworkMode` names (by name, id or id
/// prefix): it gets `eth0`, the default route and the published ports.
fn primary_attachment(r: &Record) -> Option<(&String, &Attachment)> {
    let mode = primary_name(&r.host_config);
    r.networks
        .iter()
        .find(|(name, a)| name.as_str() == mode || a.network_id.starts_with(mode))
}

fn user_defined(network: &NetworkRecord) -> bool {
    network.is_bridge() && !network.predefined()
}

/// Requested endpoint settings of `EndpointsConfig`: (aliases, fixed address).
fn endpoint_config(value: &Value) -> Result<(Vec<String>, Option<Ipv4Addr>), ApiError> {
    let aliases = value
        .get("Aliases")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let address = match value
        .pointer("/IPAMConfig/IPv4Address")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(text) => Some(
            text.parse()
                .map_err(|_| ApiError::invalid(format!("invalid IPv4 address: {text}")))?,
        ),
    };
    Ok((aliases, address))
}

impl Engine {
    /// The networks a new container is connected to: the one its
    /// `NetworkMode` names, plus any others of `NetworkingConfig`.
    pub(super) fn attachments(
        &self,
        host: &HostConfig,
        networking: Option<&Value>,
    ) -> Result<BTreeMap<String, Attachment>, ApiError> {
        let primary = primary_name(host);
        if let Some(other) = primary.strip_prefix("container:") {
            self.lookup(other)?;
            return Ok(BTreeMap::new());
        }
        let endpoints = networking
            .and_then(|n| n.get("EndpointsConfig"))
            .and_then(Value::as_object);
        let mut wanted: Vec<(String, Value)> = vec![(primary.to_string(), Value::Null)];
        for (name, config) in endpoints.into_iter().flatten() {
            // The docker CLI names the default network `default` here too.
            let name = if name == "default" { "bridge" } else { name };
            match wanted.iter_mut().find(|(n, _)| n == name) {
                Some(entry) => entry.1 = config.clone(),
                None => wanted.push((name.to_string(), config.clone())),
            }
        }
        let mut attachments = BTreeMap::new();
        for (reference, config) in wanted {
            let network = self.net.networks.get(&reference)?;
            // The primary network may be named by id in EndpointsConfig.
            let config = if config.is_null() {
                endpoints
                    .and_then(|e| e.get(&network.id).or_else(|| e.get(&network.name)))
                    .cloned()
                    .unwrap_or(Value::Null)
            } else {
                config
            };
            let (aliases, ipv4_address) = endpoint_config(&config)?;
            if !user_defined(&network) {
                if !aliases.is_empty() {
                    return Err(ApiError::invalid(
                        "network-scoped alias is supported only for containers in user defined networks",
                    ));
                }
                if ipv4_address.is_some() {
                    return Err(ApiError::invalid(
                        "user specified IP address is supported on user defined networks only",
                    ));
                }
            }
            attachments.insert(
                network.name.clone(),
                Attachment {
                    network_id: network.id.clone(),
                    aliases,
                    ipv4_address,
                    endpoint: None,
                },
            );
        }
        Ok(attachments)
    }

    /// Prepares the network side of a start: for bridge networks a new
    /// namespace with an endpoint per network, published ports and the DNS
    /// server; the record gets the endpoints. Undone by
    /// [`Engine::release_networks`].
    pub(super) async fn prepare_networks(
        self: &Arc<Self>,
        container: &Arc<Container>,
    ) -> Result<Prepared, ApiError> {
        let record = container.snapshot();
        let host_resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
        let primary = primary_name(&record.host_config).to_string();
        if let Some(other) = primary.strip_prefix("container:") {
            let other = self.lookup(other)?.snapshot();
            if !other.running() {
                return Err(ApiError::conflict(format!(
                    "cannot join network of a non running container: {}",
                    other.id
                )));
            }
            let dir = self.paths.container_dir(&other.id);
            return Ok(Prepared {
                network: NetworkNamespace::Join(format!("/proc/{}/ns/net", other.state.pid).into()),
                netns: None,
                hosts: std::fs::read_to_string(dir.join("hosts")).unwrap_or_else(|_| HOSTS.into()),
                resolv_conf: std::fs::read(dir.join("resolv.conf")).unwrap_or(host_resolv),
            });
        }
        let networks: Vec<(String, Attachment, NetworkRecord)> = record
            .networks
            .iter()
            .map(|(name, attachment)| {
                let network = self
                    .net
                    .networks
                    .get(&attachment.network_id)
                    .map_err(|_| ApiError::not_found(format!("network {name} not found")))?;
                Ok((name.clone(), attachment.clone(), network))
            })
            .collect::<Result<_, ApiError>>()?;
        match networks.first().map(|(_, _, n)| n.driver.as_str()) {
            Some(HOST) => {
                return Ok(Prepared {
                    network: NetworkNamespace::Host,
                    netns: None,
                    hosts: std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS.into()),
                    resolv_conf: host_resolv,
                })
            }
            Some(NULL) | None => {
                return Ok(Prepared {
                    network: NetworkNamespace::New,
                    netns: None,
                    hosts: HOSTS.into(),
                    resolv_conf: host_resolv,
                })
            }
            Some(_) => {}
        }
        let netns = Netns::create()
            .map_err(|e| ApiError::system(format!("creating network namespace: {e}")))?;
        // The primary network first: it gets eth0 and the default route.
        let primary = primary_attachment(&record).map(|(name, _)| name.clone());
        let mut ordered = networks;
        ordered.sort_by_key(|(name, _, _)| Some(name) != primary.as_ref());
        let mut attached: Vec<(String, Endpoint)> = Vec::new();
        for (index, (name, attachment, network)) in ordered.iter().enumerate() {
            match self
                .wire_endpoint(&netns, network, attachment, index, &record)
                .await
            {
                Ok(endpoint) => attached.push((name.clone(), endpoint)),
                Err(e) => {
                    self.undo_endpoints(&record.networks, &attached).await;
                    return Err(e);
                }
            }
        }
        let published = match self.publish_ports(&record, &attached) {
            Ok(published) => published,
            Err(e) => {
                self.undo_endpoints(&record.networks, &attached).await;
                return Err(e);
            }
        };
        let on_user_network = ordered.iter().any(|(_, _, n)| user_defined(n));
        let dns = if on_user_network {
            match self.serve_dns(&netns, &container.id) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    self.undo_endpoints(&record.networks, &attached).await;
                    return Err(e);
                }
            }
        } else {
            None
        };
        let (reservations, ports): (Vec<_>, Vec<_>) = published.into_iter().unzip();
        let publishes = !ports.is_empty();
        {
            let mut r = container.record();
            for (name, endpoint) in &attached {
                if let Some(a) = r.networks.get_mut(name) {
                    a.endpoint = Some(endpoint.clone());
                }
            }
            r.ports = ports;
        }
        self.net
            .live()
            .insert(container.id.clone(), Live { reservations, dns });
        // The table changes only for published ports (bridges are added
        // when they come up).
        if publishes {
            if let Err(e) = self.sync_firewall().await {
                self.release_networks(container).await;
                return Err(e);
            }
        }
        for (_, _, network) in &ordered {
            self.network_event("connect", network, &[("container", container.id.clone())]);
        }
        let mut hosts = HOSTS.to_string();
        if let Some((_, endpoint)) = attached.first() {
            hosts.push_str(&format!(
                "{}\t{}\n",
                endpoint.address.addr(),
                record.config.hostname
            ));
        }
        let resolv_conf = if on_user_network {
            let host = dns::parse_resolv_conf(&String::from_utf8_lossy(&host_resolv));
            dns::container_resolv_conf(&host).into_bytes()
        } else {
            default_bridge_resolv_conf(&host_resolv)
        };
        Ok(Prepared {
            network: NetworkNamespace::Join(netns.proc_path()),
            netns: Some(netns),
            hosts,
            resolv_conf,
        })
    }

    /// Brings the network's bridge up once, then wires one endpoint.
    pub(super) async fn wire_endpoint(
        &self,
        netns: &Netns,
        network: &NetworkRecord,
        attachment: &Attachment,
        index: usize,
        record: &Record,
    ) -> Result<Endpoint, ApiError> {
        let (Some(bridge), Some(ipam)) = (&network.bridge, &network.ipam) else {
            return Err(ApiError::invalid(format!(
                "network {} cannot have endpoints",
                network.name
            )));
        };
        self.ensure_network_bridge(network).await?;
        let ip = self
            .net
            .networks
            .allocate(&network.id, attachment.ipv4_address)?;
        let mac = link::mac_for(ip);
        let address = Ipv4Net::new(ip, ipam.subnet.prefix_len()).expect("prefix from a subnet");
        let host_ifname = format!("veth{}", &super::networks::new_network_id()[..7]);
        let ifname = format!("eth{index}");
        let wired = link::attach(&link::Endpoint {
            netns,
            bridge,
            host_ifname: &host_ifname,
            container_ifname: &ifname,
            address,
            gateway: (index == 0).then_some(ipam.gateway),
            mac,
            mtu: self.net.networks.config.mtu,
        })
        .await;
        if let Err(e) = wired {
            self.net.networks.release(&network.id, ip);
            return Err(ApiError::system(format!(
                "failed to set up container networking for {}: {e}",
                record.id
            )));
        }
        Ok(Endpoint {
            id: super::networks::new_network_id(),
            address,
            gateway: ipam.gateway,
            mac: link::format_mac(mac),
            host_ifname,
        })
    }

    /// Brings a bridge network's bridge up (once per daemon run) and lets
    /// the firewall know about it.
    pub(super) async fn ensure_network_bridge(
        &self,
        network: &NetworkRecord,
    ) -> Result<(), ApiError> {
        if self
            .net
            .bridges_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&network.id)
        {
            return Ok(());
        }
        let (Some(bridge), Some(ipam)) = (&network.bridge, &network.ipam) else {
            return Ok(());
        };
        let gateway = Ipv4Net::new(ipam.gateway, ipam.subnet.prefix_len()).expect("prefix");
        link::ensure_bridge(bridge, gateway, Some(self.net.networks.config.mtu))
            .await
            .map_err(|e| ApiError::system(format!("creating bridge {bridge}: {e}")))?;
        self.net
            .bridges_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(network.id.clone());
        self.sync_firewall().await
    }

    /// Removes the bridge of a network that is gone or no longer needed.
    pub(super) async fn forget_bridge(&self, network: &NetworkRecord) {
        let Some(bridge) = &network.bridge else {
            return;
        };
        self.net
            .bridges_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&network.id);
        if let Err(e) = link::delete_link(bridge).await {
            tracing::warn!(%bridge, error = %e, "removing bridge");
        }
        if let Err(e) = self.sync_firewall().await {
            tracing::warn!(error = %e.message, "updating the firewall");
        }
    }

    /// Removes one endpoint and gives its address back.
    pub(super) async fn unwire_endpoint(&self, network_id: &str, endpoint: &Endpoint) {
        if let Err(e) = link::detach(&endpoint.host_ifname).await {
            tracing::warn!(error = %e, "removing endpoint");
        }
        self.net
            .networks
            .release(network_id, endpoint.address.addr());
    }

    async fn undo_endpoints(
        &self,
        attachments: &BTreeMap<String, Attachment>,
        done: &[(String, Endpoint)],
    ) {
        for (name, endpoint) in done {
            if let Some(a) = attachments.get(name) {
                self.unwire_endpoint(&a.network_id, endpoint).await;
            }
        }
    }

    /// Starts the embedded DNS server of a running container that has none
    /// (it was connected to its first user-defined network while running,
    /// or berthd restarted); true if it was started now.
    pub(super) fn ensure_dns(self: &Arc<Self>, netns: &Netns, id: &str) -> bool {
        if self.net.live().get(id).is_some_and(|l| l.dns.is_some()) {
            return false;
        }
        match self.serve_dns(netns, id) {
            Ok(handle) => {
                self.net.live().entry(id.to_string()).or_default().dns = Some(handle);
                true
            }
            Err(e) => {
                tracing::warn!(container = %id, error = %e.message, "no embedded DNS");
                false
            }
        }
    }

    /// Points a running container's resolv.conf at its embedded DNS server,
    /// as Docker does when it joins its first user-defined network. The file
    /// is rewritten in place: the container sees it through a bind mount.
    pub(super) fn use_embedded_dns(&self, id: &str) {
        let host = dns::host_resolv_conf();
        let path = self.paths.container_dir(id).join("resolv.conf");
        if let Err(e) = std::fs::write(&path, dns::container_resolv_conf(&host)) {
            tracing::warn!(container = %id, error = %e, "rewriting resolv.conf");
        }
    }

    /// After a restart: a running container's ports are reserved again and
    /// its DNS server serves again.
    pub(super) fn readopt_ports_and_dns(self: &Arc<Self>, container: &Container, record: &Record) {
        let mut live = Live::default();
        for port in &record.ports {
            let request = ports::Request {
                container_port: Port {
                    number: port.container_port,
                    proto: port.proto,
                },
                host_ip: (!port.host_ip.is_unspecified()).then_some(port.host_ip),
                host_ports: ports::HostPorts::Range {
                    start: port.host_port,
                    end: port.host_port,
                },
            };
            match ports::reserve(&request) {
                Ok(reservation) => live.reservations.push(reservation),
                Err(e) => {
                    tracing::warn!(container = %container.id, error = %e, "re-reserving a published port")
                }
            }
        }
        self.net.live().insert(container.id.clone(), live);
        let user_network = record.networks.values().any(|a| {
            a.endpoint.is_some()
                && self
                    .net
                    .networks
                    .find(&a.network_id)
                    .is_some_and(|n| user_defined(&n))
        });
        if user_network {
            match Netns::open(format!("/proc/{}/ns/net", record.state.pid).as_ref()) {
                Ok(netns) => {
                    self.ensure_dns(&netns, &container.id);
                }
                Err(e) => tracing::warn!(container = %container.id, error = %e, "re-serving DNS"),
            }
        }
    }

    /// Deletes this daemon's nftables table.
    pub(super) async fn net_firewall_remove(&self) -> Result<(), ApiError> {
        let firewall = self.net.firewall.clone();
        super::blocking(move || {
            firewall
                .remove()
                .map_err(|e| ApiError::system(format!("removing the firewall table: {e}")))
        })
        .await
    }

    /// Reserves the host ports of `-p`/`-P` for the primary endpoint.
    fn publish_ports(
        &self,
        record: &Record,
        attached: &[(String, Endpoint)],
    ) -> Result<Vec<(Reservation, PublishedPort)>, ApiError> {
        let Some((_, _primary)) = attached.first() else {
            return Ok(Vec::new());
        };
        let exposed: Vec<Port> = record
            .config
            .exposed_ports
            .iter()
            .flatten()
            .filter_map(|(key, _)| key.parse().ok())
            .collect();
        let bindings: BTreeMap<String, Vec<ports::Binding>> = record
            .host_config
            .extra
            .get("PortBindings")
            .filter(|v| !v.is_null())
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .map_err(|e| ApiError::invalid(format!("invalid PortBindings: {e}")))?
            .unwrap_or_default();
        let publish_all = record
            .host_config
            .extra
            .get("PublishAllPorts")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let requests = ports::plan(&exposed, &bindings, publish_all)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let mut published = Vec::new();
        for request in &requests {
            let reservation = ports::reserve(request).map_err(|e| {
                ApiError::system(format!(
                    "driver failed programming external connectivity on endpoint {} ({}): {e}",
                    record.name.trim_start_matches('/'),
                    record.id
                ))
            })?;
            let mapping = *reservation.mapping();
            published.push((reservation, mapping));
        }
        Ok(published)
    }

    /// Binds 127.0.0.11:53 inside the namespace and serves it.
    fn serve_dns(self: &Arc<Self>, netns: &Netns, id: &str) -> Result<dns::ServerHandle, ApiError> {
        let sockets = netns
            .run(|| -> std::io::Result<_> {
                let address = SocketAddr::from((DNS_ADDRESS, 53));
                let udp = std::net::UdpSocket::bind(address)?;
                let tcp = std::net::TcpListener::bind(address)?;
                Ok((udp, tcp))
            })
            .and_then(|bound| bound)
            .map_err(|e| ApiError::system(format!("starting the embedded DNS server: {e}")))?;
        let names = Arc::new(ContainerNames {
            engine: Arc::downgrade(self),
            id: id.to_string(),
        });
        let own = self
            .lookup(id)
            .map(|c| super::name_files::dns_servers(&c.record().host_config))
            .unwrap_or_default();
        let upstreams = if own.is_empty() {
            self.net.upstreams.clone()
        } else {
            own
        };
        let server = Arc::new(dns::Server::new(names, upstreams));
        Ok(server.spawn(sockets.0, sockets.1))
    }

    /// Undoes [`Engine::prepare_networks`] after the container exited or
    /// failed to start: endpoints, addresses, ports and the DNS server.
    pub(super) async fn release_networks(&self, container: &Container) {
        let (attachments, had_ports) = {
            let mut r = container.record();
            let attachments: Vec<(String, Attachment)> = r
                .networks
                .iter_mut()
                .filter_map(|(name, a)| {
                    let taken = a.clone();
                    a.endpoint.take().map(|_| (name.clone(), taken))
                })
                .collect();
            let had_ports = !r.ports.is_empty();
            r.ports.clear();
            (attachments, had_ports)
        };
        self.net.live().remove(&container.id);
        // The namespace goes with the container's last process and its veths
        // with it (the kernel removes them in the background); deleting each
        // here would cost a synchronize_net of 10-20 ms on every exit. Only
        // a namespace another container still lives in needs it.
        let shared = self.namespace_shared(&container.id);
        for (_, attachment) in &attachments {
            let Some(endpoint) = &attachment.endpoint else {
                continue;
            };
            if shared {
                if let Err(e) = link::detach(&endpoint.host_ifname).await {
                    tracing::warn!(container = %container.id, error = %e, "removing endpoint");
                }
            }
            self.net
                .networks
                .release(&attachment.network_id, endpoint.address.addr());
            if let Some(network) = self.net.networks.find(&attachment.network_id) {
                self.network_event(
                    "disconnect",
                    &network,
                    &[("container", container.id.clone())],
                );
            }
        }
        if had_ports {
            if let Err(e) = self.sync_firewall().await {
                tracing::warn!(error = %e.message, "updating the firewall");
            }
        }
    }

    /// Whether a running container joined `id`'s network namespace
    /// (`--network container:ID`).
    fn namespace_shared(&self, id: &str) -> bool {
        self.all().iter().any(|c| {
            let (running, mode) = {
                let r = c.record();
                (r.running(), r.host_config.network_mode.clone())
            };
            running
                && mode
                    .strip_prefix("container:")
                    .is_some_and(|other| self.lookup(other).is_ok_and(|o| o.id == id))
        })
    }

    /// Rewrites the nftables table from the networks and every running
    /// container's published ports.
    pub(super) async fn sync_firewall(&self) -> Result<(), ApiError> {
        // One at a time: each run computes the whole table from the state it
        // sees, so a later state must never be overwritten by an earlier one.
        let _serial = self.net.firewall_lock.lock().await;
        let up = self
            .net
            .bridges_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let networks = self
            .net
            .networks
            .all()
            .into_iter()
            .filter(|n| up.contains(&n.id))
            .filter_map(|n| {
                Some(NetworkRules {
                    bridge: n.bridge.clone()?,
                    subnet: n.ipam.as_ref()?.subnet,
                    internal: n.internal,
                })
            })
            .collect();
        let mut port_rules = Vec::new();
        for container in self.all() {
            let r = container.record();
            let Some(primary) = primary_attachment(&r).and_then(|(_, a)| a.endpoint.as_ref())
            else {
                continue;
            };
            for p in &r.ports {
                port_rules.push(PortRule {
                    host_ip: (!p.host_ip.is_unspecified()).then_some(p.host_ip),
                    host_port: p.host_port,
                    proto: p.proto,
                    container_ip: primary.address.addr(),
                    container_port: p.container_port,
                });
            }
        }
        let rules = Ruleset {
            networks,
            ports: port_rules,
        };
        let firewall = self.net.firewall.clone();
        super::blocking(move || {
            firewall
                .apply(&rules)
                .map_err(|e| ApiError::system(format!("updating the firewall: {e}")))
        })
        .await
    }

    pub(super) fn network_event(
        &self,
        action: &str,
        network: &NetworkRecord,
        extra: &[(&str, String)],
    ) {
        let mut event = Event::new("network", action, network.id.clone())
            .with("name", network.name.clone())
            .with("type", network.driver.clone());
        for (k, v) in extra {
            event = event.with(k, v.clone());
        }
        self.events.publish(event);
    }
}

/// Docker's resolv.conf for the default bridge: the host's, without
/// nameservers on the host's loopback (the container cannot reach them).
fn default_bridge_resolv_conf(host: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(host);
    let mut out = String::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        if fields.next() == Some("nameserver")
            && fields
                .next()
                .is_some_and(|ip| ip.starts_with("127.") || ip == "::1")
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// What a container's embedded DNS server answers: the names, aliases and
/// short ids of running containers on the user-defined networks it shares
/// with them, also as `name.network`.
struct ContainerNames {
    engine: Weak<Engine>,
    id: String,
}

impl ContainerNames {
    /// (names, address) of every endpoint on the networks of this container.
    fn entries(&self) -> Vec<(Vec<String>, Ipv4Addr)> {
        let Some(engine) = self.engine.upgrade() else {
            return Vec::new();
        };
        let Ok(me) = engine.lookup(&self.id) else {
            return Vec::new();
        };
        let mine: HashSet<String> = me
            .record()
            .networks
            .values()
            .filter(|a| a.endpoint.is_some())
            .map(|a| a.network_id.clone())
            .collect();
        let mut entries = Vec::new();
        for container in engine.all() {
            let r = container.record();
            let name = r.name.trim_start_matches('/').to_string();
            for (network, a) in &r.networks {
                let (true, Some(endpoint)) = (mine.contains(&a.network_id), &a.endpoint) else {
                    continue;
                };
                let mut names = vec![
                    name.clone(),
                    format!("{name}.{network}"),
                    r.id[..12].to_string(),
                ];
                for alias in &a.aliases {
                    names.push(alias.clone());
                    names.push(format!("{alias}.{network}"));
                }
                entries.push((names, endpoint.address.addr()));
            }
        }
        entries
    }
}

impl dns::Names for ContainerNames {
    fn lookup(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        let found: Vec<Ipv4Addr> = self
            .entries()
            .into_iter()
            .filter(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            .map(|(_, ip)| ip)
            .collect();
        (!found.is_empty()).then_some(found)
    }

    fn reverse(&self, ip: Ipv4Addr) -> Option<String> {
        self.entries()
            .into_iter()
            .find(|(_, address)| *address == ip)
            .and_then(|(names, _)| names.get(1).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_bridge_drops_loopback_nameservers() {
        let host =
            b"search example.org\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions edns0\n";
        assert_eq!(
            String::from_utf8(default_bridge_resolv_conf(host)).unwrap(),
            "search example.org\nnameserver 192.0.2.53\noptions edns0\n"
        );
    }

    #[test]
    fn endpoint_configs_give_aliases_and_a_fixed_address() {
        let config = serde_json::json!({"Aliases": ["web", "www"], "IPAMConfig": {"IPv4Address": "10.1.0.9"}});
        assert_eq!(
            endpoint_config(&config).unwrap(),
            (
                vec!["web".to_string(), "www".to_string()],
                Some(Ipv4Addr::new(10, 1, 0, 9))
            )
        );
        assert!(endpoint_config(&serde_json::json!({"IPAMConfig": {"IPv4Address": "x"}})).is_err());
        assert_eq!(endpoint_config(&Value::Null).unwrap(), (vec![], None));
    }
}
