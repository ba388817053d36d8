//! The daemon's nftables table: NAT for published ports and outgoing
//! traffic, and isolation between networks.
//!
//! Each daemon owns one `ip` family table and nothing else; every change
//! rewrites the whole table in one `nft -f -` transaction (create, delete,
//! recreate), so the kernel holds either the old table or the new one,
//! never a mix, and a rejected ruleset leaves the old one in place.
//!
//! What the table does, per [`Ruleset`]:
//! * published ports: `fib daddr type local ... dnat` in prerouting (from
//!   outside and from containers) and in output (from the host itself,
//!   127.0.0.1 included);
//! * masquerade for traffic leaving a non-internal network, for loopback
//!   traffic DNATed onto a bridge (the bridge needs `route_localnet=1`, set
//!   by [`crate::link`]), and for a container reaching a published port of
//!   its own network through the host (hairpin);
//! * forwarding: no traffic between two of the daemon's bridges except to
//!   published ports, and none between an internal network and anything else.
//!
//! IPv4 only. Bridges, sysctls and the host ports' sockets live elsewhere.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;

use crate::ports::Proto;

/// Why the table could not be written or removed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A table or interface name that cannot be written into a ruleset.
    #[error("invalid nftables {what} name {name:?}: {hint}")]
    InvalidName {
        what: &'static str,
        name: String,
        hint: &'static str,
    },

    /// The `nft` binary could not be run.
    #[error("running nft (is nftables installed?): {0}")]
    Spawn(#[source] io::Error),

    /// nft rejected the ruleset; nothing was changed.
    #[error("nft rejected the ruleset for table {table}: {stderr}")]
    Rejected { table: String, stderr: String },
}

/// The daemon's nftables table (family `ip`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firewall {
    table: String,
}

/// Everything the table should hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub networks: Vec<NetworkRules>,
    pub ports: Vec<PortRule>,
}

/// One bridge network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// No traffic to or from outside the network.
    pub internal: bool,
}

/// One published port: `host_ip:host_port` (every local address when
/// `host_ip` is `None` or 0.0.0.0) goes to `container_ip:container_port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRule {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub proto: Proto,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

impl Firewall {
    /// The table named `table`, e.g. `berth_berth0`. Nothing is checked or
    /// touched until [`Firewall::apply`] or [`Firewall::remove`].
    pub fn new(table: &str) -> Firewall {
        Firewall {
            table: table.to_string(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Replaces the whole table with `rules` in one transaction (`table ip
    /// T {}` + `delete table ip T` + the new table in one nft -f run), so
    /// the table is never half-written.
    pub fn apply(&self, rules: &Ruleset) -> Result<(), FirewallError> {
        self.check_names(rules)?;
        let script = format!("{}{}", self.delete_script(), self.render(rules));
        self.run(&script)?;
        tracing::debug!(
            table = %self.table,
            networks = rules.networks.len(),
            ports = rules.ports.len(),
            "applied nftables table"
        );
        Ok(())
    }

    /// Deletes the table; Ok if absent.
    pub fn remove(&self) -> Result<(), FirewallError> {
        check_table_name(&self.table)?;
        self.run(&self.delete_script())?;
        tracing::debug!(table = %self.table, "removed nftables table");
        Ok(())
    }

    /// The table as nft syntax: the `table ip T { ... }` block alone.
    pub fn render(&self, rules: &Ruleset) -> String {
        let mut out = format!("table ip {} {{\n", self.table);
        let dnat: Vec<String> = rules.ports.iter().map(dnat_rule).collect();
        chain(
            &mut out,
            "prerouting",
            "nat hook prerouting priority dstnat",
            &dnat,
        );
        chain(&mut out, "output", "nat hook output priority -100", &dnat);
        chain(
            &mut out,
            "postrouting",
            "nat hook postrouting priority srcnat",
            &masquerade_rules(rules),
        );
        chain(
            &mut out,
            "forward",
            "filter hook forward priority filter",
            &forward_rules(&rules.networks),
        );
        out.push_str("}\n");
        out
    }

    /// Creating the table first makes the delete succeed when it is absent.
    fn delete_script(&self) -> String {
        format!("table ip {0} {{}}\ndelete table ip {0}\n", self.table)
    }

    fn check_names(&self, rules: &Ruleset) -> Result<(), FirewallError> {
        check_table_name(&self.table)?;
        rules
            .networks
            .iter()
            .try_for_each(|net| check_bridge_name(&net.bridge))
    }

    /// Feeds `script` to `nft -f -`, which applies it as one transaction.
    fn run(&self, script: &str) -> Result<(), FirewallError> {
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(FirewallError::Spawn)?;
        let written = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(script.as_bytes()));
        let output = child.wait_with_output().map_err(FirewallError::Spawn)?;
        if output.status.success() {
            return match written {
                Some(Err(err)) => Err(FirewallError::Spawn(err)),
                _ => Ok(()),
            };
        }
        Err(FirewallError::Rejected {
            table: self.table.clone(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Table names are written bare, so they must be nft identifiers.
fn check_table_name(name: &str) -> Result<(), FirewallError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(FirewallError::InvalidName {
            what: "table",
            name: name.to_string(),
            hint: "use a letter followed by letters, digits and '_'",
        })
    }
}

/// Interface names are written quoted; nft itself checks their length.
fn check_bridge_name(name: &str) -> Result<(), FirewallError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    if valid {
        Ok(())
    } else {
        Err(FirewallError::InvalidName {
            what: "interface",
            name: name.to_string(),
            hint: "interface names are printable ASCII without spaces, quotes or backslashes",
        })
    }
}

/// Appends a base chain with policy accept and `rules`, one per line.
fn chain(out: &mut String, name: &str, hook: &str, rules: &[String]) {
    let _ = writeln!(out, "\tchain {name} {{");
    let _ = writeln!(out, "\t\ttype {hook}; policy accept;");
    for rule in rules {
        let _ = writeln!(out, "\t\t{rule}");
    }
    out.push_str("\t}\n");
}

fn dnat_rule(port: &PortRule) -> String {
    let daddr = port
        .host_ip
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| format!("ip daddr {ip} "))
        .unwrap_or_default();
    format!(
        "fib daddr type local {daddr}{} dport {} dnat to {}:{}",
        port.proto, port.host_port, port.container_ip, port.container_port
    )
}

fn masquerade_rules(rules: &Ruleset) -> Vec<String> {
    let mut out = Vec::new();
    for net in &rules.networks {
        let (subnet, bridge) = (net.subnet.trunc(), &net.bridge);
        if !net.internal {
            out.push(format!(
                "ip saddr {subnet} oifname != \"{bridge}\" masquerade"
            ));
        }
        out.push(format!(
            "ip saddr 127.0.0.0/8 oifname \"{bridge}\" masquerade"
        ));
        if rules
            .ports
            .iter()
            .any(|port| subnet.contains(&port.container_ip))
        {
            out.push(format!(
                "ip saddr {subnet} ip daddr {subnet} oifname \"{bridge}\" ct status dnat masquerade"
            ));
        }
    }
    out
}

fn forward_rules(networks: &[NetworkRules]) -> Vec<String> {
    let mut out = vec!["ct state established,related accept".to_string()];
    for net in networks.iter().filter(|net| net.internal) {
        let bridge = &net.bridge;
        out.push(format!("iifname \"{bridge}\" oifname != \"{bridge}\" drop"));
        out.push(format!("oifname \"{bridge}\" iifname != \"{bridge}\" drop"));
    }
    if networks.len() > 1 {
        out.push("ct status dnat accept".to_string());
        for net in networks {
            let others: Vec<String> = networks
                .iter()
                .filter(|other| other.bridge != net.bridge)
                .map(|other| format!("\"{}\"", other.bridge))
                .collect();
            if !others.is_empty() {
                out.push(format!(
                    "iifname \"{}\" oifname {{ {} }} drop",
                    net.bridge,
                    others.join(", ")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(bridge: &str, subnet: &str, internal: bool) -> NetworkRules {
        NetworkRules {
            bridge: bridge.into(),
            subnet: subnet.parse().unwrap(),
            internal,
        }
    }

    fn port_rule(host_ip: Option<&str>, host_port: u16, proto: Proto, to: &str) -> PortRule {
        let (ip, port) = to.split_once(':').unwrap();
        PortRule {
            host_ip: host_ip.map(|ip| ip.parse().unwrap()),
            host_port,
            proto,
            container_ip: ip.parse().unwrap(),
            container_port: port.parse().unwrap(),
        }
    }

    #[test]
    fn empty_ruleset_renders_empty_chains() {
        let text = Firewall::new("berth_t").render(&Ruleset::default());
        assert_eq!(
            text,
            "table ip berth_t {\n\
             \tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t}\n\
             \tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n\t}\n\
             \tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t}\n\
             \tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\
             \t\tct state established,related accept\n\t}\n\
             }\n"
        );
    }

    #[test]
    fn published_ports_dnat_in_prerouting_and_output() {
        let rules = Ruleset {
            networks: vec![network("berth0", "172.17.0.0/16", false)],
            ports: vec![
                port_rule(None, 8080, Proto::Tcp, "172.17.0.2:80"),
                port_rule(Some("127.0.0.1"), 5353, Proto::Udp, "172.17.0.3:53"),
                port_rule(Some("0.0.0.0"), 9, Proto::Sctp, "172.17.0.4:9"),
            ],
        };
        let text = Firewall::new("berth_t").render(&rules);
        for rule in [
            "fib daddr type local tcp dport 8080 dnat to 172.17.0.2:80",
            "fib daddr type local ip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.3:53",
            "fib daddr type local sctp dport 9 dnat to 172.17.0.4:9",
        ] {
            assert_eq!(text.matches(rule).count(), 2, "{rule} in\n{text}");
        }
        let output = &text[text.find("chain output").unwrap()..];
        assert!(output.contains("dport 8080"), "{text}");
    }

    #[test]
    fn masquerade_for_external_loopback_and_hairpin() {
        let rules = Ruleset {
            networks: vec![
                network("berth0", "172.17.0.0/16", false),
                network("br-int", "172.18.0.1/16", true),
            ],
            ports: vec![port_rule(None, 8080, Proto::Tcp, "172.17.0.2:80")],
        };
        assert_eq!(
            masquerade_rules(&rules),
            vec![
                "ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade",
                "ip saddr 127.0.0.0/8 oifname \"berth0\" masquerade",
                "ip saddr 172.17.0.0/16 ip daddr 172.17.0.0/16 oifname \"berth0\" ct status dnat masquerade",
                "ip saddr 127.0.0.0/8 oifname \"br-int\" masquerade",
            ]
        );
    }

    #[test]
    fn forward_isolates_bridges_and_internal_networks() {
        let networks = vec![
            network("berth0", "172.17.0.0/16", false),
            network("br-a", "172.18.0.0/16", false),
            network("br-int", "172.19.0.0/16", true),
        ];
        assert_eq!(
            forward_rules(&networks),
            vec![
                "ct state established,related accept",
                "iifname \"br-int\" oifname != \"br-int\" drop",
                "oifname \"br-int\" iifname != \"br-int\" drop",
                "ct status dnat accept",
                "iifname \"berth0\" oifname { \"br-a\", \"br-int\" } drop",
                "iifname \"br-a\" oifname { \"berth0\", \"br-int\" } drop",
                "iifname \"br-int\" oifname { \"berth0\", \"br-a\" } drop",
            ]
        );
        assert_eq!(
            forward_rules(&networks[..1]),
            vec!["ct state established,related accept"]
        );
    }

    #[test]
    fn names_that_would_break_the_ruleset_are_refused() {
        for table in ["", "1abc", "a b", "a;b", "a\"b", "ta-ble"] {
            assert!(check_table_name(table).is_err(), "{table:?}");
        }
        check_table_name("berth_berth0").unwrap();
        for bridge in ["", "br 0", "br\"0", "br\\0", "br\n0"] {
            assert!(check_bridge_name(bridge).is_err(), "{bridge:?}");
        }
        check_bridge_name("br-1a2b3c4d5e6f").unwrap();
        let rules = Ruleset {
            networks: vec![network("x\" accept", "10.0.0.0/8", false)],
            ports: vec![],
        };
        let err = Firewall::new("berth_t").apply(&rules).unwrap_err();
        assert!(matches!(err, FirewallError::InvalidName { .. }), "{err}");
    }
}
