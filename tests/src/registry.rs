//! A real registry for the tests: Debian's `docker-registry` on a loopback
//! address, with its config and storage in a temp dir, killed by pid and
//! reaped on drop; optionally HTTPS (a fresh CA and server certificate made
//! with the `openssl` CLI) and Basic auth (a bcrypt htpasswd file made with
//! `htpasswd`). Images are pushed to it with Berth's own registry client:
//! the busybox fixture (gzip layer, Docker schema 2 manifest), or an OCI
//! index of two platforms.

use berth_registry::{media_type, Client, ClientConfig, Descriptor, Digest, Platform, Reference};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";

pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`, or `<name>:<port>` when started with a name.
    pub host: String,
    dir: PathBuf,
}

/// How to start a [`Registry`].
#[derive(Default)]
pub struct Options {
    /// The loopback address to listen on and the name to reach it by
    /// (see [`loopback_name`]); 127.0.0.1 when unset.
    pub listen: Option<(IpAddr, String)>,
    /// HTTPS with a certificate for the name and address, signed by a CA
    /// of its own: see [`Registry::certs_dir`].
    pub tls: bool,
    /// Basic auth: this one user and password.
    pub user: Option<(String, String)>,
}

/// What [`Registry::push_index`] stored.
pub struct PushedIndex {
    /// The index's digest (what the tag names).
    pub digest: String,
    /// Per platform (its architecture): the image config's digest, which
    /// is the id of the image a pull of that platform yields.
    pub images: Vec<(String, String)>,
}

impl Registry {
    /// A plain HTTP registry on 127.0.0.1 with no auth; panics if the
    /// binary is missing (the install script installs it).
    pub fn start() -> Registry {
        Registry::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Registry {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: apt-get install docker-registry"
        );
        let dir = std::env::temp_dir().join(format!(
            "berth-test-registry-{}-{}",
            std::process::id(),
            crate::unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (ip, name) = options
            .listen
            .unwrap_or_else(|| (IpAddr::from([127, 0, 0, 1]), "127.0.0.1".to_string()));
        assert!(ip.is_loopback(), "tests reach nothing but loopback: {ip}");
        let port = std::net::TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::new(ip, port);
        let host = format!("{name}:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.join("data").display()
        );
        if options.tls {
            make_pki(&dir, &name, ip);
            let ca_dir = dir.join("certs.d").join(&host);
            std::fs::create_dir_all(&ca_dir).unwrap();
            std::fs::copy(dir.join("ca.crt"), ca_dir.join("ca.crt")).unwrap();
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            ));
        }
        if let Some((user, password)) = &options.user {
            let out = run(Command::new("htpasswd").args(["-Bbn", user, password]));
            std::fs::write(dir.join("htpasswd"), out).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        let config_path = dir.join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Registry { child, host, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = registry.child.try_wait().unwrap() {
                panic!("docker-registry exited ({status}):\n{}", registry.log());
            }
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        registry
    }

    /// A `certs.d` directory for berthd's `--certs-dir`, holding this
    /// registry's CA as `<host:port>/ca.crt` (a registry with TLS only).
    pub fn certs_dir(&self) -> PathBuf {
        let dir = self.dir.join("certs.d");
        assert!(dir.is_dir(), "the registry was started without TLS");
        dir
    }

    /// The registry's own temp dir, removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the registry wrote: errors, and a line per request (its access
    /// log is on at any log level).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// Pushes the busybox fixture as `repo:tag`; returns the manifest digest.
    pub fn push_busybox(&self, repo_and_tag: &str) -> String {
        let (_, rootfs) = crate::busybox_fixture();
        let tar = std::fs::read(rootfs).unwrap();
        let image = Image::build("amd64", &[tar], false);
        let reference = self.reference(repo_and_tag);
        block_on(async {
            let client = Client::new(ClientConfig::default()).unwrap();
            image.push_blobs(&client, &reference).await;
            client
                .put_manifest(&reference, image.media_type, &image.manifest, None)
                .await
                .unwrap()
                .to_string()
        })
    }

    /// Pushes an OCI index as `repo:tag` with two linux images, each with a
    /// file `/platform` holding its architecture's name: for `runnable`, the
    /// busybox fixture plus a layer with that file; for `other`, only such a
    /// layer.
    pub fn push_index(&self, repo_and_tag: &str, runnable: &str, other: &str) -> PushedIndex {
        let (_, rootfs) = crate::busybox_fixture();
        let busybox = std::fs::read(rootfs).unwrap();
        let images = [
            (
                runnable,
                Image::build(runnable, &[busybox, marker(runnable)], true),
            ),
            (other, Image::build(other, &[marker(other)], true)),
        ];
        let entries: Vec<Descriptor> = images
            .iter()
            .map(|(arch, image)| {
                let mut d = Descriptor::new(
                    media_type::OCI_MANIFEST,
                    Digest::sha256(&image.manifest),
                    image.manifest.len() as u64,
                );
                d.platform = Some(Platform::new("linux", arch, None));
                d
            })
            .collect();
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": entries,
        }))
        .unwrap();
        let reference = self.reference(repo_and_tag);
        let digest = block_on(async {
            let client = Client::new(ClientConfig::default()).unwrap();
            for ((_, image), entry) in images.iter().zip(&entries) {
                image.push_blobs(&client, &reference).await;
                let by_digest = reference.with_digest(entry.digest.clone());
                client
                    .put_manifest(&by_digest, image.media_type, &image.manifest, None)
                    .await
                    .unwrap();
            }
            client
                .put_manifest(&reference, media_type::OCI_INDEX, &index, None)
                .await
                .unwrap()
                .to_string()
        });
        PushedIndex {
            digest,
            images: images
                .iter()
                .map(|(arch, image)| (arch.to_string(), image.config_digest()))
                .collect(),
        }
    }

    fn reference(&self, repo_and_tag: &str) -> Reference {
        format!("{}/{repo_and_tag}", self.host).parse().unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A name other than `localhost` that /etc/hosts gives a loopback IPv4
/// address (Debian's `127.0.1.1 <hostname>`, or a VM's hostname on
/// 127.0.0.1), with that address. berthd resolves no registry name but
/// `localhost` to decide whether it is insecure, so a registry reached by
/// this name gets its TLS certificate verified, where one reached by a
/// loopback address would not.
pub fn loopback_name() -> Option<(IpAddr, String)> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    let valid = |name: &str| {
        !name.starts_with("localhost")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    hosts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('#').next()?.split_whitespace();
            let ip: IpAddr = fields.next()?.parse().ok()?;
            Some((ip, fields.map(str::to_string).collect::<Vec<_>>()))
        })
        .filter(|(ip, _)| ip.is_ipv4() && ip.is_loopback())
        .flat_map(|(ip, names)| names.into_iter().map(move |name| (ip, name)))
        .filter(|(_, name)| valid(name))
        .find(|(ip, name)| {
            // As the resolver sees it (/etc/hosts first): only loopback.
            (name.as_str(), 0)
                .to_socket_addrs()
                .map(|addrs| {
                    let addrs: Vec<_> = addrs.map(|a| a.ip()).collect();
                    addrs.contains(ip) && addrs.iter().all(|a| a.is_loopback())
                })
                .unwrap_or(false)
        })
}

/// An image's blobs and manifest, ready to push.
struct Image {
    config: (Descriptor, Vec<u8>),
    layers: Vec<(Descriptor, Vec<u8>)>,
    media_type: &'static str,
    manifest: Vec<u8>,
}

impl Image {
    /// A linux image for `arch` of these layer tars (gzipped), as an OCI or
    /// a Docker schema 2 manifest.
    fn build(arch: &str, tars: &[Vec<u8>], oci: bool) -> Image {
        let (config_type, layer_type, manifest_type) = if oci {
            (
                media_type::OCI_CONFIG,
                media_type::OCI_LAYER_GZIP,
                media_type::OCI_MANIFEST,
            )
        } else {
            (
                media_type::DOCKER_CONFIG,
                media_type::DOCKER_LAYER_GZIP,
                media_type::DOCKER_MANIFEST,
            )
        };
        let layers: Vec<(Descriptor, Vec<u8>)> = tars
            .iter()
            .map(|tar| {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(tar).unwrap();
                let gz = gz.finish().unwrap();
                let desc = Descriptor::new(layer_type, Digest::sha256(&gz), gz.len() as u64);
                (desc, gz)
            })
            .collect();
        let diff_ids: Vec<String> = tars.iter().map(|t| Digest::sha256(t).to_string()).collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "created": "2026-11-30T00:00:00Z",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap();
        let config_desc =
            Descriptor::new(config_type, Digest::sha256(&config), config.len() as u64);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": config_desc,
            "layers": layers.iter().map(|(d, _)| d).collect::<Vec<_>>(),
        }))
        .unwrap();
        Image {
            config: (config_desc, config),
            layers,
            media_type: manifest_type,
            manifest,
        }
    }

    fn config_digest(&self) -> String {
        self.config.0.digest.to_string()
    }

    async fn push_blobs(&self, client: &Client, reference: &Reference) {
        for (desc, bytes) in std::iter::once(&self.config).chain(&self.layers) {
            client
                .push_blob(reference, desc, bytes.as_slice(), |_| {}, None, None)
                .await
                .unwrap();
        }
    }
}

/// A layer tar of one file, `/platform`, holding `arch` and a newline.
fn marker(arch: &str) -> Vec<u8> {
    let content = format!("{arch}\n");
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, "platform", content.as_bytes())
        .unwrap();
    builder.into_inner().unwrap()
}

/// A CA (`ca.crt`) and a server certificate it signed (`server.crt`,
/// `server.key`) for `name` and `ip`, in `dir`.
fn make_pki(dir: &Path, name: &str, ip: IpAddr) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let common = ["req", "-x509", "-nodes", "-days", "2"];
    run(Command::new("openssl")
        .current_dir(dir)
        .args(common)
        .args(ec)
        .args(["-keyout", "ca.key", "-out", "ca.crt"])
        .args(["-subj", "/CN=berth test CA"]));
    let san = if name == ip.to_string() {
        format!("subjectAltName=IP:{ip}")
    } else {
        format!("subjectAltName=DNS:{name},IP:{ip}")
    };
    run(Command::new("openssl")
        .current_dir(dir)
        .args(common)
        .args(ec)
        .args(["-keyout", "server.key", "-out", "server.crt"])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-CA", "ca.crt", "-CAkey", "ca.key"])
        .args(["-addext", &san, "-addext", "basicConstraints=CA:FALSE"]));
}

/// Runs a helper tool; its stdout, or a panic with its stderr.
fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e} (scripts/install-deps.sh installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
