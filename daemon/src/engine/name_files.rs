//! `HostConfig.Dns`, `DnsSearch`, `DnsOptions` and `ExtraHosts`: what they
//! change in the `/etc/resolv.conf` and `/etc/hosts` berthd writes for a
//! container.
//!
//! Any of the DNS settings rebuilds `resolv.conf` as dockerd does: its
//! nameservers, then `search`, then `options`, each from the setting when
//! given and from the file otherwise (`search .` means none). A container
//! on a user-defined network keeps the embedded server (`127.0.0.11`) as
//! its nameserver, which asks the `Dns` servers instead of the host's. `ExtraHosts` (`name:ip`, or `name=ip`) adds lines to
//! `hosts`; `host-gateway` is the default bridge's gateway, as with
//! dockerd's default `--host-gateway-ip`.

use berth_api::container::HostConfig;
use berth_api::ApiError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The embedded DNS server's address in containers on user networks.
const EMBEDDED_DNS: &str = "127.0.0.11";
/// The value of `ExtraHosts` that stands for the host.
const HOST_GATEWAY: &str = "host-gateway";

fn strings(host: &HostConfig, key: &str) -> Vec<String> {
    host.extra
        .get(key)
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
        .unwrap_or_default()
}

/// One `ExtraHosts` entry as name and address (`host-gateway` unresolved).
fn extra_host(entry: &str) -> Option<(&str, &str)> {
    let (name, ip) = entry.split_once('=').or_else(|| entry.split_once(':'))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    (!name.is_empty() && !ip.is_empty()).then_some((name, ip))
}

/// The container's own DNS servers (`Dns`), the upstreams of its embedded
/// server on user networks; empty when it has none.
pub fn dns_servers(host: &HostConfig) -> Vec<SocketAddr> {
    strings(host, "Dns")
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Refuses addresses that are not addresses, at create.
pub fn check(host: &HostConfig) -> Result<(), ApiError> {
    for server in strings(host, "Dns") {
        if server.parse::<IpAddr>().is_err() {
            return Err(ApiError::invalid(format!(
                "invalid IP address in Dns: {server:?}"
            )));
        }
    }
    for entry in strings(host, "ExtraHosts") {
        let valid = extra_host(&entry)
            .is_some_and(|(_, ip)| ip == HOST_GATEWAY || ip.parse::<IpAddr>().is_ok());
        if !valid {
            return Err(ApiError::invalid(format!(
                "invalid IP address in add-host: {entry:?}"
            )));
        }
    }
    Ok(())
}

/// `hosts` with the `ExtraHosts` lines added.
pub fn hosts(host: &HostConfig, mut hosts: String, gateway: Option<Ipv4Addr>) -> String {
    for entry in strings(host, "ExtraHosts") {
        let Some((name, ip)) = extra_host(&entry) else {
            continue;
        };
        let ip = match (ip, gateway) {
            (HOST_GATEWAY, Some(gateway)) => gateway.to_string(),
            (HOST_GATEWAY, None) => continue,
            (ip, _) => ip.to_string(),
        };
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    hosts
}

/// `resolv.conf` rebuilt with the DNS settings, when there are any.
pub fn resolv_conf(host: &HostConfig, resolv: Vec<u8>) -> Vec<u8> {
    let (servers, search, options) = (
        strings(host, "Dns"),
        strings(host, "DnsSearch"),
        strings(host, "DnsOptions"),
    );
    if servers.is_empty() && search.is_empty() && options.is_empty() {
        return resolv;
    }
    let text = String::from_utf8_lossy(&resolv);
    let lines = |kinds: &[&str]| -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|word| kinds.contains(&word))
            })
            .map(str::to_string)
            .collect()
    };
    let mut out = String::new();
    let current = lines(&["nameserver"]);
    let embedded = current
        .iter()
        .any(|l| l.split_whitespace().nth(1) == Some(EMBEDDED_DNS));
    if servers.is_empty() || embedded {
        current.iter().for_each(|l| out.push_str(&format!("{l}\n")));
    } else {
        servers
            .iter()
            .for_each(|s| out.push_str(&format!("nameserver {s}\n")));
    }
    if search.is_empty() {
        lines(&["search", "domain"])
            .iter()
            .for_each(|l| out.push_str(&format!("{l}\n")));
    } else if search != ["."] {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if options.is_empty() {
        lines(&["options"])
            .iter()
            .for_each(|l| out.push_str(&format!("{l}\n")));
    } else {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(settings: serde_json::Value) -> HostConfig {
        serde_json::from_value(settings).unwrap()
    }

    const HOST_RESOLV: &[u8] =
        b"# from the host\nnameserver 10.0.0.2\nsearch corp\noptions ndots:2\n";

    #[test]
    fn dns_settings_replace_their_lines() {
        let h = host(json!({"Dns": ["1.1.1.1", "::1"], "DnsOptions": ["timeout:1"]}));
        assert_eq!(
            String::from_utf8(resolv_conf(&h, HOST_RESOLV.to_vec())).unwrap(),
            "nameserver 1.1.1.1\nnameserver ::1\nsearch corp\noptions timeout:1\n"
        );
        let h = host(json!({"DnsSearch": ["."], "Dns": ["1.1.1.1"]}));
        let embedded = b"nameserver 127.0.0.11\nsearch corp\n".to_vec();
        assert_eq!(
            String::from_utf8(resolv_conf(&h, embedded)).unwrap(),
            "nameserver 127.0.0.11\n"
        );
        let untouched = resolv_conf(&host(json!({})), HOST_RESOLV.to_vec());
        assert_eq!(untouched, HOST_RESOLV);
    }

    #[test]
    fn extra_hosts_add_lines_and_bad_addresses_are_refused() {
        let h = host(json!({"ExtraHosts": ["db:10.1.2.3", "v6=::1", "gw:host-gateway"]}));
        let gateway = Some(Ipv4Addr::new(172, 17, 0, 1));
        assert_eq!(
            hosts(&h, String::new(), gateway),
            "10.1.2.3\tdb\n::1\tv6\n172.17.0.1\tgw\n"
        );
        assert!(check(&h).is_ok());
        assert_eq!(
            check(&host(json!({"ExtraHosts": ["db:nowhere"]})))
                .unwrap_err()
                .message,
            "invalid IP address in add-host: \"db:nowhere\""
        );
        assert!(check(&host(json!({"Dns": ["dns.example"]}))).is_err());
    }

    #[test]
    fn dns_servers_are_the_embedded_servers_upstreams() {
        let h = host(json!({"Dns": ["10.9.8.7", "fd00::53"]}));
        let servers: Vec<String> = dns_servers(&h).iter().map(|s| s.to_string()).collect();
        assert_eq!(servers, ["10.9.8.7:53", "[fd00::53]:53"]);
        assert!(dns_servers(&host(json!({}))).is_empty());
    }
}
