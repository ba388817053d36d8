//! A Debian `docker-registry` (distribution 2.x) child process on
//! 127.0.0.1 with its own config and storage in a temp dir; killed by pid
//! and reaped on drop, its files removed with the temp dir.

use std::fmt::Write as _;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BINARY: &str = "/usr/bin/docker-registry";

/// HTTPS with these PEM files.
pub struct Tls {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Token auth: the registry trusts tokens signed by `root_pem`'s key.
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    pub root_pem: String,
}

#[derive(Default)]
pub struct Options {
    pub tls: Option<Tls>,
    /// One user for htpasswd (Basic) auth.
    pub htpasswd: Option<(String, String)>,
    pub token: Option<TokenAuth>,
    /// Send `Location` headers as paths, not absolute URLs.
    pub relative_urls: bool,
}

pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    dir: TempDir,
}

impl Registry {
    /// A plain HTTP registry with no auth.
    pub fn start() -> Registry {
        Registry::start_with(Options::default())
    }

    /// One with `options`; panics if `docker-registry` is not installed
    /// (scripts/install-deps.sh installs it).
    pub fn start_with(options: Options) -> Registry {
        assert!(
            PathBuf::from(BINARY).exists(),
            "{BINARY} is missing: apt-get install docker-registry"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let config = write_config(&dir, &host, &options);
        let log = fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        let mut registry = Registry { child, host, dir };
        registry.wait_ready();
        registry
    }

    /// A reference string on this registry.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("docker-registry exited ({status}):\n{}", self.log());
            }
            if TcpStream::connect(&self.host).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn write_config(dir: &TempDir, host: &str, options: &Options) -> PathBuf {
    let root = dir.path();
    let mut yaml = String::new();
    writeln!(yaml, "version: 0.1").unwrap();
    writeln!(
        yaml,
        "log:\n  level: info\n  accesslog:\n    disabled: true"
    )
    .unwrap();
    writeln!(
        yaml,
        "storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false",
        root.join("data").display()
    )
    .unwrap();
    writeln!(yaml, "http:\n  addr: {host}\n  secret: berth-test-secret").unwrap();
    if options.relative_urls {
        writeln!(yaml, "  relativeurls: true").unwrap();
    }
    if let Some(tls) = &options.tls {
        fs::write(root.join("server.crt"), &tls.cert_pem).unwrap();
        fs::write(root.join("server.key"), &tls.key_pem).unwrap();
        writeln!(
            yaml,
            "  tls:\n    certificate: {}\n    key: {}",
            root.join("server.crt").display(),
            root.join("server.key").display()
        )
        .unwrap();
    }
    if let Some((user, password)) = &options.htpasswd {
        let hash = bcrypt::hash_with_result(password, 4)
            .expect("bcrypt")
            .format_for_version(bcrypt::Version::TwoY);
        fs::write(root.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        writeln!(
            yaml,
            "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}",
            root.join("htpasswd").display()
        )
        .unwrap();
    }
    if let Some(token) = &options.token {
        fs::write(root.join("token-root.pem"), &token.root_pem).unwrap();
        writeln!(
            yaml,
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}",
            token.realm,
            token.service,
            token.issuer,
            root.join("token-root.pem").display()
        )
        .unwrap();
    }
    let path = root.join("config.yml");
    fs::write(&path, yaml).unwrap();
    path
}
