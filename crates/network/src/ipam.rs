//! IP address management: which subnet a new network gets, and which
//! address a new endpoint gets inside its network's subnet.
//!
//! Subnets come from address pools, as dockerd's `--default-address-pool`:
//! each pool's base is split into subnets of one size, and a new network
//! takes the first that overlaps neither another network nor anything the
//! host routes to or owns ([`host_routes`]), so a bridge never shadows the
//! LAN or a VPN. Inside a subnet, addresses are handed out lowest first
//! (from the ip-range if one is set), never the network, broadcast or
//! gateway address. A [`Subnet`] serializes, so the daemon can persist it
//! and re-adopt its endpoints after a restart.
//!
//! IPv4 only. Persisting state and assigning the gateway to the bridge are
//! the daemon's and [`crate::link`]'s business.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

/// What went wrong while choosing a subnet or an address. Texts follow
/// dockerd's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// A `--default-address-pool` value that does not parse or cannot be split.
    #[error("invalid default address pool {spec:?}: {reason}")]
    InvalidPool { spec: String, reason: String },

    /// User-supplied IPAM config that contradicts itself; one entry per
    /// problem, listed as dockerd lists them.
    #[error("invalid network config:\n{}", join_problems(.0))]
    InvalidConfig(Vec<String>),

    /// A requested address outside the network's subnet.
    #[error("invalid address {0}: It does not belong to any of this network's subnets")]
    OutOfSubnet(Ipv4Addr),

    /// A requested address that is taken (or is the network, broadcast or
    /// gateway address).
    #[error("Address already in use")]
    InUse(Ipv4Addr),

    /// A requested gateway that is the subnet's network or broadcast address.
    #[error("failed to allocate gateway ({0}): Address already in use")]
    GatewayUnavailable(Ipv4Addr),

    /// Every address of the subnet (or its ip-range) is taken.
    #[error("no available addresses on this pool")]
    PoolExhausted,

    /// [`IpamError::PoolExhausted`] as dockerd reports it for an endpoint
    /// (see [`IpamError::on_network`]).
    #[error("no available IPv4 addresses on this network's address pools: {name} ({id})")]
    NetworkExhausted { name: String, id: String },

    /// No pool has a subnet left that is free (see [`next_subnet`]).
    #[error("all predefined address pools have been fully subnetted")]
    NoMoreSubnets,
}

impl IpamError {
    /// Names the network in an exhaustion error, as dockerd does when an
    /// endpoint cannot get an address; other errors are returned unchanged.
    pub fn on_network(self, name: &str, id: &str) -> IpamError {
        match self {
            IpamError::PoolExhausted => IpamError::NetworkExhausted {
                name: name.to_string(),
                id: id.to_string(),
            },
            other => other,
        }
    }
}

/// dockerd's joining of several problems: one alone as is, more as a list.
fn join_problems(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => format!("* {}", many.join("\n* ")),
    }
}

/// An address pool: `base` split into subnets of prefix length `size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub base: Ipv4Net,
    pub size: u8,
}

impl Pool {
    /// dockerd's local-scope defaults: 172.17.0.0/16 to 172.31.0.0/16 as
    /// /16s, then 192.168.0.0/16 as /20s.
    pub fn defaults() -> Vec<Pool> {
        const DEFAULTS: [([u8; 4], u8, u8); 7] = [
            ([172, 17, 0, 0], 16, 16),
            ([172, 18, 0, 0], 16, 16),
            ([172, 19, 0, 0], 16, 16),
            ([172, 20, 0, 0], 14, 16),
            ([172, 24, 0, 0], 14, 16),
            ([172, 28, 0, 0], 14, 16),
            ([192, 168, 0, 0], 16, 20),
        ];
        DEFAULTS
            .iter()
            .map(|&(octets, prefix, size)| Pool {
                base: Ipv4Net::new_assert(Ipv4Addr::from(octets), prefix),
                size,
            })
            .collect()
    }

    /// The pool's subnets in address order; none if `size` is shorter than
    /// the base's prefix.
    fn subnets(&self) -> impl Iterator<Item = Ipv4Net> {
        self.base.trunc().subnets(self.size).into_iter().flatten()
    }
}

impl FromStr for Pool {
    type Err = IpamError;

    /// Parses dockerd's flag form, `base=172.17.0.0/16,size=16` (keys in any
    /// case and order).
    fn from_str(spec: &str) -> Result<Pool, IpamError> {
        let invalid = |reason: String| IpamError::InvalidPool {
            spec: spec.to_string(),
            reason,
        };
        let (mut base, mut size) = (None, None);
        for field in spec.split(',') {
            let field = field.trim().to_ascii_lowercase();
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| invalid(format!("field '{field}' must be a key=value pair")))?;
            match key {
                "base" => {
                    let net = value
                        .parse::<Ipv4Net>()
                        .map_err(|_| invalid(format!("invalid base prefix {value:?}")))?;
                    base = Some(net.trunc());
                }
                "size" => {
                    let bits = value
                        .parse::<u8>()
                        .ok()
                        .filter(|bits| *bits <= 32)
                        .ok_or_else(|| invalid(format!("invalid size {value:?}: use 0 to 32")))?;
                    size = Some(bits);
                }
                _ => return Err(invalid(format!("unexpected key '{key}'"))),
            }
        }
        let base = base.ok_or_else(|| invalid("missing base=<CIDR>".to_string()))?;
        let size = size.ok_or_else(|| invalid("missing size=<prefix length>".to_string()))?;
        if size < base.prefix_len() {
            return Err(invalid(format!(
                "size /{size} is shorter than the base's prefix /{}",
                base.prefix_len()
            )));
        }
        Ok(Pool { base, size })
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base={},size={}", self.base, self.size)
    }
}

/// True when the two subnets share at least one address.
fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet of `pools`, in order, that overlaps nothing in
/// `in_use` (other networks) nor in `avoid` (usually [`host_routes`]).
pub fn next_subnet(pools: &[Pool], in_use: &[Ipv4Net], avoid: &[Ipv4Net]) -> Option<Ipv4Net> {
    pools.iter().flat_map(Pool::subnets).find(|candidate| {
        !in_use
            .iter()
            .chain(avoid)
            .any(|used| overlaps(candidate, used))
    })
}

/// What the host routes to or owns: the destinations of its IPv4 routes
/// (from `/proc/net/route`, the main table, without the default route) and
/// its local addresses and routes of every table (from `/proc/net/fib_trie`,
/// which also covers policy-routing tables such as a VPN's). A file that
/// cannot be read is logged and skipped.
pub fn host_routes() -> Vec<Ipv4Net> {
    let mut nets = Vec::new();
    for (path, parse) in [
        (
            "/proc/net/route",
            parse_route_table as fn(&str) -> Vec<Ipv4Net>,
        ),
        ("/proc/net/fib_trie", parse_fib_trie),
    ] {
        match std::fs::read_to_string(path) {
            Ok(text) => nets.extend(parse(&text)),
            Err(err) => tracing::warn!(path, %err, "cannot read the host's routes"),
        }
    }
    nets.sort();
    nets.dedup();
    nets
}

/// Route destinations from `/proc/net/route`: columns `Iface Destination
/// Gateway Flags ... Mask`, addresses as the kernel's native-endian hex.
/// Routes that are down and the default route are left out.
fn parse_route_table(text: &str) -> Vec<Ipv4Net> {
    const RTF_UP: u32 = 0x1;
    let hex = |field: &str| u32::from_str_radix(field, 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (dest, flags, mask) = (hex(cols.get(1)?)?, hex(cols.get(3)?)?, hex(cols.get(7)?)?);
            if flags & RTF_UP == 0 {
                return None;
            }
            let dest = Ipv4Addr::from(dest.to_ne_bytes());
            let mask = Ipv4Addr::from(mask.to_ne_bytes());
            Ipv4Net::with_netmask(dest, mask).ok()
        })
        .filter(|net| net.prefix_len() > 0)
        .map(|net| net.trunc())
        .collect()
}

/// Local addresses and unicast routes from `/proc/net/fib_trie`, where a
/// leaf `|-- 192.0.2.2` is followed by its entries, e.g. `/32 host LOCAL`
/// or `/24 link UNICAST`. Broadcast entries and default routes are left out.
fn parse_fib_trie(text: &str) -> Vec<Ipv4Net> {
    let mut leaf: Option<Ipv4Addr> = None;
    let mut nets = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(addr) = line.strip_prefix("|-- ") {
            leaf = addr.parse().ok();
            continue;
        }
        let (Some(addr), Some(entry)) = (leaf, line.strip_prefix('/')) else {
            continue;
        };
        let mut words = entry.split_whitespace();
        let prefix = words.next().and_then(|p| p.parse::<u8>().ok());
        let kind = words.last();
        if let (Some(prefix @ 1..=32), Some("LOCAL" | "UNICAST")) = (prefix, kind) {
            nets.push(Ipv4Net::new_assert(addr, prefix).trunc());
        }
    }
    nets
}

/// One entry of a network's IPAM config as the API carries it
/// (`IPAM.Config[]`): strings, any of them empty when not given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpamConfig {
    pub subnet: String,
    pub ip_range: String,
    pub gateway: String,
}

/// Checks user-supplied IPAM config as dockerd does before creating a
/// network: each subnet is a CIDR without host bits, each ip-range a CIDR
/// inside its subnet, each gateway an address inside its subnet, all of one
/// family. IPv6 entries are skipped unless `enable_ipv6`. Every problem is
/// reported, not just the first.
pub fn validate_config(configs: &[IpamConfig], enable_ipv6: bool) -> Result<(), IpamError> {
    let mut problems = Vec::new();
    for config in configs {
        let Ok(subnet) = config.subnet.parse::<IpNet>() else {
            problems.push(format!(
                "invalid subnet {}: invalid CIDR block notation",
                config.subnet
            ));
            continue;
        };
        if matches!(subnet, IpNet::V6(_)) && !enable_ipv6 {
            continue;
        }
        if subnet != subnet.trunc() {
            problems.push(format!(
                "invalid subnet {subnet}: it should be {}",
                subnet.trunc()
            ));
        }
        problems.extend(ip_range_problems(&config.ip_range, &subnet));
        if let Err(problem) = address_problem(&config.gateway, &subnet) {
            problems.push(format!("invalid gateway {}: {problem}", config.gateway));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(IpamError::InvalidConfig(problems))
    }
}

/// "IPv4" or "IPv6", as dockerd names a family in its messages.
fn family(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "IPv4",
        IpNet::V6(_) => "IPv6",
    }
}

fn ip_range_problems(ip_range: &str, subnet: &IpNet) -> Vec<String> {
    if ip_range.is_empty() {
        return Vec::new();
    }
    let Ok(range) = ip_range.parse::<IpNet>() else {
        return vec![format!(
            "invalid ip-range {ip_range}: invalid CIDR block notation"
        )];
    };
    if family(&range) != family(subnet) {
        return vec![format!(
            "invalid ip-range {ip_range}: parent subnet is an {} block",
            family(subnet)
        )];
    }
    let mut problems = Vec::new();
    if range.prefix_len() < subnet.prefix_len() {
        problems.push(format!(
            "invalid ip-range {ip_range}: CIDR block is bigger than its parent subnet {subnet}"
        ));
    }
    if range != range.trunc() {
        problems.push(format!(
            "invalid ip-range {range}: it should be {}",
            range.trunc()
        ));
    }
    if !subnet.contains(&range.network()) && !range.contains(&subnet.network()) {
        problems.push(format!(
            "invalid ip-range {ip_range}: parent subnet {subnet} doesn't contain ip-range"
        ));
    }
    problems
}

fn address_problem(address: &str, subnet: &IpNet) -> Result<(), String> {
    if address.is_empty() {
        return Ok(());
    }
    let addr: IpAddr = address.parse().map_err(|_| "invalid address".to_string())?;
    if addr.is_ipv4() != matches!(subnet, IpNet::V4(_)) {
        return Err(format!("parent subnet is an {} block", family(subnet)));
    }
    if !subnet.contains(&addr) {
        return Err(format!(
            "parent subnet {subnet} doesn't contain this address"
        ));
    }
    Ok(())
}

/// A network's subnet and the addresses handed out in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    ip_range: Option<Ipv4Net>,
    allocated: BTreeSet<Ipv4Addr>,
}

impl Subnet {
    /// A subnet with nothing allocated. The gateway defaults to the first
    /// address that could be allocated (from the ip-range if there is one),
    /// as dockerd's does. Host bits in `subnet` and `ip_range` are ignored;
    /// the range must lie inside the subnet and a given gateway too, and the
    /// gateway may not be the network or broadcast address.
    pub fn new(
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        ip_range: Option<Ipv4Net>,
    ) -> Result<Subnet, IpamError> {
        let subnet = subnet.trunc();
        let ip_range = ip_range.map(|range| range.trunc());
        if let Some(range) = ip_range.filter(|range| !subnet.contains(range)) {
            return Err(IpamError::InvalidConfig(vec![format!(
                "invalid ip-range {range}: parent subnet {subnet} doesn't contain ip-range"
            )]));
        }
        let mut new = Subnet {
            subnet,
            gateway: subnet.network(),
            ip_range,
            allocated: BTreeSet::new(),
        };
        new.gateway = match gateway {
            Some(gw) if !subnet.contains(&gw) => {
                return Err(IpamError::InvalidConfig(vec![format!(
                    "invalid gateway {gw}: parent subnet {subnet} doesn't contain this address"
                )]))
            }
            Some(gw) if new.is_network_or_broadcast(gw) => {
                return Err(IpamError::GatewayUnavailable(gw))
            }
            Some(gw) => gw,
            None => new.candidates().next().ok_or(IpamError::PoolExhausted)?,
        };
        Ok(new)
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    pub fn ip_range(&self) -> Option<Ipv4Net> {
        self.ip_range
    }

    /// The addresses handed out to endpoints (never the gateway).
    pub fn allocated(&self) -> &BTreeSet<Ipv4Addr> {
        &self.allocated
    }

    /// Hands out `wanted`, or else the lowest free address of the ip-range
    /// (or subnet). As in dockerd, a wanted address only has to be inside
    /// the subnet: the ip-range bounds automatic allocation, so fixed
    /// addresses can be kept outside it.
    pub fn allocate(&mut self, wanted: Option<Ipv4Addr>) -> Result<Ipv4Addr, IpamError> {
        let ip = match wanted {
            Some(ip) => {
                self.check_free(ip)?;
                ip
            }
            None => self.first_free().ok_or(IpamError::PoolExhausted)?,
        };
        self.allocated.insert(ip);
        Ok(ip)
    }

    /// Returns `ip` to the free addresses; releasing a free address does nothing.
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.allocated.remove(&ip);
    }

    /// Records `ip` as handed out, e.g. an endpoint re-adopted after a
    /// daemon restart. Marking an address that is already allocated is fine.
    pub fn mark_used(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        if !self.allocated.contains(&ip) {
            self.check_free(ip)?;
            self.allocated.insert(ip);
        }
        Ok(())
    }

    fn check_free(&self, ip: Ipv4Addr) -> Result<(), IpamError> {
        if !self.subnet.contains(&ip) {
            return Err(IpamError::OutOfSubnet(ip));
        }
        if self.is_reserved(ip) || self.allocated.contains(&ip) {
            return Err(IpamError::InUse(ip));
        }
        Ok(())
    }

    fn first_free(&self) -> Option<Ipv4Addr> {
        self.candidates()
            .find(|ip| *ip != self.gateway && !self.allocated.contains(ip))
    }

    /// The addresses automatic allocation may use, lowest first: those of
    /// the ip-range (or subnet) but the network and broadcast address.
    fn candidates(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let pool = self.ip_range.unwrap_or(self.subnet);
        let (first, last) = (u32::from(pool.network()), u32::from(pool.broadcast()));
        (first..=last)
            .map(Ipv4Addr::from)
            .filter(|ip| !self.is_network_or_broadcast(*ip))
    }

    fn is_reserved(&self, ip: Ipv4Addr) -> bool {
        ip == self.gateway || self.is_network_or_broadcast(ip)
    }

    /// /31 and /32 subnets have no network or broadcast address (RFC 3021).
    fn is_network_or_broadcast(&self, ip: Ipv4Addr) -> bool {
        self.subnet.prefix_len() < 31
            && (ip == self.subnet.network() || ip == self.subnet.broadcast())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn default_pools_are_dockers() {
        let pools = Pool::defaults();
        let subnets: Vec<Ipv4Net> = pools.iter().flat_map(Pool::subnets).collect();
        assert_eq!(subnets.len(), 15 + 16);
        assert_eq!(subnets[0], net("172.17.0.0/16"));
        assert_eq!(subnets[14], net("172.31.0.0/16"));
        assert_eq!(subnets[15], net("192.168.0.0/20"));
        assert_eq!(subnets[16], net("192.168.16.0/20"));
        assert_eq!(subnets[30], net("192.168.240.0/20"));
    }

    #[test]
    fn pool_parses_dockerd_flag_form() {
        let pool: Pool = "base=10.10.0.0/16,size=24".parse().unwrap();
        assert_eq!(
            pool,
            Pool {
                base: net("10.10.0.0/16"),
                size: 24
            }
        );
        assert_eq!(pool.to_string(), "base=10.10.0.0/16,size=24");
        let pool: Pool = "SIZE=20, Base=10.10.1.0/16".parse().unwrap();
        assert_eq!(pool.base, net("10.10.0.0/16"));
        assert_eq!(pool.size, 20);
    }

    #[test]
    fn pool_rejects_malformed_specs() {
        for spec in [
            "base=10.0.0.0/8",
            "size=24",
            "base=10.0.0.0,size=24",
            "base=10.0.0.0/8,size=33",
            "base=10.0.0.0/8,size=x",
            "base=10.0.0.0/16,size=8",
            "base=10.0.0.0/8,size=24,color=red",
            "10.0.0.0/8",
        ] {
            let err = spec.parse::<Pool>().unwrap_err();
            assert!(
                matches!(err, IpamError::InvalidPool { .. }),
                "{spec}: {err}"
            );
        }
    }

    #[test]
    fn pool_serializes_as_daemon_json() {
        let pool = Pool::defaults()[0];
        let json = serde_json::to_string(&pool).unwrap();
        assert_eq!(json, r#"{"base":"172.17.0.0/16","size":16}"#);
        assert_eq!(serde_json::from_str::<Pool>(&json).unwrap(), pool);
    }

    #[test]
    fn next_subnet_skips_used_and_host_routes() {
        let pools = Pool::defaults();
        assert_eq!(next_subnet(&pools, &[], &[]), Some(net("172.17.0.0/16")));
        let in_use = [net("172.17.0.0/16"), net("172.19.0.0/16")];
        let avoid = [net("172.18.5.0/24")];
        assert_eq!(
            next_subnet(&pools, &in_use, &avoid),
            Some(net("172.20.0.0/16"))
        );
        // A host route bigger than a candidate hides every candidate inside it.
        let avoid = [net("172.16.0.0/12")];
        assert_eq!(
            next_subnet(&pools, &[], &avoid),
            Some(net("192.168.0.0/20"))
        );
    }

    #[test]
    fn next_subnet_is_none_when_pools_are_full() {
        let pools = [Pool {
            base: net("10.0.0.0/23"),
            size: 24,
        }];
        let in_use = [net("10.0.0.0/24"), net("10.0.1.0/24")];
        assert_eq!(next_subnet(&pools, &in_use, &[]), None);
        assert_eq!(
            next_subnet(&pools, &in_use[..1], &[]),
            Some(net("10.0.1.0/24"))
        );
    }

    #[test]
    fn route_table_gives_destinations_without_default() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            wg0\t0000080A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            eth1\t0000A8C0\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_route_table(text),
                vec![net("192.0.2.0/24"), net("10.8.0.0/16")]
            );
        }
    }

    #[test]
    fn fib_trie_gives_local_addresses_and_routes() {
        let text = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
            \x20    +-- 127.0.0.0/8 2 0 2\n        +-- 127.0.0.0/31 1 0 0\n           |-- 127.0.0.0\n\
            \x20             /8 host LOCAL\n           |-- 127.0.0.1\n              /32 host LOCAL\n\
            \x20       |-- 127.255.255.255\n           /32 link BROADCAST\n\
            \x20    +-- 192.0.2.0/24 2 0 2\n           |-- 192.0.2.0\n              /24 link UNICAST\n\
            \x20          |-- 192.0.2.2\n              /32 host LOCAL\n";
        assert_eq!(
            parse_fib_trie(text),
            vec![
                net("127.0.0.0/8"),
                net("127.0.0.1/32"),
                net("192.0.2.0/24"),
                net("192.0.2.2/32"),
            ]
        );
    }

    #[test]
    fn host_routes_include_loopback() {
        let routes = host_routes();
        assert!(
            routes.iter().any(|r| r.contains(&ip("127.0.0.1"))),
            "{routes:?}"
        );
        assert!(routes.iter().all(|r| r.prefix_len() > 0), "{routes:?}");
    }

    #[test]
    fn allocation_is_sequential_after_the_gateway() {
        let mut subnet = Subnet::new(net("172.18.0.0/16"), None, None).unwrap();
        assert_eq!(subnet.gateway(), ip("172.18.0.1"));
        assert_eq!(subnet.allocate(None).unwrap(), ip("172.18.0.2"));
        assert_eq!(subnet.allocate(None).unwrap(), ip("172.18.0.3"));
        subnet.release(ip("172.18.0.2"));
        assert_eq!(subnet.allocate(None).unwrap(), ip("172.18.0.2"));
        assert_eq!(subnet.allocate(None).unwrap(), ip("172.18.0.4"));
    }

    #[test]
    fn allocation_never_hands_out_network_broadcast_or_gateway() {
        let mut subnet = Subnet::new(net("10.0.0.0/29"), Some(ip("10.0.0.3")), None).unwrap();
        let got: Vec<Ipv4Addr> = (0..5).map(|_| subnet.allocate(None).unwrap()).collect();
        assert_eq!(
            got,
            ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"].map(ip)
        );
        let err = subnet.allocate(None).unwrap_err();
        assert_eq!(err, IpamError::PoolExhausted);
        assert_eq!(
            err.on_network("web", "abc123").to_string(),
            "no available IPv4 addresses on this network's address pools: web (abc123)"
        );
    }

    #[test]
    fn fixed_address_must_be_free_and_in_the_subnet() {
        let mut subnet = Subnet::new(net("10.1.0.0/24"), None, None).unwrap();
        assert_eq!(
            subnet.allocate(Some(ip("10.1.0.50"))).unwrap(),
            ip("10.1.0.50")
        );
        for taken in ["10.1.0.50", "10.1.0.1", "10.1.0.0", "10.1.0.255"] {
            let err = subnet.allocate(Some(ip(taken))).unwrap_err();
            assert_eq!(err.to_string(), "Address already in use", "{taken}");
        }
        let err = subnet.allocate(Some(ip("10.2.0.5"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid address 10.2.0.5: It does not belong to any of this network's subnets"
        );
        // The fixed address is skipped by automatic allocation.
        subnet.allocate(Some(ip("10.1.0.2"))).unwrap();
        assert_eq!(subnet.allocate(None).unwrap(), ip("10.1.0.3"));
    }

    #[test]
    fn ip_range_bounds_automatic_allocation_only() {
        let mut subnet = Subnet::new(
            net("172.30.0.0/16"),
            Some(ip("172.30.0.1")),
            Some(net("172.30.5.0/30")),
        )
        .unwrap();
        let got: Vec<Ipv4Addr> = (0..4).map(|_| subnet.allocate(None).unwrap()).collect();
        assert_eq!(
            got,
            ["172.30.5.0", "172.30.5.1", "172.30.5.2", "172.30.5.3"].map(ip)
        );
        assert_eq!(subnet.allocate(None), Err(IpamError::PoolExhausted));
        // As in dockerd, fixed addresses may sit outside the range.
        assert_eq!(
            subnet.allocate(Some(ip("172.30.9.9"))).unwrap(),
            ip("172.30.9.9")
        );
    }

    #[test]
    fn default_gateway_comes_from_the_ip_range() {
        let subnet = Subnet::new(net("172.30.0.0/16"), None, Some(net("172.30.5.0/24"))).unwrap();
        assert_eq!(subnet.gateway(), ip("172.30.5.0"));
        let subnet = Subnet::new(net("172.30.0.0/16"), None, Some(net("172.30.0.0/24"))).unwrap();
        assert_eq!(subnet.gateway(), ip("172.30.0.1"));
    }

    #[test]
    fn subnet_rejects_bad_gateway_and_range() {
        let err = Subnet::new(net("10.0.0.0/24"), Some(ip("10.0.0.0")), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to allocate gateway (10.0.0.0): Address already in use"
        );
        let err = Subnet::new(net("10.0.0.0/24"), Some(ip("10.0.1.1")), None).unwrap_err();
        assert!(matches!(err, IpamError::InvalidConfig(_)), "{err}");
        let err = Subnet::new(net("10.0.0.0/24"), None, Some(net("10.0.0.0/16"))).unwrap_err();
        assert!(matches!(err, IpamError::InvalidConfig(_)), "{err}");
    }

    #[test]
    fn point_to_point_subnets_use_every_address() {
        let mut subnet = Subnet::new(net("10.9.9.0/31"), None, None).unwrap();
        assert_eq!(subnet.gateway(), ip("10.9.9.0"));
        assert_eq!(subnet.allocate(None).unwrap(), ip("10.9.9.1"));
        assert_eq!(subnet.allocate(None), Err(IpamError::PoolExhausted));
    }

    #[test]
    fn mark_used_readopts_addresses() {
        let mut subnet = Subnet::new(net("10.3.0.0/24"), None, None).unwrap();
        subnet.mark_used(ip("10.3.0.2")).unwrap();
        subnet.mark_used(ip("10.3.0.2")).unwrap();
        subnet.mark_used(ip("10.3.0.7")).unwrap();
        assert_eq!(subnet.allocate(None).unwrap(), ip("10.3.0.3"));
        assert_eq!(
            subnet.mark_used(ip("10.3.0.1")),
            Err(IpamError::InUse(ip("10.3.0.1")))
        );
        assert_eq!(
            subnet.mark_used(ip("10.4.0.1")),
            Err(IpamError::OutOfSubnet(ip("10.4.0.1")))
        );
    }

    #[test]
    fn subnet_state_survives_serialization() {
        let mut subnet = Subnet::new(net("10.5.0.0/24"), None, Some(net("10.5.0.128/25"))).unwrap();
        subnet.allocate(None).unwrap();
        subnet.allocate(Some(ip("10.5.0.9"))).unwrap();
        let json = serde_json::to_string(&subnet).unwrap();
        assert!(json.contains(r#""subnet":"10.5.0.0/24""#), "{json}");
        let mut restored: Subnet = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, subnet);
        assert_eq!(restored.allocate(None).unwrap(), ip("10.5.0.130"));
    }

    fn config(subnet: &str, ip_range: &str, gateway: &str) -> IpamConfig {
        IpamConfig {
            subnet: subnet.into(),
            ip_range: ip_range.into(),
            gateway: gateway.into(),
        }
    }

    #[test]
    fn valid_config_passes() {
        let configs = [
            config("172.30.0.0/16", "172.30.5.0/24", "172.30.0.1"),
            config("10.0.0.0/8", "", ""),
            config("fd00::/64", "", "fd00::1"),
        ];
        assert_eq!(validate_config(&configs, true), Ok(()));
    }

    #[test]
    fn config_problems_use_dockers_words() {
        let cases = [
            (
                config("172.30.0.0", "", ""),
                "invalid subnet 172.30.0.0: invalid CIDR block notation",
            ),
            (
                config("172.30.0.1/16", "", ""),
                "invalid subnet 172.30.0.1/16: it should be 172.30.0.0/16",
            ),
            (
                config("172.30.0.0/16", "", "10.0.0.1"),
                "invalid gateway 10.0.0.1: parent subnet 172.30.0.0/16 doesn't contain this address",
            ),
            (
                config("172.30.0.0/16", "", "nope"),
                "invalid gateway nope: invalid address",
            ),
            (
                config("172.30.0.0/16", "", "fd00::1"),
                "invalid gateway fd00::1: parent subnet is an IPv4 block",
            ),
            (
                config("172.30.0.0/16", "10.1.0.0/24", ""),
                "invalid ip-range 10.1.0.0/24: parent subnet 172.30.0.0/16 doesn't contain ip-range",
            ),
            (
                config("172.30.0.0/16", "172.30.0.0/24x", ""),
                "invalid ip-range 172.30.0.0/24x: invalid CIDR block notation",
            ),
            (
                config("172.30.0.0/16", "fd00::/64", ""),
                "invalid ip-range fd00::/64: parent subnet is an IPv4 block",
            ),
        ];
        for (config, want) in cases {
            let err = validate_config(std::slice::from_ref(&config), false).unwrap_err();
            assert_eq!(err.to_string(), format!("invalid network config:\n{want}"));
        }
    }

    #[test]
    fn config_lists_every_problem() {
        let err =
            validate_config(&[config("172.30.0.0/16", "172.0.0.1/8", "")], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid network config:\n\
             * invalid ip-range 172.0.0.1/8: CIDR block is bigger than its parent subnet 172.30.0.0/16\n\
             * invalid ip-range 172.0.0.1/8: it should be 172.0.0.0/8"
        );
    }

    #[test]
    fn ipv6_config_is_skipped_unless_enabled() {
        let configs = [config("fd00::1/64", "", "")];
        assert_eq!(validate_config(&configs, false), Ok(()));
        assert!(validate_config(&configs, true).is_err());
    }
}
