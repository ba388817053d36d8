//! The prunes: `POST /containers/prune` with its filters, the `until` and
//! `label!` filters of every prune, `docker system prune` (which ends with
//! `POST /build/prune`), and `berth container prune` / `berth system prune`
//! printing what docker prints.

use berth_tests::{Daemon, Run};
use std::io::Write;
use std::process::Stdio;

fn output(r: Run) -> String {
    r.ok().stdout
}

/// The container ids a prune listed under `Deleted Containers:`.
fn deleted_containers(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = text
        .lines()
        .skip_while(|l| *l != "Deleted Containers:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

/// A stopped container `name` that wrote 1 MiB into its writable layer.
fn stopped_with_a_megabyte(d: &Daemon, name: &str) {
    let script = "head -c 1048576 /dev/zero > /big";
    d.docker(&[
        "run",
        "--name",
        name,
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        script,
    ])
    .ok();
}

fn id_of(d: &Daemon, name: &str) -> String {
    output(d.docker(&["inspect", "-f", "{{.Id}}", name]))
        .trim()
        .to_string()
}

#[test]
fn container_prune_removes_what_does_not_run_and_follows_its_filters() {
    let d = Daemon::with_busybox();
    // Stopped with a 1 MB writable layer, created, running, paused, and a
    // stopped one labelled keep=1.
    stopped_with_a_megabyte(&d, "exited");
    d.docker(&[
        "create",
        "--name",
        "created",
        "--network",
        "none",
        "busybox",
        "true",
    ])
    .ok();
    for name in ["running", "paused"] {
        d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "busybox",
            "sleep",
            "60",
        ])
        .ok();
    }
    d.docker(&["pause", "paused"]).ok();
    d.docker(&[
        "run",
        "--name",
        "kept",
        "--label",
        "keep=1",
        "--network",
        "none",
        "busybox",
        "true",
    ])
    .ok();
    let mut expected = vec![id_of(&d, "exited"), id_of(&d, "created")];
    expected.sort();

    // Nothing created an hour or more ago; refusals in Docker's words.
    let out = output(d.docker(&["container", "prune", "-f", "--filter", "until=1h"]));
    assert_eq!(out, "Total reclaimed space: 0B\n");
    for (filter, message) in [
        ("foo=1", "invalid filter 'foo'"),
        (
            "until=soon",
            "invalid value for 'until' filter: failed to parse value as time or duration: \"soon\"",
        ),
    ] {
        let r = d.docker(&["container", "prune", "-f", "--filter", filter]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(message), "{}", r.stderr);
    }

    let out = output(d.docker(&["container", "prune", "-f", "--filter", "label!=keep=1"]));
    assert_eq!(deleted_containers(&out), expected, "{out}");
    assert!(
        out.ends_with("\n\nTotal reclaimed space: 1.049MB\n"),
        "{out}"
    );
    let mut left = d.container_ids();
    left.sort();
    let mut kept = vec![id_of(&d, "running"), id_of(&d, "paused"), id_of(&d, "kept")];
    kept.sort();
    assert_eq!(left, kept);

    // berth's own command, and the API's reply: `until` just past now
    // takes the labelled one too.
    let kept_id = id_of(&d, "kept");
    let out = output(d.berth(&["container", "prune", "-f", "--filter", "until=0s"]));
    assert_eq!(
        out,
        format!("Deleted Containers:\n{kept_id}\n\nTotal reclaimed space: 0B\n")
    );
    let reply = d.request("POST", "/containers/prune", None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        serde_json::json!({"ContainersDeleted": null, "SpaceReclaimed": 0})
    );
    // Each prune is an event with what it reclaimed.
    let events = d.events_so_far(
        &["event=prune"],
        "{{.Type}} {{.Action}} {{.Actor.Attributes.reclaimed}}",
    );
    assert!(
        events.lines().any(|l| l == "container prune 1048576"),
        "{events}"
    );
    d.docker(&["rm", "-f", "running", "paused"]).ok();
}

#[test]
fn system_prune_takes_containers_networks_volumes_and_images_in_dockers_order() {
    let d = Daemon::with_busybox();
    for cli in ["docker", "berth"] {
        let run = |args: &[&str]| {
            if cli == "docker" {
                d.docker(args)
            } else {
                d.berth(args)
            }
        };
        run(&[
            "run",
            "--name",
            "stopped",
            "--network",
            "none",
            "-v",
            "/anon",
            "busybox",
            "sh",
            "-c",
            "head -c 1048576 /dev/zero > /big",
        ])
        .ok();
        let id = id_of(&d, "stopped");
        run(&["network", "create", "spare"]).ok();
        // The prompt first: "n" leaves everything.
        let mut child = if cli == "docker" {
            d.docker_cmd(&["system", "prune", "--volumes", "--filter", "label!=x"])
        } else {
            d.berth_cmd(&["system", "prune", "--volumes", "--filter", "label!=x"])
        }
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        child.stdin.take().unwrap().write_all(b"n\n").unwrap();
        let asked = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        assert_eq!(
            asked.lines().take(5).collect::<Vec<_>>(),
            [
                "WARNING! This will remove:",
                "  - all stopped containers",
                "  - all networks not used by at least one container",
                "  - all anonymous volumes not used by at least one container",
                "  - all dangling images",
            ],
            "{cli}: {asked}"
        );
        assert!(
            asked.contains("\n  Items to be pruned will be filtered with:\n  - label!=x\n"),
            "{asked}"
        );
        assert_eq!(d.container_ids(), std::slice::from_ref(&id), "{cli}");

        let out = output(run(&["system", "prune", "-f", "--volumes"]));
        let volume = out
            .lines()
            .skip_while(|l| *l != "Deleted Volumes:")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        assert_eq!(volume.len(), 64, "{cli}: {out}");
        assert_eq!(
            out,
            format!(
                "Deleted Containers:\n{id}\n\nDeleted Networks:\nspare\n\nDeleted Volumes:\n{volume}\n\nTotal reclaimed space: 1.049MB\n"
            ),
            "{cli}"
        );
        assert!(d.container_ids().is_empty());
        let images = output(d.docker(&["images", "-q"]));
        assert_eq!(
            images.lines().count(),
            1,
            "the tagged busybox stays: {images}"
        );
    }
}

#[test]
fn sizes_show_in_ps_inspect_and_df_as_docker_shows_them() {
    let d = Daemon::with_busybox();
    stopped_with_a_megabyte(&d, "sized");
    let inspect = output(d.docker(&[
        "inspect",
        "--size",
        "-f",
        "{{.SizeRw}} {{.SizeRootFs}}",
        "sized",
    ]));
    let sizes: Vec<i64> = inspect
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let image_size: i64 = output(d.docker(&["image", "inspect", "-f", "{{.Size}}", "busybox"]))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(sizes, [1_048_576, 1_048_576 + image_size], "{inspect}");
    // Without --size, no sizes at all.
    let plain = d.get("/containers/sized/json").json();
    assert!(plain.get("SizeRw").is_none(), "{plain}");
    let rows = d.get("/containers/json?all=1&size=1").json();
    assert_eq!(rows[0]["SizeRw"], 1_048_576);
    assert!(d.get("/containers/json?all=1").json()[0]
        .get("SizeRw")
        .is_none());

    let format = ["ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}"];
    let docker = output(d.docker(&format));
    assert!(docker.starts_with("sized 1.05MB (virtual "), "{docker}");
    assert_eq!(output(d.berth(&format)), docker);
    let table = output(d.berth(&["ps", "-a", "-s"]));
    assert!(table.lines().next().unwrap().ends_with("SIZE"), "{table}");
    assert_eq!(
        output(d.docker(&["ps", "-a", "-s"])).lines().next(),
        table.lines().next()
    );

    let df = [
        "system",
        "df",
        "--format",
        "{{.Type}} {{.Size}} {{.Reclaimable}}",
    ];
    let docker = output(d.docker(&df));
    assert!(
        docker
            .lines()
            .any(|l| l == "Containers 1.049MB 1.049MB (100%)"),
        "{docker}"
    );
    assert_eq!(output(d.berth(&df)), docker);
}
