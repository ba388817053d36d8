//! Restart policies: `on-failure[:N]`, `always`, `unless-stopped` and `no`,
//! a user's stop winning over them, the start of due containers when
//! berthd starts, and Docker's refusals.

use berth_tests::{eventually, Daemon};
use serde_json::{json, Value};
use std::time::Duration;

fn state(d: &Daemon, name: &str) -> Value {
    d.get(&format!("/containers/{name}/json")).json()
}

fn restarts(d: &Daemon, name: &str) -> i64 {
    state(d, name)["RestartCount"].as_i64().unwrap_or(-1)
}

fn status(d: &Daemon, name: &str) -> String {
    state(d, name)["State"]["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn on_failure_restarts_up_to_its_count_and_always_until_stopped() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--network",
        "none",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ])
    .ok();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--network",
        "none",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ])
    .ok();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "forever",
        "--network",
        "none",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ])
    .ok();
    // Two restarts (100 ms, then 200 ms apart), then it stays down.
    assert!(
        eventually(Duration::from_secs(10), || restarts(&d, "flaky") == 2
            && status(&d, "flaky") == "exited"),
        "{}",
        state(&d, "flaky")
    );
    std::thread::sleep(Duration::from_millis(800));
    let flaky = state(&d, "flaky");
    assert_eq!(flaky["RestartCount"], 2, "{flaky}");
    assert_eq!(flaky["State"]["ExitCode"], 3);
    assert_eq!(flaky["State"]["Restarting"], false);
    // A clean exit is no failure.
    assert_eq!(
        (restarts(&d, "fine"), status(&d, "fine")),
        (0, "exited".into())
    );

    assert!(eventually(Duration::from_secs(10), || restarts(
        &d, "forever"
    ) >= 3));
    let ps = d
        .docker(&[
            "ps",
            "-a",
            "--filter",
            "name=forever",
            "--format",
            "{{.Status}}",
        ])
        .ok()
        .stdout;
    assert!(
        ps.starts_with("Up ") || ps.starts_with("Restarting (0) "),
        "{ps}"
    );
    // A user's stop wins, whether it finds the container up or waiting.
    d.docker(&["stop", "-t", "1", "forever"]).ok();
    let count = restarts(&d, "forever");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        (status(&d, "forever"), restarts(&d, "forever")),
        ("exited".into(), count)
    );

    let events = d.events_so_far(&["container=flaky"], "{{.Action}}");
    let count = |action: &str| events.lines().filter(|l| *l == action).count();
    assert_eq!((count("start"), count("die")), (3, 3), "{events}");
    d.docker(&["rm", "-f", "flaky", "fine", "forever"]).ok();
}

#[test]
fn berthd_starts_what_its_policies_say_should_run() {
    let mut d = Daemon::with_busybox();
    for (name, policy) in [
        ("always", "always"),
        ("unless", "unless-stopped"),
        ("never", "no"),
    ] {
        d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "--restart",
            policy,
            "busybox",
            "sleep",
            "600",
        ])
        .ok();
    }
    // Stopped by hand: only `always` comes back with the daemon.
    d.docker(&["stop", "-t", "0", "always", "unless", "never"])
        .ok();
    d.stop();
    d.restart();
    assert!(
        eventually(Duration::from_secs(10), || status(&d, "always")
            == "running"),
        "{}",
        state(&d, "always")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&d, "unless"), "exited");
    assert_eq!(status(&d, "never"), "exited");
    // A user's start clears the stop: `unless-stopped` applies again.
    d.docker(&["start", "unless"]).ok();
    // Its init dies on its own (killed from the host, by its pid).
    let pid = state(&d, "unless")["State"]["Pid"].as_i64().unwrap();
    // SAFETY: signalling the container's own init, by the pid just read.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(
        eventually(Duration::from_secs(10), || restarts(&d, "unless") == 1
            && status(&d, "unless") == "running"),
        "{}",
        state(&d, "unless")
    );
    // A forced removal is final, whatever the policy.
    d.docker(&["rm", "-f", "always", "unless", "never"]).ok();
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.container_ids().is_empty());
}

#[test]
fn bad_policies_are_refused_in_dockers_words() {
    let d = Daemon::with_busybox();
    for (host_config, message) in [
        (
            json!({"RestartPolicy": {"Name": "sometimes"}}),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        ),
        (
            json!({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ),
        (
            json!({"RestartPolicy": {"Name": "always"}, "AutoRemove": true}),
            "can't create 'AutoRemove' container with restart policy",
        ),
    ] {
        let reply = d.post_json(
            "/containers/create",
            &json!({"Image": "busybox", "HostConfig": host_config}),
        );
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(reply.json()["message"], message);
    }
    assert!(d.container_ids().is_empty());
}
