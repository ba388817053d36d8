//! `berth port`: a container's published ports, from its inspect's
//! `NetworkSettings.Ports`, printed and sorted as docker prints them.

use super::{natural_cmp, out};
use berth_api::network::{NetworkSettings, PortMap};
use berth_client::Client;

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Only this container port (the protocol defaults to tcp)
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// `berth port`.
pub async fn port(client: &Client, args: PortArgs) -> anyhow::Result<()> {
    let inspect = client.inspect_container_raw(&args.container).await?;
    let settings: NetworkSettings = match inspect.get("NetworkSettings") {
        Some(settings) if !settings.is_null() => serde_json::from_value(settings.clone())?,
        _ => NetworkSettings::default(),
    };
    let ports = settings.ports.unwrap_or_default();
    let lines = match &args.port {
        Some(port) => one_port(&ports, port, &args.container)?,
        None => all_ports(&ports),
    };
    out(&render(lines));
    Ok(())
}

/// `HOST:PORT` for each binding of `PORT[/PROTO]`.
fn one_port(ports: &PortMap, spec: &str, container: &str) -> anyhow::Result<Vec<String>> {
    let (number, proto) = spec.split_once('/').unwrap_or((spec, ""));
    let proto = if proto.is_empty() { "tcp" } else { proto };
    if let Err(e) = number.parse::<u16>() {
        anyhow::bail!(
            "Error: invalid port ({number}): strconv.ParseUint: parsing {}: {}",
            crate::format::go_quote(number),
            go_parse_error(&e)
        );
    }
    match ports.get(&format!("{number}/{proto}")) {
        Some(Some(bindings)) if !bindings.is_empty() => Ok(bindings
            .iter()
            .map(|b| join_host_port(&b.host_ip, &b.host_port))
            .collect()),
        _ => anyhow::bail!("Error: No public port '{spec}' published for {container}"),
    }
}

/// `80/tcp -> HOST:PORT` for every binding of every port.
fn all_ports(ports: &PortMap) -> Vec<String> {
    ports
        .iter()
        .flat_map(|(port, bindings)| {
            bindings
                .iter()
                .flatten()
                .map(move |b| format!("{port} -> {}", join_host_port(&b.host_ip, &b.host_port)))
        })
        .collect()
}

/// The lines in natural order, or nothing at all.
fn render(mut lines: Vec<String>) -> String {
    if lines.is_empty() {
        return String::new();
    }
    lines.sort_by(|a, b| natural_cmp(a, b));
    format!("{}\n", lines.join("\n"))
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The tail of Go's `strconv.ParseUint` error.
fn go_parse_error(error: &std::num::ParseIntError) -> &'static str {
    match error.kind() {
        std::num::IntErrorKind::PosOverflow => "value out of range",
        _ => "invalid syntax",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::network::PortBinding;

    fn bindings(list: &[(&str, &str)]) -> Option<Vec<PortBinding>> {
        Some(
            list.iter()
                .map(|(ip, port)| PortBinding {
                    host_ip: ip.to_string(),
                    host_port: port.to_string(),
                })
                .collect(),
        )
    }

    fn sample() -> PortMap {
        let mut ports = PortMap::new();
        ports.insert(
            "80/tcp".into(),
            bindings(&[("0.0.0.0", "8080"), ("::", "8080")]),
        );
        ports.insert("443/tcp".into(), None);
        ports.insert("53/udp".into(), bindings(&[("127.0.0.1", "5353")]));
        ports.insert("9000/tcp".into(), bindings(&[("0.0.0.0", "32768")]));
        ports
    }

    #[test]
    fn all_ports_are_listed_in_natural_order() {
        assert_eq!(
            render(all_ports(&sample())),
            "53/udp -> 127.0.0.1:5353\n\
             80/tcp -> 0.0.0.0:8080\n\
             80/tcp -> [::]:8080\n\
             9000/tcp -> 0.0.0.0:32768\n"
        );
        assert_eq!(render(all_ports(&PortMap::new())), "");
    }

    #[test]
    fn one_port_shows_just_the_host_addresses() {
        let ports = sample();
        assert_eq!(
            render(one_port(&ports, "80", "web").unwrap()),
            "0.0.0.0:8080\n[::]:8080\n"
        );
        assert_eq!(
            render(one_port(&ports, "80/tcp", "web").unwrap()),
            "0.0.0.0:8080\n[::]:8080\n"
        );
        assert_eq!(
            render(one_port(&ports, "53/udp", "web").unwrap()),
            "127.0.0.1:5353\n"
        );
    }

    #[test]
    fn unpublished_and_bad_ports_fail_like_docker() {
        let ports = sample();
        let err = |spec: &str| one_port(&ports, spec, "web").unwrap_err().to_string();
        assert_eq!(
            err("81/tcp"),
            "Error: No public port '81/tcp' published for web"
        );
        assert_eq!(err("443"), "Error: No public port '443' published for web");
        assert_eq!(err("53"), "Error: No public port '53' published for web");
        assert_eq!(
            err("http"),
            "Error: invalid port (http): strconv.ParseUint: parsing \"http\": invalid syntax"
        );
        assert_eq!(
            err("70000"),
            "Error: invalid port (70000): strconv.ParseUint: parsing \"70000\": value out of range"
        );
    }
}
