//! `berth network`: `create`, `ls`, `inspect`, `rm`, `prune`, `connect` and
//! `disconnect`, with docker's flags, columns, prompts and exit statuses.
//! The flags become API bodies here; the daemon judges names, drivers and
//! addresses.

use super::options::parse_labels;
use super::ps::parse_filters;
use super::{confirm, inspect_template, natural_cmp, out, print_inspected, StatusError};
use crate::format::short_id;
use crate::format::table::ListFormat;
use berth_api::network::{
    ConfigReference, ConnectRequest, DisconnectRequest, EndpointIpamConfig, EndpointSettings, Ipam,
    IpamConfig, Network, NetworkCreateRequest, StringMap,
};
use berth_client::Client;
use serde_json::{json, Value};
use std::net::IpAddr;

/// Docker's default `network ls` table.
const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// What `network prune` asks before removing anything.
const PRUNE_WARNING: &str = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";

#[derive(Debug, clap::Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Create a network
    Create(CreateArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Set metadata on a network
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE", value_parser = validate_label)]
    pub labels: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Create swarm routing-mesh network
    #[arg(long)]
    pub ingress: bool,
    /// Control the network's scope
    #[arg(long)]
    pub scope: Option<String>,
    /// Create a configuration only network
    #[arg(long)]
    pub config_only: bool,
    /// The network from which to copy the configuration
    #[arg(long)]
    pub config_from: Option<String>,
    /// IP Address Management Driver
    #[arg(long, default_value = "default")]
    pub ipam_driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet", value_delimiter = ',')]
    pub subnets: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_delimiter = ',')]
    pub ip_ranges: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway", value_delimiter = ',')]
    pub gateways: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address", value_name = "NAME=ADDRESS")]
    pub aux_addresses: Vec<String>,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt", value_name = "KEY=VALUE")]
    pub ipam_options: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a template ('table', 'table TEMPLATE', 'json', or 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format output using a Go template subset (field paths, json, index, join)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long = "link", value_parser = validate_link)]
    pub links: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_delimiter = ',')]
    pub aliases: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_delimiter = ',')]
    pub link_local_ips: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_delimiter = ',')]
    pub driver_opts: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `berth network ...`.
pub async fn network(client: &Client, args: NetworkArgs) -> anyhow::Result<()> {
    match args.command {
        NetworkCommand::Connect(args) => connect(client, args).await,
        NetworkCommand::Create(args) => create(client, args).await,
        NetworkCommand::Disconnect(args) => disconnect(client, args).await,
        NetworkCommand::Inspect(args) => inspect(client, args).await,
        NetworkCommand::Ls(args) => ls(client, args).await,
        NetworkCommand::Prune(args) => prune(client, args).await,
        NetworkCommand::Rm(args) => rm(client, args).await,
    }
}

/// `network create`: prints the new network's id.
async fn create(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let request = create_request(&args).map_err(anyhow::Error::msg)?;
    let response = client.create_network(&request).await?;
    out(&format!("{}\n", response.id));
    Ok(())
}

/// The create body docker's CLI sends for these flags.
fn create_request(args: &CreateArgs) -> Result<NetworkCreateRequest, String> {
    let config = consolidate_ipam(
        &args.subnets,
        &args.ip_ranges,
        &args.gateways,
        &key_values(&args.aux_addresses),
    )?;
    Ok(NetworkCreateRequest {
        name: args.name.clone(),
        driver: args.driver.clone(),
        scope: args.scope.clone().unwrap_or_default(),
        enable_ipv6: args.ipv6.then_some(true),
        ipam: Some(Ipam {
            driver: args.ipam_driver.clone(),
            options: Some(key_values(&args.ipam_options)),
            config,
        }),
        internal: args.internal,
        attachable: args.attachable,
        ingress: args.ingress,
        config_only: args.config_only,
        config_from: args
            .config_from
            .clone()
            .map(|network| ConfigReference { network }),
        options: key_values(&args.options),
        labels: parse_labels(&args.labels),
        ..NetworkCreateRequest::default()
    })
}

/// `KEY=VALUE` flags as a map; a bare `KEY` has an empty value and a
/// repeated key keeps its last value.
fn key_values(values: &[String]) -> StringMap {
    parse_labels(values)
}

/// `--label`: a name without whitespace before any `=`.
pub fn validate_label(value: &str) -> Result<String, String> {
    let key = value.split_once('=').map_or(value, |(key, _)| key);
    let key = key.trim_start();
    if key.is_empty() {
        return Err(format!("invalid label '{value}': empty name"));
    }
    if key.contains(char::is_whitespace) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(value.to_string())
}

/// Groups `--subnet`, `--ip-range`, `--gateway` and `--aux-address` into one
/// IPAM entry per subnet, with docker's checks and messages.
fn consolidate_ipam(
    subnets: &[String],
    ranges: &[String],
    gateways: &[String],
    aux_addresses: &StringMap,
) -> Result<Vec<IpamConfig>, String> {
    if subnets.len() < ranges.len() || subnets.len() < gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".to_string());
    }
    let mut configs: Vec<IpamConfig> = Vec::new();
    for subnet in subnets {
        for existing in &configs {
            if subnet_matches(subnet, &existing.subnet)?
                || subnet_matches(&existing.subnet, subnet)?
            {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        configs.push(IpamConfig {
            subnet: subnet.clone(),
            ..IpamConfig::default()
        });
    }
    for range in ranges {
        let mut matched = false;
        for config in &mut configs {
            if !subnet_matches(&config.subnet, range)? {
                continue;
            }
            if !config.ip_range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({range}, {}) on the same subnet ({})",
                    config.ip_range, config.subnet
                ));
            }
            config.ip_range = range.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {range}"));
        }
    }
    for gateway in gateways {
        let mut matched = false;
        for config in &mut configs {
            if !subnet_matches(&config.subnet, gateway)? {
                continue;
            }
            if !config.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({gateway}, {}) for the same subnet ({})",
                    config.gateway, config.subnet
                ));
            }
            config.gateway = gateway.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {gateway}"));
        }
    }
    for (name, address) in aux_addresses {
        let mut matched = false;
        for config in &mut configs {
            if subnet_matches(&config.subnet, address)? {
                config
                    .auxiliary_addresses
                    .insert(name.clone(), address.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {address}"));
        }
    }
    Ok(configs)
}

/// Whether `data` (an address, or the address part of a CIDR) lies in
/// `subnet`. A bad subnet or CIDR is an error; a bad address matches
/// nothing.
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let (network, prefix) = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let address = if data.contains('/') {
        Some(parse_cidr(data)?.0)
    } else {
        data.parse::<IpAddr>().ok()
    };
    Ok(address.is_some_and(|address| contains(network, prefix, address)))
}

/// `ADDRESS/PREFIX`, as Go's `net.ParseCIDR` accepts it.
fn parse_cidr(text: &str) -> Result<(IpAddr, u32), String> {
    let invalid = || format!("invalid CIDR address: {text}");
    let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
    let address: IpAddr = address.parse().map_err(|_| invalid())?;
    let bits = if address.is_ipv4() { 32 } else { 128 };
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match prefix.parse::<u32>() {
        Ok(prefix) if prefix <= bits => Ok((address, prefix)),
        _ => Err(invalid()),
    }
}

fn contains(network: IpAddr, prefix: u32, address: IpAddr) -> bool {
    match (network, address) {
        (IpAddr::V4(network), IpAddr::V4(address)) => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(network) & mask == u32::from(address) & mask
        }
        (IpAddr::V6(network), IpAddr::V6(address)) => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(network) & mask == u128::from(address) & mask
        }
        _ => false,
    }
}

/// `network ls`: sorted by name in natural order.
async fn ls(client: &Client, args: LsArgs) -> anyhow::Result<()> {
    let filters = parse_filters(&args.filters, "-f, --filter")?;
    // As docker: -q only replaces the default table, not a given template.
    let quiet = args.quiet && matches!(args.format.as_deref(), None | Some("" | "table"));
    let format = ListFormat::parse(args.format.as_deref(), quiet, DEFAULT_FORMAT)?;
    let mut networks = client.list_networks(&filters).await?;
    networks.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    out(&format.render(&headers(), &rows(&networks, !args.no_trunc))?);
    Ok(())
}

/// Column titles for each placeholder.
fn headers() -> Value {
    json!({
        "ID": "NETWORK ID",
        "Name": "NAME",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "IPv6": "IPV6",
        "Internal": "INTERNAL",
        "Labels": "LABELS",
        "CreatedAt": "CREATED AT",
    })
}

/// One network's placeholders, keys in the order docker's `json` output
/// has them.
fn rows(networks: &[Network], trunc: bool) -> Vec<Value> {
    networks
        .iter()
        .map(|n| {
            let labels = n
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            json!({
                "CreatedAt": go_time_string(&n.created),
                "Driver": n.driver,
                "ID": if trunc { short_id(&n.id) } else { n.id.clone() },
                "IPv6": n.enable_ipv6.to_string(),
                "Internal": n.internal.to_string(),
                "Labels": labels,
                "Name": n.name,
                "Scope": n.scope,
            })
        })
        .collect()
}

/// An RFC 3339 time as Go's `time.Time.String` shows it:
/// `2024-05-01 10:00:00.5 +0000 UTC`.
fn go_time_string(rfc3339: &str) -> String {
    let Ok(time) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let nanos = time.timestamp_subsec_nanos();
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let offset = time.offset().local_minus_utc();
    let numeric = time.format("%z").to_string();
    let zone = if offset == 0 { "UTC" } else { &numeric };
    format!(
        "{}{fraction} {numeric} {zone}",
        time.format("%Y-%m-%d %H:%M:%S")
    )
}

/// `network inspect`: a JSON array of what was found (or the template per
/// network), then the failures, one per line, with status 1.
async fn inspect(client: &Client, args: InspectArgs) -> anyhow::Result<()> {
    let template = inspect_template(args.format.as_deref())?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.networks {
        match client.inspect_network_raw(name, args.verbose).await {
            Ok(value) => found.push(value),
            Err(e) => failures.push(e.to_string()),
        }
    }
    print_inspected(&found, template.as_ref(), &failures)
}

/// `network rm`: prints each network removed; each failure goes to stderr
/// at once, and any failure ends with docker 28's `exit status 1`.
async fn rm(client: &Client, args: RmArgs) -> anyhow::Result<()> {
    let mut failed = false;
    for name in &args.networks {
        match client.remove_network(name).await {
            Ok(()) => out(&format!("{name}\n")),
            Err(e) if args.force && e.is_not_found() => {}
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(StatusError {
            status: 1,
            message: "exit status 1".to_string(),
        }
        .into())
    } else {
        Ok(())
    }
}

/// `network prune`: asks first unless `-f`; a "no" ends quietly with
/// status 0, as docker's cancelled prune does.
async fn prune(client: &Client, args: PruneArgs) -> anyhow::Result<()> {
    let filters = parse_filters(&args.filters, "--filter")?;
    if !args.force && !confirm(PRUNE_WARNING) {
        return Err(StatusError::silent(0).into());
    }
    let report = client.prune_networks(&filters).await?;
    out(&prune_output(&report.networks_deleted.unwrap_or_default()));
    Ok(())
}

/// `Deleted Networks:` and the names, then the blank line docker's
/// `Println` of that text adds; nothing when nothing was removed.
fn prune_output(deleted: &[String]) -> String {
    super::prune::deleted_section("Networks", deleted)
}

/// `network connect`.
async fn connect(client: &Client, args: ConnectArgs) -> anyhow::Result<()> {
    let request = connect_request(&args).map_err(anyhow::Error::msg)?;
    client.connect_network(&args.network, &request).await?;
    Ok(())
}

/// The connect body docker's CLI sends: an `IPAMConfig` and `Aliases` even
/// when empty, `Links` only when given.
fn connect_request(args: &ConnectArgs) -> Result<ConnectRequest, String> {
    let mut driver_opts = StringMap::new();
    for option in &args.driver_opts {
        match option.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                driver_opts.insert(key.trim().to_string(), value.trim().to_string());
            }
            _ => return Err("invalid key/value pair format in driver options".to_string()),
        }
    }
    let endpoint = EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: args.ip.clone().unwrap_or_default(),
            ipv6_address: args.ip6.clone().unwrap_or_default(),
            link_local_ips: args.link_local_ips.clone(),
        }),
        links: (!args.links.is_empty()).then(|| args.links.clone()),
        aliases: Some(args.aliases.clone()),
        driver_opts: Some(driver_opts),
        ..EndpointSettings::default()
    };
    Ok(ConnectRequest {
        container: args.container.clone(),
        endpoint_config: Some(endpoint),
    })
}

/// `--link NAME[:ALIAS]`.
fn validate_link(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("empty string specified for links".to_string());
    }
    if value.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {value}"));
    }
    Ok(value.to_string())
}

/// `network disconnect`.
async fn disconnect(client: &Client, args: DisconnectArgs) -> anyhow::Result<()> {
    let request = DisconnectRequest {
        container: args.container,
        force: args.force,
    };
    client.disconnect_network(&args.network, &request).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: NetworkCommand,
    }

    fn parse(args: &[&str]) -> NetworkCommand {
        Cli::try_parse_from(std::iter::once("network").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    fn create_args(args: &[&str]) -> CreateArgs {
        match parse(&[&["create"], args].concat()) {
            NetworkCommand::Create(create) => create,
            other => panic!("not create: {other:?}"),
        }
    }

    fn network(name: &str, id: &str, driver: &str) -> Network {
        Network {
            name: name.into(),
            id: id.into(),
            driver: driver.into(),
            scope: "local".into(),
            created: "2024-05-01T10:00:00.5Z".into(),
            ..Network::default()
        }
    }

    #[test]
    fn create_sends_what_docker_sends() {
        let args = create_args(&[
            "--subnet",
            "10.1.0.0/24",
            "--gateway",
            "10.1.0.1",
            "--ip-range",
            "10.1.0.128/25",
            "--internal",
            "--label",
            "team=a",
            "-l",
            "flag",
            "-o",
            "com.docker.network.driver.mtu=1400",
            "app",
        ]);
        let request = create_request(&args).unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "Name": "app",
                "Driver": "bridge",
                "Scope": "",
                "IPAM": {
                    "Driver": "default",
                    "Options": {},
                    "Config": [{"Subnet": "10.1.0.0/24", "IPRange": "10.1.0.128/25", "Gateway": "10.1.0.1"}]
                },
                "Internal": true,
                "Attachable": false,
                "Ingress": false,
                "ConfigOnly": false,
                "ConfigFrom": null,
                "Options": {"com.docker.network.driver.mtu": "1400"},
                "Labels": {"flag": "", "team": "a"}
            })
        );
        let plain = create_request(&create_args(&["-d", "bridge", "--ipv6", "x"])).unwrap();
        assert_eq!(plain.enable_ipv6, Some(true));
        assert_eq!(plain.ipam.unwrap().config, []);
    }

    #[test]
    fn create_needs_exactly_one_name_and_good_labels() {
        assert!(Cli::try_parse_from(["network", "create"]).is_err());
        assert!(Cli::try_parse_from(["network", "create", "a", "b"]).is_err());
        let err = Cli::try_parse_from(["network", "create", "--label", " =x", "a"]).unwrap_err();
        assert!(
            err.to_string().contains("invalid label ' =x': empty name"),
            "{err}"
        );
        let err = Cli::try_parse_from(["network", "create", "--label", "a b=x", "a"]).unwrap_err();
        assert!(
            err.to_string().contains("label 'a b' contains whitespaces"),
            "{err}"
        );
    }

    #[test]
    fn ipam_flags_group_by_subnet() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mut aux = StringMap::new();
        aux.insert("host1".into(), "10.2.0.5".into());
        let configs = consolidate_ipam(
            &s(&["10.1.0.0/24", "10.2.0.0/16", "fd00::/64"]),
            &[],
            &s(&["10.2.0.1", "fd00::1"]),
            &aux,
        )
        .unwrap();
        assert_eq!(configs.len(), 3);
        assert_eq!(configs[0].gateway, "");
        assert_eq!(configs[1].gateway, "10.2.0.1");
        assert_eq!(configs[1].auxiliary_addresses["host1"], "10.2.0.5");
        assert_eq!(configs[2].gateway, "fd00::1");
    }

    #[test]
    fn ipam_errors_read_like_docker() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let none = StringMap::new();
        let err = |subnets: &[&str], ranges: &[&str], gateways: &[&str]| {
            consolidate_ipam(&s(subnets), &s(ranges), &s(gateways), &none).unwrap_err()
        };
        assert_eq!(
            err(&[], &[], &["10.0.0.1"]),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err(&["10.0.0.0/8", "10.1.0.0/16"], &[], &[]),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            err(&["10.0.0.0/24"], &[], &["10.9.0.1"]),
            "no matching subnet for gateway 10.9.0.1"
        );
        assert_eq!(
            err(&["10.0.0.0/24"], &["10.9.0.0/25"], &[]),
            "no matching subnet for range 10.9.0.0/25"
        );
        assert_eq!(
            err(&["10.0.0.0/24", "10.1.0.0/24"], &[], &["10.0.0.1", "10.0.0.2"]),
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)"
        );
        assert_eq!(
            err(&["bogus", "10.0.0.0/8"], &[], &[]),
            "invalid subnet: invalid CIDR address: bogus"
        );
        assert_eq!(
            err(&["10.0.0.0/33"], &[], &["10.0.0.1"]),
            "invalid subnet: invalid CIDR address: 10.0.0.0/33"
        );
        // As docker's CLI, a lone subnet is left for the daemon to judge.
        let lone = consolidate_ipam(&s(&["bogus"]), &[], &[], &none).unwrap();
        assert_eq!(lone[0].subnet, "bogus");
    }

    #[test]
    fn ls_table_matches_docker() {
        let mut networks = vec![
            network("none", "2b0f6f5cfdae4d3fa6c1f6d1a0fe6e2bd0c4a18f", "null"),
            network(
                "bridge",
                "f7ab26d71dbd6f557852c7156ae0574bbf62c42f",
                "bridge",
            ),
            network("app10", "0123456789abcdef0123", "bridge"),
            network("app2", "fedcba9876543210fedc", "bridge"),
            network("host", "95e74588f40db048e86320c6526440c504650a1f", "host"),
        ];
        networks.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        let format = ListFormat::parse(None, false, DEFAULT_FORMAT).unwrap();
        let want = "\
NETWORK ID     NAME      DRIVER    SCOPE
fedcba987654   app2      bridge    local
0123456789ab   app10     bridge    local
f7ab26d71dbd   bridge    bridge    local
95e74588f40d   host      host      local
2b0f6f5cfdae   none      null      local
";
        assert_eq!(
            format.render(&headers(), &rows(&networks, true)).unwrap(),
            want
        );
    }

    #[test]
    fn ls_quiet_no_trunc_and_templates() {
        let mut n = network("app", "0123456789abcdef0123", "bridge");
        n.labels.insert("b".into(), "2".into());
        n.labels.insert("a".into(), "1".into());
        let render = |format: Option<&str>, quiet: bool, trunc: bool| {
            ListFormat::parse(format, quiet, DEFAULT_FORMAT)
                .unwrap()
                .render(&headers(), &rows(std::slice::from_ref(&n), trunc))
                .unwrap()
        };
        assert_eq!(render(None, true, true), "0123456789ab\n");
        assert_eq!(render(None, true, false), "0123456789abcdef0123\n");
        assert_eq!(
            render(
                Some("{{.Name}} {{.Labels}} {{.IPv6}} {{.Internal}}"),
                false,
                true
            ),
            "app a=1,b=2 false false\n"
        );
        assert_eq!(
            render(Some("table {{.Name}}\\t{{.CreatedAt}}"), false, true),
            "NAME      CREATED AT\napp       2024-05-01 10:00:00.5 +0000 UTC\n"
        );
        assert_eq!(
            render(Some("json"), false, true),
            "{\"CreatedAt\":\"2024-05-01 10:00:00.5 +0000 UTC\",\"Driver\":\"bridge\",\"ID\":\"0123456789ab\",\"IPv6\":\"false\",\"Internal\":\"false\",\"Labels\":\"a=1,b=2\",\"Name\":\"app\",\"Scope\":\"local\"}\n"
        );
    }

    #[test]
    fn created_times_read_like_go() {
        assert_eq!(
            go_time_string("2016-10-19T06:33:30.567473917Z"),
            "2016-10-19 06:33:30.567473917 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2024-05-01T10:00:00Z"),
            "2024-05-01 10:00:00 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2024-05-01T12:00:00.120+02:00"),
            "2024-05-01 12:00:00.12 +0200 +0200"
        );
    }

    #[test]
    fn rm_and_ls_take_dockers_aliases_and_flags() {
        match parse(&["remove", "-f", "a", "b"]) {
            NetworkCommand::Rm(rm) => {
                assert!(rm.force);
                assert_eq!(rm.networks, ["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["list", "-q", "--no-trunc", "-f", "driver=bridge"]) {
            NetworkCommand::Ls(ls) => {
                assert!(ls.quiet && ls.no_trunc);
                assert_eq!(ls.filters, ["driver=bridge"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["prune", "-f", "--filter", "until=24h"]) {
            NetworkCommand::Prune(prune) => {
                assert!(prune.force);
                assert_eq!(prune.filters, ["until=24h"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["network", "rm"]).is_err());
        assert!(Cli::try_parse_from(["network", "inspect"]).is_err());
    }

    #[test]
    fn prune_lists_what_went_and_a_blank_line() {
        assert_eq!(prune_output(&[]), "");
        assert_eq!(
            prune_output(&["app".into(), "db".into()]),
            "Deleted Networks:\napp\ndb\n\n"
        );
    }

    #[test]
    fn connect_sends_what_docker_sends() {
        let args = match parse(&[
            "connect", "--ip", "10.1.0.9", "--alias", "db,pg", "--alias", "sql", "app", "web",
        ]) {
            NetworkCommand::Connect(args) => args,
            other => panic!("{other:?}"),
        };
        let request = connect_request(&args).unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "Container": "web",
                "EndpointConfig": {
                    "IPAMConfig": {"IPv4Address": "10.1.0.9"},
                    "Links": null,
                    "Aliases": ["db", "pg", "sql"],
                    "MacAddress": "",
                    "NetworkID": "",
                    "EndpointID": "",
                    "Gateway": "",
                    "IPAddress": "",
                    "IPPrefixLen": 0,
                    "IPv6Gateway": "",
                    "GlobalIPv6Address": "",
                    "GlobalIPv6PrefixLen": 0,
                    "DriverOpts": {},
                    "DNSNames": null
                }
            })
        );
        let bad = match parse(&["connect", "--driver-opt", "novalue", "app", "web"]) {
            NetworkCommand::Connect(args) => connect_request(&args).unwrap_err(),
            other => panic!("{other:?}"),
        };
        assert_eq!(bad, "invalid key/value pair format in driver options");
        assert!(Cli::try_parse_from(["network", "connect", "--link", "a:b:c", "n", "c"]).is_err());
    }

    #[test]
    fn disconnect_takes_force() {
        match parse(&["disconnect", "-f", "app", "web"]) {
            NetworkCommand::Disconnect(d) => {
                assert!(d.force);
                assert_eq!((d.network.as_str(), d.container.as_str()), ("app", "web"));
            }
            other => panic!("{other:?}"),
        }
    }
}
