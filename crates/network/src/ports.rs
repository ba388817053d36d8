//! Docker's port model, and holding host ports for published container ports.
//!
//! * [`Port`] is a container port as the API keys it (`"80/tcp"`) and
//!   [`Binding`] one entry of `HostConfig.PortBindings`;
//! * [`parse_publish`] turns a CLI `-p` spec into such pairs, as docker/cli
//!   does (ranges exist only there: the API has one port per key);
//! * [`plan`] decides what a container publishes and [`reserve`] binds each
//!   host port without listening, so no other program can take it while the
//!   container runs; the firewall then DNATs it to the container.
//!
//! A port held by another reservation of this process (another container)
//! is refused with dockerd's `Bind for 0.0.0.0:8080 failed: port is already
//! allocated`; one held by another program with dockerd 28's `failed to bind
//! host port for 0.0.0.0:8080:80/tcp: address already in use`.
//!
//! IPv4 host addresses only. The NAT rules live in [`crate::firewall`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// What was wrong with a port spec, or why a host port cannot be held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A port (or host port) that is not a number or range of 0-65535, as
    /// dockerd reports a bad `PortBindings` entry.
    #[error("invalid port specification: {0:?}")]
    InvalidPort(String),

    #[error("invalid proto: {0}")]
    InvalidProto(String),

    #[error("invalid IP address: {0}")]
    InvalidHostIp(String),

    /// Host addresses are IPv4 only for now.
    #[error("invalid IP address: {0}: IPv6 host addresses are not supported")]
    Ipv6HostIp(String),

    /// A `-p` spec with an empty container port.
    #[error("no port specified: {0}<empty>")]
    NoPort(String),

    #[error("invalid containerPort: {0}")]
    InvalidContainerPort(String),

    #[error("invalid hostPort: {0}")]
    InvalidHostPort(String),

    /// A `-p` spec mapping a container range onto a host range of another length.
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    RangeMismatch { container: String, host: String },

    /// The host port is held by another reservation of this process.
    #[error("Bind for {ip}:{port} failed: port is already allocated")]
    AlreadyAllocated { ip: Ipv4Addr, port: u16 },

    /// Every port of a host port range is held by reservations of this process.
    #[error("all ports are allocated")]
    AllPortsAllocated,

    /// The kernel refused the bind, e.g. another program holds the port.
    /// `binding` reads `HOSTIP:HOSTPORT:CONTAINERPORT/PROTO`; `port` is the
    /// port that failed last when a range was asked for.
    #[error("failed to bind host port {}for {binding}: {}", port_prefix(.port), go_text(*.errno))]
    Bind {
        binding: String,
        port: Option<u16>,
        errno: Errno,
    },

    /// The socket could not be created, e.g. SCTP is not available.
    #[error("failed to create socket for {binding}: {}", go_text(*.errno))]
    Socket { binding: String, errno: Errno },
}

fn port_prefix(port: &Option<u16>) -> String {
    port.map(|p| format!("{p} ")).unwrap_or_default()
}

/// An errno as Go prints it (and dockerd's messages carry it): the C text
/// with a lower-case first letter, e.g. "address already in use".
fn go_text(errno: Errno) -> String {
    let desc = errno.desc();
    let mut chars = desc.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A transport protocol a port can be published for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Proto {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Proto, PortError> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            _ => Err(PortError::InvalidProto(s.to_string())),
        }
    }
}

/// A container port: `"80/tcp"` in the API, `"80"` meaning tcp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Port {
    pub number: u16,
    pub proto: Proto,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.proto)
    }
}

impl FromStr for Port {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Port, PortError> {
        let (number, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        let number = number
            .parse()
            .map_err(|_| PortError::InvalidPort(number.to_string()))?;
        let proto = if proto.is_empty() { "tcp" } else { proto };
        Ok(Port {
            number,
            proto: proto.parse()?,
        })
    }
}

impl TryFrom<String> for Port {
    type Error = PortError;

    fn try_from(s: String) -> Result<Port, PortError> {
        s.parse()
    }
}

impl From<Port> for String {
    fn from(port: Port) -> String {
        port.to_string()
    }
}

/// One entry of `HostConfig.PortBindings`: `{"HostIp": "", "HostPort": "8080"}`.
/// An empty host IP means all addresses; an empty host port a random one;
/// a host port may be a range `"8000-8010"` (the first free one is taken).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    #[serde(rename = "HostIp", default)]
    pub host_ip: String,
    #[serde(rename = "HostPort", default)]
    pub host_port: String,
}

/// Which host port a request may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostPorts {
    /// Whichever port the kernel picks from its ephemeral range.
    Any,
    /// The first free port of `start..=end` (one port when equal).
    Range { start: u16, end: u16 },
}

/// One host port to publish a container port on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub container_port: Port,
    /// `None` for every address (0.0.0.0).
    pub host_ip: Option<Ipv4Addr>,
    pub host_ports: HostPorts,
}

/// What a request was granted: `host_ip:host_port` forwards to the
/// container's `container_port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub proto: Proto,
    pub container_port: u16,
}

/// What to publish for a container: every binding of `bindings` (keyed
/// `"80/tcp"`, one port per key), and with `publish_all` (`-P`) every port
/// of `exposed` that has no binding, on a random host port. Requests come
/// sorted by container port.
pub fn plan(
    exposed: &[Port],
    bindings: &BTreeMap<String, Vec<Binding>>,
    publish_all: bool,
) -> Result<Vec<Request>, PortError> {
    let mut bound: BTreeMap<Port, Vec<&Binding>> = BTreeMap::new();
    for (key, list) in bindings {
        bound.entry(key.parse()?).or_default().extend(list);
    }
    let mut requests = Vec::new();
    for (port, list) in &bound {
        for binding in list {
            requests.push(Request {
                container_port: *port,
                host_ip: parse_host_ip(&binding.host_ip)?,
                host_ports: parse_host_ports(&binding.host_port)?,
            });
        }
    }
    if publish_all {
        let exposed: BTreeSet<Port> = exposed.iter().copied().collect();
        let unbound = exposed
            .into_iter()
            .filter(|port| bound.get(port).is_none_or(Vec::is_empty));
        for port in unbound {
            requests.push(Request {
                container_port: port,
                host_ip: None,
                host_ports: HostPorts::Any,
            });
        }
    }
    requests.sort_by_key(|req| req.container_port);
    Ok(requests)
}

/// A binding's host IP: empty or 0.0.0.0 means every address.
fn parse_host_ip(host_ip: &str) -> Result<Option<Ipv4Addr>, PortError> {
    if host_ip.is_empty() {
        return Ok(None);
    }
    match host_ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => Ok(None),
        Ok(IpAddr::V4(ip)) => Ok(Some(ip)),
        Ok(IpAddr::V6(_)) => Err(PortError::Ipv6HostIp(host_ip.to_string())),
        Err(_) => Err(PortError::InvalidHostIp(host_ip.to_string())),
    }
}

/// A binding's host port: empty or "0" for any, "8080", or "8000-8010".
fn parse_host_ports(host_port: &str) -> Result<HostPorts, PortError> {
    if host_port.is_empty() {
        return Ok(HostPorts::Any);
    }
    let invalid = || PortError::InvalidPort(host_port.to_string());
    let (start, end) = parse_range(host_port).ok_or_else(invalid)?;
    match (start, end) {
        (0, 0) => Ok(HostPorts::Any),
        (0, _) => Err(invalid()),
        _ => Ok(HostPorts::Range { start, end }),
    }
}

/// "80" or "8000-8010" as an inclusive range; `None` if malformed or reversed.
fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (start, end) = s.split_once('-').unwrap_or((s, s));
    let (start, end) = (start.parse().ok()?, end.parse().ok()?);
    (start <= end).then_some((start, end))
}

/// Parses a CLI `-p` spec as docker/cli does: `[[HOSTIP:][HOSTPORT]:]CONTAINERPORT[/PROTO]`,
/// where either port may be a range (`8000-8001:80-81` maps pairwise; a host
/// range with one container port is a range to pick a free port from). An
/// IPv6 host IP is written in brackets. Returns one (port, binding) pair per
/// container port.
pub fn parse_publish(spec: &str) -> Result<Vec<(Port, Binding)>, PortError> {
    let (host_ip, host_port, container) = split_publish(spec);
    let (container, proto) = container.split_once('/').unwrap_or((container, "tcp"));
    if container.is_empty() {
        return Err(PortError::NoPort(spec.to_string()));
    }
    let proto: Proto = match proto {
        "" => Proto::Tcp,
        p => p.parse()?,
    };
    let host_ip = host_ip
        .strip_prefix('[')
        .and_then(|ip| ip.strip_suffix(']'))
        .unwrap_or(host_ip);
    if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
        return Err(PortError::InvalidHostIp(host_ip.to_string()));
    }
    let (start, end) =
        parse_range(container).ok_or_else(|| PortError::InvalidContainerPort(container.into()))?;
    let host = match host_port {
        "" => None,
        hp => Some(parse_range(hp).ok_or_else(|| PortError::InvalidHostPort(hp.into()))?),
    };
    if let Some((host_start, host_end)) = host {
        if end - start != host_end - host_start && start != end {
            return Err(PortError::RangeMismatch {
                container: container.to_string(),
                host: host_port.to_string(),
            });
        }
    }
    Ok((start..=end)
        .enumerate()
        .map(|(i, number)| {
            let host_port = match host {
                None => String::new(),
                Some((hs, he)) if start == end && hs != he => format!("{hs}-{he}"),
                Some((hs, _)) => (u32::from(hs) + i as u32).to_string(),
            };
            let binding = Binding {
                host_ip: host_ip.to_string(),
                host_port,
            };
            (Port { number, proto }, binding)
        })
        .collect())
}

/// Splits a `-p` spec at its colons: the last part is the container port,
/// the one before it the host port, and everything before that the host IP
/// (which may hold colons itself when it is IPv6).
fn split_publish(spec: &str) -> (&str, &str, &str) {
    let mut parts = spec.rsplitn(3, ':');
    let container = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (None, _) => ("", "", container),
        (Some(host_port), None) => ("", host_port, container),
        (Some(host_port), Some(host_ip)) => (host_ip, host_port, container),
    }
}

/// Host ports held by this process, so a second claim on one is told
/// dockerd's "port is already allocated" rather than the kernel's error.
static HELD: Mutex<Vec<Mapping>> = Mutex::new(Vec::new());

fn held() -> MutexGuard<'static, Vec<Mapping>> {
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// True when a port held as `held` keeps `ip:port` from being bound:
/// same protocol and port, and the same address or either is 0.0.0.0.
fn conflicts(held: &Mapping, ip: Ipv4Addr, port: u16, proto: Proto) -> bool {
    held.proto == proto
        && held.host_port == port
        && (held.host_ip == ip || held.host_ip.is_unspecified() || ip.is_unspecified())
}

/// A host port held for a published container port, by a socket that is
/// bound but not listening (nothing is accepted on it: the firewall DNATs
/// the port to the container). Dropping it frees the port.
#[derive(Debug)]
pub struct Reservation {
    mapping: Mapping,
    socket: Option<OwnedFd>,
}

impl Reservation {
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut held = held();
        drop(self.socket.take());
        if let Some(i) = held.iter().position(|m| *m == self.mapping) {
            held.swap_remove(i);
        }
        tracing::debug!(mapping = ?self.mapping, "released host port");
    }
}

/// Binds the request's host port on its host IP (0.0.0.0 by default) with
/// the protocol's socket type, without listening: port 0 lets the kernel
/// choose, a range takes its first free port.
pub fn reserve(req: &Request) -> Result<Reservation, PortError> {
    let ip = req.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let proto = req.container_port.proto;
    let mut held = held();
    let (socket, host_port) = match req.host_ports {
        HostPorts::Any => bind_port(req, ip, 0, None)?,
        HostPorts::Range { start, end } => bind_first_free(&held, req, ip, start, end)?,
    };
    let mapping = Mapping {
        host_ip: ip,
        host_port,
        proto,
        container_port: req.container_port.number,
    };
    held.push(mapping);
    tracing::debug!(?mapping, "reserved host port");
    Ok(Reservation {
        mapping,
        socket: Some(socket),
    })
}

/// The first port of `start..=end` that neither this process nor the
/// kernel reports taken.
fn bind_first_free(
    held: &[Mapping],
    req: &Request,
    ip: Ipv4Addr,
    start: u16,
    end: u16,
) -> Result<(OwnedFd, u16), PortError> {
    let proto = req.container_port.proto;
    let mut last_refusal = None;
    for port in start..=end {
        if let Some(owner) = held.iter().find(|m| conflicts(m, ip, port, proto)) {
            if start == end {
                return Err(PortError::AlreadyAllocated {
                    ip: owner.host_ip,
                    port,
                });
            }
            continue;
        }
        match bind_port(req, ip, port, (start != end).then_some(port)) {
            Err(
                err @ PortError::Bind {
                    errno: Errno::EADDRINUSE,
                    ..
                },
            ) => {
                last_refusal = Some(err);
            }
            other => return other,
        }
    }
    Err(last_refusal.unwrap_or(PortError::AllPortsAllocated))
}

/// Opens and binds one socket on `ip:port`; returns it with the port bound
/// (the kernel's choice when `port` is 0). `failed_port` names the port in
/// the error when it was one of a range.
fn bind_port(
    req: &Request,
    ip: Ipv4Addr,
    port: u16,
    failed_port: Option<u16>,
) -> Result<(OwnedFd, u16), PortError> {
    let binding = || describe(req, ip);
    let socket = open_socket(req.container_port.proto).map_err(|errno| PortError::Socket {
        binding: binding(),
        errno,
    })?;
    let bind_error = |errno| PortError::Bind {
        binding: binding(),
        port: failed_port,
        errno,
    };
    bind_v4(&socket, SocketAddrV4::new(ip, port)).map_err(bind_error)?;
    let port = local_port(&socket).map_err(bind_error)?;
    Ok((socket, port))
}

/// A request as dockerd prints a port binding, `HOSTIP:HOSTPORT:PORT/PROTO`
/// (the container's address is not known here, and dockerd omits it then).
fn describe(req: &Request, ip: Ipv4Addr) -> String {
    let host_ports = match req.host_ports {
        HostPorts::Any => String::new(),
        HostPorts::Range { start, end } if start == end => start.to_string(),
        HostPorts::Range { start, end } => format!("{start}-{end}"),
    };
    format!(
        "{ip}:{host_ports}:{}/{}",
        req.container_port.number, req.container_port.proto
    )
}

/// A new IPv4 socket of the protocol's type (stream for TCP and SCTP,
/// datagram for UDP), close-on-exec. Not SO_REUSEADDR: a socket bound
/// without it cannot share its port with any other socket.
fn open_socket(proto: Proto) -> Result<OwnedFd, Errno> {
    let (kind, protocol) = match proto {
        Proto::Tcp => (libc::SOCK_STREAM, libc::IPPROTO_TCP),
        Proto::Udp => (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
        Proto::Sctp => (libc::SOCK_STREAM, libc::IPPROTO_SCTP),
    };
    // SAFETY: socket(2) takes no pointers; it returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `fd` was just returned by socket(2), so it is open and owned
    // by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind_v4(socket: &OwnedFd, addr: SocketAddrV4) -> Result<(), Errno> {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a fully initialised sockaddr_in that outlives the
    // call, and the length passed is its size.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    Errno::result(rc).map(drop)
}

fn local_port(socket: &OwnedFd) -> Result<u16, Errno> {
    // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sin` and `len` are valid for writes, and `len` holds the
    // size of `sin`, so the kernel writes within it.
    let rc = unsafe {
        libc::getsockname(
            socket.as_raw_fd(),
            (&mut sin as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    Errno::result(rc).map(|_| u16::from_be(sin.sin_port))
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, UdpSocket};

    use super::*;

    const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

    fn port(s: &str) -> Port {
        s.parse().unwrap()
    }

    fn binding(host_ip: &str, host_port: &str) -> Binding {
        Binding {
            host_ip: host_ip.into(),
            host_port: host_port.into(),
        }
    }

    fn request(proto: Proto, host_ports: HostPorts) -> Request {
        Request {
            container_port: Port { number: 80, proto },
            host_ip: Some(LOOPBACK),
            host_ports,
        }
    }

    fn fixed(port: u16) -> HostPorts {
        HostPorts::Range {
            start: port,
            end: port,
        }
    }

    #[test]
    fn port_parses_and_prints_like_the_api() {
        assert_eq!(
            port("80/tcp"),
            Port {
                number: 80,
                proto: Proto::Tcp
            }
        );
        assert_eq!(port("80").to_string(), "80/tcp");
        assert_eq!(port("53/udp").to_string(), "53/udp");
        assert_eq!(port("9/SCTP").to_string(), "9/sctp");
        assert_eq!(
            "8000-8001/tcp".parse::<Port>().unwrap_err().to_string(),
            r#"invalid port specification: "8000-8001""#
        );
        assert_eq!(
            "80/icmp".parse::<Port>().unwrap_err().to_string(),
            "invalid proto: icmp"
        );
        assert!("70000/tcp".parse::<Port>().is_err());
        assert_eq!(serde_json::to_string(&port("80")).unwrap(), r#""80/tcp""#);
        assert_eq!(
            serde_json::from_str::<Port>(r#""53/udp""#).unwrap(),
            port("53/udp")
        );
    }

    #[test]
    fn binding_uses_the_api_field_names() {
        let json = r#"{"HostIp":"127.0.0.1","HostPort":"8080"}"#;
        let parsed: Binding = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, binding("127.0.0.1", "8080"));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        assert_eq!(
            serde_json::from_str::<Binding>("{}").unwrap(),
            Binding::default()
        );
    }

    #[test]
    fn plan_publishes_bindings() {
        let bindings = BTreeMap::from([
            (
                "80/tcp".to_string(),
                vec![binding("", "8080"), binding("127.0.0.1", "")],
            ),
            ("53/udp".to_string(), vec![binding("0.0.0.0", "5300-5310")]),
            ("443/tcp".to_string(), vec![]),
        ]);
        let got = plan(&[port("443")], &bindings, false).unwrap();
        assert_eq!(
            got,
            vec![
                Request {
                    container_port: port("53/udp"),
                    host_ip: None,
                    host_ports: HostPorts::Range {
                        start: 5300,
                        end: 5310
                    },
                },
                Request {
                    container_port: port("80/tcp"),
                    host_ip: None,
                    host_ports: fixed(8080),
                },
                Request {
                    container_port: port("80/tcp"),
                    host_ip: Some(LOOPBACK),
                    host_ports: HostPorts::Any,
                },
            ]
        );
    }

    #[test]
    fn publish_all_adds_unbound_exposed_ports_on_random_host_ports() {
        let bindings = BTreeMap::from([("80/tcp".to_string(), vec![binding("", "8080")])]);
        let exposed = [port("80"), port("443"), port("53/udp"), port("443")];
        let got = plan(&exposed, &bindings, true).unwrap();
        let summary: Vec<(String, HostPorts)> = got
            .iter()
            .map(|r| (r.container_port.to_string(), r.host_ports))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("53/udp".to_string(), HostPorts::Any),
                ("80/tcp".to_string(), fixed(8080)),
                ("443/tcp".to_string(), HostPorts::Any),
            ]
        );
        assert!(plan(&exposed, &BTreeMap::new(), false).unwrap().is_empty());
    }

    #[test]
    fn plan_merges_keys_naming_the_same_port() {
        let bindings = BTreeMap::from([
            ("80".to_string(), vec![binding("", "8080")]),
            ("80/tcp".to_string(), vec![binding("", "8081")]),
        ]);
        let got = plan(&[], &bindings, true).unwrap();
        let ports: Vec<HostPorts> = got.iter().map(|r| r.host_ports).collect();
        assert_eq!(ports, vec![fixed(8080), fixed(8081)]);
    }

    #[test]
    fn plan_rejects_malformed_entries() {
        let cases = [
            (
                "8000-8001/tcp",
                "",
                r#"invalid port specification: "8000-8001""#,
            ),
            ("http", "", r#"invalid port specification: "http""#),
            ("80/tcp", "80a", r#"invalid port specification: "80a""#),
            (
                "80/tcp",
                "9000-8000",
                r#"invalid port specification: "9000-8000""#,
            ),
            ("80/tcp", "70000", r#"invalid port specification: "70000""#),
        ];
        for (key, host_port, want) in cases {
            let bindings = BTreeMap::from([(key.to_string(), vec![binding("", host_port)])]);
            let err = plan(&[], &bindings, false).unwrap_err();
            assert_eq!(err.to_string(), want, "{key} {host_port}");
        }
        let bindings = BTreeMap::from([("80".to_string(), vec![binding("localhost", "")])]);
        assert_eq!(
            plan(&[], &bindings, false).unwrap_err().to_string(),
            "invalid IP address: localhost"
        );
        let bindings = BTreeMap::from([("80".to_string(), vec![binding("::1", "")])]);
        assert!(matches!(
            plan(&[], &bindings, false),
            Err(PortError::Ipv6HostIp(_))
        ));
    }

    fn publish(spec: &str) -> Vec<(String, String, String)> {
        parse_publish(spec)
            .unwrap()
            .into_iter()
            .map(|(p, b)| (p.to_string(), b.host_ip, b.host_port))
            .collect()
    }

    fn row(port: &str, ip: &str, host_port: &str) -> (String, String, String) {
        (port.into(), ip.into(), host_port.into())
    }

    #[test]
    fn publish_specs_parse_like_docker_cli() {
        assert_eq!(publish("8080:80"), vec![row("80/tcp", "", "8080")]);
        assert_eq!(
            publish("127.0.0.1:8080:80"),
            vec![row("80/tcp", "127.0.0.1", "8080")]
        );
        assert_eq!(publish("80"), vec![row("80/tcp", "", "")]);
        assert_eq!(publish("8080:80/udp"), vec![row("80/udp", "", "8080")]);
        assert_eq!(publish("8080:80/UDP"), vec![row("80/udp", "", "8080")]);
        assert_eq!(
            publish("127.0.0.1::80"),
            vec![row("80/tcp", "127.0.0.1", "")]
        );
        assert_eq!(
            publish("8000-8001:80-81"),
            vec![row("80/tcp", "", "8000"), row("81/tcp", "", "8001")]
        );
        assert_eq!(
            publish("8000-8010:80"),
            vec![row("80/tcp", "", "8000-8010")]
        );
        assert_eq!(
            publish("80-81/udp"),
            vec![row("80/udp", "", ""), row("81/udp", "", "")]
        );
        assert_eq!(publish("[::1]:8080:80"), vec![row("80/tcp", "::1", "8080")]);
        assert_eq!(publish("::1:8080:80"), vec![row("80/tcp", "::1", "8080")]);
    }

    #[test]
    fn publish_spec_errors_use_docker_cli_words() {
        let cases = [
            ("8080:", "no port specified: 8080:<empty>"),
            ("8080:80/icmp", "invalid proto: icmp"),
            ("300.0.0.1:8080:80", "invalid IP address: 300.0.0.1"),
            ("8080:http", "invalid containerPort: http"),
            ("80-70", "invalid containerPort: 80-70"),
            ("x:80", "invalid hostPort: x"),
            (
                "8000-8002:80-81",
                "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_publish(spec).unwrap_err().to_string(), want, "{spec}");
        }
    }

    #[test]
    fn published_pairs_plan_into_requests() {
        let mut bindings: BTreeMap<String, Vec<Binding>> = BTreeMap::new();
        for (port, binding) in parse_publish("127.0.0.1:8000-8001:80-81").unwrap() {
            bindings.entry(port.to_string()).or_default().push(binding);
        }
        let got = plan(&[], &bindings, false).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].container_port, port("81"));
        assert_eq!(got[1].host_ip, Some(LOOPBACK));
        assert_eq!(got[1].host_ports, fixed(8001));
    }

    #[test]
    fn wildcard_and_specific_addresses_conflict() {
        let held = |ip: Ipv4Addr| Mapping {
            host_ip: ip,
            host_port: 8080,
            proto: Proto::Tcp,
            container_port: 80,
        };
        let any = Ipv4Addr::UNSPECIFIED;
        assert!(conflicts(&held(any), LOOPBACK, 8080, Proto::Tcp));
        assert!(conflicts(&held(LOOPBACK), any, 8080, Proto::Tcp));
        assert!(conflicts(&held(LOOPBACK), LOOPBACK, 8080, Proto::Tcp));
        assert!(!conflicts(
            &held(LOOPBACK),
            Ipv4Addr::new(127, 0, 0, 2),
            8080,
            Proto::Tcp
        ));
        assert!(!conflicts(&held(any), LOOPBACK, 8080, Proto::Udp));
        assert!(!conflicts(&held(any), LOOPBACK, 8081, Proto::Tcp));
    }

    #[test]
    fn random_port_is_held_until_dropped() {
        let reservation = reserve(&request(Proto::Tcp, HostPorts::Any)).unwrap();
        let mapping = *reservation.mapping();
        assert_ne!(mapping.host_port, 0);
        assert_eq!(mapping.host_ip, LOOPBACK);
        assert_eq!((mapping.proto, mapping.container_port), (Proto::Tcp, 80));
        assert!(TcpListener::bind((LOOPBACK, mapping.host_port)).is_err());
        drop(reservation);
        TcpListener::bind((LOOPBACK, mapping.host_port)).expect("port is free again");
    }

    #[test]
    fn reserved_port_is_already_allocated_for_a_second_claim() {
        let first = reserve(&request(Proto::Tcp, HostPorts::Any)).unwrap();
        let taken = first.mapping().host_port;
        let err = reserve(&request(Proto::Tcp, fixed(taken))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Bind for 127.0.0.1:{taken} failed: port is already allocated")
        );
    }

    #[test]
    fn port_held_by_another_program_gives_dockers_bind_error() {
        let other = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let taken = other.local_addr().unwrap().port();
        let err = reserve(&request(Proto::Tcp, fixed(taken))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "failed to bind host port for 127.0.0.1:{taken}:80/tcp: address already in use"
            )
        );
    }

    #[test]
    fn udp_port_is_held_and_separate_from_tcp() {
        let reservation = reserve(&request(Proto::Udp, HostPorts::Any)).unwrap();
        let held = reservation.mapping().host_port;
        assert_eq!(reservation.mapping().proto, Proto::Udp);
        assert!(UdpSocket::bind((LOOPBACK, held)).is_err());
        // The same number is still free for TCP, unless some other program has it.
        if TcpListener::bind((LOOPBACK, held)).is_ok() {
            reserve(&request(Proto::Tcp, fixed(held))).expect("tcp on the udp port");
        }
        let err = reserve(&request(Proto::Udp, fixed(held))).unwrap_err();
        assert!(matches!(err, PortError::AlreadyAllocated { .. }), "{err}");
    }

    #[test]
    fn range_takes_the_first_free_port() {
        let other = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let start = other.local_addr().unwrap().port();
        let Some(end) = start.checked_add(20) else {
            return;
        };
        let req = request(Proto::Tcp, HostPorts::Range { start, end });
        let got = reserve(&req).unwrap();
        assert!(got.mapping().host_port > start && got.mapping().host_port <= end);
        let next = reserve(&req).unwrap();
        assert!(next.mapping().host_port > got.mapping().host_port);
    }

    #[test]
    fn range_refused_by_the_kernel_names_the_last_port() {
        let first = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let start = first.local_addr().unwrap().port();
        let Some(end) = start.checked_add(1) else {
            return;
        };
        let Ok(_second) = TcpListener::bind((LOOPBACK, end)) else {
            return;
        };
        let err = reserve(&request(Proto::Tcp, HostPorts::Range { start, end })).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "failed to bind host port {end} for 127.0.0.1:{start}-{end}:80/tcp: address already in use"
            )
        );
    }

    #[test]
    fn range_reserved_here_entirely_is_all_ports_allocated() {
        let first = reserve(&request(Proto::Udp, HostPorts::Any)).unwrap();
        let start = first.mapping().host_port;
        let Some(end) = start.checked_add(1) else {
            return;
        };
        let Ok(_second) = reserve(&request(Proto::Udp, fixed(end))) else {
            return;
        };
        let err = reserve(&request(Proto::Udp, HostPorts::Range { start, end })).unwrap_err();
        assert_eq!(err, PortError::AllPortsAllocated);
    }
}
