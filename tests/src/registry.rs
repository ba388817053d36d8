//! A real registry for the tests: Debian's `docker-registry` on 127.0.0.1,
//! with its config and storage in a temp dir, killed by pid and reaped on
//! drop; and pushing the busybox fixture to it with Berth's own registry
//! client (gzip layer, Docker schema 2 manifest).

use berth_registry::{media_type, Client, ClientConfig, Descriptor, Digest, Reference};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";

pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    dir: PathBuf,
}

impl Registry {
    /// Starts one; panics if the binary is missing (the install script
    /// installs it).
    pub fn start() -> Registry {
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let registry = Registry { child, host, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&registry.host).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        registry
    }

    /// Pushes the busybox fixture as `repo:tag`; returns the manifest digest.
    pub fn push_busybox(&self, repo_and_tag: &str) -> String {
        let (_, rootfs) = crate::busybox_fixture();
        let tar = std::fs::read(rootfs).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let layer = gz.finish().unwrap();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-11-30T00:00:00Z",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256(&tar).to_string()]},
        }))
        .unwrap();
        let config_desc = Descriptor::new(
            media_type::DOCKER_CONFIG,
            Digest::sha256(&config),
            config.len() as u64,
        );
        let layer_desc = Descriptor::new(
            media_type::DOCKER_LAYER_GZIP,
            Digest::sha256(&layer),
            layer.len() as u64,
        );
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::DOCKER_MANIFEST,
            "config": config_desc,
            "layers": [layer_desc],
        }))
        .unwrap();
        let reference: Reference = format!("{}/{repo_and_tag}", self.host).parse().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = Client::new(ClientConfig::default()).unwrap();
            for (desc, bytes) in [(&config_desc, &config), (&layer_desc, &layer)] {
                client
                    .push_blob(&reference, desc, bytes.as_slice(), |_| {}, None, None)
                    .await
                    .unwrap();
            }
            client
                .put_manifest(&reference, media_type::DOCKER_MANIFEST, &manifest, None)
                .await
                .unwrap()
                .to_string()
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
