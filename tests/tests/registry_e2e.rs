//! The registry feature end to end, beyond plain pulls and pushes: a real
//! berthd driven by the docker CLI and berth against Debian's
//! `docker-registry` on loopback only. `docker login` to an HTTPS registry
//! with Basic auth whose CA is in berthd's `--certs-dir`, then a push and
//! pull with the stored credentials; zstd layers (recompressed by skopeo);
//! an OCI index of two platforms (`--platform`); and Docker Hub pulls
//! served by a `--registry-mirror`.
//!
//! Nothing here may reach beyond loopback: every image name pulled or run
//! is in a loopback registry first, and the mirror test covers only the
//! success case (a failing mirror falls back to Docker Hub).

use berth_registry::{media_type, Digest};
use berth_tests::registry::{loopback_name, Options, Registry};
use berth_tests::{busybox_fixture, Daemon, Run};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pw";

/// A registry with TLS (its own CA) and Basic auth, reached by a name that
/// /etc/hosts maps to loopback: berthd treats loopback addresses (and
/// `localhost`) as insecure registries and skips certificate checks for
/// them, so only a name makes the certs.d CA matter.
fn private_registry() -> Registry {
    let listen = loopback_name().expect(
        "this test needs a name other than localhost for a loopback address in /etc/hosts \
         (Debian has `127.0.1.1 <hostname>`)",
    );
    Registry::start_with(Options {
        listen: Some(listen),
        tls: true,
        user: Some((USER.into(), PASSWORD.into())),
    })
}

/// Runs `cmd`, writing `input` to its stdin; kills it (by pid) and panics
/// if it has not finished within `timeout` (the docker CLI can wait for a
/// login prompt's answer forever).
fn run_with(mut cmd: Command, input: &str, timeout: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish in {timeout:?}:\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn docker_login(d: &Daemon, host: &str, password: &str) -> Run {
    let cmd = d.docker_cmd(&["login", "-u", USER, "--password-stdin", host]);
    run_with(cmd, &format!("{password}\n"), Duration::from_secs(60))
}

/// The `auths` entry config.json has for `host`, if any.
fn stored_login(d: &Daemon, host: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(d.docker_config().join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["auths"].get(host).cloned()
}

#[test]
fn login_over_tls_with_a_certs_d_ca_then_push_and_pull_with_stored_credentials() {
    let registry = private_registry();
    let host = registry.host.clone();
    let certs = registry.certs_dir();
    let d = Daemon::start_with_args(&["--certs-dir", certs.to_str().unwrap()]);

    let wrong = docker_login(&d, &host, "not-the-password");
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains(&format!(
            "login attempt to https://{host}/v2/ failed with status: 401 Unauthorized"
        )),
        "{}",
        wrong.stderr
    );
    assert!(
        !wrong.stdout.contains("Login Succeeded"),
        "{}",
        wrong.stdout
    );
    assert!(stored_login(&d, &host).is_none());

    let right = docker_login(&d, &host, PASSWORD).ok();
    assert!(right.stdout.contains("Login Succeeded"), "{}", right.stdout);
    let stored = stored_login(&d, &host).expect("docker stored the login");
    assert!(
        stored["auth"].as_str().is_some_and(|a| !a.is_empty()),
        "{stored}"
    );

    // Push and pull back with the stored credentials (X-Registry-Auth).
    let (archive, _) = busybox_fixture();
    d.berth(&["load", "-i", archive.to_str().unwrap()]).ok();
    let name = format!("{host}/private/busybox:1");
    d.docker(&["tag", "busybox", &name]).ok();
    let pushed = d.docker(&["push", &name]).ok().stdout;
    assert!(pushed.contains("Pushed"), "{pushed}");
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    d.docker(&["rmi", &name]).ok();
    d.docker(&["rmi", "busybox"]).ok();
    let pulled = d.docker(&["pull", &name]).ok().stdout;
    assert!(pulled.contains("Pull complete"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {name}")),
        "{pulled}"
    );
    let ran = d.docker(&["run", "--rm", "--network", "none", &name, "echo", "private"]);
    assert_eq!(ran.ok().stdout, "private\n");

    // berth reads the same config.json.
    d.berth(&["rmi", &name]).ok();
    let pulled = d.berth(&["pull", &name]).ok().stdout;
    assert!(pulled.contains("Downloaded newer image"), "{pulled}");

    // Logged out, the pull is refused (berth: docker would prompt for a
    // login, see docker_pull_without_credentials_fails_without_a_prompt).
    let out = d.docker(&["logout", &host]).ok().stdout;
    assert!(
        out.contains(&format!("Removing login credentials for {host}")),
        "{out}"
    );
    assert!(stored_login(&d, &host).is_none());
    d.berth(&["rmi", &name]).ok();
    let refused = d.berth(&["pull", &name]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("unauthorized") || refused.stderr.contains("no basic auth"),
        "{}",
        refused.stderr
    );
    let gone = d.docker(&["image", "inspect", &name]);
    assert_eq!(gone.code, 1, "{}", gone.stdout);

    // Without the CA, the certificate is not trusted: nothing is sent.
    let bare = registry.dir().join("no-certs.d");
    std::fs::create_dir_all(&bare).unwrap();
    let other = Daemon::start_with_args(&["--certs-dir", bare.to_str().unwrap()]);
    let untrusted = docker_login(&other, &host, PASSWORD);
    assert_eq!(untrusted.code, 1, "{}", untrusted.stdout);
    assert!(
        untrusted.stderr.contains("UnknownIssuer") || untrusted.stderr.contains("certificate"),
        "{}",
        untrusted.stderr
    );
    assert!(stored_login(&other, &host).is_none());
}

/// dockerd answers a pull that the registry refuses for want of
/// credentials with a 500, and the docker CLI exits 1; a 401 makes the
/// CLI ask for a login on the terminal ("Login prior to pull:") instead
/// and, with no terminal, wait for the answer forever.
#[test]
fn docker_pull_without_credentials_fails_without_a_prompt() {
    let registry = private_registry();
    let certs = registry.certs_dir();
    let d = Daemon::start_with_args(&["--certs-dir", certs.to_str().unwrap()]);
    let name = format!("{}/private/busybox:1", registry.host);
    let r = run_with(d.docker_cmd(&["pull", &name]), "", Duration::from_secs(60));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(!r.stdout.contains("Login prior to pull"), "{}", r.stdout);
    assert!(
        r.stderr.contains("no basic auth credentials") || r.stderr.contains("unauthorized"),
        "{}",
        r.stderr
    );
}

#[test]
fn zstd_layers_recompressed_by_skopeo_pull_and_run() {
    let registry = Registry::start();
    registry.push_busybox("a:1");
    let host = &registry.host;
    Run::from_command(
        Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--src-tls-verify=false"])
            .args(["--dest-tls-verify=false", "--format", "oci"])
            .args(["--dest-compress-format", "zstd"])
            .arg(format!("docker://{host}/a:1"))
            .arg(format!("docker://{host}/z:1")),
    )
    .ok();
    let raw = Run::from_command(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{host}/z:1")),
    )
    .ok()
    .stdout;
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "{raw}");
    assert_eq!(layers[0]["mediaType"], media_type::OCI_LAYER_ZSTD, "{raw}");

    // A daemon without busybox: the layer is fetched and unpacked.
    let d = Daemon::start();
    let name = format!("{host}/z:1");
    let pulled = d.docker(&["pull", &name]).ok().stdout;
    assert!(pulled.contains("Pull complete"), "{pulled}");
    let ran = d.docker(&["run", "--rm", "--network", "none", &name, "echo", "zstd"]);
    assert_eq!(ran.ok().stdout, "zstd\n");
    // The layer's diff id is the uncompressed tar's, as for the gzip one.
    let (_, rootfs) = busybox_fixture();
    let tar = std::fs::read(rootfs).unwrap();
    let diff_id = Digest::sha256(&tar).to_string();
    let layers = d
        .docker(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", &name])
        .ok()
        .stdout;
    assert_eq!(layers.trim(), format!("[\"{diff_id}\"]"));
}

#[test]
fn an_oci_index_pulls_the_host_platform_or_the_one_asked_for() {
    let (here, there) = if cfg!(target_arch = "aarch64") {
        ("arm64", "amd64")
    } else {
        ("amd64", "arm64")
    };
    let registry = Registry::start();
    let pushed = registry.push_index("multi:1", here, there);
    let name = format!("{}/multi:1", registry.host);
    let image_of = |arch: &str| {
        pushed
            .images
            .iter()
            .find(|(a, _)| a == arch)
            .map(|(_, id)| id.clone())
            .unwrap()
    };

    let d = Daemon::start();
    let pulled = d.docker(&["pull", &name]).ok().stdout;
    assert!(
        pulled.contains(&format!("Digest: {}", pushed.digest)),
        "{pulled}"
    );
    let ran = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "cat",
        "/platform",
    ]);
    assert_eq!(ran.ok().stdout, format!("{here}\n"));
    let inspect = |d: &Daemon, format: &str| {
        d.docker(&["image", "inspect", "-f", format, &name])
            .ok()
            .stdout
            .trim()
            .to_string()
    };
    assert_eq!(inspect(&d, "{{.Id}}"), image_of(here));
    assert_eq!(inspect(&d, "{{.Architecture}}"), here);
    // The RepoDigest is the index's, as docker records it.
    let digests = inspect(&d, "{{json .RepoDigests}}");
    assert!(digests.contains(&pushed.digest), "{digests}");

    let other = Daemon::start();
    let platform = format!("linux/{there}");
    other.docker(&["pull", "--platform", &platform, &name]).ok();
    assert_eq!(inspect(&other, "{{.Architecture}}"), there);
    assert_eq!(inspect(&other, "{{.Os}}"), "linux");
    assert_eq!(inspect(&other, "{{.Id}}"), image_of(there));
    assert_eq!(inspect(&other, "{{len .RootFS.Layers}}"), "1");
}

#[test]
fn docker_hub_pulls_come_from_the_registry_mirror() {
    let mirror = Registry::start();
    let digest = mirror.push_busybox("library/busybox:mirrored");
    let url = format!("http://{}", mirror.host);
    let d = Daemon::start_with_args(&["--registry-mirror", &url]);

    // Only the success case: were the mirror to fail, berthd would go on
    // to Docker Hub, and tests reach nothing beyond loopback.
    let pulled = d.docker(&["pull", "busybox:mirrored"]).ok().stdout;
    assert!(
        pulled.contains("mirrored: Pulling from library/busybox"),
        "{pulled}"
    );
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    assert!(
        pulled.contains("Status: Downloaded newer image for busybox:mirrored"),
        "{pulled}"
    );
    let log = mirror.log();
    assert!(
        log.contains("\"GET /v2/library/busybox/manifests/mirrored HTTP/1.1\" 200"),
        "{log}"
    );
    assert!(
        log.contains("\"GET /v2/library/busybox/blobs/sha256:"),
        "{log}"
    );
    let digests = d
        .docker(&[
            "image",
            "inspect",
            "-f",
            "{{json .RepoDigests}}",
            "busybox:mirrored",
        ])
        .ok()
        .stdout;
    assert!(digests.contains(&format!("busybox@{digest}")), "{digests}");
    // --pull never: present here, so nothing is fetched from anywhere.
    let ran = d.docker(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "busybox:mirrored",
        "echo",
        "mirrored",
    ]);
    assert_eq!(ran.ok().stdout, "mirrored\n");
}
