//! berthd's attack surface: the API socket's mode and group, the refusal of
//! unsafe socket directories and of TCP without TLS, the TLS listener with
//! client certificates (driven by the real docker CLI), and `docker load` of
//! hostile archives.
//!
//! Daemons started with flags the harness does not pass run as
//! [`OwnDaemon`]s: private roots, socket, cgroup parent and bridge name,
//! all removed when the test ends.

use berth_tests::{bin, busybox_fixture, Daemon, Run};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh private directory under the temp dir, removed on drop.
struct TempRoot(PathBuf);

impl TempRoot {
    fn new(tag: &str) -> TempRoot {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("berth-surface-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempRoot(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A berthd started with flags of the test's choosing, on private roots.
struct OwnDaemon {
    root: TempRoot,
    socket: PathBuf,
    bridge: String,
    child: Option<Child>,
}

impl OwnDaemon {
    /// The command for a berthd on private roots listening on
    /// `unix://<root>/berth.sock`, plus `extra` flags.
    fn command(root: &TempRoot, bridge: &str, extra: &[&str]) -> Command {
        let path = root.path();
        let mut cmd = Command::new(bin("berthd"));
        cmd.arg("-H")
            .arg(format!("unix://{}", path.join("berth.sock").display()))
            .args(extra)
            .arg("--data-root")
            .arg(path.join("data"))
            .arg("--exec-root")
            .arg(path.join("exec"))
            .arg("--log-level")
            .arg("debug")
            .arg("--cgroup-parent")
            .arg(path.file_name().unwrap())
            .arg("--bridge")
            .arg(bridge)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    fn bridge_name() -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        format!(
            "bsf{}x{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Starts berthd with `extra` flags and waits until `ready` holds for
    /// its log (and its socket answers).
    fn start(extra: &[&str], ready: impl Fn(&str) -> bool) -> OwnDaemon {
        let root = TempRoot::new("d");
        let bridge = Self::bridge_name();
        let log = std::fs::File::create(root.path().join("berthd.log")).unwrap();
        let child = Self::command(&root, &bridge, extra)
            .stderr(log)
            .spawn()
            .expect("starting berthd");
        let mut daemon = OwnDaemon {
            socket: root.path().join("berth.sock"),
            root,
            bridge,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::os::unix::net::UnixStream::connect(&daemon.socket).is_ok()
                && ready(&daemon.log())
            {
                return daemon;
            }
            if let Some(status) = daemon.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("berthd exited with {status}:\n{}", daemon.log());
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not start:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs berthd with `extra` flags, which must make it refuse to start;
    /// returns what it said.
    fn refused(extra: &[&str]) -> String {
        let root = TempRoot::new("r");
        let out = Self::command(&root, &Self::bridge_name(), extra)
            .output()
            .expect("running berthd");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "berthd started with {extra:?}:\n{stderr}"
        );
        stderr
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("berthd.log")).unwrap_or_default()
    }

    /// The TCP address berthd logged for its TLS listener.
    fn tls_addr(&self) -> String {
        let log = self.log();
        let line = log
            .lines()
            .find(|l| l.contains("API listening with TLS"))
            .unwrap_or_else(|| panic!("no TLS listener in the log:\n{log}"));
        line.split_whitespace()
            .find_map(|word| word.strip_prefix("addr="))
            .expect("addr= in the log line")
            .to_string()
    }
}

impl Drop for OwnDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &format!("berth_{}", self.bridge)])
            .stderr(Stdio::null())
            .status();
        if Path::new("/sys/class/net").join(&self.bridge).exists() {
            let _ = Command::new("ip")
                .args(["link", "del", &self.bridge])
                .status();
        }
        // berthd bind-mounts its monitor binary into the exec root; a daemon
        // that died early may have left that mount behind.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = self.root.path().display().to_string();
        for target in mounts.lines().filter_map(|l| l.split_whitespace().nth(4)) {
            if target.starts_with(&prefix) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let parent = self.root.path().file_name().unwrap().to_owned();
        let mut dirs = vec![Path::new("/sys/fs/cgroup").join(&parent)];
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            dirs.extend(hierarchies.flatten().map(|h| h.path().join(&parent)));
        }
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            if let Ok(children) = std::fs::read_dir(dir) {
                for child in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = std::fs::remove_dir(child.path());
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The gid of the group named `name` in /etc/group.
fn group_gid(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == name).then(|| fields.nth(1)?.parse().ok())?
        })
}

#[test]
fn api_socket_is_mode_0660_owned_by_root_and_the_default_group() {
    let d = Daemon::start();
    let meta = std::fs::symlink_metadata(&d.socket).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660);
    assert_eq!(meta.uid(), 0);
    // `berth` if the host has that group, else root's group.
    assert_eq!(meta.gid(), group_gid("berth").unwrap_or(0));
    if group_gid("berth").is_none() {
        assert!(d.log().contains("no such group"), "{}", d.log());
    }
    assert_eq!(d.get("/_ping").status, 200);
}

#[test]
fn group_flag_sets_the_socket_group_and_an_unknown_group_is_refused() {
    let (name, gid) = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let gid: u32 = fields.get(2)?.parse().ok()?;
            (gid != 0).then(|| (fields[0].to_string(), gid))
        })
        .expect("a group other than root's in /etc/group");
    for (flag, expected) in [(name.as_str(), gid), ("4242", 4242)] {
        let d = OwnDaemon::start(&["--group", flag], |_| true);
        let meta = std::fs::symlink_metadata(&d.socket).unwrap();
        assert_eq!(meta.gid(), expected, "--group {flag}");
        assert_eq!(meta.mode() & 0o7777, 0o660, "--group {flag}");
    }
    let said = OwnDaemon::refused(&["--group", "no-such-group-berth-test"]);
    assert!(said.contains("no such group"), "{said}");
}

#[test]
fn socket_in_a_directory_others_can_write_is_refused() {
    let tmp = TempRoot::new("open");
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = open.join("b.sock");
    let host = format!("unix://{}", socket.display());
    let said = OwnDaemon::refused(&["-H", &host]);
    assert!(said.contains("writable by others"), "{said}");
    assert!(!socket.exists());
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);

    // The same directory made sticky (as /tmp is) is accepted.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    // Ready once both sockets are bound: the private one comes first.
    let d = OwnDaemon::start(&["-H", &host], |_| socket.exists());
    assert_eq!(
        std::fs::symlink_metadata(&socket).unwrap().mode() & 0o7777,
        0o660
    );
    drop(d);
    assert!(!socket.exists(), "the socket outlived berthd");
}

#[test]
fn tcp_without_tlsverify_is_refused_at_start() {
    let said = OwnDaemon::refused(&["-H", "tcp://127.0.0.1:0"]);
    assert!(said.contains("without --tlsverify"), "{said}");
    let said = OwnDaemon::refused(&["-H", "tcp://127.0.0.1:0", "--tlsverify"]);
    assert!(
        said.contains("--tlscacert, --tlscert and --tlskey"),
        "{said}"
    );
}

/// A test PKI made with the openssl CLI: a CA, berthd's certificate for
/// 127.0.0.1, a client certificate, and a client certificate from another CA.
struct Pki {
    dir: TempRoot,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: TempRoot::new("pki"),
        };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf(
            "server",
            "ca",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        pki.leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
        pki.leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth\n");
        pki
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ca(&self, name: &str) {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=berth test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    fn leaf(&self, name: &str, ca: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(
            self.dir.path().join(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{extensions}"),
        )
        .unwrap();
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.csr"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}-key.pem"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &format!("{name}.pem"),
        ]);
    }
}

/// The docker CLI against `tcp://addr`, with `tls` flags and nothing from
/// the environment or the user's docker config.
fn docker_tcp(config: &Path, addr: &str, tls: &[&str], args: &[&str]) -> Run {
    let mut cmd = Command::new("docker");
    cmd.env("DOCKER_CONFIG", config)
        .env("DOCKER_CERT_PATH", config)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .args(tls)
        .arg("-H")
        .arg(format!("tcp://{addr}"))
        .args(args);
    Run::from_command(&mut cmd)
}

#[test]
fn tls_listener_serves_the_docker_cli_with_a_client_certificate_only() {
    let pki = Pki::new();
    let d = OwnDaemon::start(
        &[
            "-H",
            "tcp://127.0.0.1:0",
            "--tlsverify",
            "--tlscacert",
            &pki.path("ca.pem"),
            "--tlscert",
            &pki.path("server.pem"),
            "--tlskey",
            &pki.path("server-key.pem"),
        ],
        |log| log.contains("API listening with TLS"),
    );
    let addr = d.tls_addr();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let config = TempRoot::new("cfg");
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
    );
    let client = [
        "--tlsverify",
        "--tlscacert",
        &ca,
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
    ];

    let version = docker_tcp(config.path(), &addr, &client, &["version"]).ok();
    assert!(version.stdout.contains("Server:"), "{}", version.stdout);
    let server_version = docker_tcp(
        config.path(),
        &addr,
        &client,
        &["version", "--format", "{{.Server.APIVersion}}"],
    )
    .ok();
    assert!(!server_version.stdout.trim().is_empty());

    // A request body streamed over TLS, and a hijacked attach.
    let (archive, _) = busybox_fixture();
    docker_tcp(
        config.path(),
        &addr,
        &client,
        &["load", "-i", archive.to_str().unwrap()],
    )
    .ok();
    let run = docker_tcp(
        config.path(),
        &addr,
        &client,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "echo",
            "over tls",
        ],
    )
    .ok();
    assert_eq!(run.stdout, "over tls\n");

    // No client certificate, or one from another CA: the handshake fails.
    let no_cert = docker_tcp(
        config.path(),
        &addr,
        &["--tlsverify", "--tlscacert", &ca],
        &["version", "--format", "{{.Server.APIVersion}}"],
    );
    assert_ne!(no_cert.code, 0, "served without a client certificate");
    assert!(no_cert.stdout.trim().is_empty(), "{}", no_cert.stdout);
    assert!(no_cert.stderr.contains("certificate"), "{}", no_cert.stderr);
    let (cert, key) = (pki.path("stranger.pem"), pki.path("stranger-key.pem"));
    let stranger = docker_tcp(
        config.path(),
        &addr,
        &[
            "--tlsverify",
            "--tlscacert",
            &ca,
            "--tlscert",
            &cert,
            "--tlskey",
            &key,
        ],
        &["version", "--format", "{{.Server.APIVersion}}"],
    );
    assert_ne!(stranger.code, 0, "served a certificate of another CA");
    assert!(stranger.stdout.trim().is_empty(), "{}", stranger.stdout);

    // Plain HTTP gets no HTTP answer.
    let mut plain = std::net::TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    plain
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    assert!(d.log().contains("TLS handshake refused"), "{}", d.log());
    docker_tcp(config.path(), &addr, &client, &["version"]).ok();
}

/// A tar archive with entry names and link targets written verbatim (ustar
/// headers), so hostile names can be produced.
struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Tar {
        Tar(Vec::new())
    }

    fn entry(mut self, path: &str, kind: u8, link: &str, data: &[u8]) -> Tar {
        assert!(
            path.len() <= 100 && link.len() <= 100,
            "name too long for ustar"
        );
        let mut header = [0u8; 512];
        header[..path.len()].copy_from_slice(path.as_bytes());
        let octal = |field: &mut [u8], value: u64| {
            let text = format!("{value:0width$o}", width = field.len() - 1);
            field[..text.len()].copy_from_slice(text.as_bytes());
        };
        octal(
            &mut header[100..108],
            if kind == b'5' { 0o755 } else { 0o644 },
        );
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], data.len() as u64);
        octal(&mut header[136..148], 1_700_000_000);
        header[156] = kind;
        header[157..157 + link.len()].copy_from_slice(link.as_bytes());
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        self.0.extend_from_slice(&header);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }

    fn file(self, path: &str, data: &[u8]) -> Tar {
        self.entry(path, b'0', "", data)
    }

    fn symlink(self, path: &str, target: &str) -> Tar {
        self.entry(path, b'2', target, b"")
    }

    fn hardlink(self, path: &str, target: &str) -> Tar {
        self.entry(path, b'1', target, b"")
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        self.0
    }
}

fn sha256(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running sha256sum");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", &hex[..64])
}

/// A docker-archive of one image `name` whose one layer is `layer`; when
/// `outer` is given it is added to the archive as well (an entry of the
/// archive itself, not of the layer).
fn docker_archive(name: &str, layer: &[u8], outer: Option<(&str, &[u8])>) -> Vec<u8> {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
    }))
    .unwrap();
    let config_name = format!("{}.json", &sha256(&config)[7..]);
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": [name],
        "Layers": ["l/layer.tar"],
    }]))
    .unwrap();
    let mut tar = Tar::new()
        .file(&config_name, &config)
        .file("l/layer.tar", layer);
    if let Some((path, data)) = outer {
        tar = tar.file(path, data);
    }
    tar.file("manifest.json", &manifest).finish()
}

/// A gzip layer of 1 GiB of zeros in about 1 MiB: a tar header, then 1024
/// gzip members of 1 MiB of zeros each.
fn gzip_bomb() -> Vec<u8> {
    let gzip = |data: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    };
    let header = Tar::new().file("zeros", b"").0;
    let mut header = header[..512].to_vec();
    let size = format!("{:011o}", 1u64 << 30);
    header[124..135].copy_from_slice(size.as_bytes());
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut bomb = gzip(&header);
    let zeros = gzip(&vec![0u8; 1 << 20]);
    for _ in 0..1024 {
        bomb.extend_from_slice(&zeros);
    }
    bomb
}

/// Names of everything below `dir`, recursively (empty if it is absent).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn docker_load_of_hostile_archives_is_refused_and_the_daemon_keeps_serving() {
    let d = Daemon::start();
    let outside = TempRoot::new("sentinel");
    let sentinel = outside.path().join("sentinel");
    std::fs::create_dir(&sentinel).unwrap();
    std::fs::write(sentinel.join("secret"), b"keep").unwrap();
    let sentinel_str = sentinel.to_str().unwrap();

    // The archive format itself loads: a benign layer.
    let benign = Tar::new().file("ok", b"fine").finish();
    let reply = d.request(
        "POST",
        "/images/load?quiet=1",
        Some((
            "application/x-tar",
            &docker_archive("benign:1", &benign, None),
        )),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("benign:1"), "{}", reply.text());

    let climb = "../".repeat(12);
    let hostile: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "symlink to the outside, then a file through it",
            docker_archive(
                "h:1",
                &Tar::new()
                    .symlink("evil", sentinel_str)
                    .file("evil/pwned", b"x")
                    .finish(),
                None,
            ),
            "traverses symlink evil",
        ),
        (
            "a path climbing out",
            docker_archive(
                "h:2",
                &Tar::new()
                    .file(&format!("{climb}{}/pwned", &sentinel_str[1..]), b"x")
                    .finish(),
                None,
            ),
            "escapes the layer root",
        ),
        (
            "a hard link to a file outside",
            docker_archive(
                "h:3",
                &Tar::new()
                    .hardlink("h", &format!("{climb}{}/secret", &sentinel_str[1..]))
                    .finish(),
                None,
            ),
            "points outside the layer",
        ),
        (
            "an archive entry climbing out",
            docker_archive(
                "h:4",
                &benign,
                Some((&format!("{climb}{}/pwned", &sentinel_str[1..]), b"x")),
            ),
            "points outside the archive",
        ),
    ];
    for (what, archive, expected) in &hostile {
        let reply = d.request(
            "POST",
            "/images/load?quiet=1",
            Some(("application/x-tar", archive)),
        );
        assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        let message = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(expected), "{what}: {message}");
        assert_eq!(tree(&sentinel), ["secret"], "{what}: wrote outside");
        assert_eq!(std::fs::read(sentinel.join("secret")).unwrap(), b"keep");
        assert_eq!(
            std::fs::metadata(sentinel.join("secret")).unwrap().nlink(),
            1,
            "{what}: linked outside"
        );
        assert_eq!(
            d.get("/_ping").status,
            200,
            "{what}: daemon stopped serving"
        );
    }

    // The docker CLI reports the daemon's message.
    let file = outside.path().join("hostile.tar");
    std::fs::write(&file, &hostile[0].1).unwrap();
    let run = d.docker(&["load", "-i", file.to_str().unwrap()]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("traverses symlink evil"),
        "{}",
        run.stderr
    );

    // Only the benign image exists; no layer or scratch file was left.
    let images = d
        .docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert_eq!(images.stdout, "benign:1\n");
    let image_root = d.root.join("data/image");
    assert_eq!(tree(&image_root.join("tmp")), Vec::<String>::new());
    let layers: Vec<String> = tree(&image_root.join("layers"))
        .into_iter()
        .filter(|p| !p.contains('/'))
        .collect();
    assert_eq!(layers.len(), 2, "one layer and its metadata: {layers:?}");
    assert_eq!(tree(&sentinel), ["secret"]);
}

#[test]
fn docker_load_of_a_decompression_bomb_stops_at_max_layer_size() {
    let d = OwnDaemon::start(&["--max-layer-size", "16m"], |_| true);
    let config = TempRoot::new("cfg");
    let docker = |args: &[&str]| {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", format!("unix://{}", d.socket.display()))
            .env("DOCKER_CONFIG", config.path())
            .env_remove("DOCKER_CONTEXT")
            .args(args);
        Run::from_command(&mut cmd)
    };
    let file = config.path().join("bomb.tar");
    std::fs::write(&file, docker_archive("bomb:1", &gzip_bomb(), None)).unwrap();
    let run = docker(&["load", "-i", file.to_str().unwrap()]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("it unpacks to more than 16 MiB"),
        "{}",
        run.stderr
    );
    let images = docker(&["images", "-q"]).ok();
    assert_eq!(images.stdout, "");
    let image_root = d.root.path().join("data/image");
    assert_eq!(tree(&image_root.join("layers")), Vec::<String>::new());
    assert_eq!(tree(&image_root.join("tmp")), Vec::<String>::new());
    docker(&["version"]).ok();
}
