//! docker-compose (Debian's, on docker-py) against berthd: a project with a
//! named volume, a read-only bind, a tmpfs, `volumes_from`, a healthcheck
//! another service waits for, and its own network, brought up, used and
//! taken down again.

use berth_tests::{eventually, Daemon, Run};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PROJECT: &str = r#"version: "3.8"
services:
  web:
    image: busybox
    command: ["sh", "-c", "cp /html/index.html /data/copied && exec httpd -f -p 8080 -h /data"]
    volumes:
      - ./html:/html:ro
      - webdata:/data
    tmpfs:
      - /scratch:size=1m
    healthcheck:
      test: ["CMD-SHELL", "test -f /data/copied"]
      interval: 1s
      retries: 10
  reader:
    image: busybox
    command: ["sleep", "3600"]
    volumes_from:
      - web:ro
    depends_on:
      web:
        condition: service_healthy
volumes:
  webdata:
    labels:
      team: a
"#;

fn compose(d: &Daemon, dir: &Path, args: &[&str]) -> Run {
    Run::from_command(
        Command::new("docker-compose")
            .args(["--project-name", "demo"])
            .args(args)
            .current_dir(dir)
            .env("DOCKER_HOST", d.host())
            .env("DOCKER_CONFIG", d.docker_config())
            .env_remove("DOCKER_CONTEXT"),
    )
}

#[test]
fn a_compose_project_with_volumes_comes_up_works_and_goes_away() {
    let d = Daemon::with_busybox();
    let project = tempfile::Builder::new()
        .prefix("berth-compose-")
        .tempdir()
        .unwrap();
    std::fs::create_dir(project.path().join("html")).unwrap();
    std::fs::write(project.path().join("html/index.html"), "hello\n").unwrap();
    std::fs::write(project.path().join("docker-compose.yml"), PROJECT).unwrap();
    let dir = project.path();

    compose(&d, dir, &["up", "-d"]).ok();
    let ps = compose(&d, dir, &["ps"]).ok().stdout;
    assert_eq!(ps.matches(" Up ").count(), 2, "{ps}");
    // reader started only once web was healthy.
    assert!(ps.contains("Up (healthy)"), "{ps}");

    // web copied the bind's file into the named volume; reader sees the
    // volume through volumes_from, read-only.
    let exec = |service: &str, script: &str| {
        compose(&d, dir, &["exec", "-T", service, "sh", "-c", script])
    };
    assert_eq!(exec("reader", "cat /data/copied").ok().stdout, "hello\n");
    let refused = exec("reader", "touch /data/x");
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("Read-only file system"),
        "{}",
        refused.stderr
    );
    let refused = exec("web", "touch /html/x");
    assert!(
        refused.stderr.contains("Read-only file system"),
        "{}",
        refused.stderr
    );
    assert!(!dir.join("html/x").exists());
    let mounts = exec("web", "grep ' /scratch ' /proc/mounts").ok().stdout;
    assert!(
        mounts.contains("tmpfs") && mounts.contains("size=1024k"),
        "{mounts}"
    );

    // Service names resolve on the project's network.
    let mut got = String::new();
    let served = eventually(Duration::from_secs(10), || {
        got = exec("reader", "wget -qO- http://web:8080/copied").stdout;
        got == "hello\n"
    });
    assert!(served, "reader could not fetch from web: {got:?}");

    let volume = d
        .docker(&[
            "volume",
            "inspect",
            "-f",
            "{{json .Labels}}",
            "demo_webdata",
        ])
        .ok()
        .stdout;
    let labels: serde_json::Value = serde_json::from_str(&volume).unwrap();
    assert_eq!(labels["team"], "a");
    assert_eq!(labels["com.docker.compose.project"], "demo");

    compose(&d, dir, &["down", "-v"]).ok();
    assert_eq!(d.docker(&["ps", "-aq"]).ok().stdout, "");
    assert_eq!(d.docker(&["volume", "ls", "-q"]).ok().stdout, "");
    let networks = d
        .docker(&["network", "ls", "--format", "{{.Name}}"])
        .ok()
        .stdout;
    assert!(!networks.contains("demo_default"), "{networks}");
    // The bind source on the host is untouched.
    assert_eq!(
        std::fs::read_to_string(dir.join("html/index.html")).unwrap(),
        "hello\n"
    );
}
