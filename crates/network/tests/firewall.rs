//! The firewall against this host's real nftables (run as root, with the
//! `nft` binary). Each test owns a table `berth_test_<pid>_<n>`, which a
//! guard removes pass or fail. Rules only match made-up subnets and bridge
//! names, or loopback ports these tests hold, and the only traffic sent
//! goes to 127.0.0.1. Without root or nft the tests print a note and pass.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use berth_network::firewall::{Firewall, FirewallError, NetworkRules, PortRule, Ruleset};
use berth_network::ports::{reserve, HostPorts, Port, Proto, Request, Reservation};

static NEXT: AtomicUsize = AtomicUsize::new(0);

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
const TIMEOUT: Duration = Duration::from_secs(5);

/// A uniquely named table, deleted on drop.
struct TestTable {
    firewall: Firewall,
    name: String,
}

impl TestTable {
    fn new() -> Option<TestTable> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: nftables tests need root");
            return None;
        }
        if Command::new("nft").arg("--version").output().is_err() {
            eprintln!("skipping: no nft binary");
            return None;
        }
        let name = format!(
            "berth_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        Some(TestTable {
            firewall: Firewall::new(&name),
            name,
        })
    }

    /// `nft list table ip NAME`, or None when the table does not exist.
    fn listing(&self) -> Option<String> {
        let out = Command::new("nft")
            .args(["list", "table", "ip", &self.name])
            .output()
            .expect("run nft list table");
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).expect("utf-8 listing"))
    }

    /// Short bridge names unique to this table (nft allows 16 bytes).
    fn bridge(&self, suffix: &str) -> String {
        let n = self.name.rsplit('_').next().unwrap();
        format!("bt{}{n}{suffix}", std::process::id() % 100_000)
    }
}

impl Drop for TestTable {
    fn drop(&mut self) {
        if let Err(err) = self.firewall.remove() {
            eprintln!("removing test table {}: {err}", self.name);
        }
    }
}

/// How many tables named `name` exist in family ip.
fn tables_named(name: &str) -> usize {
    let out = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .expect("run nft list tables");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.trim() == format!("table ip {name}"))
        .count()
}

/// A loopback host port held for the test, so rules on it hijack nothing.
fn held_port(proto: Proto) -> Reservation {
    reserve(&Request {
        container_port: Port { number: 1, proto },
        host_ip: Some(LOOPBACK),
        host_ports: HostPorts::Any,
    })
    .expect("reserve a loopback port")
}

fn loopback_rule(host_port: u16, proto: Proto, container_port: u16) -> PortRule {
    PortRule {
        host_ip: Some(LOOPBACK),
        host_port,
        proto,
        container_ip: LOOPBACK,
        container_port,
    }
}

/// Two made-up networks (benchmark addresses, no such bridges) and one
/// published loopback port.
fn sample(table: &TestTable, host_port: u16) -> Ruleset {
    Ruleset {
        networks: vec![
            NetworkRules {
                bridge: table.bridge("a"),
                subnet: "198.18.10.0/24".parse().unwrap(),
                internal: false,
            },
            NetworkRules {
                bridge: table.bridge("i"),
                subnet: "198.18.11.0/24".parse().unwrap(),
                internal: true,
            },
        ],
        ports: vec![PortRule {
            host_ip: Some(LOOPBACK),
            host_port,
            proto: Proto::Tcp,
            container_ip: "198.18.10.2".parse().unwrap(),
            container_port: 80,
        }],
    }
}

#[test]
fn apply_creates_exactly_the_rendered_table() {
    let Some(table) = TestTable::new() else {
        return;
    };
    let port = held_port(Proto::Tcp);
    let rules = sample(&table, port.mapping().host_port);
    table.firewall.apply(&rules).expect("apply");

    assert_eq!(tables_named(&table.name), 1);
    let listing = table.listing().expect("table exists");
    for chain in ["prerouting", "output", "postrouting", "forward"] {
        assert!(listing.contains(&format!("chain {chain} {{")), "{listing}");
    }
    assert_eq!(listing.matches("chain ").count(), 4, "{listing}");
    let dnat = format!(
        "fib daddr type local ip daddr 127.0.0.1 tcp dport {} dnat to 198.18.10.2:80",
        port.mapping().host_port
    );
    assert_eq!(listing.matches(&dnat).count(), 2, "{listing}");
    let (a, i) = (table.bridge("a"), table.bridge("i"));
    for rule in [
        format!("ip saddr 198.18.10.0/24 oifname != \"{a}\" masquerade"),
        format!("ip saddr 127.0.0.0/8 oifname \"{i}\" masquerade"),
        format!(
            "ip saddr 198.18.10.0/24 ip daddr 198.18.10.0/24 oifname \"{a}\" ct status dnat masquerade"
        ),
        "ct state established,related accept".to_string(),
        format!("iifname \"{i}\" oifname != \"{i}\" drop"),
        format!("iifname \"{a}\" oifname \"{i}\" drop"),
    ] {
        assert!(listing.contains(&rule), "missing {rule:?} in\n{listing}");
    }
    assert!(
        !listing.contains("198.18.11.0/24 oifname !="),
        "internal networks are not masqueraded:\n{listing}"
    );
}

#[test]
fn reapply_replaces_the_table() {
    let Some(table) = TestTable::new() else {
        return;
    };
    let (first, second) = (held_port(Proto::Tcp), held_port(Proto::Tcp));
    let (p1, p2) = (first.mapping().host_port, second.mapping().host_port);
    table
        .firewall
        .apply(&sample(&table, p1))
        .expect("first apply");
    table
        .firewall
        .apply(&sample(&table, p2))
        .expect("second apply");

    let listing = table.listing().expect("table exists");
    assert_eq!(tables_named(&table.name), 1);
    assert!(listing.contains(&format!("tcp dport {p2} ")), "{listing}");
    assert!(!listing.contains(&format!("tcp dport {p1} ")), "{listing}");
    assert_eq!(listing.matches("chain prerouting").count(), 1, "{listing}");

    table
        .firewall
        .apply(&Ruleset::default())
        .expect("empty apply");
    let listing = table.listing().expect("table exists");
    assert!(!listing.contains("dnat"), "{listing}");
    assert!(!listing.contains("masquerade"), "{listing}");
}

#[test]
fn remove_deletes_the_table_and_is_idempotent() {
    let Some(table) = TestTable::new() else {
        return;
    };
    table.firewall.remove().expect("remove a table never made");
    let port = held_port(Proto::Tcp);
    table
        .firewall
        .apply(&sample(&table, port.mapping().host_port))
        .expect("apply");
    assert!(table.listing().is_some());

    table.firewall.remove().expect("remove");
    assert!(table.listing().is_none());
    assert_eq!(tables_named(&table.name), 0);
    table.firewall.remove().expect("remove again");
}

#[test]
fn rejected_ruleset_leaves_the_previous_table_intact() {
    let Some(table) = TestTable::new() else {
        return;
    };
    let port = held_port(Proto::Tcp);
    let good = sample(&table, port.mapping().host_port);
    table.firewall.apply(&good).expect("apply");
    let before = table.listing().expect("table exists");

    // nft refuses interface names longer than 16 bytes, after the delete
    // of the old table in the same script: the transaction must undo it.
    let mut bad = good.clone();
    bad.ports.clear();
    bad.networks.push(NetworkRules {
        bridge: "a-bridge-name-far-too-long".to_string(),
        subnet: "198.18.12.0/24".parse().unwrap(),
        internal: false,
    });
    let err = table.firewall.apply(&bad).unwrap_err();
    match &err {
        FirewallError::Rejected {
            table: name,
            stderr,
        } => {
            assert_eq!(name, &table.name);
            assert!(stderr.contains("a-bridge-name-far-too-long"), "{stderr}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(table.listing().as_deref(), Some(before.as_str()));
}

#[test]
fn other_tables_are_left_alone() {
    let (Some(ours), Some(theirs)) = (TestTable::new(), TestTable::new()) else {
        return;
    };
    let (p1, p2) = (held_port(Proto::Tcp), held_port(Proto::Tcp));
    theirs
        .firewall
        .apply(&sample(&theirs, p2.mapping().host_port))
        .expect("apply theirs");
    let before = theirs.listing().expect("their table");

    ours.firewall
        .apply(&sample(&ours, p1.mapping().host_port))
        .expect("apply ours");
    ours.firewall
        .apply(&Ruleset::default())
        .expect("reapply ours");
    ours.firewall.remove().expect("remove ours");

    assert_eq!(theirs.listing().as_deref(), Some(before.as_str()));
}

#[test]
fn published_tcp_port_reaches_a_loopback_listener() {
    let Some(table) = TestTable::new() else {
        return;
    };
    let listener = TcpListener::bind((LOOPBACK, 0)).expect("listen");
    let target = listener.local_addr().unwrap().port();
    let host = held_port(Proto::Tcp);
    let published = SocketAddr::from((LOOPBACK, host.mapping().host_port));
    let rules = Ruleset {
        networks: vec![],
        ports: vec![loopback_rule(published.port(), Proto::Tcp, target)],
    };
    table.firewall.apply(&rules).expect("apply");

    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.write_all(b"hello from the container").expect("write");
    });
    let mut conn = TcpStream::connect_timeout(&published, TIMEOUT).expect("connect via DNAT");
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).expect("read");
    assert_eq!(got, "hello from the container");
    server.join().unwrap();

    // Without the rule the held port is bound but not listening: refused.
    table.firewall.remove().expect("remove");
    let err = TcpStream::connect_timeout(&published, TIMEOUT).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn published_udp_port_reaches_a_loopback_socket_and_replies_come_back() {
    let Some(table) = TestTable::new() else {
        return;
    };
    let server = UdpSocket::bind((LOOPBACK, 0)).expect("bind server");
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    let target = server.local_addr().unwrap().port();
    let host = held_port(Proto::Udp);
    let published = SocketAddr::from((LOOPBACK, host.mapping().host_port));
    let rules = Ruleset {
        networks: vec![],
        ports: vec![loopback_rule(published.port(), Proto::Udp, target)],
    };
    table.firewall.apply(&rules).expect("apply");

    let client = UdpSocket::bind((LOOPBACK, 0)).expect("bind client");
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    client.send_to(b"ping", published).expect("send");
    let mut buf = [0u8; 16];
    let (n, from) = server.recv_from(&mut buf).expect("server receives");
    assert_eq!(&buf[..n], b"ping");
    server.send_to(b"pong", from).expect("reply");
    let (n, from) = client.recv_from(&mut buf).expect("client receives");
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(from, published, "the reply comes from the published port");
}
