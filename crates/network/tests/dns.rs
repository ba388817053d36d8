//! The embedded DNS server end to end, over real sockets on 127.0.0.1: our
//! names answered locally, everything else relayed from fake upstreams.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use berth_network::dns::{
    container_resolv_conf, parse_resolv_conf, Names, ResolvConf, Server, ServerHandle,
};
use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::timeout;

const WEB: Ipv4Addr = Ipv4Addr::new(172, 20, 0, 2);
const WEB2: Ipv4Addr = Ipv4Addr::new(172, 20, 0, 3);
const DB: Ipv4Addr = Ipv4Addr::new(172, 20, 0, 4);
/// What fake upstreams answer, recognisably not ours.
const UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);
const WAIT: Duration = Duration::from_secs(5);

/// A container's view: `web` (two replicas, alias `api`), `db`.
struct TestNames;

impl Names for TestNames {
    fn lookup(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        let names = HashMap::from([
            ("web", vec![WEB, WEB2]),
            ("web.mynet", vec![WEB, WEB2]),
            ("api", vec![WEB, WEB2]),
            ("db", vec![DB]),
        ]);
        names.get(name).cloned()
    }

    fn reverse(&self, ip: Ipv4Addr) -> Option<String> {
        (ip == DB).then(|| "db.mynet".to_owned())
    }
}

fn server(upstreams: Vec<SocketAddr>) -> Arc<Server> {
    Arc::new(Server::new(Arc::new(TestNames), upstreams))
}

fn query(name: &str, kind: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
    message
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1.
fn bind_pair() -> (std::net::UdpSocket, std::net::TcpListener) {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        if let Ok(tcp) = std::net::TcpListener::bind(udp.local_addr().unwrap()) {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// Serves `server` on 127.0.0.1; the address of both its sockets.
fn serve(server: Arc<Server>) -> (ServerHandle, SocketAddr) {
    let (udp, tcp) = bind_pair();
    let addr = udp.local_addr().unwrap();
    (server.spawn(udp, tcp), addr)
}

async fn ask_udp(server: SocketAddr, packet: &[u8], wait: Duration) -> io::Result<Message> {
    let client = UdpSocket::bind("127.0.0.1:0").await?;
    client.send_to(packet, server).await?;
    let mut buf = vec![0; 65535];
    let (len, _) = timeout(wait, client.recv_from(&mut buf)).await??;
    Ok(Message::from_vec(&buf[..len]).unwrap())
}

async fn ask(server: SocketAddr, query: &Message) -> Message {
    ask_udp(server, &query.to_vec().unwrap(), WAIT)
        .await
        .unwrap()
}

async fn write_frame(stream: &mut TcpStream, message: &[u8]) {
    let mut frame = u16::try_from(message.len()).unwrap().to_be_bytes().to_vec();
    frame.extend_from_slice(message);
    stream.write_all(&frame).await.unwrap();
}

async fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let len = timeout(WAIT, stream.read_u16()).await??;
    let mut message = vec![0; usize::from(len)];
    stream.read_exact(&mut message).await?;
    Ok(message)
}

fn a_records(reply: &Message) -> Vec<Ipv4Addr> {
    reply
        .answers
        .iter()
        .map(|record| match record.data {
            RData::A(A(ip)) => ip,
            ref other => panic!("not an A record: {other:?}"),
        })
        .collect()
}

/// A reply from a fake upstream: `UPSTREAM_IP` for whatever was asked.
fn upstream_answer(query: &Message) -> Message {
    let mut reply = Message::response(query.id, query.op_code);
    reply.queries = query.queries.clone();
    let name = query.queries[0].name().clone();
    reply.add_answer(hickory_proto::rr::Record::from_rdata(
        name,
        42,
        RData::A(A(UPSTREAM_IP)),
    ));
    reply
}

fn upstream_failure(query: &Message) -> Message {
    let mut reply = Message::response(query.id, query.op_code);
    reply.queries = query.queries.clone();
    reply.metadata.response_code = ResponseCode::ServFail;
    reply
}

fn upstream_truncated(query: &Message) -> Message {
    let mut reply = Message::response(query.id, query.op_code);
    reply.queries = query.queries.clone();
    reply.metadata.truncation = true;
    reply
}

/// A fake upstream on a UDP socket of 127.0.0.1 answering with `reply`;
/// every packet it receives is sent on the channel.
fn fake_udp_upstream(
    socket: std::net::UdpSocket,
    reply: fn(&Message) -> Message,
) -> mpsc::UnboundedReceiver<Vec<u8>> {
    let (seen, received) = mpsc::unbounded_channel();
    socket.set_nonblocking(true).unwrap();
    let socket = UdpSocket::from_std(socket).unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0; 65535];
        loop {
            let (len, from) = socket.recv_from(&mut buf).await.unwrap();
            let packet = buf[..len].to_vec();
            let answer = reply(&Message::from_vec(&packet).unwrap())
                .to_vec()
                .unwrap();
            // The test may not be watching: then nobody needs to know.
            let _ = seen.send(packet);
            socket.send_to(&answer, from).await.unwrap();
        }
    });
    received
}

/// A fake upstream on a TCP listener of 127.0.0.1 answering with `reply`.
fn fake_tcp_upstream(listener: std::net::TcpListener, reply: fn(&Message) -> Message) {
    listener.set_nonblocking(true).unwrap();
    let listener = TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let query = read_frame(&mut stream).await.unwrap();
            let answer = reply(&Message::from_vec(&query).unwrap()).to_vec().unwrap();
            write_frame(&mut stream, &answer).await;
        }
    });
}

#[tokio::test]
async fn a_query_for_a_container_name_gets_all_its_addresses_with_ttl_600() {
    let (_handle, addr) = serve(server(vec![]));
    let asked = query("web.", RecordType::A);

    let reply = ask(addr, &asked).await;

    assert_eq!(reply.id, asked.id);
    assert_eq!(reply.message_type, MessageType::Response);
    assert_eq!(reply.response_code, ResponseCode::NoError);
    assert!(reply.recursion_available);
    assert_eq!(reply.queries, asked.queries);
    let ips: HashSet<_> = a_records(&reply).into_iter().collect();
    assert_eq!(ips, HashSet::from([WEB, WEB2]));
    assert!(reply.answers.iter().all(|record| record.ttl == 600));
}

#[tokio::test]
async fn an_alias_matches_case_insensitively_and_answers_under_the_name_asked() {
    let (_handle, addr) = serve(server(vec![]));

    let reply = ask(addr, &query("API.", RecordType::A)).await;
    assert_eq!(a_records(&reply).len(), 2);
    assert!(reply
        .answers
        .iter()
        .all(|record| record.name.to_ascii() == "API."));

    let reply = ask(addr, &query("Web.MyNet", RecordType::A)).await;
    assert_eq!(a_records(&reply).len(), 2);
}

#[tokio::test]
async fn aaaa_for_a_container_name_is_an_empty_noerror_not_nxdomain() {
    let (_handle, addr) = serve(server(vec![]));

    let reply = ask(addr, &query("db", RecordType::AAAA)).await;

    assert_eq!(reply.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
}

#[tokio::test]
async fn ptr_for_a_container_address_is_its_name() {
    let (_handle, addr) = serve(server(vec![]));

    let reply = ask(addr, &query("4.0.20.172.IN-ADDR.ARPA.", RecordType::PTR)).await;

    assert_eq!(reply.response_code, ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(reply.answers[0].ttl, 600);
    match &reply.answers[0].data {
        RData::PTR(target) => assert_eq!(target.0.to_ascii(), "db.mynet."),
        other => panic!("not a PTR record: {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_name_is_forwarded_as_is_and_relayed_with_the_client_id() {
    let (socket, _) = bind_pair();
    let upstream = socket.local_addr().unwrap();
    let mut seen = fake_udp_upstream(socket, upstream_answer);
    let (_handle, addr) = serve(server(vec![upstream]));
    let asked = query("example.com.", RecordType::A);
    let packet = asked.to_vec().unwrap();

    let reply = ask_udp(addr, &packet, WAIT).await.unwrap();

    assert_eq!(reply.id, asked.id);
    assert_eq!(a_records(&reply), [UPSTREAM_IP]);
    assert_eq!(reply.answers[0].ttl, 42);
    assert_eq!(seen.recv().await.unwrap(), packet);
}

#[tokio::test]
async fn a_ptr_for_an_address_not_ours_is_forwarded() {
    let (socket, _) = bind_pair();
    let upstream = socket.local_addr().unwrap();
    let mut seen = fake_udp_upstream(socket, upstream_answer);
    let (_handle, addr) = serve(server(vec![upstream]));

    ask(addr, &query("9.9.20.172.in-addr.arpa.", RecordType::PTR)).await;

    assert!(seen.recv().await.is_some());
}

#[tokio::test]
async fn a_failing_upstream_is_skipped_for_the_next_one() {
    let (failing, _) = bind_pair();
    let (working, _) = bind_pair();
    let upstreams = vec![failing.local_addr().unwrap(), working.local_addr().unwrap()];
    fake_udp_upstream(failing, upstream_failure);
    fake_udp_upstream(working, upstream_answer);
    let server = server(upstreams);

    let reply = server
        .answer(&query("example.com.", RecordType::A).to_vec().unwrap())
        .await;

    assert_eq!(
        a_records(&Message::from_vec(&reply.unwrap()).unwrap()),
        [UPSTREAM_IP]
    );
}

#[tokio::test]
async fn a_truncated_upstream_reply_is_asked_again_over_tcp() {
    let (udp, tcp) = bind_pair();
    let upstream = udp.local_addr().unwrap();
    fake_udp_upstream(udp, upstream_truncated);
    fake_tcp_upstream(tcp, upstream_answer);
    let server = server(vec![upstream]);
    let asked = query("big.example.com.", RecordType::A);

    let reply = server.answer(&asked.to_vec().unwrap()).await.unwrap();

    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.id, asked.id);
    assert!(!reply.truncation);
    assert_eq!(a_records(&reply), [UPSTREAM_IP]);
}

#[tokio::test]
async fn with_no_upstream_an_unknown_name_is_servfail() {
    let (_handle, addr) = serve(server(vec![]));
    let asked = query("example.com.", RecordType::A);

    let reply = ask(addr, &asked).await;

    assert_eq!(reply.id, asked.id);
    assert_eq!(reply.response_code, ResponseCode::ServFail);
}

#[tokio::test]
async fn a_silent_upstream_times_out_into_servfail() {
    let (silent, _) = bind_pair();
    let server = server(vec![silent.local_addr().unwrap()]);

    let reply = server
        .answer(&query("example.com.", RecordType::A).to_vec().unwrap())
        .await;

    assert_eq!(
        Message::from_vec(&reply.unwrap()).unwrap().response_code,
        ResponseCode::ServFail
    );
}

#[tokio::test]
async fn tcp_clients_get_answers_to_several_queries_on_one_connection() {
    let (_handle, addr) = serve(server(vec![]));
    let mut stream = TcpStream::connect(addr).await.unwrap();

    for (name, ip) in [("db", DB), ("DB.", DB)] {
        let asked = query(name, RecordType::A);
        write_frame(&mut stream, &asked.to_vec().unwrap()).await;
        let reply = Message::from_vec(&read_frame(&mut stream).await.unwrap()).unwrap();
        assert_eq!(reply.id, asked.id);
        assert_eq!(a_records(&reply), [ip]);
    }
}

#[tokio::test]
async fn garbage_is_dropped_and_the_next_query_still_answered() {
    let (_handle, addr) = serve(server(vec![]));

    let garbage = ask_udp(
        addr,
        &[0xde, 0xad, 0xbe, 0xef, 0x01],
        Duration::from_millis(300),
    )
    .await;
    assert!(garbage.is_err(), "garbage got a reply: {garbage:?}");
    assert_eq!(
        a_records(&ask(addr, &query("db", RecordType::A)).await),
        [DB]
    );

    let mut stream = TcpStream::connect(addr).await.unwrap();
    write_frame(&mut stream, &[0xff; 7]).await;
    assert!(
        read_frame(&mut stream).await.is_err(),
        "the connection stays open after garbage"
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    write_frame(&mut stream, &query("db", RecordType::A).to_vec().unwrap()).await;
    let reply = Message::from_vec(&read_frame(&mut stream).await.unwrap()).unwrap();
    assert_eq!(a_records(&reply), [DB]);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let (handle, addr) = serve(server(vec![]));
    assert_eq!(
        a_records(&ask(addr, &query("db", RecordType::A)).await),
        [DB]
    );

    drop(handle);
    tokio::time::sleep(Duration::from_millis(50)).await;

    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn parse_resolv_conf_reads_nameservers_search_options_and_keeps_other_lines() {
    let text = "\
# Generated by NetworkManager
; another comment
domain corp.example
search example.com lab.example.com
nameserver 10.0.0.1
nameserver 2001:db8::53
nameserver not-an-address
options edns0 trust-ad
options ndots:2
sortlist 130.155.160.0/255.255.240.0
";

    let conf = parse_resolv_conf(text);

    assert_eq!(
        conf,
        ResolvConf {
            nameservers: vec![
                "10.0.0.1:53".parse().unwrap(),
                "[2001:db8::53]:53".parse().unwrap()
            ],
            search: vec!["example.com".to_owned(), "lab.example.com".to_owned()],
            options: vec![
                "edns0".to_owned(),
                "trust-ad".to_owned(),
                "ndots:2".to_owned()
            ],
            other: vec!["sortlist 130.155.160.0/255.255.240.0".to_owned()],
        }
    );
}

#[test]
fn container_resolv_conf_points_at_127_0_0_11_with_ndots_0_and_the_host_search() {
    let host = parse_resolv_conf(
        "nameserver 10.0.0.1\nnameserver ::1\nsearch example.com\noptions edns0\n",
    );

    assert_eq!(
        container_resolv_conf(&host),
        "nameserver 127.0.0.11\n\
         search example.com\n\
         options edns0 ndots:0\n\
         \n\
         # ExtServers: [host(10.0.0.1) host(::1)]\n"
    );
}

#[test]
fn container_resolv_conf_keeps_a_valid_host_ndots_and_replaces_an_invalid_one() {
    let valid = parse_resolv_conf("nameserver 10.0.0.1\noptions ndots:1\n");
    assert!(container_resolv_conf(&valid).contains("\noptions ndots:1\n"));

    let invalid = parse_resolv_conf("nameserver 10.0.0.1\noptions ndots:-1 timeout:2 ndots\n");
    assert!(container_resolv_conf(&invalid).contains("\noptions timeout:2 ndots:0\n"));
}

#[test]
fn container_resolv_conf_without_host_nameservers_says_so() {
    assert_eq!(
        container_resolv_conf(&parse_resolv_conf("")),
        "nameserver 127.0.0.11\noptions ndots:0\n\n# NO EXTERNAL NAMESERVERS DEFINED\n"
    );
}
