//! Volumes and container mounts, driven by the real `docker` CLI and raw
//! HTTP: binds (`-v`, `--mount`), named and anonymous volumes, the image's
//! `VOLUME`s and copy-up, `--volumes-from`, tmpfs mounts, volumes with
//! driver options, filters, prune, removal rules and Docker's refusals.

use berth_tests::{busybox_fixture, Daemon, RemapUser, Run};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn run_args<'a>(flags: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(flags);
    args.push("busybox");
    args.extend(command);
    args
}

/// `docker inspect` (or `docker volume inspect`) of one object.
fn inspect(d: &Daemon, args: &[&str]) -> Value {
    let out = d.docker(args).ok().stdout;
    let list: Value = serde_json::from_str(&out).unwrap();
    list[0].clone()
}

fn volume_names(d: &Daemon, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["volume", "ls", "-q"];
    args.extend(filters);
    let mut names: Vec<String> = d
        .docker(&args)
        .ok()
        .stdout
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

fn volumes_dir(d: &Daemon) -> PathBuf {
    d.root.join("data/volumes")
}

/// A new host directory under the test's root (removed with the daemon).
fn host_dir(d: &Daemon, name: &str) -> PathBuf {
    let dir = d.root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Mount points of this process's namespace (the host's) under `dir`.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(String::from)
        .collect()
}

/// The daemon's message in a failed CLI run's stderr, with the exit code.
fn refused(run: Run, code: i32, message: &str) {
    assert_eq!(
        run.code, code,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(message),
        "expected {message:?} in: {}",
        run.stderr
    );
}

fn now_plus_one() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1
}

#[test]
fn binds_are_read_write_or_read_only() {
    let d = Daemon::with_busybox();
    let host = host_dir(&d, "host");
    let dir = host.display().to_string();
    std::fs::write(host.join("in"), "from host\n").unwrap();

    let rw = format!("{dir}:/data");
    let out = d
        .docker(&run_args(
            &["-v", &rw],
            &["sh", "-c", "cat /data/in && echo hi > /data/out"],
        ))
        .ok();
    assert_eq!(out.stdout, "from host\n");
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "hi\n");

    let ro = format!("{dir}:/data:ro");
    let out = d.docker(&run_args(&["-v", &ro], &["touch", "/data/nope"]));
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    let mount_ro = format!("type=bind,source={dir},target=/data,readonly");
    let out = d.docker(&run_args(&["--mount", &mount_ro], &["touch", "/data/nope"]));
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    let mount_rw = format!("type=bind,source={dir},target=/data");
    d.docker(&run_args(&["--mount", &mount_rw], &["touch", "/data/yes"]))
        .ok();
    assert!(host.join("yes").exists());
    assert!(!host.join("nope").exists());

    // `-v` makes a missing source directory, `--mount` refuses it.
    let missing = host.join("made/by/docker");
    let made = format!("{}:/m", missing.display());
    d.docker(&run_args(&["-v", &made], &["true"])).ok();
    assert!(missing.is_dir());
    let gone = format!("type=bind,source={dir}/nothing,target=/x");
    refused(
        d.docker(&run_args(&["--mount", &gone], &["true"])),
        125,
        &format!("invalid mount config for type \"bind\": bind source path does not exist: {dir}/nothing"),
    );

    // Inspect shows Docker's shape, for the container list too.
    let spec = format!("{dir}:/data:ro,z");
    d.docker(&[
        "create",
        "--name",
        "bb",
        "-v",
        &spec,
        "--mount",
        &mount_rw.replace("/data", "/other"),
        "busybox",
    ])
    .ok();
    let mounts = inspect(&d, &["inspect", "bb"])["Mounts"].clone();
    assert_eq!(
        mounts,
        serde_json::json!([
            {"Type": "bind", "Source": dir, "Destination": "/data", "Mode": "ro,z",
             "RW": false, "Propagation": "rprivate"},
            {"Type": "bind", "Source": dir, "Destination": "/other", "Mode": "",
             "RW": true, "Propagation": "rprivate"},
        ])
    );
    let rows = d.get("/containers/json?all=1").json();
    assert_eq!(rows[0]["Mounts"], mounts);
}

#[test]
fn named_volumes_are_shared_and_kept_across_a_restart() {
    let mut d = Daemon::with_busybox();
    let created = d
        .docker(&["volume", "create", "--label", "team=core", "shared"])
        .ok();
    assert_eq!(created.stdout.trim(), "shared");
    let volume = inspect(&d, &["volume", "inspect", "shared"]);
    let mountpoint = volumes_dir(&d).join("shared/_data");
    assert_eq!(volume["Name"], "shared");
    assert_eq!(volume["Driver"], "local");
    assert_eq!(volume["Scope"], "local");
    assert_eq!(volume["Mountpoint"], mountpoint.display().to_string());
    assert_eq!(volume["Labels"], serde_json::json!({"team": "core"}));
    assert!(volume["CreatedAt"].as_str().unwrap().len() >= 20);
    // Creating it again returns the same volume.
    d.docker(&["volume", "create", "shared"]).ok();
    assert_eq!(volume_names(&d, &[]), ["shared"]);

    d.docker(&run_args(
        &["-v", "shared:/data"],
        &["sh", "-c", "echo one > /data/file"],
    ))
    .ok();
    let out = d
        .docker(&run_args(
            &["--mount", "type=volume,source=shared,target=/again"],
            &["cat", "/again/file"],
        ))
        .ok();
    assert_eq!(out.stdout, "one\n");
    assert_eq!(
        std::fs::read_to_string(mountpoint.join("file")).unwrap(),
        "one\n"
    );

    d.docker(&[
        "create",
        "--name",
        "user",
        "-v",
        "shared:/data:ro",
        "busybox",
    ])
    .ok();
    assert_eq!(
        inspect(&d, &["inspect", "user"])["Mounts"],
        serde_json::json!([{
            "Type": "volume", "Name": "shared", "Source": mountpoint.display().to_string(),
            "Destination": "/data", "Driver": "local", "Mode": "ro", "RW": false,
            "Propagation": "",
        }])
    );
    d.docker(&["create", "--name", "user2", "-v", "shared:/data", "busybox"])
        .ok();
    assert_eq!(inspect(&d, &["inspect", "user2"])["Mounts"][0]["Mode"], "z");

    d.stop();
    d.restart();
    assert_eq!(inspect(&d, &["volume", "inspect", "shared"]), volume);
    let out = d
        .docker(&run_args(&["-v", "shared:/data"], &["cat", "/data/file"]))
        .ok();
    assert_eq!(out.stdout, "one\n");
    // The references came back with the containers.
    let e = d.request("DELETE", "/volumes/shared", None);
    assert_eq!(e.status, 409, "{}", e.text());
}

#[test]
fn volumes_in_use_are_kept_and_force_only_ignores_missing_ones() {
    let d = Daemon::with_busybox();
    let id = d
        .docker(&["create", "-v", "held:/x", "-v", "kept:/k", "busybox"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let reply = d.request("DELETE", "/volumes/held", None);
    assert_eq!(reply.status, 409);
    assert_eq!(
        reply.json()["message"],
        format!("remove held: volume is in use - [{id}]")
    );
    refused(
        d.docker(&["volume", "rm", "-f", "held"]),
        1,
        "volume is in use",
    );
    let reply = d.request("DELETE", "/volumes/nope", None);
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["message"], "get nope: no such volume");
    assert_eq!(
        d.request("DELETE", "/volumes/nope?force=1", None).status,
        204
    );
    let reply = d.get("/volumes/nope");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["message"], "get nope: no such volume");

    // `rm -v` leaves named volumes alone.
    d.docker(&["rm", "-v", &id]).ok();
    assert_eq!(volume_names(&d, &[]), ["held", "kept"]);
    d.docker(&["volume", "rm", "held"]).ok();
    assert_eq!(
        d.request("DELETE", "/volumes/kept?force=1", None).status,
        204
    );
    assert!(volume_names(&d, &[]).is_empty());
    assert_eq!(std::fs::read_dir(volumes_dir(&d)).unwrap().count(), 0);
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_auto_remove() {
    let d = Daemon::with_busybox();
    d.docker(&["create", "--name", "aa", "-v", "/data", "busybox"])
        .ok();
    let names = volume_names(&d, &[]);
    assert_eq!(names.len(), 1);
    let name = names[0].clone();
    assert_eq!(name.len(), 64);
    let volume = inspect(&d, &["volume", "inspect", &name]);
    assert_eq!(
        volume["Labels"],
        serde_json::json!({"com.docker.volume.anonymous": ""})
    );
    let mounts = inspect(&d, &["inspect", "aa"])["Mounts"].clone();
    assert_eq!(mounts[0]["Type"], "volume");
    assert_eq!(mounts[0]["Name"], name.as_str());
    assert_eq!(mounts[0]["Mode"], "");
    assert_eq!(mounts[0]["RW"], true);
    d.docker(&["rm", "-v", "aa"]).ok();
    assert!(volume_names(&d, &[]).is_empty());

    // Without -v it stays, dangling.
    d.docker(&["create", "--name", "bb", "-v", "/data", "busybox"])
        .ok();
    d.docker(&["rm", "bb"]).ok();
    assert_eq!(volume_names(&d, &["-f", "dangling=true"]).len(), 1);
    d.docker(&["volume", "prune", "-f"]).ok();
    assert!(volume_names(&d, &[]).is_empty());

    // --rm takes the anonymous volumes along, not the named ones.
    d.docker(&run_args(
        &[
            "-v",
            "/anon",
            "--mount",
            "type=volume,target=/anon2",
            "-v",
            "named:/n",
        ],
        &["touch", "/anon/x", "/anon2/x", "/n/x"],
    ))
    .ok();
    assert_eq!(volume_names(&d, &[]), ["named"]);
}

#[test]
fn new_volumes_are_filled_from_the_image_once() {
    let d = Daemon::with_busybox();
    let out = d
        .docker(&run_args(
            &["-v", "etc:/etc"],
            &[
                "sh",
                "-c",
                "head -1 /etc/passwd && echo changed > /etc/group",
            ],
        ))
        .ok();
    assert_eq!(out.stdout, "root:x:0:0:root:/root:/bin/sh\n");
    let data = volumes_dir(&d).join("etc/_data");
    assert!(data.join("passwd").is_file());
    // A volume with something in it is not filled again.
    let out = d
        .docker(&run_args(&["-v", "etc:/etc"], &["cat", "/etc/group"]))
        .ok();
    assert_eq!(out.stdout, "changed\n");

    // Owners come along; `nocopy` leaves a new volume empty.
    let out = d
        .docker(&run_args(
            &["-v", "homes:/home"],
            &["stat", "-c", "%u:%g %a", "/home/app"],
        ))
        .ok();
    assert_eq!(out.stdout, "1000:1000 755\n");
    let out = d
        .docker(&run_args(
            &["-v", "bare:/home:nocopy"],
            &["ls", "-A", "/home"],
        ))
        .ok();
    assert_eq!(out.stdout, "");
    let out = d
        .docker(&run_args(
            &[
                "--mount",
                "type=volume,source=bare2,target=/home,volume-nocopy",
            ],
            &["ls", "-A", "/home"],
        ))
        .ok();
    assert_eq!(out.stdout, "");

    // An image's VOLUME becomes an anonymous volume filled from the image.
    let (_, rootfs) = busybox_fixture();
    d.docker(&[
        "import",
        "-c",
        "VOLUME /home",
        "-c",
        "CMD [\"sh\"]",
        rootfs.to_str().unwrap(),
        "withvol",
    ])
    .ok();
    d.docker(&[
        "create",
        "--name",
        "vv",
        "--network",
        "none",
        "withvol",
        "ls",
        "/home",
    ])
    .ok();
    let out = d.docker(&["start", "-a", "vv"]).ok();
    assert_eq!(out.stdout, "app\n");
    let container = inspect(&d, &["inspect", "vv"]);
    assert!(container["Config"]["Volumes"]["/home"].is_object());
    assert_eq!(container["Mounts"][0]["Destination"], "/home");
    assert_eq!(container["Mounts"][0]["Type"], "volume");
    // A bind at the same path replaces it.
    let bind = format!("{}:/home", host_dir(&d, "home").display());
    d.docker(&["create", "--name", "ww", "-v", &bind, "withvol"])
        .ok();
    let mounts = inspect(&d, &["inspect", "ww"])["Mounts"].clone();
    assert_eq!(mounts.as_array().unwrap().len(), 1);
    assert_eq!(mounts[0]["Type"], "bind");
}

#[test]
fn volumes_from_shares_another_containers_mounts() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "create",
        "--name",
        "src",
        "-v",
        "shared:/shared",
        "-v",
        "/scratch",
        "busybox",
    ])
    .ok();
    let out = d.docker(&run_args(
        &["--volumes-from", "src:ro"],
        &["touch", "/shared/x"],
    ));
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    d.docker(&run_args(
        &["--volumes-from", "src"],
        &["touch", "/shared/x", "/scratch/y"],
    ))
    .ok();
    let out = d
        .docker(&run_args(&["-v", "shared:/s"], &["ls", "/s"]))
        .ok();
    assert_eq!(out.stdout, "x\n");
    d.docker(&[
        "create",
        "--name",
        "dst",
        "--volumes-from",
        "src:ro",
        "busybox",
    ])
    .ok();
    let theirs = inspect(&d, &["inspect", "src"])["Mounts"].clone();
    let mine = inspect(&d, &["inspect", "dst"])["Mounts"].clone();
    assert_eq!(mine.as_array().unwrap().len(), 2);
    for (mine, theirs) in mine
        .as_array()
        .unwrap()
        .iter()
        .zip(theirs.as_array().unwrap())
    {
        assert_eq!(mine["Source"], theirs["Source"]);
        assert_eq!(mine["Name"], theirs["Name"]);
        assert_eq!(mine["RW"], false);
    }
    // The --rm run above did not take src's anonymous volume along.
    assert_eq!(volume_names(&d, &[]).len(), 2);
    refused(
        d.docker(&run_args(&["--volumes-from", "nobody"], &["true"])),
        125,
        "No such container: nobody",
    );
}

#[test]
fn tmpfs_mounts_and_volumes_with_driver_options() {
    let mut d = Daemon::with_busybox();
    let out = d
        .docker(&run_args(
            &[
                "--mount",
                "type=tmpfs,destination=/t,tmpfs-size=1048576,tmpfs-mode=1770",
            ],
            &["sh", "-c", "grep ' /t ' /proc/mounts && stat -c %a /t"],
        ))
        .ok();
    assert!(out.stdout.contains("tmpfs /t tmpfs"), "{}", out.stdout);
    assert!(out.stdout.contains("size=1024k"), "{}", out.stdout);
    assert!(out.stdout.contains("mode=1770"), "{}", out.stdout);
    assert!(out.stdout.ends_with("1770\n"), "{}", out.stdout);
    d.docker(&[
        "create",
        "--name",
        "tt",
        "--mount",
        "type=tmpfs,target=/t,readonly",
        "busybox",
    ])
    .ok();
    assert_eq!(
        inspect(&d, &["inspect", "tt"])["Mounts"],
        serde_json::json!([{"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "",
                            "RW": false, "Propagation": ""}])
    );

    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=10m",
        "mem",
    ])
    .ok();
    let volume = inspect(&d, &["volume", "inspect", "mem"]);
    assert_eq!(
        volume["Options"],
        serde_json::json!({"type": "tmpfs", "device": "tmpfs", "o": "size=10m"})
    );
    let data = volumes_dir(&d).join("mem/_data");
    d.docker(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--network",
        "none",
        "-v",
        "mem:/data",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    assert_eq!(host_mounts_under(&data), [data.display().to_string()]);
    // A new berthd finds the volume mounted for the running container.
    d.stop();
    d.restart();
    assert_eq!(host_mounts_under(&data).len(), 1);
    let out = d
        .docker(&[
            "exec",
            "m1",
            "sh",
            "-c",
            "grep ' /data ' /proc/mounts; echo x > /data/f",
        ])
        .ok();
    assert!(out.stdout.contains("size=10240k"), "{}", out.stdout);
    // A second user shares the mount; it stays until the last one stops.
    let out = d
        .docker(&run_args(&["-v", "mem:/data"], &["cat", "/data/f"]))
        .ok();
    assert_eq!(out.stdout, "x\n");
    assert_eq!(host_mounts_under(&data).len(), 1);
    d.docker(&["rm", "-f", "m1"]).ok();
    assert!(host_mounts_under(&data).is_empty());
    // The tmpfs went with its content.
    let out = d
        .docker(&run_args(&["-v", "mem:/data"], &["ls", "-A", "/data"]))
        .ok();
    assert_eq!(out.stdout, "");

    // type=none,o=bind binds a host directory.
    let host = host_dir(&d, "bound");
    let device = format!("device={}", host.display());
    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "o=bind",
        "--opt",
        &device,
        "hostdir",
    ])
    .ok();
    d.docker(&run_args(&["-v", "hostdir:/h"], &["touch", "/h/made"]))
        .ok();
    assert!(host.join("made").exists());

    refused(
        d.docker(&["volume", "create", "--opt", "foo=1", "odd"]),
        1,
        "create odd: invalid option key: \"foo\"",
    );
    d.docker(&["volume", "rm", "mem", "hostdir"]).ok();
    // Removing the volume never reaches through the bind.
    assert!(host.join("made").exists());
    assert!(host_mounts_under(&volumes_dir(&d)).is_empty());
    assert!(host_mounts_under(&host).is_empty());

    let events = d
        .get(&format!(
            "/events?since=0&until={}&filters=%7B%22type%22%3A%5B%22volume%22%5D%7D",
            now_plus_one()
        ))
        .text();
    let events: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["Actor"]["ID"] == "hostdir")
        .collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["Action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "mount", "unmount", "destroy"]);
    let mount = &events[1]["Actor"]["Attributes"];
    assert_eq!(mount["driver"], "local");
    assert_eq!(mount["destination"], "/h");
    assert_eq!(mount["read/write"], "true");
    assert_eq!(
        mount["container"],
        events[2]["Actor"]["Attributes"]["container"]
    );
}

#[test]
fn volumes_are_filtered_pruned_and_counted() {
    let d = Daemon::with_busybox();
    d.docker(&["volume", "create", "--label", "env=prod", "vol-prod"])
        .ok();
    d.docker(&["volume", "create", "--label", "env=dev", "vol-dev"])
        .ok();
    d.docker(&["volume", "create", "other"]).ok();
    let anonymous = d.post_json("/volumes/create", &serde_json::json!({}));
    assert_eq!(anonymous.status, 201);
    let anonymous = anonymous.json()["Name"].as_str().unwrap().to_string();
    std::fs::write(
        volumes_dir(&d).join(&anonymous).join("_data/blob"),
        vec![7u8; 4096],
    )
    .unwrap();
    d.docker(&["create", "--name", "user", "-v", "vol-dev:/a2", "busybox"])
        .ok();

    assert_eq!(volume_names(&d, &["-f", "name=vol-"]).len(), 2);
    assert_eq!(volume_names(&d, &["-f", "name=prod"]), ["vol-prod"]);
    assert_eq!(volume_names(&d, &["-f", "label=env=prod"]), ["vol-prod"]);
    assert_eq!(
        volume_names(&d, &["-f", "label=env"]),
        ["vol-dev", "vol-prod"]
    );
    assert_eq!(volume_names(&d, &["-f", "dangling=false"]), ["vol-dev"]);
    assert_eq!(volume_names(&d, &["-f", "dangling=1"]).len(), 3);
    assert_eq!(volume_names(&d, &["-f", "driver=local"]).len(), 4);
    let list = d.get("/volumes").json();
    assert_eq!(list["Warnings"], serde_json::json!([]));
    for bad in [
        "%7B%22foo%22%3A%5B%22x%22%5D%7D",
        "%7B%22dangling%22%3A%5B%22maybe%22%5D%7D",
    ] {
        let reply = d.get(&format!("/volumes?filters={bad}"));
        assert_eq!(reply.status, 400, "{}", reply.text());
    }

    let df = d.get("/system/df").json();
    let volumes = df["Volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 4);
    let usage = |name: &str| {
        volumes
            .iter()
            .find(|v| v["Name"] == name)
            .map(|v| v["UsageData"].clone())
            .unwrap()
    };
    assert_eq!(
        usage("vol-dev"),
        serde_json::json!({"Size": 0, "RefCount": 1})
    );
    assert_eq!(
        usage(&anonymous),
        serde_json::json!({"Size": 4096, "RefCount": 0})
    );

    // Only anonymous volumes by default, every unused one with `all`.
    let pruned = d.post_json("/volumes/prune", &serde_json::json!({})).json();
    assert_eq!(pruned["VolumesDeleted"], serde_json::json!([anonymous]));
    assert_eq!(pruned["SpaceReclaimed"], 4096);
    d.docker(&["volume", "prune", "-af", "--filter", "label=env=prod"])
        .ok();
    assert_eq!(volume_names(&d, &[]), ["other", "vol-dev"]);
    let reply = d.request(
        "POST",
        "/volumes/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
        None,
    );
    assert_eq!(reply.status, 400);
    // Before API 1.42, prune took named volumes too.
    let pruned = d.request("POST", "/v1.41/volumes/prune", None).json();
    assert_eq!(pruned["VolumesDeleted"], serde_json::json!(["other"]));
    assert_eq!(volume_names(&d, &[]), ["vol-dev"]);
}

#[test]
fn bad_names_and_mount_specs_are_refused_with_nothing_created() {
    let d = Daemon::with_busybox();
    let reply = d.post_json("/volumes/create", &serde_json::json!({"Name": "../x"}));
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["message"],
        "create ../x: \"../x\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    );
    refused(
        d.docker(&["volume", "create", "a/b"]),
        1,
        "includes invalid characters for a local volume name",
    );
    refused(
        d.docker(&["volume", "create", "-d", "nfs", "n1"]),
        1,
        "plugin \"nfs\" not found",
    );
    let reply = d.post_json(
        "/containers/create",
        &serde_json::json!({"Image": "busybox", "HostConfig": {"Binds": ["../x:/data"]}}),
    );
    assert_eq!(reply.status, 400);
    assert!(reply
        .text()
        .contains("create ../x: \\\"../x\\\" includes invalid characters"));

    refused(
        d.docker(&run_args(&["-v", "vol:relative"], &["true"])),
        125,
        "invalid volume specification: 'vol:relative': invalid mount config for type \"volume\": invalid mount path: 'relative' mount path must be absolute",
    );
    refused(
        d.docker(&run_args(&["-v", "/tmp:/b:xyz"], &["true"])),
        125,
        "invalid mode: xyz",
    );
    refused(
        d.docker(&run_args(&["-v", "/tmp:/x", "-v", "v2:/x"], &["true"])),
        125,
        "Duplicate mount point: /x",
    );
    refused(
        d.docker(&run_args(
            &["--mount", "type=bind,source=/nope/nothing,target=/x"],
            &["true"],
        )),
        125,
        "bind source path does not exist: /nope/nothing",
    );
    let reply = d.post_json(
        "/containers/create",
        &serde_json::json!({"Image": "busybox", "HostConfig": {"Mounts": [
            {"Type": "volume", "Source": "m1", "Target": "rel"}
        ]}}),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["message"],
        "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"
    );
    // A good volume next to a bad mount is not created either.
    let reply = d.post_json(
        "/containers/create",
        &serde_json::json!({"Image": "busybox", "HostConfig": {
            "Binds": ["good:/good"],
            "Mounts": [{"Type": "tmpfs", "Source": "x", "Target": "/t"}],
        }}),
    );
    assert_eq!(reply.status, 400);

    assert!(volume_names(&d, &[]).is_empty());
    assert_eq!(std::fs::read_dir(volumes_dir(&d)).unwrap().count(), 0);
    assert!(d.container_ids().is_empty());
}

#[test]
fn remapped_roots_own_their_volumes() {
    let _user = RemapUser::before_daemon();
    let d = Daemon::start_with_args(&["--userns-remap", "default"]);
    let (archive, _) = busybox_fixture();
    d.docker(&["load", "-i", archive.to_str().unwrap()]).ok();
    d.docker(&["volume", "create", "remapped"]).ok();
    let volume = inspect(&d, &["volume", "inspect", "remapped"]);
    let data = PathBuf::from(volume["Mountpoint"].as_str().unwrap());
    let owner = std::fs::metadata(&data).unwrap().uid();
    assert_ne!(owner, 0);
    d.docker(&run_args(&["-v", "remapped:/data"], &["touch", "/data/f"]))
        .ok();
    assert_eq!(std::fs::metadata(data.join("f")).unwrap().uid(), owner);
}
