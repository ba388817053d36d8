//! Healthchecks: `--health-*` flags and the image's `Healthcheck`, probes
//! run as execs in the running container, `State.Health`, the `(healthy)`
//! of `ps`, the `health` filter, `health_status` events, timeouts, and
//! Docker's refusals.

use berth_tests::{eventually, Daemon};
use serde_json::{json, Value};
use std::time::Duration;

fn health(d: &Daemon, name: &str) -> Value {
    d.get(&format!("/containers/{name}/json")).json()["State"]["Health"].clone()
}

fn wait_status(d: &Daemon, name: &str, status: &str) -> Value {
    let mut last = Value::Null;
    let reached = eventually(Duration::from_secs(20), || {
        last = health(d, name);
        last["Status"] == status
    });
    assert!(reached, "{name} never {status}: {last}");
    last
}

#[test]
fn probes_move_a_container_from_starting_to_healthy_and_unhealthy() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "probed",
        "--network",
        "none",
        "--health-cmd",
        "test -f /ready && echo ready",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        // Failures before /ready exists fall in the start period.
        "--health-start-period",
        "10s",
        "--health-start-interval",
        "200ms",
        "busybox",
        "sh",
        "-c",
        "sleep 1; touch /ready; sleep 60",
    ])
    .ok();
    let first = health(&d, "probed");
    assert_eq!(first["Status"], "starting", "{first}");
    let status = d.docker(&["ps", "--format", "{{.Status}}"]).ok().stdout;
    assert!(
        status.trim_end().ends_with("(health: starting)"),
        "{status}"
    );

    let healthy = wait_status(&d, "probed", "healthy");
    let log = healthy["Log"].as_array().unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last["ExitCode"].as_i64(), last["Output"].as_str()),
        (Some(0), Some("ready\n"))
    );
    assert!(log.len() <= 5);
    let status = d.berth(&["ps", "--format", "{{.Status}}"]).ok().stdout;
    assert!(status.trim_end().ends_with("(healthy)"), "{status}");

    // Two failures in a row make it unhealthy.
    d.docker(&["exec", "probed", "rm", "/ready"]).ok();
    let unhealthy = wait_status(&d, "probed", "unhealthy");
    assert!(
        unhealthy["FailingStreak"].as_i64().unwrap() >= 2,
        "{unhealthy}"
    );
    assert_eq!(
        unhealthy["Log"].as_array().unwrap().last().unwrap()["ExitCode"],
        1
    );
    for cli in ["docker", "berth"] {
        let args = [
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}",
        ];
        let out = if cli == "docker" {
            d.docker(&args)
        } else {
            d.berth(&args)
        };
        assert_eq!(out.ok().stdout, "probed\n", "{cli}");
    }
    let events = d.events_so_far(&["container=probed"], "{{.Action}}");
    let changes: Vec<&str> = events
        .lines()
        .filter(|l| l.starts_with("health_status"))
        .collect();
    assert_eq!(
        changes,
        ["health_status: healthy", "health_status: unhealthy"],
        "{events}"
    );
    // Probes leave no exec behind: the `rm` above, and at most the probe
    // running now, after a dozen probes.
    let execs = d.get("/containers/probed/json").json()["ExecIDs"].clone();
    assert!(execs.as_array().is_none_or(|e| e.len() <= 2), "{execs}");
    d.docker(&["rm", "-f", "probed"]).ok();
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_fails() {
    let d = Daemon::with_busybox();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--network",
        "none",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "200ms",
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let unhealthy = wait_status(&d, "slow", "unhealthy");
    let last = unhealthy["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], -1, "{last}");
    assert_eq!(last["Output"], "Health check exceeded timeout (200ms)");
    // Killed probes do not pile up in the container: at most the one
    // running now.
    let top = d.docker(&["top", "slow"]).ok().stdout;
    assert!(top.matches("sleep 30").count() <= 1, "{top}");
    d.docker(&["rm", "-f", "slow"]).ok();
}

#[test]
fn the_image_healthcheck_is_inherited_merged_or_disabled() {
    let d = Daemon::with_busybox();
    d.docker(&["create", "--name", "base", "busybox", "true"])
        .ok();
    let reply = d.post_json(
        "/commit?container=base&repo=checked&tag=1",
        &json!({"Healthcheck": {"Test": ["CMD", "true"], "Interval": 200_000_000, "Retries": 5}}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    d.docker(&["rm", "base"]).ok();

    d.docker(&[
        "run",
        "-d",
        "--name",
        "inherits",
        "--network",
        "none",
        "checked:1",
        "sleep",
        "60",
    ])
    .ok();
    wait_status(&d, "inherits", "healthy");
    // The container's own timing over the image's test.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "merges",
        "--network",
        "none",
        "--health-retries",
        "1",
        "checked:1",
        "sleep",
        "60",
    ])
    .ok();
    let config = d.get("/containers/merges/json").json()["Config"]["Healthcheck"].clone();
    assert_eq!(
        config,
        json!({"Test": ["CMD", "true"], "Interval": 200_000_000, "Retries": 1})
    );
    d.docker(&[
        "run",
        "-d",
        "--name",
        "disabled",
        "--network",
        "none",
        "--no-healthcheck",
        "checked:1",
        "sleep",
        "60",
    ])
    .ok();
    assert_eq!(health(&d, "disabled"), Value::Null);
    let none = d
        .docker(&["ps", "--filter", "health=none", "--format", "{{.Names}}"])
        .ok()
        .stdout;
    assert_eq!(none, "disabled\n");
    d.docker(&["rm", "-f", "inherits", "merges", "disabled"])
        .ok();
}

#[test]
fn bad_healthchecks_are_refused_in_dockers_words() {
    let d = Daemon::with_busybox();
    let reply = d.post_json(
        "/containers/create",
        &json!({"Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 10}}),
    );
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(
        reply.json()["message"],
        "Interval in Healthcheck cannot be less than 1ms"
    );
    for (flags, message) in [
        (
            vec!["--health-retries", "-1"],
            "--health-retries cannot be negative",
        ),
        (
            vec!["--no-healthcheck", "--health-cmd", "true"],
            "--no-healthcheck conflicts with --health-* options",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend(flags);
        args.push("busybox");
        for r in [d.docker(&args), d.berth(&args)] {
            assert_eq!(r.code, 125, "{}", r.stderr);
            assert!(r.stderr.contains(message), "{}", r.stderr);
        }
    }
    let r = d.get("/containers/json?filters=%7B%22health%22%3A%5B%22odd%22%5D%7D");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "Unrecognised filter value for health: odd"
    );
    assert!(d.container_ids().is_empty());
}
