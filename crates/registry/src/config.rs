//! The client's settings: which registries may be spoken to without
//! verified TLS, where per-registry CA certificates live, Docker Hub
//! mirrors, timeouts and upload chunking.
//!
//! The insecure-registry rule is dockerd's: an entry is a CIDR
//! (`10.0.0.0/8`) or a `host[:port]`; such registries are tried over HTTPS
//! without certificate verification first, then over plain HTTP. The
//! loopback ranges are in the default list, as dockerd always adds them.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;

/// Settings of a [`crate::Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// CIDRs and `host[:port]` names spoken to without verified TLS.
    pub insecure_registries: Vec<String>,
    /// Docker Hub mirrors (`https://mirror.example`), tried in order before
    /// Docker Hub itself for pulls.
    pub mirrors: Vec<String>,
    /// A `certs.d` directory: `<dir>/<host[:port]>/*.crt` are CA roots for
    /// that registry, `*.cert` + `*.key` pairs its client certificates.
    pub certs_dir: Option<PathBuf>,
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
    /// How long to wait for a reply's status and headers once sent
    /// (connecting and the TLS handshake included). An insecure registry
    /// that hangs costs this twice: HTTPS is tried before plain HTTP.
    pub response_timeout: Duration,
    /// How long a body may send nothing before the transfer is abandoned.
    pub stall_timeout: Duration,
    /// Blobs up to this size are uploaded in one PUT; larger ones in
    /// PATCH chunks of this size.
    pub chunk_size: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            insecure_registries: vec!["127.0.0.0/8".into(), "::1/128".into()],
            mirrors: Vec::new(),
            certs_dir: None,
            connect_timeout: Duration::from_secs(30),
            response_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(60),
            chunk_size: 16 << 20,
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// A parsed `insecure_registries` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum InsecureRule {
    Cidr(IpAddr, u8),
    Host(String),
}

impl InsecureRule {
    pub fn parse(entry: &str) -> Result<InsecureRule, Error> {
        let entry = entry
            .strip_prefix("http://")
            .or_else(|| entry.strip_prefix("https://"))
            .unwrap_or(entry)
            .trim_end_matches('/');
        let Some((addr, bits)) = entry.split_once('/') else {
            return Ok(InsecureRule::Host(entry.to_string()));
        };
        let bad = || Error::InvalidConfig(format!("invalid insecure registry CIDR {entry}"));
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
        Ok(InsecureRule::Cidr(addr, bits))
    }

    /// Whether `host` (`host[:port]`, as in a reference) falls under this
    /// rule. Names are not resolved, except `localhost`.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            InsecureRule::Host(h) => h == host || h == host_only(host),
            InsecureRule::Cidr(net, bits) => {
                host_ip(host).is_some_and(|ip| in_cidr(ip, *net, *bits))
            }
        }
    }
}

/// `host` without its port: `[::1]:5000` is `::1`, `a:1` is `a`.
pub(crate) fn host_only(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

fn host_ip(host: &str) -> Option<IpAddr> {
    let name = host_only(host);
    if name == "localhost" {
        return Some(IpAddr::from([127, 0, 0, 1]));
    }
    name.parse().ok()
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure(entry: &str, host: &str) -> bool {
        InsecureRule::parse(entry).unwrap().matches(host)
    }

    #[test]
    fn loopback_cidrs_cover_loopback_hosts() {
        assert!(insecure("127.0.0.0/8", "127.0.0.1:5000"));
        assert!(insecure("127.0.0.0/8", "127.9.9.9"));
        assert!(insecure("127.0.0.0/8", "localhost:5000"));
        assert!(insecure("::1/128", "[::1]:5000"));
        assert!(!insecure("127.0.0.0/8", "10.0.0.1:5000"));
        assert!(!insecure("127.0.0.0/8", "registry.example"));
    }

    #[test]
    fn host_entries_match_with_or_without_port() {
        assert!(insecure("myreg:5000", "myreg:5000"));
        assert!(insecure("myreg", "myreg:5000"));
        assert!(!insecure("myreg:5000", "myreg:6000"));
        assert!(insecure("http://myreg:5000", "myreg:5000"));
    }

    #[test]
    fn bad_cidrs_are_config_errors() {
        assert!(InsecureRule::parse("10.0.0.0/40").is_err());
        assert!(InsecureRule::parse("nonsense/8").is_err());
    }

    #[test]
    fn host_only_strips_ports_and_brackets() {
        assert_eq!(host_only("[::1]:5000"), "::1");
        assert_eq!(host_only("a.b:443"), "a.b");
        assert_eq!(host_only("a.b"), "a.b");
    }
}
