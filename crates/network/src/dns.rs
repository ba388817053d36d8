//! The embedded DNS server of user-defined networks: Docker's `127.0.0.11`.
//!
//! Every container on a user-defined network gets a resolver inside its own
//! network namespace that answers the names of the containers it can reach
//! (container names, aliases, network-scoped names, and their addresses for
//! reverse lookups) and forwards everything else to the host's resolvers, as
//! moby's `libnetwork/resolver.go` does:
//!
//! * `A` for one of our names: the addresses, TTL 600, shuffled;
//! * `AAAA` or `MX` for one of our names: an empty `NOERROR`, so clients fall
//!   back to `A` instead of concluding the name does not exist;
//! * `PTR` under `in-addr.arpa` for one of our addresses: its name;
//! * anything else: the query as it came, to each upstream in turn over UDP
//!   (over TCP again when the reply is truncated); the first reply that is
//!   not `SERVFAIL` or `REFUSED` is relayed as it came, else `SERVFAIL`.
//!
//! This module does not know which names exist (the daemon does, through
//! [`Names`]) nor bind anything inside a namespace (the daemon hands over
//! sockets already bound to `127.0.0.11:53` there). Upstreams are contacted
//! from the daemon's own namespace, so a host resolver on loopback such as
//! systemd-resolved's `127.0.0.53` works as an upstream.
//!
//! It also owns the resolv.conf side of the picture: reading the host's file
//! ([`parse_resolv_conf`], [`host_resolv_conf`]) and writing the one a
//! container on a user-defined network gets ([`container_resolv_conf`]).

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Header, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinDecodable;
use ipnet::IpNet;
use rand::seq::SliceRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tracing::{debug, error, warn};

/// The address of the embedded server inside each container's namespace.
pub const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// TTL of the records we answer ourselves (Docker's `respTTL`).
const TTL: u32 = 600;
/// Docker tries at most this many upstreams (`maxExtDNS`), as glibc does.
const MAX_UPSTREAMS: usize = 3;
/// How long one upstream gets to answer, per transport.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Forwarded queries in flight at once before we answer `REFUSED`
/// (Docker's `maxConcurrent`).
const MAX_IN_FLIGHT: usize = 1024;
/// A TCP client that sends nothing for this long is disconnected (the idle
/// timeout of the miekg/dns server Docker uses).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(8);
/// The largest DNS message: what a TCP frame can carry.
const MAX_MESSAGE: usize = u16::MAX as usize;
/// The largest UDP reply for a client that does not say otherwise (RFC 1035).
const MIN_UDP_PAYLOAD: u16 = 512;

/// How names are resolved for one container (its view: the networks it is on).
pub trait Names: Send + Sync + 'static {
    /// IPv4 addresses for `name` (lower-cased, without the trailing dot), or
    /// `None` if this is not a name of ours (then the query is forwarded).
    fn lookup(&self, name: &str) -> Option<Vec<Ipv4Addr>>;
    /// The name for a reverse lookup of `ip`, if it is one of ours (`PTR`),
    /// e.g. `"web.mynet"`.
    fn reverse(&self, ip: Ipv4Addr) -> Option<String>;
}

/// The DNS server of one container: its names and the host's upstreams.
pub struct Server {
    names: Arc<dyn Names>,
    upstreams: Vec<SocketAddr>,
    in_flight: Semaphore,
}

/// Keeps a [`Server`]'s tasks running; dropping it stops them and closes the
/// sockets.
#[must_use = "the server stops when its handle is dropped"]
pub struct ServerHandle {
    tasks: [JoinHandle<()>; 2],
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What to do with one query.
enum Plan {
    /// Not a query (a stray response): no reply at all.
    Ignore,
    /// Answered here: the encoded reply.
    Reply(Vec<u8>),
    /// Not ours: ask the upstreams.
    Forward,
}

impl Server {
    /// A server answering from `names`; `upstreams` are the host's resolvers
    /// (see [`host_upstreams`]), of which the first three are used, as Docker
    /// does. With no upstreams, names that are not ours get `SERVFAIL` (what
    /// an internal network wants).
    pub fn new(names: Arc<dyn Names>, mut upstreams: Vec<SocketAddr>) -> Server {
        if upstreams.len() > MAX_UPSTREAMS {
            debug!(
                ignored = ?&upstreams[MAX_UPSTREAMS..],
                "only the first {MAX_UPSTREAMS} upstream DNS servers are used"
            );
            upstreams.truncate(MAX_UPSTREAMS);
        }
        Server {
            names,
            upstreams,
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    /// Serves UDP and TCP (length-prefixed) queries on already-bound sockets
    /// until the returned handle is dropped or the sockets fail. Must be
    /// called within a tokio runtime.
    pub fn spawn(
        self: Arc<Self>,
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
    ) -> ServerHandle {
        ServerHandle {
            tasks: [
                tokio::spawn(self.clone().serve_udp(udp)),
                tokio::spawn(self.serve_tcp(tcp)),
            ],
        }
    }

    /// Answers one query message (bytes in, bytes out), forwarding it if need
    /// be; `None` when there is nothing to send back (a malformed message or
    /// not a query). The reply is at most what a TCP frame carries; UDP
    /// clients get it cut down to what they accept.
    pub async fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let parsed = parse_query(query)?;
        let reply = match self.plan(&parsed) {
            Plan::Ignore => return None,
            Plan::Reply(reply) => reply,
            Plan::Forward => self.forward(query, &parsed).await,
        };
        Some(fit(&parsed, reply, MAX_MESSAGE))
    }

    /// Decides, without waiting on anything, how `query` is answered.
    fn plan(&self, query: &Message) -> Plan {
        if query.message_type != MessageType::Query {
            return Plan::Ignore;
        }
        if query.op_code != OpCode::Query {
            return Plan::Reply(encode(&error_reply(query, ResponseCode::NotImp)));
        }
        let [question] = query.queries.as_slice() else {
            return Plan::Reply(encode(&error_reply(query, ResponseCode::FormErr)));
        };
        match self.resolve(question) {
            Some(answers) => {
                debug!(
                    name = %question.name(),
                    kind = %question.query_type(),
                    answers = answers.len(),
                    "answered locally"
                );
                let mut reply = reply_to(query);
                reply.answers = answers;
                Plan::Reply(encode(&reply))
            }
            None => Plan::Forward,
        }
    }

    /// Our answer records for `question`, or `None` if it is not ours.
    fn resolve(&self, question: &Query) -> Option<Vec<Record>> {
        let name = question.name();
        match question.query_type() {
            RecordType::A => {
                let mut ips = self.names.lookup(&lookup_key(name))?;
                ips.shuffle(&mut rand::rng());
                let record = |ip| Record::from_rdata(name.clone(), TTL, RData::A(A(ip)));
                Some(ips.into_iter().map(record).collect())
            }
            // Ours, but without IPv6 or mail exchangers: "no records of this
            // type" rather than "no such name", so that clients carry on.
            RecordType::AAAA | RecordType::MX => {
                self.names.lookup(&lookup_key(name)).map(|_| Vec::new())
            }
            RecordType::PTR => {
                let host = self.names.reverse(reverse_ipv4(name)?)?;
                let target = fqdn(&host)?;
                Some(vec![Record::from_rdata(
                    name.clone(),
                    TTL,
                    RData::PTR(PTR(target)),
                )])
            }
            _ => None,
        }
    }

    /// Asks each upstream in turn; the reply to relay, or `SERVFAIL`.
    async fn forward(&self, packet: &[u8], query: &Message) -> Vec<u8> {
        let Ok(_permit) = self.in_flight.try_acquire() else {
            warn!("more than {MAX_IN_FLIGHT} DNS queries in flight; refusing");
            return encode(&error_reply(query, ResponseCode::Refused));
        };
        for &upstream in &self.upstreams {
            match exchange(upstream, packet, query.id).await {
                Ok((bytes, reply)) if !is_failure(&reply) => return bytes,
                Ok((_, reply)) => {
                    debug!(
                        %upstream,
                        rcode = %reply.response_code,
                        "upstream DNS server failed the query; trying the next"
                    );
                }
                Err(error) => warn!(%upstream, %error, "upstream DNS server did not answer"),
            }
        }
        debug!(
            upstreams = self.upstreams.len(),
            "no upstream answered; SERVFAIL"
        );
        encode(&error_reply(query, ResponseCode::ServFail))
    }

    /// The UDP side: one loop, a task per forwarded query.
    async fn serve_udp(self: Arc<Self>, socket: std::net::UdpSocket) {
        let socket = match socket
            .set_nonblocking(true)
            .and_then(|()| UdpSocket::from_std(socket))
        {
            Ok(socket) => Arc::new(socket),
            Err(error) => {
                error!(%error, "cannot serve DNS over UDP");
                return;
            }
        };
        let mut forwards = JoinSet::new();
        let mut buf = vec![0; MAX_MESSAGE];
        loop {
            while forwards.try_join_next().is_some() {}
            let (len, client) = match socket.recv_from(&mut buf).await {
                Ok(received) => received,
                Err(error) => {
                    error!(%error, "DNS UDP socket failed; no longer serving UDP");
                    return;
                }
            };
            let Some(query) = parse_query(&buf[..len]) else {
                continue;
            };
            let limit = udp_limit(&query);
            match self.plan(&query) {
                Plan::Ignore => {}
                Plan::Reply(reply) => send_udp(&socket, &fit(&query, reply, limit), client).await,
                Plan::Forward => {
                    let (server, socket, packet) =
                        (self.clone(), socket.clone(), buf[..len].to_vec());
                    forwards.spawn(async move {
                        let reply = server.forward(&packet, &query).await;
                        send_udp(&socket, &fit(&query, reply, limit), client).await;
                    });
                }
            }
        }
    }

    /// The TCP side: one accept loop, a task per connection.
    async fn serve_tcp(self: Arc<Self>, listener: std::net::TcpListener) {
        let listener = match listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
        {
            Ok(listener) => listener,
            Err(error) => {
                error!(%error, "cannot serve DNS over TCP");
                return;
            }
        };
        let mut connections = JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            match listener.accept().await {
                Ok((stream, _)) => {
                    connections.spawn(self.clone().serve_connection(stream));
                }
                Err(error) if is_transient_accept_error(&error) => {
                    debug!(%error, "accepting a DNS TCP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => {
                    error!(%error, "DNS TCP listener failed; no longer serving TCP");
                    return;
                }
            }
        }
    }

    /// Answers the queries of one TCP client, in order, until it goes quiet,
    /// hangs up or sends something that is not a query.
    async fn serve_connection(self: Arc<Self>, mut stream: TcpStream) {
        while let Ok(Ok(query)) = timeout(TCP_IDLE_TIMEOUT, read_frame(&mut stream)).await {
            let Some(reply) = self.answer(&query).await else {
                return;
            };
            if let Err(error) = write_frame(&mut stream, &reply).await {
                debug!(%error, "writing a DNS reply over TCP failed");
                return;
            }
        }
    }
}

/// A message worth looking at: anything that decodes. Malformed packets are
/// dropped here, quietly (anyone can send them).
fn parse_query(packet: &[u8]) -> Option<Message> {
    Message::from_vec(packet)
        .inspect_err(|error| debug!(%error, "dropping a malformed DNS message"))
        .ok()
}

/// The start of our reply to `query`: its id, opcode, RD and CD bits and its
/// questions, with recursion available (as Docker's `createRespMsg`).
fn reply_to(query: &Message) -> Message {
    let mut reply = Message::response(query.id, query.op_code);
    reply.metadata = Metadata::response_from_request(&query.metadata);
    reply.metadata.recursion_available = true;
    reply.queries = query.queries.clone();
    reply
}

fn error_reply(query: &Message, code: ResponseCode) -> Message {
    let mut reply = reply_to(query);
    reply.metadata.response_code = code;
    reply
}

/// Encodes a reply we built; one that cannot be encoded (a name that does not
/// fit, say) becomes a `SERVFAIL` carrying just the header.
fn encode(reply: &Message) -> Vec<u8> {
    reply.to_vec().unwrap_or_else(|error| {
        warn!(%error, "cannot encode a DNS reply; sending SERVFAIL");
        let mut failure = Message::response(reply.id, reply.op_code);
        failure.metadata.response_code = ResponseCode::ServFail;
        failure.to_vec().unwrap_or_default()
    })
}

/// `reply` if it is at most `limit` bytes, else its header with TC set and
/// the question but no records, so that the client asks again over TCP.
fn fit(query: &Message, reply: Vec<u8>, limit: usize) -> Vec<u8> {
    if reply.len() <= limit {
        return reply;
    }
    debug!(len = reply.len(), limit, "DNS reply too long; truncating");
    let mut truncated = reply_to(query);
    if let Ok(header) = Header::from_bytes(&reply) {
        truncated.metadata = header.metadata;
    }
    truncated.metadata.truncation = true;
    encode(&truncated)
}

/// The largest UDP reply the client takes: 512 bytes, or more if it says so
/// with EDNS.
fn udp_limit(query: &Message) -> usize {
    let edns = query.edns.as_ref().map_or(0, |edns| edns.max_payload());
    usize::from(edns.max(MIN_UDP_PAYLOAD))
}

/// How [`Names`] wants a name: lower case, no trailing dot.
fn lookup_key(name: &Name) -> String {
    let mut key = name.to_ascii().to_ascii_lowercase();
    if key.ends_with('.') {
        key.pop();
    }
    key
}

/// The address `d.c.b.a.in-addr.arpa.` stands for.
fn reverse_ipv4(name: &Name) -> Option<Ipv4Addr> {
    match name.parse_arpa_name() {
        Ok(IpNet::V4(net)) if net.prefix_len() == 32 => Some(net.addr()),
        _ => None,
    }
}

/// `host` as an absolute name for a `PTR` record.
fn fqdn(host: &str) -> Option<Name> {
    let mut name = Name::from_ascii(host)
        .inspect_err(|error| warn!(host, %error, "not a valid DNS name for a reverse lookup"))
        .ok()?;
    name.set_fqdn(true);
    Some(name)
}

async fn send_udp(socket: &UdpSocket, reply: &[u8], client: SocketAddr) {
    if let Err(error) = socket.send_to(reply, client).await {
        debug!(%client, %error, "sending a DNS reply failed");
    }
}

/// Errors of `accept` that say nothing about the listener itself.
fn is_transient_accept_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// One query to one upstream: over UDP, then over TCP if the UDP reply was
/// truncated (relaying the truncated reply if TCP fails). The reply as it
/// came, and its header.
async fn exchange(upstream: SocketAddr, packet: &[u8], id: u16) -> io::Result<(Vec<u8>, Metadata)> {
    let (bytes, reply) = within_timeout(exchange_udp(upstream, packet, id)).await?;
    if !reply.truncation {
        return Ok((bytes, reply));
    }
    debug!(%upstream, "upstream DNS reply truncated; asking again over TCP");
    match within_timeout(exchange_tcp(upstream, packet, id)).await {
        Ok(full) => Ok(full),
        Err(error) => {
            debug!(
                %upstream,
                %error,
                "asking over TCP failed; relaying the truncated reply"
            );
            Ok((bytes, reply))
        }
    }
}

async fn within_timeout<T>(exchange: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    timeout(UPSTREAM_TIMEOUT, exchange).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no reply within {UPSTREAM_TIMEOUT:?}"),
        )
    })?
}

async fn exchange_udp(
    upstream: SocketAddr,
    packet: &[u8],
    id: u16,
) -> io::Result<(Vec<u8>, Metadata)> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(packet).await?;
    // Some servers ignore the size the client asked for: take whatever comes.
    let mut buf = vec![0; MAX_MESSAGE];
    loop {
        let len = socket.recv(&mut buf).await?;
        if let Some(reply) = reply_header(&buf[..len], id) {
            return Ok((buf[..len].to_vec(), reply));
        }
    }
}

async fn exchange_tcp(
    upstream: SocketAddr,
    packet: &[u8],
    id: u16,
) -> io::Result<(Vec<u8>, Metadata)> {
    let mut stream = TcpStream::connect(upstream).await?;
    write_frame(&mut stream, packet).await?;
    let bytes = read_frame(&mut stream).await?;
    let reply = reply_header(&bytes, id)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a reply to our query"))?;
    Ok((bytes, reply))
}

/// Replies that say "ask someone else" (Docker moves on to the next
/// upstream on these).
fn is_failure(reply: &Metadata) -> bool {
    matches!(
        reply.response_code,
        ResponseCode::ServFail | ResponseCode::Refused
    )
}

/// The header of `bytes` if they are a response to the query with `id`. Only
/// the header is decoded: the rest is relayed as it came, whatever records
/// it holds.
fn reply_header(bytes: &[u8], id: u16) -> Option<Metadata> {
    Header::from_bytes(bytes)
        .ok()
        .map(|header| header.metadata)
        .filter(|reply| reply.message_type == MessageType::Response && reply.id == id)
}

/// One DNS message over TCP: a two-byte length, then the message.
async fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let len = stream.read_u16().await?;
    let mut message = vec![0; usize::from(len)];
    stream.read_exact(&mut message).await?;
    Ok(message)
}

async fn write_frame(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "DNS message longer than 65535 bytes",
        )
    })?;
    let mut frame = Vec::with_capacity(2 + message.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    stream.write_all(&frame).await
}

/// What a resolv.conf says, as Docker's `resolvconf` package reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines, IPv4 and IPv6 (with their zone, if any), port 53;
    /// lines that are not an address are left out.
    pub nameservers: Vec<SocketAddr>,
    /// The last `search` (or `domain`) line's domains.
    pub search: Vec<String>,
    /// Every `options` line's options, in order.
    pub options: Vec<String>,
    /// Lines that are none of these (e.g. `sortlist`), kept verbatim.
    pub other: Vec<String>,
}

/// Reads a resolv.conf text. Comments are lines starting with `#` or `;`.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut conf = ResolvConf::default();
    for line in text.lines() {
        if line.starts_with(['#', ';']) {
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(keyword) = fields.next() else {
            continue;
        };
        let values: Vec<String> = fields.map(str::to_owned).collect();
        match keyword {
            "nameserver" => {
                if let Some(value) = values.first() {
                    match parse_nameserver(value) {
                        Some(addr) => conf.nameservers.push(addr),
                        None => {
                            debug!(nameserver = %value, "ignoring a nameserver: not an IP address")
                        }
                    }
                }
            }
            "search" | "domain" if !values.is_empty() => conf.search = values,
            "options" => conf.options.extend(values),
            "search" | "domain" => {}
            _ => conf.other.push(line.to_owned()),
        }
    }
    conf
}

/// `10.0.0.1`, `2001:db8::1` or `fe80::1%eth0` at port 53.
fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (text, None),
    };
    match (addr.parse().ok()?, zone) {
        (IpAddr::V4(ip), None) => Some(SocketAddrV4::new(ip, 53).into()),
        (IpAddr::V6(ip), None) => Some(SocketAddrV6::new(ip, 53, 0, 0).into()),
        (IpAddr::V6(ip), Some(zone)) => {
            Some(SocketAddrV6::new(ip, 53, 0, interface_index(zone)?).into())
        }
        (IpAddr::V4(_), Some(_)) => None,
    }
}

/// The index of an IPv6 zone: a number, or an interface of the daemon's
/// namespace.
fn interface_index(zone: &str) -> Option<u32> {
    if let Ok(index) = zone.parse() {
        return Some(index);
    }
    let name = std::ffi::CString::new(zone).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call,
    // which only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";
const SYSTEMD_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";
const SYSTEMD_STUB: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 53), 53));

/// The host's resolver configuration, found as Docker finds it: the host's
/// `/etc/resolv.conf`, unless its only nameserver is systemd-resolved's stub
/// `127.0.0.53`, in which case the real upstreams come from
/// `/run/systemd/resolve/resolv.conf`. A missing file is an empty one.
pub fn host_resolv_conf() -> ResolvConf {
    load_host_resolv_conf(Path::new(HOST_RESOLV_CONF), Path::new(SYSTEMD_RESOLV_CONF))
}

/// The host's nameservers (see [`host_resolv_conf`]), the upstreams of
/// [`Server::new`].
pub fn host_upstreams() -> Vec<SocketAddr> {
    host_resolv_conf().nameservers
}

fn load_host_resolv_conf(host: &Path, systemd: &Path) -> ResolvConf {
    let conf = read_resolv_conf(host).unwrap_or_default();
    if conf.nameservers != [SYSTEMD_STUB] {
        return conf;
    }
    debug!(path = %systemd.display(), "host uses systemd-resolved; reading its upstreams");
    read_resolv_conf(systemd).unwrap_or(conf)
}

fn read_resolv_conf(path: &Path) -> Option<ResolvConf> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(parse_resolv_conf(&text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => {
            warn!(path = %path.display(), %error, "cannot read resolv.conf");
            None
        }
    }
}

/// The resolv.conf of a container on a user-defined network, as Docker
/// writes it (`TransformForIntNS` with the resolver's options): only
/// `nameserver 127.0.0.11`; the host's search domains, options and other
/// lines; `ndots:0` unless the host sets a valid `ndots` (an invalid one is
/// dropped); and a closing comment naming the upstreams.
pub fn container_resolv_conf(host: &ResolvConf) -> String {
    let mut lines = vec![format!("nameserver {RESOLVER_IP}")];
    if !host.search.is_empty() {
        lines.push(format!("search {}", host.search.join(" ")));
    }
    let mut options: Vec<&str> = host
        .options
        .iter()
        .map(String::as_str)
        .filter(|option| !is_invalid_ndots(option))
        .collect();
    if !options.iter().any(|option| option.starts_with("ndots:")) {
        options.push("ndots:0");
    }
    lines.push(format!("options {}", options.join(" ")));
    lines.extend(host.other.iter().cloned());
    lines.push(String::new());
    lines.push(if host.nameservers.is_empty() {
        "# NO EXTERNAL NAMESERVERS DEFINED".to_owned()
    } else {
        let upstreams: Vec<String> = host
            .nameservers
            .iter()
            .map(|addr| format!("host({})", nameserver_text(addr)))
            .collect();
        format!("# ExtServers: [{}]", upstreams.join(" "))
    });
    lines.push(String::new());
    lines.join("\n")
}

/// `ndots` without a value, or with one that is not a number ≥ 0.
fn is_invalid_ndots(option: &str) -> bool {
    match option.split_once(':') {
        Some(("ndots", value)) => !value.parse::<i64>().is_ok_and(|ndots| ndots >= 0),
        None => option == "ndots",
        Some(_) => false,
    }
}

/// A nameserver as resolv.conf writes it: the address, and its zone if any.
fn nameserver_text(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) if v6.scope_id() != 0 => format!("{}%{}", v6.ip(), v6.scope_id()),
        _ => addr.ip().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Edns;

    struct OneName;

    impl Names for OneName {
        fn lookup(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
            (name == "web").then(|| vec![Ipv4Addr::new(172, 20, 0, 2)])
        }

        fn reverse(&self, _: Ipv4Addr) -> Option<String> {
            None
        }
    }

    fn server() -> Server {
        Server::new(Arc::new(OneName), Vec::new())
    }

    fn query(name: &str, kind: RecordType) -> Message {
        let mut message = Message::query();
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        message
    }

    async fn answer(message: &Message) -> Option<Message> {
        let reply = server().answer(&message.to_vec().unwrap()).await?;
        Some(Message::from_vec(&reply).unwrap())
    }

    #[tokio::test]
    async fn mx_for_one_of_our_names_is_an_empty_noerror() {
        let reply = answer(&query("web.", RecordType::MX)).await.unwrap();

        assert_eq!(reply.response_code, ResponseCode::NoError);
        assert!(reply.answers.is_empty());
    }

    #[tokio::test]
    async fn a_query_with_two_questions_is_formerr() {
        let mut message = query("web.", RecordType::A);
        message.add_query(Query::query(
            Name::from_ascii("web.").unwrap(),
            RecordType::AAAA,
        ));

        let reply = answer(&message).await.unwrap();

        assert_eq!(reply.id, message.id);
        assert_eq!(reply.response_code, ResponseCode::FormErr);
    }

    #[tokio::test]
    async fn an_opcode_other_than_query_is_notimp() {
        let mut message = query("web.", RecordType::A);
        message.metadata.op_code = OpCode::Update;

        let reply = answer(&message).await.unwrap();

        assert_eq!(reply.response_code, ResponseCode::NotImp);
    }

    #[tokio::test]
    async fn responses_and_garbage_get_no_reply() {
        let mut message = query("web.", RecordType::A);
        message.metadata.message_type = MessageType::Response;

        assert!(answer(&message).await.is_none());
        assert!(server().answer(b"\x12\x34\x01").await.is_none());
        assert!(server().answer(b"").await.is_none());
    }

    #[test]
    fn a_reply_longer_than_the_limit_loses_its_records_and_gets_tc() {
        let message = query("web.", RecordType::A);
        let mut reply = reply_to(&message);
        for octet in 0..=255 {
            let record = RData::A(A(Ipv4Addr::new(10, 0, 0, octet)));
            reply.add_answer(Record::from_rdata(
                Name::from_ascii("web.").unwrap(),
                TTL,
                record,
            ));
        }
        let bytes = encode(&reply);
        assert!(bytes.len() > 512);

        let cut = Message::from_vec(&fit(&message, bytes.clone(), 512)).unwrap();

        assert!(cut.truncation);
        assert_eq!(cut.id, message.id);
        assert_eq!(cut.queries, message.queries);
        assert!(cut.answers.is_empty());
        assert_eq!(fit(&message, bytes.clone(), bytes.len()), bytes);
    }

    #[test]
    fn udp_clients_get_512_bytes_unless_they_ask_for_more_with_edns() {
        let mut message = query("web.", RecordType::A);
        assert_eq!(udp_limit(&message), 512);

        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        message.set_edns(edns.clone());
        assert_eq!(udp_limit(&message), 1232);

        edns.set_max_payload(100);
        message.set_edns(edns);
        assert_eq!(udp_limit(&message), 512);
    }

    #[test]
    fn only_a_full_ipv4_arpa_name_is_a_reverse_lookup() {
        let name = |text: &str| Name::from_ascii(text).unwrap();

        assert_eq!(
            reverse_ipv4(&name("4.0.20.172.in-addr.arpa.")),
            Some(Ipv4Addr::new(172, 20, 0, 4))
        );
        assert_eq!(reverse_ipv4(&name("20.172.in-addr.arpa.")), None);
        assert_eq!(reverse_ipv4(&name("1.0.0.0.ip6.arpa.")), None);
        assert_eq!(reverse_ipv4(&name("web.mynet.")), None);
    }

    #[test]
    fn names_are_looked_up_in_lower_case_without_the_trailing_dot() {
        assert_eq!(
            lookup_key(&Name::from_ascii("Web.MyNet.").unwrap()),
            "web.mynet"
        );
        assert_eq!(lookup_key(&Name::from_ascii("WEB").unwrap()), "web");
    }

    #[test]
    fn nameservers_may_carry_an_ipv6_zone_but_an_ipv4_one_may_not() {
        assert_eq!(
            parse_nameserver("fe80::1%2"),
            Some(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 2).into())
        );
        assert_eq!(
            parse_nameserver("fe80::1%lo").map(|addr| addr.port()),
            Some(53)
        );
        assert_eq!(parse_nameserver("fe80::1%no-such-interface"), None);
        assert_eq!(parse_nameserver("10.0.0.1%2"), None);
        assert_eq!(parse_nameserver("dns.example.com"), None);
    }

    #[test]
    fn a_lone_systemd_resolved_stub_is_replaced_by_its_upstreams() {
        let dir = std::env::temp_dir().join(format!("berth-dns-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (host, systemd, missing) = (dir.join("host"), dir.join("systemd"), dir.join("missing"));
        std::fs::write(&systemd, "nameserver 10.0.0.1\nsearch lan\n").unwrap();

        std::fs::write(&host, "nameserver 127.0.0.53\noptions edns0 trust-ad\n").unwrap();
        let conf = load_host_resolv_conf(&host, &systemd);
        assert_eq!(
            conf.nameservers,
            ["10.0.0.1:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(conf.search, ["lan"]);
        assert_eq!(
            load_host_resolv_conf(&host, &missing).nameservers,
            [SYSTEMD_STUB]
        );

        std::fs::write(&host, "nameserver 127.0.0.53\nnameserver 10.9.9.9\n").unwrap();
        assert_eq!(load_host_resolv_conf(&host, &systemd).nameservers.len(), 2);

        assert_eq!(
            load_host_resolv_conf(&missing, &systemd),
            ResolvConf::default()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
