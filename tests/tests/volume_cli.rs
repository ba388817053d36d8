//! Volumes and mounts through the `berth` CLI: `volume create/ls/inspect/rm
//! /prune`, and `run -v`, `--mount`, `--volumes-from` with `rm -v`, checked
//! inside the containers and against what the docker CLI prints for the
//! same daemon.

use berth_tests::{Daemon, Run};
use std::io::Write;
use std::process::Stdio;

fn is_anonymous_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The names `volume ls -q` lists.
fn volume_names(d: &Daemon) -> Vec<String> {
    d.berth(&["volume", "ls", "-q"])
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}

/// A host directory for bind mounts, inside the daemon's test root.
fn host_dir(d: &Daemon, name: &str) -> String {
    let dir = d.root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_str().unwrap().to_string()
}

/// `berth ARGS` with `input` on its stdin.
fn berth_with_input(d: &Daemon, args: &[&str], input: &str) -> Run {
    let mut child = d
        .berth_cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running berth");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn volume_create_ls_inspect_and_rm() {
    let d = Daemon::start();
    let r = d
        .berth(&[
            "volume",
            "create",
            "--label",
            "team=a",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "data",
        ])
        .ok();
    assert_eq!(r.stdout, "data\n");
    d.berth(&["volume", "create", "v10"]).ok();
    d.berth(&["volume", "create", "v2"]).ok();
    let anonymous = d
        .berth(&["volume", "create"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(is_anonymous_name(&anonymous), "{anonymous:?}");

    let ls = d.berth(&["volume", "ls"]).ok().stdout;
    assert_eq!(d.docker(&["volume", "ls"]).ok().stdout, ls);
    let mut lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.remove(0), "DRIVER    VOLUME NAME");
    let mut rows = lines.clone();
    rows.sort();
    let anonymous_row = format!("local     {anonymous}");
    let mut expected = [
        anonymous_row.as_str(),
        "local     data",
        "local     v10",
        "local     v2",
    ];
    expected.sort();
    assert_eq!(rows, expected);
    // Natural order: v2 before v10.
    let names = volume_names(&d);
    let at = |name: &str| names.iter().position(|n| n == name).unwrap();
    assert!(at("data") < at("v2") && at("v2") < at("v10"), "{names:?}");
    assert_eq!(
        d.docker(&["volume", "ls", "-q"]).ok().stdout,
        d.berth(&["volume", "ls", "-q"]).ok().stdout
    );
    let r = d
        .berth(&[
            "volume",
            "ls",
            "-f",
            "label=team=a",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}}",
        ])
        .ok();
    assert_eq!(r.stdout, "data local team=a\n");
    let r = d.berth(&["volume", "ls", "-q", "--filter", "name=v1"]).ok();
    assert_eq!(r.stdout, "v10\n");

    let inspect = d.berth(&["volume", "inspect", "data"]).ok().stdout;
    let parsed: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let volume = &parsed[0];
    assert_eq!(volume["Name"], "data");
    assert_eq!(volume["Driver"], "local");
    assert_eq!(volume["Scope"], "local");
    assert_eq!(volume["Labels"], serde_json::json!({"team": "a"}));
    assert_eq!(
        volume["Options"],
        serde_json::json!({"device": "tmpfs", "type": "tmpfs"})
    );
    assert!(
        volume["Mountpoint"]
            .as_str()
            .unwrap()
            .ends_with("/volumes/data/_data"),
        "{inspect}"
    );
    assert_eq!(
        d.docker(&["volume", "inspect", "data"]).ok().stdout,
        inspect
    );
    let r = d
        .berth(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}}",
            "data",
            "v2",
        ])
        .ok();
    assert_eq!(r.stdout, "data local\nv2 local\n");
    let r = d.berth(&["volume", "inspect", "data", "nope"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("\"Name\": \"data\""), "{}", r.stdout);
    assert!(
        r.stderr.starts_with("Error response from daemon:") && r.stderr.contains("nope"),
        "{}",
        r.stderr
    );

    let r = d.berth(&["volume", "rm", "v2", "nope", "v10"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "v2\nv10\n");
    assert!(
        r.stderr.starts_with("Error response from daemon:") && r.stderr.contains("nope"),
        "{}",
        r.stderr
    );
    let docker = d.docker(&["volume", "rm", "nope"]);
    assert_eq!(
        (r.stderr.as_str(), 1),
        (docker.stderr.as_str(), docker.code)
    );
    let r = d.berth(&["volume", "rm", "-f", "nope"]).ok();
    assert_eq!(r.stdout, "nope\n");
    d.berth(&["volume", "remove", "data", &anonymous]).ok();
    assert!(volume_names(&d).is_empty());
}

#[test]
fn volume_prune_asks_then_removes_unused_anonymous_volumes_or_all_with_a() {
    let d = Daemon::with_busybox();
    d.berth(&["volume", "create", "named"]).ok();
    let anonymous = d
        .berth(&["volume", "create"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let used = d
        .berth(&["volume", "create"])
        .ok()
        .stdout
        .trim()
        .to_string();
    d.berth(&[
        "create",
        "--name",
        "user",
        "-v",
        &format!("{used}:/data"),
        "busybox",
    ])
    .ok();

    let r = berth_with_input(&d, &["volume", "prune"], "n\n");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            0,
            "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
        )
    );
    assert_eq!(volume_names(&d).len(), 3);

    let r = berth_with_input(&d, &["volume", "prune"], "y\n").ok();
    assert!(
        r.stdout.ends_with(&format!(
            "[y/N] Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 0B\n"
        )),
        "{}",
        r.stdout
    );
    let mut left = volume_names(&d);
    left.sort();
    let mut want = vec!["named".to_string(), used.clone()];
    want.sort();
    assert_eq!(left, want);

    let r = d.berth(&["volume", "prune", "-f"]).ok();
    assert_eq!(r.stdout, "Total reclaimed space: 0B\n");
    let r = d.berth(&["volume", "prune", "-a", "--filter", "all=1", "-f"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("conflicting options: cannot specify both --all and --filter all=1"),
        "{}",
        r.stderr
    );
    let r = d.berth(&["volume", "prune", "-a", "-f"]).ok();
    assert_eq!(
        r.stdout,
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
    );
    assert_eq!(volume_names(&d), [used]);
}

#[test]
fn bind_mounts_read_write_and_read_only() {
    let d = Daemon::with_busybox();
    let dir = host_dir(&d, "bind");
    std::fs::write(format!("{dir}/in.txt"), "from host\n").unwrap();

    let rw = format!("{dir}:/data");
    let r = d
        .berth(&[
            "run",
            "--rm",
            "-v",
            &rw,
            "busybox",
            "sh",
            "-c",
            "cat /data/in.txt && echo from container > /data/out.txt",
        ])
        .ok();
    assert_eq!(r.stdout, "from host\n");
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/out.txt")).unwrap(),
        "from container\n"
    );

    for flag in [
        ["-v".to_string(), format!("{dir}:/data:ro")],
        [
            "--mount".to_string(),
            format!("type=bind,source={dir},target=/data,readonly"),
        ],
    ] {
        let r = d.berth(&[
            "run",
            "--rm",
            &flag[0],
            &flag[1],
            "busybox",
            "sh",
            "-c",
            "cat /data/in.txt; touch /data/new",
        ]);
        assert_ne!(r.code, 0, "{flag:?} is writable: {}", r.stdout);
        assert_eq!(r.stdout, "from host\n", "{flag:?}");
        assert!(
            r.stderr.contains("Read-only file system"),
            "{flag:?}: {}",
            r.stderr
        );
    }
    assert!(!std::path::Path::new(&format!("{dir}/new")).exists());

    let r = d
        .berth(&[
            "run",
            "--rm",
            "--mount",
            &format!("type=bind,src={dir},dst=/m"),
            "busybox",
            "cat",
            "/m/out.txt",
        ])
        .ok();
    assert_eq!(r.stdout, "from container\n");
    let mounts = d
        .berth(&["create", "-v", &format!("{dir}:/data:ro"), "busybox"])
        .ok()
        .stdout;
    let r = d
        .berth(&["inspect", "-f", "{{json .Mounts}}", mounts.trim()])
        .ok();
    let mounts: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(mounts[0]["Type"], "bind");
    assert_eq!(mounts[0]["Source"], dir.as_str());
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["RW"], false);
}

#[test]
fn a_named_volume_is_shared_by_two_containers() {
    let d = Daemon::with_busybox();
    d.berth(&["volume", "create", "shared"]).ok();
    d.berth(&[
        "run",
        "--name",
        "writer",
        "-v",
        "shared:/data",
        "busybox",
        "sh",
        "-c",
        "echo shared text > /data/f",
    ])
    .ok();
    let r = d
        .berth(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,source=shared,target=/other,readonly",
            "busybox",
            "cat",
            "/other/f",
        ])
        .ok();
    assert_eq!(r.stdout, "shared text\n");

    // A volume named in -v that does not exist yet is created.
    d.berth(&["run", "--rm", "-v", "auto:/x", "busybox", "true"])
        .ok();
    assert!(volume_names(&d).contains(&"auto".to_string()));

    // A volume in use cannot be removed; rm -v leaves named volumes alone.
    let r = d.berth(&["volume", "rm", "shared"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.starts_with("Error response from daemon:"),
        "{}",
        r.stderr
    );
    d.berth(&["rm", "-v", "writer"]).ok();
    assert!(volume_names(&d).contains(&"shared".to_string()));
    d.berth(&["volume", "rm", "shared"]).ok();
}

#[test]
fn volumes_from_shares_anonymous_volumes_and_rm_v_removes_them() {
    let d = Daemon::with_busybox();
    d.berth(&[
        "run",
        "--name",
        "source",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo anon > /anon/f",
    ])
    .ok();
    let names = volume_names(&d);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(is_anonymous_name(&names[0]), "{names:?}");

    let r = d
        .berth(&[
            "run",
            "--rm",
            "--volumes-from",
            "source",
            "busybox",
            "cat",
            "/anon/f",
        ])
        .ok();
    assert_eq!(r.stdout, "anon\n");
    let r = d.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        "source:ro",
        "busybox",
        "sh",
        "-c",
        "touch /anon/g",
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);

    d.berth(&["rm", "--volumes", "source"]).ok();
    assert!(volume_names(&d).is_empty());
}

#[test]
fn tmpfs_mounts_take_size_and_mode() {
    let d = Daemon::with_busybox();
    let r = d
        .berth(&[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,destination=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
            "busybox",
            "sh",
            "-c",
            "grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
        ])
        .ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with("tmpfs /scratch tmpfs "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("size=1024k"), "{}", lines[0]);
    assert_eq!(lines[1], "1770");
}

#[test]
fn bad_storage_flags_fail_before_the_daemon_with_dockers_messages() {
    let d = Daemon::with_busybox();
    for (args, message) in [
        (
            vec!["--mount", "type=bind"],
            "invalid argument \"type=bind\" for \"--mount\" flag: target is required",
        ),
        (
            vec!["--mount", "type=volume,foo,dst=/x"],
            "invalid field 'foo' must be a key=value pair",
        ),
        (
            vec!["--mount", "type=bind,src=/a,dst=/b,tmpfs-size=1m"],
            "cannot mix 'tmpfs-*' options with mount type 'bind'",
        ),
        (
            vec!["-v", "/a:/b:ro:x"],
            "invalid spec: /a:/b:ro:x: too many colons",
        ),
    ] {
        let mut argv = vec!["run", "--rm"];
        argv.extend(&args);
        argv.extend(["busybox", "true"]);
        let r = d.berth(&argv);
        assert_eq!(r.code, 125, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
        let docker = d.docker(&argv);
        assert_eq!(docker.code, 125, "{args:?}: {}", docker.stderr);
        assert!(
            docker.stderr.contains(message),
            "{args:?}: {}",
            docker.stderr
        );
    }
    assert!(d.container_ids().is_empty());
}

#[test]
fn system_df_counts_volumes_and_their_links() {
    let d = Daemon::with_busybox();
    d.berth(&["volume", "create", "idle"]).ok();
    d.berth(&["create", "--name", "df-user", "-v", "busy:/data", "busybox"])
        .ok();
    let r = d.berth(&["system", "df"]).ok();
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("Local Volumes"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>()[2..4],
        ["2", "1"],
        "{line}"
    );
    let r = d.berth(&["system", "df", "-v"]).ok();
    assert!(
        r.stdout
            .contains("Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n"),
        "{}",
        r.stdout
    );
    let mut rows: Vec<Vec<&str>> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|cells: &Vec<&str>| matches!(cells.first(), Some(&"busy" | &"idle")))
        .collect();
    assert_eq!(rows.len(), 2, "{}", r.stdout);
    rows.sort();
    assert_eq!(rows[0][..2], ["busy", "1"]);
    assert_eq!(rows[1][..2], ["idle", "0"]);
}
