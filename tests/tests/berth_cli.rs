//! The `berth` CLI: docker's commands, flags, columns and exit codes.

use berth_tests::{eventually, Daemon};
use std::time::Duration;

#[test]
fn run_prints_output_and_returns_the_exit_code() {
    let d = Daemon::with_busybox();
    let r = d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    let r = d
        .berth(&["run", "--rm", "busybox", "ls", "-d", "/etc"])
        .ok();
    assert_eq!(
        r.stdout, "/etc\n",
        "arguments after the image must reach the command"
    );
}

#[test]
fn run_reports_127_and_126_like_docker() {
    let d = Daemon::with_busybox();
    let r = d.berth(&["run", "--rm", "busybox", "nonexistent-cmd"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(
        r.stderr.contains("executable file not found"),
        "{}",
        r.stderr
    );
    let r = d.berth(&["run", "--rm", "busybox", "/etc/hostname"]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    let r = d.berth(&["run", "--rm", "--pull", "never", "nope:latest", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("No such image: nope:latest"),
        "{}",
        r.stderr
    );
    // A missing image is pulled first; a registry that is not there is a
    // clear error. (A loopback one: tests never reach beyond 127.0.0.1.)
    let r = d.berth(&["run", "--rm", "127.0.0.1:1/nope:latest", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Unable to find image '127.0.0.1:1/nope:latest' locally"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("127.0.0.1:1"), "{}", r.stderr);
}

#[test]
fn env_file_entrypoint_labels_and_network_none() {
    let d = Daemon::with_busybox();
    let env_file = d.root.join("env.list");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n\nOTHER=2\n").unwrap();
    let r = d
        .berth(&[
            "run",
            "--rm",
            "--env-file",
            env_file.to_str().unwrap(),
            "-e",
            "X=1",
            "--entrypoint",
            "sh",
            "--network",
            "none",
            "-l",
            "team=core",
            "busybox",
            "-c",
            "echo $FROM_FILE $OTHER $X; cat /proc/net/dev | tail -n +3 | cut -d: -f1",
        ])
        .ok();
    assert_eq!(
        r.stdout.split_whitespace().collect::<Vec<_>>(),
        ["yes", "2", "1", "lo"]
    );
}

#[test]
fn create_start_attach_restart_kill_and_ps_filters() {
    let d = Daemon::with_busybox();
    let id = d
        .berth(&[
            "create",
            "--name",
            "c1",
            "-l",
            "tier=db",
            "busybox",
            "sh",
            "-c",
            "echo hi; sleep 300",
        ])
        .ok()
        .stdout;
    assert_eq!(id.trim().len(), 64);
    let listed = d
        .berth(&["ps", "-a", "--filter", "status=created", "-q"])
        .ok()
        .stdout;
    assert_eq!(listed.trim(), &id.trim()[..12]);
    d.berth(&["start", "c1"]).ok();
    assert!(eventually(Duration::from_secs(5), || d
        .berth(&["logs", "c1"])
        .stdout
        == "hi\n"));
    let by_label = d
        .berth(&["ps", "--filter", "label=tier=db", "--format", "{{.Names}}"])
        .ok()
        .stdout;
    assert_eq!(by_label.trim(), "c1");
    let by_name = d
        .berth(&["ps", "--filter", "name=^c", "--no-trunc", "-q"])
        .ok()
        .stdout;
    assert_eq!(by_name.trim(), id.trim());
    let pid1 = d
        .berth(&["inspect", "-f", "{{.State.Pid}}", "c1"])
        .ok()
        .stdout;
    d.berth(&["restart", "-t", "0", "c1"]).ok();
    let pid2 = d
        .berth(&["inspect", "-f", "{{.State.Pid}}", "c1"])
        .ok()
        .stdout;
    assert_ne!(pid1, pid2);
    d.berth(&["kill", "c1"]).ok();
    let state = d
        .berth(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "c1",
        ])
        .ok()
        .stdout;
    assert_eq!(state.trim(), "exited 137");
    let r = d
        .berth(&[
            "ps",
            "-a",
            "--filter",
            "exited=137",
            "--format",
            "{{.Names}}",
        ])
        .ok();
    assert_eq!(r.stdout.trim(), "c1");
    d.berth(&["rm", "c1"]).ok();
    let r = d.berth(&["rm", "c1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("No such container: c1"), "{}", r.stderr);
}

#[test]
fn logs_follow_tail_and_timestamps() {
    let d = Daemon::with_busybox();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4; do echo $i; sleep 0.1; done",
    ])
    .ok();
    let followed = d.berth(&["logs", "-f", "ticker"]).ok().stdout;
    assert_eq!(followed, "1\n2\n3\n4\n");
    assert_eq!(
        d.berth(&["logs", "--tail", "1", "ticker"]).ok().stdout,
        "4\n"
    );
    let stamped = d
        .berth(&["logs", "-t", "--tail", "1", "ticker"])
        .ok()
        .stdout;
    let (time, line) = stamped.trim_end().split_once(' ').unwrap();
    assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    assert_eq!(line, "4");
    assert_eq!(d.berth(&["wait", "ticker"]).ok().stdout.trim(), "0");
}

#[test]
fn import_tag_save_load_and_rmi() {
    let d = Daemon::start();
    let (_, rootfs) = berth_tests::busybox_fixture();
    let id = d
        .berth(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            rootfs.to_str().unwrap(),
            "bb:imported",
        ])
        .ok()
        .stdout;
    assert!(id.trim().starts_with("sha256:"), "{id}");
    d.berth(&["tag", "bb:imported", "bb:other"]).ok();
    let images = d.berth(&["images"]).ok().stdout;
    assert!(images.lines().next().unwrap().starts_with("REPOSITORY"));
    assert_eq!(
        images.lines().filter(|l| l.starts_with("bb ")).count(),
        2,
        "{images}"
    );
    let archive = d.root.join("bb.tar");
    d.berth(&["save", "-o", archive.to_str().unwrap(), "bb:imported"])
        .ok();
    let r = d.berth(&["rmi", "bb:other"]).ok();
    assert_eq!(r.stdout.trim(), "Untagged: bb:other");
    let r = d.berth(&["rmi", "bb:imported"]).ok();
    assert!(r.stdout.contains("Deleted: sha256:"), "{}", r.stdout);
    let r = d.berth(&["load", "-i", archive.to_str().unwrap()]).ok();
    assert_eq!(r.stdout.trim(), "Loaded image: bb:imported");
    assert_eq!(
        d.berth(&["run", "--rm", "bb:imported", "echo", "back"])
            .ok()
            .stdout,
        "back\n"
    );
}

#[test]
fn version_and_info_print_server_facts() {
    let d = Daemon::start();
    let v = d.berth(&["version"]).ok().stdout;
    assert!(v.contains("Server:") && v.contains("1.45"), "{v}");
    let info = d.berth(&["info"]).ok().stdout;
    assert!(info.contains("Storage Driver: overlay2"), "{info}");
    let r = berth_tests::Run::from_command(
        std::process::Command::new(berth_tests::bin("berth")).args([
            "-H",
            "unix:///nonexistent.sock",
            "ps",
        ]),
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Cannot connect"), "{}", r.stderr);
}

#[test]
fn load_of_a_corrupt_archive_fails_cleanly_and_the_daemon_keeps_serving() {
    let d = Daemon::with_busybox();
    let bad = d.root.join("bad.tar");
    std::fs::write(&bad, b"this is not a tar archive at all").unwrap();
    let r = d.berth(&["load", "-i", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("Error response from daemon"),
        "{}",
        r.stderr
    );
    let images = d.berth(&["images", "-q"]).ok().stdout;
    assert_eq!(images.lines().count(), 1, "{images}");
    assert_eq!(
        d.berth(&["run", "--rm", "busybox", "echo", "fine"])
            .ok()
            .stdout,
        "fine\n"
    );
}

#[test]
fn malformed_filters_are_flag_errors_as_with_docker() {
    let d = Daemon::start();
    for args in [
        &["ps", "-f", "bogus"][..],
        &["images", "-f", "bogus"],
        &["volume", "ls", "-f", "bogus"],
        &["network", "ls", "-f", "bogus"],
        &["volume", "prune", "-f", "--filter", "bogus"],
        &["network", "prune", "-f", "--filter", "bogus"],
    ] {
        let berth = d.berth(args);
        let docker = d.docker(args);
        assert_eq!((berth.code, docker.code), (125, 125), "{args:?}");
        assert_eq!(
            berth.stderr.lines().next(),
            docker.stderr.lines().next(),
            "{args:?}"
        );
    }
}

#[test]
fn container_and_image_management_commands_are_the_top_level_ones() {
    let d = Daemon::with_busybox();
    d.berth(&[
        "container",
        "run",
        "--name",
        "managed",
        "--network",
        "none",
        "busybox",
        "true",
    ])
    .ok();
    for (grouped, flat) in [
        (
            vec![
                "container",
                "ls",
                "-a",
                "--format",
                "{{.Names}} {{.Status}}",
            ],
            vec!["ps", "-a", "--format", "{{.Names}} {{.Status}}"],
        ),
        (vec!["container", "list", "-aq"], vec!["ps", "-aq"]),
        (
            vec!["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
            vec!["images", "--format", "{{.Repository}}:{{.Tag}}"],
        ),
        (
            vec!["container", "inspect", "-f", "{{.Name}}", "managed"],
            vec!["inspect", "-f", "{{.Name}}", "managed"],
        ),
    ] {
        let out = d.berth(&grouped).ok().stdout;
        assert!(!out.is_empty(), "{grouped:?}");
        assert_eq!(out, d.berth(&flat).ok().stdout, "{grouped:?}");
        assert_eq!(out, d.docker(&grouped).ok().stdout, "{grouped:?}");
    }
    // Each group inspects its own kind only, as docker's do.
    for args in [
        ["container", "inspect", "busybox"],
        ["image", "inspect", "managed"],
    ] {
        let (berth, docker) = (d.berth(&args), d.docker(&args));
        assert_eq!((berth.code, docker.code), (1, 1), "{args:?}");
    }
    d.berth(&["image", "tag", "busybox", "managed:copy"]).ok();
    d.berth(&["image", "rm", "managed:copy"]).ok();
    d.berth(&["container", "rm", "managed"]).ok();
    assert!(d.container_ids().is_empty());
}
