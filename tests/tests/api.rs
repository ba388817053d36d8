//! The socket API spoken raw: headers, paths, status codes and bodies,
//! and bad input that must get a clear 4xx while the daemon keeps serving.

use berth_tests::{demux, Daemon};
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

#[test]
fn every_reply_carries_docker_headers_on_bare_and_versioned_paths() {
    let d = Daemon::start();
    for path in ["/_ping", "/v1.24/_ping", "/v1.45/_ping"] {
        let r = d.get(path);
        assert_eq!((r.status, r.text().as_str()), (200, "OK"), "{path}");
        assert_eq!(r.header("Api-Version"), Some("1.45"));
        assert_eq!(r.header("Ostype"), Some("linux"));
        assert!(r.header("Server").unwrap().starts_with("Berth/"));
    }
    let head = d.request("HEAD", "/_ping", None);
    assert_eq!(head.status, 200);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&d.socket).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o660, "socket mode {mode:o}");
    let r = d.get("/v1.12/version");
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("too old"));
    let r = d.get("/no/such/path");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "page not found");
    assert_eq!(r.header("Api-Version"), Some("1.45"));
}

#[test]
fn info_reports_the_real_machine() {
    let d = Daemon::start();
    let info = d.get("/info").json();
    assert_eq!(info["Driver"], "overlay2");
    assert_eq!(info["OSType"], "linux");
    assert_eq!(
        info["NCPU"],
        std::thread::available_parallelism().unwrap().get() as i64
    );
    assert!(info["MemTotal"].as_i64().unwrap() > 1 << 20);
    assert_eq!(
        info["DockerRootDir"],
        d.root.join("data").display().to_string()
    );
    assert!(matches!(
        info["CgroupVersion"].as_str(),
        Some("1") | Some("2")
    ));
}

#[test]
fn malformed_requests_get_400_and_the_daemon_keeps_serving() {
    let d = Daemon::with_busybox();
    let bad_bodies: [&[u8]; 4] = [
        b"{not json",
        br#"{"Image": 5}"#,
        br#"{"Image": "busybox", "Tty": "yes"}"#,
        br#"[1, 2, 3]"#,
    ];
    for body in bad_bodies {
        let r = d.request(
            "POST",
            "/containers/create",
            Some(("application/json", body)),
        );
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
    }
    let r = d.post_json(
        "/containers/create?name=bad%20name",
        &json!({"Image": "busybox", "Cmd": ["true"]}),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid container name (bad name)"));
    let r = d.post_json("/containers/create", &json!({"Image": "nope"}));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such image: nope:latest");
    let r = d.get("/containers/nope/json");
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (404, json!("No such container: nope"))
    );
    let r = d.get("/containers/json?filters=%7Bbad");
    assert_eq!(r.status, 400);
    let r = d.request("POST", "/containers/nope/wait?condition=soon", None);
    assert_eq!(
        r.status, 400,
        "Docker checks the condition before the container"
    );
    assert_eq!(d.get("/_ping").status, 200);
    assert!(
        d.container_ids().is_empty(),
        "a rejected create left a container"
    );
}

#[test]
fn start_and_stop_report_304_when_nothing_changes() {
    let d = Daemon::with_busybox();
    let id = d
        .post_json(
            "/containers/create",
            &json!({"Image": "busybox", "Cmd": ["sleep", "60"]}),
        )
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d.request("POST", &format!("/containers/{id}/stop"), None)
            .status,
        304
    );
    assert_eq!(
        d.request("POST", &format!("/containers/{id}/start"), None)
            .status,
        204
    );
    assert_eq!(
        d.request("POST", &format!("/containers/{id}/start"), None)
            .status,
        304
    );
    let inspect = d.get(&format!("/containers/{id}/json")).json();
    assert_eq!(inspect["State"]["Status"], "running");
    assert!(inspect["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(inspect["Name"].as_str().unwrap().chars().next(), Some('/'));
    let r = d.request("DELETE", &format!("/containers/{id}"), None);
    assert_eq!(r.status, 409);
    assert_eq!(
        d.request("POST", &format!("/containers/{id}/kill"), None)
            .status,
        204
    );
    let inspect = d.get(&format!("/containers/{id}/json")).json();
    assert_eq!(inspect["State"]["ExitCode"], 137);
    assert_eq!(
        d.request("POST", &format!("/containers/{id}/kill"), None)
            .status,
        409
    );
}

/// Sends a request on a fresh connection and returns the stream with the
/// head already read.
fn open(d: &Daemon, head: &str) -> (UnixStream, String) {
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "connection closed in the head"
        );
        got.push(byte[0]);
    }
    (s, String::from_utf8(got).unwrap())
}

#[test]
fn wait_flushes_headers_before_blocking_and_attach_hijacks() {
    let d = Daemon::with_busybox();
    let id = d
        .post_json(
            "/containers/create",
            &json!({"Image": "busybox", "Cmd": ["sh", "-c", "echo one; echo two >&2; exit 3"]}),
        )
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut attach, head) = open(
        &d,
        &format!("POST /v1.45/containers/{id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: tcp"));
    assert!(!head.to_ascii_lowercase().contains("content-length"));
    let started = Instant::now();
    let (mut wait, head) = open(
        &d,
        &format!("POST /containers/{id}/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        d.request("POST", &format!("/containers/{id}/start"), None)
            .status,
        204
    );
    let mut stream = Vec::new();
    attach.read_to_end(&mut stream).unwrap();
    let (out, err) = demux(&stream);
    assert_eq!(
        (out.as_slice(), err.as_slice()),
        (&b"one\n"[..], &b"two\n"[..])
    );
    let mut body = String::new();
    wait.read_to_string(&mut body).unwrap();
    assert!(body.contains("\"StatusCode\":3"), "{body}");
}

#[test]
fn logs_are_multiplexed_and_honour_tail_and_streams() {
    let d = Daemon::with_busybox();
    let id = d
        .post_json("/containers/create", &json!({"Image": "busybox", "Cmd": ["sh", "-c", "for i in 1 2 3; do echo $i; done; echo e >&2"]}))
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    d.request("POST", &format!("/containers/{id}/start"), None);
    d.request("POST", &format!("/containers/{id}/wait"), None);
    let r = d.get(&format!("/containers/{id}/logs?stdout=1&stderr=1"));
    assert_eq!(
        r.header("Content-Type"),
        Some("application/vnd.docker.multiplexed-stream")
    );
    let (out, err) = demux(&r.body);
    assert_eq!(
        (out.as_slice(), err.as_slice()),
        (&b"1\n2\n3\n"[..], &b"e\n"[..])
    );
    let (out, err) = demux(
        &d.get(&format!("/containers/{id}/logs?stdout=1&tail=2"))
            .body,
    );
    assert_eq!((out.as_slice(), err.as_slice()), (&b"3\n"[..], &b""[..]));
    let r = d.get(&format!("/containers/{id}/logs"));
    assert_eq!(r.status, 400);
}

fn tar_with(entries: &[(&str, tar_kind::Kind)]) -> Vec<u8> {
    tar_kind::build(entries)
}

/// A tiny tar writer, so hostile archives can be made byte for byte.
mod tar_kind {
    pub enum Kind {
        File(&'static [u8]),
        Symlink(&'static str),
        Hardlink(&'static str),
    }

    fn header(name: &str, kind: &Kind) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let (size, flag, link) = match kind {
            Kind::File(data) => (data.len(), b'0', ""),
            Kind::Symlink(target) => (0, b'2', *target),
            Kind::Hardlink(target) => (0, b'1', *target),
        };
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = flag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    pub fn build(entries: &[(&str, Kind)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind) in entries {
            out.extend_from_slice(&header(name, kind));
            if let Kind::File(data) = kind {
                out.extend_from_slice(data);
                out.resize(out.len().div_ceil(512) * 512, 0);
            }
        }
        out.resize(out.len() + 1024, 0);
        out
    }
}

#[test]
fn hostile_import_archives_write_nothing_outside_and_get_4xx() {
    use tar_kind::Kind::*;
    let d = Daemon::with_busybox();
    let outside = d.root.join("escaped");
    let escape_rel = format!("../../../../../../../..{}", outside.display());
    let leak: &'static str = Box::leak(outside.display().to_string().into_boxed_str());
    let cases: Vec<Vec<u8>> = vec![
        tar_with(&[(escape_rel.as_str(), File(b"x"))]),
        tar_with(&[("evil", Symlink(leak)), ("evil/inside", File(b"x"))]),
        tar_with(&[
            ("link", Symlink("/")),
            (&format!("link{}", outside.display()), File(b"x")),
        ]),
        tar_with(&[("hard", Hardlink(leak))]),
    ];
    for (i, archive) in cases.iter().enumerate() {
        let r = d.request(
            "POST",
            "/images/create?fromSrc=-&repo=evil",
            Some(("application/x-tar", archive)),
        );
        assert!(
            (400..500).contains(&r.status),
            "case {i}: status {} {}",
            r.status,
            r.text()
        );
        assert!(!outside.exists(), "case {i} wrote outside the layer");
        assert!(!outside.join("inside").exists());
    }
    assert_eq!(d.get("/_ping").status, 200);
    let images = d.get("/images/json").json();
    assert_eq!(
        images.as_array().unwrap().len(),
        1,
        "a hostile archive left an image: {images}"
    );
}

#[test]
fn import_with_changes_sets_the_config() {
    let d = Daemon::start();
    let (_, rootfs) = berth_tests::busybox_fixture();
    let tar = std::fs::read(rootfs).unwrap();
    let r = d.request(
        "POST",
        "/images/create?fromSrc=-&repo=imported&tag=v2&changes=CMD%20%5B%22echo%22%2C%22from-cmd%22%5D&changes=ENV%20A%3D1&changes=WORKDIR%20%2Fsrv",
        Some(("application/x-tar", &tar)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("sha256:"));
    let inspect = d.get("/images/imported:v2/json").json();
    assert_eq!(inspect["Config"]["Cmd"], json!(["echo", "from-cmd"]));
    assert_eq!(inspect["Config"]["WorkingDir"], "/srv");
    assert!(inspect["Config"]["Env"]
        .as_array()
        .unwrap()
        .contains(&json!("A=1")));
    let out = d.berth(&["run", "--rm", "imported:v2"]).ok();
    assert_eq!(out.stdout, "from-cmd\n");
}
