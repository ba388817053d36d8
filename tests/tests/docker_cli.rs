//! The real `docker` CLI against berthd: the same habits must work unchanged.

use berth_tests::{eventually, Daemon};
use std::time::Duration;

#[test]
fn run_echo_prints_and_exits_zero() {
    let d = Daemon::with_busybox();
    let r = d
        .docker(&["run", "--rm", "busybox", "echo", "hello from berth"])
        .ok();
    assert_eq!(r.stdout, "hello from berth\n");
    assert!(
        d.container_ids().is_empty(),
        "--rm left the container behind"
    );
}

#[test]
fn run_exit_codes_pass_through() {
    let d = Daemon::with_busybox();
    let r = d.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 42"]);
    assert_eq!(r.code, 42, "{}", r.stderr);
    d.docker(&["run", "-d", "--name", "victim", "busybox", "sleep", "300"])
        .ok();
    d.docker(&["kill", "victim"]).ok();
    assert_eq!(d.docker(&["wait", "victim"]).ok().stdout.trim(), "137");
}

#[test]
fn run_missing_binary_exits_127_and_not_executable_126() {
    let d = Daemon::with_busybox();
    let r = d.docker(&["run", "--rm", "busybox", "no-such-binary"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(
        r.stderr.contains("executable file not found in $PATH"),
        "{}",
        r.stderr
    );
    let r = d.docker(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    assert!(r.stderr.contains("permission denied"), "{}", r.stderr);
}

#[test]
fn env_workdir_user_and_hostname_apply() {
    let d = Daemon::with_busybox();
    let r = d
        .docker(&[
            "run",
            "--rm",
            "-e",
            "GREETING=hi there",
            "-w",
            "/srv/app",
            "-u",
            "app",
            "--hostname",
            "berthbox",
            "busybox",
            "sh",
            "-c",
            "echo \"$GREETING\"; pwd; id -un; id -G; hostname; cat /etc/hostname",
        ])
        .ok();
    assert_eq!(
        r.stdout,
        "hi there\n/srv/app\napp\n1000 50\nberthbox\nberthbox\n"
    );
    let r = d
        .docker(&["run", "--rm", "-u", "1000:1000", "busybox", "id"])
        .ok();
    assert!(
        r.stdout.starts_with("uid=1000(app) gid=1000(app)"),
        "{}",
        r.stdout
    );
}

#[test]
fn container_init_is_pid_1_and_sees_only_its_processes() {
    let d = Daemon::with_busybox();
    let r = d
        .docker(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo $$; ls /proc | grep -c '^[0-9]'",
        ])
        .ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "1");
    assert!(
        lines[1].parse::<u32>().unwrap() <= 3,
        "saw host processes: {}",
        r.stdout
    );
}

#[test]
fn root_filesystems_are_isolated_between_containers() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo secret > /tmp/mine",
    ])
    .ok();
    let r = d.docker(&["run", "--rm", "busybox", "cat", "/tmp/mine"]);
    assert_ne!(r.code, 0, "a second container saw the first one's file");
    let r = d.docker(&["start", "-a", "writer"]).ok();
    assert_eq!(r.stdout, "");
}

#[test]
fn detached_run_ps_logs_stop_rm() {
    let d = Daemon::with_busybox();
    let id = d
        .docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo started; exec sleep 300",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let ps = d.docker(&["ps"]).ok().stdout;
    let header = ps.lines().next().unwrap();
    for column in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = ps.lines().nth(1).expect("one running container");
    assert!(
        row.starts_with(&id[..12]) && row.ends_with("web") && row.contains("Up "),
        "{row}"
    );
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["logs", "web"])
        .stdout
        == "started\n"));
    let r = d.docker(&["stop", "-t", "1", "web"]).ok();
    assert_eq!(r.stdout.trim(), "web");
    assert_eq!(d.docker(&["ps", "-q"]).ok().stdout, "");
    let all = d
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .ok()
        .stdout;
    assert!(all.starts_with("web Exited (137)"), "{all}");
    d.docker(&["rm", "web"]).ok();
    assert!(d.container_ids().is_empty());
}

#[test]
fn wait_returns_the_exit_code() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "waiter",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3; exit 5",
    ])
    .ok();
    assert_eq!(d.docker(&["wait", "waiter"]).ok().stdout.trim(), "5");
}

#[test]
fn stdout_and_stderr_stay_separate() {
    let d = Daemon::with_busybox();
    let r = d
        .docker(&[
            "run",
            "--name",
            "sep",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ])
        .ok();
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    let logs = d.docker(&["logs", "sep"]).ok();
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n")
    );
}

#[test]
fn name_conflict_and_not_found_errors_use_dockers_words() {
    let d = Daemon::with_busybox();
    d.docker(&["create", "--name", "dup", "busybox", "true"])
        .ok();
    let r = d.docker(&["create", "--name", "dup", "busybox", "true"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("Conflict. The container name \"/dup\" is already in use"),
        "{}",
        r.stderr
    );
    let r = d.docker(&["stop", "nope"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("No such container: nope"), "{}", r.stderr);
    let r = d.docker(&["inspect", "--type", "image", "nope:1"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.to_lowercase().contains("no such image"),
        "{}",
        r.stderr
    );
}

#[test]
fn save_and_load_round_trip_through_docker() {
    let d = Daemon::with_busybox();
    let archive = d.root.join("saved.tar");
    d.docker(&["tag", "busybox", "mine:v1"]).ok();
    d.docker(&["save", "-o", archive.to_str().unwrap(), "mine:v1"])
        .ok();
    let id = d
        .docker(&["inspect", "-f", "{{.Id}}", "mine:v1"])
        .ok()
        .stdout;
    d.docker(&["rmi", "mine:v1"]).ok();
    assert_ne!(d.docker(&["inspect", "mine:v1"]).code, 0);
    let r = d.docker(&["load", "-i", archive.to_str().unwrap()]).ok();
    assert!(r.stdout.contains("Loaded image: mine:v1"), "{}", r.stdout);
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.Id}}", "mine:v1"])
            .ok()
            .stdout,
        id
    );
    assert_eq!(
        d.docker(&["run", "--rm", "mine:v1", "echo", "ok"])
            .ok()
            .stdout,
        "ok\n"
    );
}

#[test]
fn images_lists_and_rmi_refuses_an_image_in_use() {
    let d = Daemon::with_busybox();
    let out = d.docker(&["images"]).ok().stdout;
    assert!(out.starts_with("REPOSITORY"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("busybox ") && l.contains("latest")),
        "{out}"
    );
    d.docker(&["create", "--name", "user", "busybox", "true"])
        .ok();
    let r = d.docker(&["rmi", "busybox"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("conflict"), "{}", r.stderr);
}

#[test]
fn version_and_info_answer() {
    let d = Daemon::start();
    let v = d
        .docker(&["version", "--format", "{{.Server.APIVersion}}"])
        .ok();
    assert_eq!(v.stdout.trim(), "1.45");
    let info = d
        .docker(&["info", "--format", "{{.Driver}} {{.OSType}} {{.NCPU}}"])
        .ok();
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(info.stdout.trim(), format!("overlay2 linux {cpus}"));
}

#[test]
fn ps_filters_by_order_volume_network_and_ports() {
    let d = Daemon::with_busybox();
    d.docker(&["network", "create", "psnet"]).ok();
    let sleep = ["busybox", "sleep", "60"];
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(sleep);
        d.docker(&all).ok();
    };
    run(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "none",
        "-v",
        "psvol:/data",
    ]);
    run(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "psnet",
        "-p",
        "127.0.0.1::80",
        "--expose",
        "90",
    ]);
    d.docker(&[
        "create",
        "--name",
        "c3",
        "--expose",
        "5000-5001/udp",
        "busybox",
        "true",
    ])
    .ok();
    for (filter, names) in [
        ("before=c3", "c2\nc1\n"),
        ("since=c1", "c3\nc2\n"),
        ("volume=psvol", "c1\n"),
        ("volume=/data", "c1\n"),
        ("network=psnet", "c2\n"),
        ("publish=80", "c2\n"),
        ("publish=80/udp", ""),
        ("expose=90", "c2\n"),
        ("expose=80", "c2\n"),
        ("expose=5000-5001/udp", "c3\n"),
        ("is-task=true", ""),
    ] {
        let args = ["ps", "-a", "--format", "{{.Names}}", "--filter", filter];
        let docker = d.docker(&args).ok().stdout;
        assert_eq!(docker, names, "{filter}");
        assert_eq!(d.berth(&args).ok().stdout, docker, "{filter}");
    }
    for (filter, message) in [
        ("before=nosuch", "No such container: nosuch"),
        ("publish=bad", "invalid filter 'publish=bad'"),
    ] {
        let r = d.docker(&["ps", "-a", "--filter", filter]);
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains(message), "{filter}: {}", r.stderr);
    }
    d.docker(&["rm", "-f", "c1", "c2", "c3"]).ok();
}
