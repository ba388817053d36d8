//! Networking end to end: the default bridge, published ports (reached from
//! 127.0.0.1), user-defined networks with names and aliases resolved by the
//! embedded DNS server, isolation between networks, host/none/container
//! modes, live connect, and nothing left behind. Traffic goes only to
//! 127.0.0.1 and to the test's own containers.

use berth_tests::{eventually, Daemon};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A busybox web server answering `text` on port 80.
const SERVE: &str =
    "mkdir -p /www && echo \"$TEXT\" > /www/index.html && exec httpd -f -p 80 -h /www";

fn serve(d: &Daemon, name: &str, text: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name, "-e"];
    let env = format!("TEXT={text}");
    args.push(&env);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", SERVE]);
    d.docker(&args).ok().stdout.trim().to_string()
}

/// GET / from 127.0.0.1:port, retried while the server comes up.
fn fetch_local(port: u16) -> String {
    let mut body = String::new();
    let got = eventually(Duration::from_secs(10), || {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        if stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        body = reply;
        body.contains("200 OK")
    });
    assert!(got, "no answer on 127.0.0.1:{port}: {body:?}");
    body
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn inspect(d: &Daemon, container: &str, format: &str) -> String {
    d.docker(&["inspect", "-f", format, container])
        .ok()
        .stdout
        .trim()
        .to_string()
}

/// A shell command that GETs / from `host` port 80 with `nc` (Debian's
/// static busybox `wget` crashes), giving up after two seconds.
fn get_script(host: &str) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80")
}

/// The reply to `GET /` from `host`, fetched from a new container on
/// `network`; None if nothing answered.
fn get_from(d: &Daemon, network: &str, host: &str) -> Option<String> {
    let script = get_script(host);
    let r = d.docker(&[
        "run",
        "--rm",
        "--network",
        network,
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    r.stdout.contains("200 OK").then_some(r.stdout)
}

/// The same from inside the running container `container`.
fn get_in(d: &Daemon, container: &str, host: &str) -> Option<String> {
    let r = d.docker(&["exec", container, "sh", "-c", &get_script(host)]);
    r.stdout.contains("200 OK").then_some(r.stdout)
}

fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Host ends of veths on `bridge`.
fn ports_of(bridge: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn nft_tables() -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn published_ports_are_reached_from_localhost_and_shown_like_docker() {
    let d = Daemon::with_busybox();
    let port = free_port();
    let mapping = format!("{port}:80");
    serve(
        &d,
        "web",
        "hello-published",
        &["-p", &mapping, "--expose", "81"],
    );
    assert!(fetch_local(port).contains("hello-published"));

    let ports = d.get("/containers/web/json").json()["NetworkSettings"]["Ports"].clone();
    assert_eq!(
        ports,
        serde_json::json!({
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": port.to_string()}],
            "81/tcp": null,
        })
    );
    assert_eq!(
        d.docker(&["port", "web"]).ok().stdout,
        format!("80/tcp -> 0.0.0.0:{port}\n")
    );
    let ps = d.docker(&["ps", "--format", "{{.Ports}}"]).ok().stdout;
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");

    // A random host port.
    serve(&d, "random", "hello-random", &["-p", "80"]);
    let host_port: u16 = inspect(
        &d,
        "random",
        "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}",
    )
    .parse()
    .unwrap();
    assert!(fetch_local(host_port).contains("hello-random"));

    // -P publishes every exposed port on a random host port.
    serve(&d, "all", "hello-all", &["-P", "--expose", "80"]);
    let all_port: u16 = d.get("/containers/all/json").json()["NetworkSettings"]["Ports"]["80/tcp"]
        [0]["HostPort"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(fetch_local(all_port).contains("hello-all"));

    // A taken host port: a clear error at start, and nothing is left.
    let r = d.docker(&[
        "run", "-d", "--name", "clash", "-p", &mapping, "busybox", "sleep", "60",
    ]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("port is already allocated"),
        "{}",
        r.stderr
    );
    assert_eq!(inspect(&d, "clash", "{{.State.Running}}"), "false");
    // Only the three running containers keep endpoints on the bridge.
    assert!(
        eventually(Duration::from_secs(5), || ports_of(&d.net.bridge()).len()
            == 3),
        "{:?}",
        ports_of(&d.net.bridge())
    );
}

#[test]
fn containers_reach_each_other_on_the_default_bridge_by_address() {
    let d = Daemon::with_busybox();
    serve(&d, "one", "hello-bridge", &[]);
    let ip = inspect(&d, "one", "{{.NetworkSettings.IPAddress}}");
    assert!(
        ip.starts_with(&format!("10.{}.255.", 100 + d.net.index)),
        "{ip}"
    );
    assert_eq!(
        inspect(&d, "one", "{{.NetworkSettings.Gateway}}"),
        format!("10.{}.255.1", 100 + d.net.index)
    );
    let mac = inspect(&d, "one", "{{.NetworkSettings.MacAddress}}");
    assert!(mac.starts_with("02:42:"), "{mac}");
    let got = eventually(Duration::from_secs(10), || {
        get_from(&d, "bridge", &ip).is_some_and(|b| b.contains("hello-bridge"))
    });
    assert!(got);
    // eth0 has the address, and /etc/hosts names it.
    let inside = d
        .docker(&[
            "exec",
            "one",
            "sh",
            "-c",
            "ip -4 addr show eth0; cat /etc/hosts",
        ])
        .ok()
        .stdout;
    assert!(inside.contains(&format!("inet {ip}/24")), "{inside}");
    assert!(inside.contains(&ip), "{inside}");
}

#[test]
fn user_networks_resolve_names_and_aliases_and_are_isolated() {
    let d = Daemon::with_busybox();
    d.docker(&["network", "create", "front"]).ok();
    d.docker(&["network", "create", "back"]).ok();
    serve(
        &d,
        "api",
        "hello-user",
        &["--network", "front", "--network-alias", "service"],
    );
    for name in ["api", "service", "api.front"] {
        let got = eventually(Duration::from_secs(10), || {
            get_from(&d, "front", name).is_some_and(|b| b.contains("hello-user"))
        });
        assert!(got, "{name} was not reached");
    }
    let resolv = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout;
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");

    // Another network cannot reach it. (By address only: a name unknown
    // there would be forwarded to the host's resolvers, and tests send
    // nothing beyond 127.0.0.1 and their own containers.)
    let ip = inspect(&d, "api", "{{.NetworkSettings.Networks.front.IPAddress}}");
    assert!(get_from(&d, "back", &ip).is_none());

    let network = d.get("/networks/front").json();
    assert_eq!(network["Driver"], "bridge");
    let containers = network["Containers"].as_object().unwrap();
    assert_eq!(containers.len(), 1, "{network}");
    let r = d.docker(&["network", "rm", "front"]);
    assert_ne!(r.code, 0, "removed while in use");
    assert!(r.stderr.contains("has active endpoints"), "{}", r.stderr);
}

#[test]
fn host_none_and_container_modes() {
    let d = Daemon::with_busybox();
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "readlink",
            "/proc/self/ns/net",
        ])
        .ok()
        .stdout;
    assert_eq!(host.trim(), host_ns.display().to_string());
    let none = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ls",
            "/sys/class/net",
        ])
        .ok()
        .stdout;
    assert_eq!(none, "lo\n");
    serve(&d, "owner", "hello-shared", &[]);
    let got = eventually(Duration::from_secs(10), || {
        get_from(&d, "container:owner", "127.0.0.1").is_some_and(|b| b.contains("hello-shared"))
    });
    assert!(got);
}

#[test]
fn a_running_container_is_connected_and_disconnected() {
    let d = Daemon::with_busybox();
    // A subnet of this daemon's own pool, so that test daemons never clash.
    let subnet = format!("10.{}.77.0/24", 100 + d.net.index);
    let fixed = format!("10.{}.77.50", 100 + d.net.index);
    d.docker(&["network", "create", "--subnet", &subnet, "live"])
        .ok();
    serve(
        &d,
        "target",
        "hello-live",
        &["--network", "live", "--ip", &fixed],
    );
    assert_eq!(
        inspect(&d, "target", "{{.NetworkSettings.Networks.live.IPAddress}}"),
        fixed
    );
    d.docker(&["run", "-d", "--name", "client", "busybox", "sleep", "300"])
        .ok();
    d.docker(&["network", "connect", "live", "client"]).ok();
    let got = eventually(Duration::from_secs(10), || {
        get_in(&d, "client", "target").is_some_and(|b| b.contains("hello-live"))
    });
    assert!(got);
    d.docker(&["network", "disconnect", "live", "client"]).ok();
    assert!(get_in(&d, "client", &fixed).is_none());
}

#[test]
fn nothing_is_left_behind() {
    let mut d = Daemon::with_busybox();
    let bridge = d.net.bridge();
    d.docker(&["network", "create", "gone"]).ok();
    let id = d.get("/networks/gone").json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let user_bridge = format!("br-{}", &id[..12]);
    let port = free_port();
    serve(&d, "ca", "x", &["-p", &format!("{port}:80")]);
    serve(&d, "cb", "y", &["--network", "gone"]);
    assert!(link_exists(&bridge) && link_exists(&user_bridge));
    assert_eq!(ports_of(&bridge).len(), 1);
    let table = format!("berth_{bridge}");
    assert!(nft_tables().contains(&table));

    d.docker(&["rm", "-f", "ca", "cb"]).ok();
    // The veths go with the containers' namespaces, in the background.
    assert!(
        eventually(Duration::from_secs(5), || ports_of(&bridge).is_empty()),
        "{:?}",
        ports_of(&bridge)
    );
    assert!(eventually(Duration::from_secs(5), || ports_of(
        &user_bridge
    )
    .is_empty()));
    d.docker(&["network", "rm", "gone"]).ok();
    assert!(!link_exists(&user_bridge));
    d.stop();
    assert!(!link_exists(&bridge));
    assert!(!nft_tables().contains(&table), "{}", nft_tables());
}

#[test]
fn berth_network_commands_and_published_ports() {
    let d = Daemon::with_busybox();
    let id = d
        .berth(&["network", "create", "--label", "team=web", "apps"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    let ls = d
        .berth(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ])
        .ok()
        .stdout;
    let mut names: Vec<&str> = ls.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "apps bridge local",
            "bridge bridge local",
            "host host local",
            "none null local"
        ]
    );
    let filtered = d
        .berth(&["network", "ls", "-q", "--filter", "label=team=web"])
        .ok()
        .stdout;
    assert_eq!(filtered.trim(), &id[..12]);
    let ipam = d
        .berth(&["network", "inspect", "-f", "{{json .IPAM.Config}}", "apps"])
        .ok()
        .stdout;
    let ipam: serde_json::Value = serde_json::from_str(&ipam).unwrap();
    let subnet = ipam[0]["Subnet"].as_str().unwrap();
    assert!(
        subnet.starts_with(&format!("10.{}.", 100 + d.net.index)),
        "{subnet}"
    );

    let port = free_port();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "site",
        "--network",
        "apps",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "-e",
        "TEXT=hello-berth",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ])
    .ok();
    assert!(fetch_local(port).contains("hello-berth"));
    assert_eq!(
        d.berth(&["port", "site"]).ok().stdout,
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
    assert_eq!(
        d.berth(&["port", "site", "80"]).ok().stdout,
        format!("127.0.0.1:{port}\n")
    );
    let missing = d.berth(&["port", "site", "81"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("No public port '81' published for site"),
        "{}",
        missing.stderr
    );

    d.berth(&["run", "-d", "--name", "peer", "busybox", "sleep", "300"])
        .ok();
    d.berth(&["network", "connect", "--alias", "buddy", "apps", "peer"])
        .ok();
    let aliases = d
        .berth(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.apps.Aliases}}",
            "peer",
        ])
        .ok()
        .stdout;
    assert!(aliases.contains("buddy"), "{aliases}");
    assert!(get_in(&d, "peer", "site").is_some_and(|b| b.contains("hello-berth")));
    d.berth(&["network", "disconnect", "apps", "peer"]).ok();

    let busy = d.berth(&["network", "rm", "apps"]);
    assert_eq!(busy.code, 1);
    d.berth(&["rm", "-f", "site", "peer"]).ok();
    let pruned = d.berth(&["network", "prune", "-f"]).ok().stdout;
    assert_eq!(pruned, "Deleted Networks:\napps\n\n");
    let predefined = d.berth(&["network", "rm", "bridge"]);
    assert_eq!(predefined.code, 1);
    assert!(
        predefined
            .stderr
            .contains("bridge is a pre-defined network and cannot be removed"),
        "{}",
        predefined.stderr
    );
}

#[test]
fn bad_network_requests_get_clear_errors() {
    let d = Daemon::with_busybox();
    let create = |body: serde_json::Value| d.post_json("/networks/create", &body);
    let r = create(serde_json::json!({"Name": "x1", "Driver": "overlay"}));
    assert_eq!(r.status, 404, "{}", r.text());
    let r = create(serde_json::json!({"Name": "x2", "IPAM": {"Config": [{"Subnet": "nonsense"}]}}));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("invalid CIDR address"));
    assert_eq!(create(serde_json::json!({"Name": "dup"})).status, 201);
    let r = create(serde_json::json!({"Name": "dup"}));
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(d.get("/networks/nope").status, 404);
    assert_eq!(d.request("DELETE", "/networks/host", None).status, 403);
    let r = d.post_json(
        "/containers/create",
        &serde_json::json!({"Image": "busybox", "HostConfig": {"NetworkMode": "missing"}}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["message"], "network missing not found");
    let r = d.post_json(
        "/containers/create",
        &serde_json::json!({"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": ["a"]}}}}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // The daemon still serves.
    assert_eq!(d.get("/networks/bridge").status, 200);
}

#[test]
fn overlapping_subnets_and_double_connects_are_refused_and_leave_nothing() {
    let d = Daemon::with_busybox();
    let subnet = format!("10.{}.90.0/24", 100 + d.net.index);
    let inner = format!("10.{}.90.128/25", 100 + d.net.index);
    d.docker(&["network", "create", "--subnet", &subnet, "first"])
        .ok();
    let r = d.post_json(
        "/networks/create",
        &serde_json::json!({"Name": "second", "IPAM": {"Config": [{"Subnet": inner}]}}),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "Pool overlaps with other one on this address space"
    );
    assert_eq!(d.get("/networks/second").status, 404);

    d.docker(&["run", "-d", "--name", "twice", "busybox", "sleep", "300"])
        .ok();
    d.docker(&["network", "connect", "first", "twice"]).ok();
    let again = d.post_json(
        "/networks/first/connect",
        &serde_json::json!({"Container": "twice"}),
    );
    assert_eq!(again.status, 403, "{}", again.text());
    assert!(again.json()["message"]
        .as_str()
        .unwrap()
        .contains("already exists in network first"));
    // One endpoint, on eth1, as before the refused connect.
    let links = d
        .docker(&["exec", "twice", "ls", "/sys/class/net"])
        .ok()
        .stdout;
    assert_eq!(links, "eth0\neth1\nlo\n");
}

#[test]
fn networks_and_published_ports_survive_a_daemon_restart() {
    let mut d = Daemon::with_busybox();
    d.docker(&["network", "create", "kept"]).ok();
    let port = free_port();
    serve(
        &d,
        "kept1",
        "hello-again",
        &["--network", "kept", "-p", &format!("{port}:80")],
    );
    assert!(fetch_local(port).contains("hello-again"));
    let ip = inspect(&d, "kept1", "{{.NetworkSettings.Networks.kept.IPAddress}}");
    d.kill9();
    d.restart();
    assert!(fetch_local(port).contains("hello-again"));
    // Names still resolve (the DNS server serves again), and a new
    // container does not get the address that is still in use.
    assert!(get_from(&d, "kept", "kept1").is_some_and(|b| b.contains("hello-again")));
    serve(&d, "kept2", "other", &["--network", "kept"]);
    assert_ne!(
        inspect(&d, "kept2", "{{.NetworkSettings.Networks.kept.IPAddress}}"),
        ip
    );
    // The port is still held for kept1.
    let r = d.docker(&["run", "-d", "-p", &format!("{port}:80"), "busybox", "true"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    d.docker(&["rm", "-f", "kept1", "kept2"]).ok();
    let bridge = format!("br-{}", &inspect_network_id(&d, "kept")[..12]);
    assert!(eventually(Duration::from_secs(5), || ports_of(&bridge).is_empty()));
}

fn inspect_network_id(d: &Daemon, name: &str) -> String {
    d.get(&format!("/networks/{name}")).json()["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn network_events_are_published() {
    let d = Daemon::with_busybox();
    d.docker(&["network", "create", "evnet"]).ok();
    d.docker(&["run", "--rm", "--network", "evnet", "busybox", "true"])
        .ok();
    d.docker(&["network", "rm", "evnet"]).ok();
    let events = d
        .docker(&[
            "events",
            "--since",
            "0",
            "--until",
            &format!(
                "{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    + 1
            ),
            "--filter",
            "type=network",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .ok()
        .stdout;
    assert_eq!(
        events,
        "create evnet\nconnect evnet\ndisconnect evnet\ndestroy evnet\n"
    );
}

#[test]
fn dns_settings_and_extra_hosts_land_in_the_containers_files() {
    let d = Daemon::with_busybox();
    let gateway = d.net.bip().split('/').next().unwrap().to_string();
    let script = "cat /etc/resolv.conf; echo ---; cat /etc/hosts";
    for cli in ["docker", "berth"] {
        let args = [
            "run",
            "--rm",
            "--dns",
            "10.9.8.7",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:3",
            "--add-host",
            "db:10.1.2.3",
            "--add-host",
            "gw:host-gateway",
            "busybox",
            "sh",
            "-c",
            script,
        ];
        let out = if cli == "docker" {
            d.docker(&args)
        } else {
            d.berth(&args)
        }
        .ok()
        .stdout;
        let (resolv, hosts) = out.split_once("---\n").unwrap();
        assert_eq!(
            resolv, "nameserver 10.9.8.7\nsearch example.test\noptions ndots:3\n",
            "{cli}"
        );
        assert!(hosts.contains("10.1.2.3\tdb\n"), "{cli}: {hosts}");
        assert!(
            hosts.contains(&format!("{gateway}\tgw\n")),
            "{cli}: {hosts}"
        );
    }
    // On a user network the embedded server stays the nameserver.
    d.docker(&["network", "create", "dnsnet"]).ok();
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "dnsnet",
            "--dns",
            "10.9.8.7",
            "--dns-search",
            "x.test",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout;
    assert!(
        out.starts_with("nameserver 127.0.0.11\nsearch x.test\n"),
        "{out}"
    );
    d.docker(&["network", "rm", "dnsnet"]).ok();
    let r = d.berth(&["run", "--rm", "--add-host", "db:nowhere", "busybox", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("invalid IP address in add-host: \"db:nowhere\""),
        "{}",
        r.stderr
    );
    assert!(d.container_ids().is_empty());
}
