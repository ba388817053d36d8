//! Network endpoints and the networking parts of containers: create,
//! inspect and list bodies of `/networks`, connect and disconnect, prune,
//! the endpoint settings a container carries per network, and published
//! ports.
//!
//! Null versus omitted follows Docker's Go types: a nil slice or map is
//! `null` (an `Option` here), an `omitempty` field is left out when empty,
//! and everything else is always written. Reading is lenient: `null` and
//! missing fields read as empty.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// String maps: options, labels, driver options.
pub type StringMap = BTreeMap<String, String>;

/// `NetworkSettings.Ports` and `HostConfig.PortBindings`: `"80/tcp"` to its
/// host bindings; `null` for a port that is exposed but not published.
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// Body of `POST /networks/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    pub name: String,
    /// Ignored since API 1.44 (names are always unique); old clients send it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_duplicate: Option<bool>,
    pub driver: String,
    pub scope: String,
    /// Unset means the daemon's default.
    #[serde(rename = "EnableIPv6", skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    pub config_from: Option<ConfigReference>,
    #[serde(deserialize_with = "nullable")]
    pub options: StringMap,
    #[serde(deserialize_with = "nullable")]
    pub labels: StringMap,
}

/// Reply of `POST /networks/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateResponse {
    #[serde(rename = "Id")]
    pub id: String,
    pub warning: String,
}

/// IP address management of a network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    pub driver: String,
    /// `null` for the predefined networks, `{}` for created ones.
    pub options: Option<StringMap>,
    #[serde(deserialize_with = "nullable")]
    pub config: Vec<IpamConfig>,
}

impl Default for Ipam {
    fn default() -> Self {
        Ipam {
            driver: "default".to_string(),
            options: None,
            config: Vec::new(),
        }
    }
}

/// One subnet of a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub auxiliary_addresses: StringMap,
}

/// `ConfigFrom`: the config-only network a network takes its settings from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigReference {
    pub network: String,
}

/// A network, as `GET /networks` lists it and `GET /networks/{id}` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    /// RFC 3339 with nanoseconds, as Go writes a `time.Time`.
    pub created: String,
    /// Always `local` in Berth.
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    /// Container id to its endpoint; empty in lists.
    #[serde(deserialize_with = "nullable")]
    pub containers: BTreeMap<String, EndpointResource>,
    #[serde(deserialize_with = "nullable")]
    pub options: StringMap,
    #[serde(deserialize_with = "nullable")]
    pub labels: StringMap,
}

/// A container's endpoint as its network shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointResource {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    /// With its prefix length: `172.18.0.2/16`; empty if none.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// A container's attachment to one network: what was asked for at create
/// or connect (`IPAMConfig`, `Links`, `Aliases`, `MacAddress`,
/// `DriverOpts`), and what it got once running.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    pub links: Option<Vec<String>>,
    /// User-given DNS names in this network.
    pub aliases: Option<Vec<String>>,
    pub mac_address: String,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    pub driver_opts: Option<StringMap>,
    /// Every name the container answers to in this network; the first one
    /// is used for reverse lookups.
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// Addresses asked for on one network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointIpamConfig {
    #[serde(rename = "IPv4Address", skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    #[serde(
        rename = "LinkLocalIPs",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link_local_ips: Vec<String>,
}

/// `NetworkingConfig` of the create body: network name (or id) to the
/// endpoint asked for on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    #[serde(deserialize_with = "nullable")]
    pub endpoints_config: BTreeMap<String, EndpointSettings>,
}

/// Body of `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConnectRequest {
    pub container: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<EndpointSettings>,
}

/// Body of `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DisconnectRequest {
    pub container: String,
    pub force: bool,
}

/// Reply of `POST /networks/prune`: the names of the removed networks,
/// `null` when there were none.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PruneResponse {
    pub networks_deleted: Option<Vec<String>>,
}

/// One host address a container port is published on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PortBinding {
    /// Empty for every address.
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    /// Empty (or a range `8000-8100`) for the daemon to choose.
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

/// A port in the container summary (`GET /containers/json`): one row per
/// host binding, or one without `IP` and `PublicPort` if not published.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Port {
    #[serde(rename = "IP", skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(rename = "PublicPort", skip_serializing_if = "is_zero")]
    pub public_port: u16,
    /// `tcp`, `udp` or `sctp`.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// An address with its prefix length (`SecondaryIPAddresses`, never set).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Address {
    pub addr: String,
    pub prefix_len: u8,
}

/// `NetworkSettings` of container inspect. The top-level address fields
/// describe the default bridge endpoint, if the container has one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub sandbox_key: String,
    pub ports: Option<PortMap>,
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: u8,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    pub mac_address: String,
    #[serde(deserialize_with = "nullable")]
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// `NetworkSettings` of a container summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryNetworkSettings {
    #[serde(deserialize_with = "nullable")]
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// Kinds of `NetworkMode`, as Docker tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkModeKind<'a> {
    /// `""` or `default`: the daemon's default network.
    Default,
    Bridge,
    Host,
    None,
    /// `container:NAME`: share that container's network namespace.
    Container(&'a str),
    /// A network created with `POST /networks/create`, by name or id.
    UserDefined(&'a str),
}

impl NetworkModeKind<'_> {
    pub fn parse(mode: &str) -> NetworkModeKind<'_> {
        match mode {
            "" | "default" => NetworkModeKind::Default,
            "bridge" => NetworkModeKind::Bridge,
            "host" => NetworkModeKind::Host,
            "none" => NetworkModeKind::None,
            _ => match mode.strip_prefix("container:") {
                Some(container) => NetworkModeKind::Container(container),
                None => NetworkModeKind::UserDefined(mode),
            },
        }
    }

    pub fn is_user_defined(self) -> bool {
        matches!(self, NetworkModeKind::UserDefined(_))
    }
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

/// Reads `null` as the empty value.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `docker network inspect bridge`, as Docker's documentation shows it.
    const BRIDGE_INSPECT: &str = r#"{
    "Name": "bridge",
    "Id": "f7ab26d71dbd6f557852c7156ae0574bbf62c42f539b50c8ebde0f728a253b6f",
    "Created": "2016-10-19T06:33:30.567473917Z",
    "Scope": "local",
    "Driver": "bridge",
    "EnableIPv6": false,
    "IPAM": {
        "Driver": "default",
        "Options": null,
        "Config": [
            {
                "Subnet": "172.17.0.0/16",
                "Gateway": "172.17.0.1"
            }
        ]
    },
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "ConfigFrom": {
        "Network": ""
    },
    "ConfigOnly": false,
    "Containers": {
        "3386a527aa08b37ea9232cbcace2d2458d49f44bb05a6b775fba7ddd40d8f92c": {
            "Name": "networktest",
            "EndpointID": "647c12443e91faf0fd508b6edfe59c30b642abb60dfab890b4bdccee38750bc1",
            "MacAddress": "02:42:ac:11:00:02",
            "IPv4Address": "172.17.0.2/16",
            "IPv6Address": ""
        }
    },
    "Options": {
        "com.docker.network.bridge.default_bridge": "true",
        "com.docker.network.bridge.enable_icc": "true",
        "com.docker.network.bridge.enable_ip_masquerade": "true",
        "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
        "com.docker.network.bridge.name": "docker0",
        "com.docker.network.driver.mtu": "1500"
    },
    "Labels": {}
}"#;

    fn pretty(value: &impl Serialize) -> String {
        let mut buffer = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
        value.serialize(&mut serializer).unwrap();
        String::from_utf8(buffer).unwrap()
    }

    #[test]
    fn network_inspect_round_trips_byte_for_byte() {
        let network: Network = serde_json::from_str(BRIDGE_INSPECT).unwrap();
        assert_eq!(network.ipam.config[0].gateway, "172.17.0.1");
        assert_eq!(network.ipam.options, None);
        let endpoint = network.containers.values().next().unwrap();
        assert_eq!(endpoint.ipv4_address, "172.17.0.2/16");
        assert_eq!(pretty(&network), BRIDGE_INSPECT);
    }

    #[test]
    fn network_list_entries_tolerate_nulls_and_unknown_fields() {
        let text = r#"{"Name":"host","Id":"abc","Created":"2024-01-01T00:00:00Z",
            "Scope":"local","Driver":"host","EnableIPv6":false,
            "IPAM":{"Driver":"default","Options":null,"Config":null},
            "Internal":false,"Attachable":false,"Ingress":false,
            "ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":null,
            "Options":null,"Labels":null,"Peers":[]}"#;
        let network: Network = serde_json::from_str(text).unwrap();
        assert!(network.ipam.config.is_empty());
        assert!(network.containers.is_empty() && network.labels.is_empty());
        let back = serde_json::to_value(&network).unwrap();
        assert_eq!(back["IPAM"]["Config"], json!([]));
        assert_eq!(back["Containers"], json!({}));
    }

    #[test]
    fn create_request_reads_what_the_docker_cli_sends() {
        // `docker network create --subnet 10.1.0.0/24 --gateway 10.1.0.1
        // --ip-range 10.1.0.128/25 -l team=a -o mtu=1400 --internal app`
        let body = json!({
            "CheckDuplicate": true,
            "Driver": "bridge",
            "Scope": "",
            "EnableIPv6": false,
            "IPAM": {
                "Driver": "default",
                "Options": {},
                "Config": [{"Subnet": "10.1.0.0/24", "IPRange": "10.1.0.128/25",
                            "Gateway": "10.1.0.1", "AuxiliaryAddresses": {}}]
            },
            "Internal": true,
            "Attachable": false,
            "Ingress": false,
            "ConfigOnly": false,
            "ConfigFrom": null,
            "Options": {"mtu": "1400"},
            "Labels": {"team": "a"},
            "Name": "app"
        });
        let request: NetworkCreateRequest = serde_json::from_value(body).unwrap();
        assert_eq!(request.name, "app");
        assert_eq!(request.check_duplicate, Some(true));
        assert_eq!(request.enable_ipv6, Some(false));
        assert!(request.internal);
        let ipam = request.ipam.as_ref().unwrap();
        assert_eq!(ipam.config[0].ip_range, "10.1.0.128/25");
        assert_eq!(request.options["mtu"], "1400");
        assert_eq!(request.labels["team"], "a");
        assert_eq!(request.config_from, None);
    }

    #[test]
    fn create_request_writes_dockers_shape() {
        let request = NetworkCreateRequest {
            name: "app".into(),
            driver: "bridge".into(),
            ipam: Some(Ipam {
                options: Some(StringMap::new()),
                config: vec![IpamConfig {
                    subnet: "10.1.0.0/24".into(),
                    ..IpamConfig::default()
                }],
                ..Ipam::default()
            }),
            ..NetworkCreateRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "Name": "app", "Driver": "bridge", "Scope": "",
                "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "10.1.0.0/24"}]},
                "Internal": false, "Attachable": false, "Ingress": false,
                "ConfigOnly": false, "ConfigFrom": null, "Options": {}, "Labels": {}
            })
        );
        let minimal: NetworkCreateRequest = serde_json::from_str(r#"{"Name":"x"}"#).unwrap();
        assert_eq!(minimal.ipam, None);
        assert_eq!(minimal.enable_ipv6, None);
    }

    #[test]
    fn create_response_has_id_and_warning() {
        let response: NetworkCreateResponse =
            serde_json::from_str(r#"{"Id":"22be93d5babb","Warning":""}"#).unwrap();
        assert_eq!(response.id, "22be93d5babb");
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"Id": "22be93d5babb", "Warning": ""})
        );
    }

    #[test]
    fn endpoint_settings_match_container_inspect() {
        // NetworkSettings.Networks["app"] of a container on a user network.
        let text = r#"{
            "IPAMConfig": null,
            "Links": null,
            "Aliases": ["web"],
            "MacAddress": "02:42:ac:12:00:02",
            "NetworkID": "7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99",
            "EndpointID": "58b4e7e1e0d27a1eeb4a4c6b9c7b3d1e0a1f2b3c4d5e6f708192a3b4c5d6e7f8",
            "Gateway": "172.18.0.1",
            "IPAddress": "172.18.0.2",
            "IPPrefixLen": 16,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DriverOpts": null,
            "DNSNames": ["web1", "web", "3386a527aa08"]
        }"#;
        let settings: EndpointSettings = serde_json::from_str(text).unwrap();
        assert_eq!(settings.ip_prefix_len, 16);
        assert_eq!(settings.aliases.as_deref(), Some(&["web".to_string()][..]));
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&settings).unwrap(), original);
    }

    #[test]
    fn endpoint_ipam_config_omits_empty_fields() {
        let config = EndpointIpamConfig {
            ipv4_address: "10.1.0.5".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({"IPv4Address": "10.1.0.5"})
        );
    }

    #[test]
    fn connect_disconnect_and_prune_bodies() {
        let connect = ConnectRequest {
            container: "web".into(),
            endpoint_config: None,
        };
        assert_eq!(
            serde_json::to_value(&connect).unwrap(),
            json!({"Container": "web"})
        );
        let connect: ConnectRequest = serde_json::from_str(
            r#"{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"172.24.56.89"},"Aliases":["db"]}}"#,
        )
        .unwrap();
        let endpoint = connect.endpoint_config.unwrap();
        assert_eq!(endpoint.ipam_config.unwrap().ipv4_address, "172.24.56.89");
        assert_eq!(endpoint.aliases, Some(vec!["db".to_string()]));

        let disconnect: DisconnectRequest =
            serde_json::from_str(r#"{"Container":"web","Force":true}"#).unwrap();
        assert!(disconnect.force);

        let none: PruneResponse = serde_json::from_str(r#"{"NetworksDeleted":null}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"NetworksDeleted":null}"#
        );
        let some: PruneResponse = serde_json::from_str(r#"{"NetworksDeleted":["a"]}"#).unwrap();
        assert_eq!(some.networks_deleted, Some(vec!["a".to_string()]));
    }

    #[test]
    fn summary_ports_omit_ip_and_public_port_when_unpublished() {
        let published: Port = serde_json::from_str(
            r#"{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}"#,
        )
        .unwrap();
        assert_eq!(published.public_port, 8080);
        let exposed = Port {
            private_port: 53,
            kind: "udp".into(),
            ..Port::default()
        };
        assert_eq!(
            serde_json::to_string(&exposed).unwrap(),
            r#"{"PrivatePort":53,"Type":"udp"}"#
        );
    }

    #[test]
    fn port_maps_keep_null_for_unpublished_ports() {
        let text = r#"{"443/tcp":null,"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}]}"#;
        let ports: PortMap = serde_json::from_str(text).unwrap();
        assert_eq!(ports["443/tcp"], None);
        assert_eq!(ports["80/tcp"].as_ref().unwrap()[1].host_ip, "::");
        assert_eq!(serde_json::to_string(&ports).unwrap(), text);
    }

    #[test]
    fn network_settings_read_container_inspect() {
        let text = r#"{"Bridge":"","SandboxID":"a","SandboxKey":"/var/run/docker/netns/a",
            "Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},
            "HairpinMode":false,"LinkLocalIPv6Address":"","LinkLocalIPv6PrefixLen":0,
            "SecondaryIPAddresses":null,"SecondaryIPv6Addresses":null,"EndpointID":"e",
            "Gateway":"172.17.0.1","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,
            "IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"","MacAddress":"02:42:ac:11:00:02",
            "Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"02:42:ac:11:00:02",
            "NetworkID":"n","EndpointID":"e","Gateway":"172.17.0.1","IPAddress":"172.17.0.2","IPPrefixLen":16,
            "IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DriverOpts":null,"DNSNames":null}}}"#;
        let settings: NetworkSettings = serde_json::from_str(text).unwrap();
        assert_eq!(settings.networks["bridge"].ip_address, "172.17.0.2");
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&settings).unwrap(), original);
        let empty: NetworkSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.ports, None);
    }

    #[test]
    fn network_modes_are_told_apart_like_docker() {
        assert_eq!(NetworkModeKind::parse(""), NetworkModeKind::Default);
        assert_eq!(NetworkModeKind::parse("default"), NetworkModeKind::Default);
        assert_eq!(NetworkModeKind::parse("bridge"), NetworkModeKind::Bridge);
        assert_eq!(
            NetworkModeKind::parse("container:web"),
            NetworkModeKind::Container("web")
        );
        assert!(NetworkModeKind::parse("app").is_user_defined());
        assert!(!NetworkModeKind::parse("host").is_user_defined());
        assert!(!NetworkModeKind::parse("none").is_user_defined());
    }
}
