//! Files in and out of containers: `cp` both ways (created, running and
//! stopped containers, tar streams, docker's naming rules), the archive
//! endpoints raw (the stat header, 404/400/403), the volumes and binds of
//! a stopped container, copies through container symlinks and hostile
//! archives that must never reach the host (CVE-2018-15664), `export`, `diff` and `commit`, with `berth` and with
//! the real docker CLI.

use base64::Engine as _;
use berth_tests::{Daemon, RemapUser, Run};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A scratch directory on the host for one test, removed at the end.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("berth-files-")
                .tempdir()
                .unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn arg(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }
}

/// Runs `berth` with `input` on stdin and returns its output as bytes.
fn berth_with_stdin(d: &Daemon, args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = d
        .berth_cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `berth`'s stdout as bytes (a tar stream).
fn berth_bytes(d: &Daemon, args: &[&str]) -> Vec<u8> {
    let out = d.berth_cmd(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The entry names of a tar stream.
fn tar_names(tar: &[u8]) -> Vec<String> {
    tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

/// The content of one entry of a tar stream.
fn tar_file(tar: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path_bytes().as_ref() == name.as_bytes() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            return Some(data);
        }
    }
    None
}

/// A tar built entry by entry, hostile ones included (names are written
/// as given).
struct RawTar {
    builder: tar::Builder<Vec<u8>>,
}

impl RawTar {
    fn new() -> RawTar {
        RawTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn entry(mut self, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> RawTar {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_mtime(1_700_000_000);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &[u8]) -> RawTar {
        self.entry(name, tar::EntryType::Regular, "", data)
    }

    fn symlink(self, name: &str, target: &str) -> RawTar {
        self.entry(name, tar::EntryType::Symlink, target, b"")
    }

    fn hardlink(self, name: &str, target: &str) -> RawTar {
        self.entry(name, tar::EntryType::Link, target, b"")
    }

    fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

fn put(d: &Daemon, container: &str, path: &str, tar: &[u8]) -> berth_tests::Reply {
    d.request(
        "PUT",
        &format!("/containers/{container}/archive?path={path}&noOverwriteDirNonDir=true"),
        Some(("application/x-tar", tar)),
    )
}

fn decode_stat(reply: &berth_tests::Reply) -> serde_json::Value {
    let header = reply
        .header("X-Docker-Container-Path-Stat")
        .expect("stat header");
    let json = base64::engine::general_purpose::STANDARD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// No mount of the daemon's containers is visible on the host: the
/// overlays mounted for copies live and die in private namespaces (the
/// monitor binary's read-only bind in the exec root is the only mount a
/// test daemon makes on the host).
fn assert_no_container_mounts(d: &Daemon) {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = d.root.display().to_string();
    let shim = d.root.join("exec/berth-shim").display().to_string();
    let left: Vec<&str> = mounts
        .lines()
        .filter(|line| line.contains(&root) && !line.contains(&shim))
        .collect();
    assert!(
        left.is_empty(),
        "container mounts left on the host: {left:?}"
    );
}

fn output(run: Run) -> String {
    run.ok().stdout
}

#[test]
fn cp_into_a_created_container_is_there_when_it_starts() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    fs::write(s.path("hello.txt"), b"hello from the host\n").unwrap();
    fs::create_dir_all(s.path("tree/sub")).unwrap();
    fs::write(s.path("tree/sub/leaf"), b"leaf\n").unwrap();
    d.berth(&[
        "create",
        "--name",
        "fresh",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "cat /tmp/hello.txt /root/copied/sub/leaf; stat -c %u:%g /tmp/hello.txt",
    ])
    .ok();
    d.berth(&["cp", &s.arg("hello.txt"), "fresh:/tmp/"]).ok();
    // A directory to a name that does not exist yet takes that name.
    d.berth(&["cp", &s.arg("tree"), "fresh:/root/copied"]).ok();
    // Without -a the files belong to the container's root.
    std::os::unix::fs::chown(s.path("hello.txt"), Some(1234), Some(1234)).unwrap();
    d.berth(&["cp", &s.arg("hello.txt"), "fresh:/tmp/"]).ok();
    let run = d.berth(&["start", "-a", "fresh"]).ok();
    assert_eq!(run.stdout, "hello from the host\nleaf\n0:0\n");
    // With -a they keep the archive's owners.
    d.berth(&["cp", "-a", &s.arg("hello.txt"), "fresh:/tmp/"])
        .ok();
    let run = d.berth(&["start", "-a", "fresh"]).ok();
    assert_eq!(run.stdout, "hello from the host\nleaf\n1234:1234\n");
    assert_no_container_mounts(&d);
}

#[test]
fn cp_out_of_a_stopped_container_follows_dockers_naming_rules() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    d.berth(&[
        "run",
        "--name",
        "done",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data/dir && echo one > /data/dir/one && echo two > /data/two && ln -s /data/two /data/link",
    ])
    .ok();
    // A file into an existing directory, and to a new name.
    d.berth(&["cp", "done:/data/two", &s.arg("")]).ok();
    assert_eq!(fs::read(s.path("two")).unwrap(), b"two\n");
    d.berth(&["cp", "done:/data/two", &s.arg("renamed")]).ok();
    assert_eq!(fs::read(s.path("renamed")).unwrap(), b"two\n");
    // A directory, and its contents only with `/.`.
    d.berth(&["cp", "done:/data/dir", &s.arg("copy")]).ok();
    assert_eq!(fs::read(s.path("copy/one")).unwrap(), b"one\n");
    fs::create_dir(s.path("contents")).unwrap();
    d.berth(&["cp", "done:/data/dir/.", &s.arg("contents")])
        .ok();
    assert_eq!(fs::read(s.path("contents/one")).unwrap(), b"one\n");
    assert!(!s.path("contents/dir").exists());
    // A symlink is copied as a symlink, or followed with -L.
    d.berth(&["cp", "done:/data/link", &s.arg("link")]).ok();
    assert_eq!(
        fs::read_link(s.path("link")).unwrap(),
        Path::new("/data/two")
    );
    d.berth(&["cp", "-L", "done:/data/link", &s.arg("followed")])
        .ok();
    assert_eq!(fs::read(s.path("followed")).unwrap(), b"two\n");
    // Docker's refusals.
    let run = d.berth(&["cp", "done:/data/dir", &s.arg("two")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot copy directory"),
        "{}",
        run.stderr
    );
    let run = d.berth(&["cp", "done:/data/two", &s.arg("nodir/")]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
    let run = d.berth(&["cp", "done:/nope", &s.arg("x")]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        "Error response from daemon: Could not find the file /nope in container done"
    );
    let run = d.berth(&["cp", "done:/a", "done:/b"]);
    assert!(run
        .stderr
        .contains("copying between containers is not supported"));
    let run = d.berth(&["cp", "a", "b"]);
    assert!(run
        .stderr
        .contains("must specify at least one container source"));
    assert_no_container_mounts(&d);
}

#[test]
fn cp_with_tar_streams_on_stdin_and_stdout() {
    let d = Daemon::with_busybox();
    d.berth(&["create", "--name", "streams", "busybox", "true"])
        .ok();
    let tar = RawTar::new()
        .entry("in/", tar::EntryType::Directory, "", b"")
        .file("in/streamed", b"from stdin\n")
        .finish();
    let (code, _, stderr) = berth_with_stdin(&d, &["cp", "-", "streams:/tmp"], &tar);
    assert_eq!(code, 0, "{stderr}");
    let out = berth_bytes(&d, &["cp", "streams:/tmp/in", "-"]);
    assert_eq!(tar_names(&out), ["in/", "in/streamed"]);
    assert_eq!(tar_file(&out, "in/streamed").unwrap(), b"from stdin\n");
    // A gzip stream is taken too; stdin needs a directory to go to.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&RawTar::new().file("zipped", b"z").finish())
        .unwrap();
    let (code, _, stderr) =
        berth_with_stdin(&d, &["cp", "-", "streams:/tmp"], &gz.finish().unwrap());
    assert_eq!(code, 0, "{stderr}");
    let out = berth_bytes(&d, &["cp", "streams:/tmp/zipped", "-"]);
    assert_eq!(tar_file(&out, "zipped").unwrap(), b"z");
    let (code, _, stderr) = berth_with_stdin(&d, &["cp", "-", "streams:/tmp/zipped"], &tar);
    assert_eq!(code, 1);
    assert!(stderr.contains("must be a directory"), "{stderr}");
}

#[test]
fn the_stat_header_and_dockers_errors() {
    let d = Daemon::with_busybox();
    d.berth(&[
        "run",
        "--name",
        "st",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "mkdir /d && chmod 1750 /d && ln -s /etc/passwd /pw && touch -d @1700000000 /etc/passwd",
    ])
    .ok();
    let head = d.request("HEAD", "/containers/st/archive?path=/etc/passwd", None);
    assert_eq!(head.status, 200);
    let stat = decode_stat(&head);
    assert_eq!(stat["name"], "passwd");
    assert_eq!(stat["mode"], 0o644);
    assert_eq!(stat["mtime"], "2023-11-14T22:13:20Z");
    assert!(stat["size"].as_i64().unwrap() > 0);
    assert_eq!(stat["linkTarget"], "");
    let dir = decode_stat(&d.request("HEAD", "/containers/st/archive?path=/d/", None));
    assert_eq!(dir["name"], "d");
    assert_eq!(dir["mode"], (1u64 << 31) | (1 << 20) | 0o750);
    let link = decode_stat(&d.request("HEAD", "/containers/st/archive?path=pw", None));
    assert_eq!(link["mode"], (1u64 << 27) | 0o777);
    assert_eq!(link["linkTarget"], "/etc/passwd");
    let get = d.get("/containers/st/archive?path=/etc/passwd");
    assert_eq!(get.status, 200);
    assert_eq!(get.header("Content-Type"), Some("application/x-tar"));
    assert_eq!(decode_stat(&get)["name"], "passwd");
    assert_eq!(tar_names(&get.body), ["passwd"]);

    let missing = d.get("/containers/st/archive?path=/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["message"],
        "Could not find the file /nope in container st"
    );
    assert_eq!(
        d.request("HEAD", "/containers/st/archive?path=/nope", None)
            .status,
        404
    );
    let nobody = d.get("/containers/nobody/archive?path=/");
    assert_eq!(nobody.status, 404);
    assert_eq!(nobody.json()["message"], "No such container: nobody");
    assert_eq!(d.get("/containers/st/archive").status, 400);
    let tar = RawTar::new().file("x", b"x").finish();
    let not_dir = put(&d, "st", "/etc/passwd", &tar);
    assert_eq!(not_dir.status, 400);
    assert_eq!(
        not_dir.json()["message"],
        "extraction point is not a directory"
    );
    assert_eq!(put(&d, "st", "/nope", &tar).status, 404);
    // A directory never replaces a file, nor the reverse.
    let over = put(&d, "st", "/", &RawTar::new().file("d", b"x").finish());
    assert_eq!(over.status, 400, "{}", over.text());
    assert!(
        over.text().contains("cannot overwrite directory"),
        "{}",
        over.text()
    );

    d.berth(&["create", "--name", "ro", "--read-only", "busybox", "true"])
        .ok();
    let ro = put(&d, "ro", "/tmp", &tar);
    assert_eq!(ro.status, 403);
    assert_eq!(ro.json()["message"], "container rootfs is marked read-only");
    assert_no_container_mounts(&d);
}

/// A unique name under the host's `/tmp`, removed again when dropped.
struct HostMarker(PathBuf);

impl HostMarker {
    fn new(tag: &str) -> HostMarker {
        HostMarker(PathBuf::from(format!(
            "/tmp/berth-escape-{tag}-{}",
            std::process::id()
        )))
    }

    fn name(&self) -> String {
        self.0.file_name().unwrap().to_string_lossy().into_owned()
    }
}

impl Drop for HostMarker {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
fn copies_through_container_symlinks_stay_inside_the_container() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    fs::write(s.path("payload"), b"payload\n").unwrap();
    let marker = HostMarker::new("symlink");
    let name = marker.name();
    let setup = "ln -s / /escape && ln -s ../../../../../.. /up && mkdir -p /deep/a/b && ln -s ../../../../../../.. /deep/a/b/up";
    // Stopped (the private overlay) and running (the init's root).
    d.berth(&[
        "run",
        "--name",
        "stopped",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        setup,
    ])
    .ok();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "running",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        &format!("{setup}; exec sleep 600"),
    ])
    .ok();
    for container in ["stopped", "running"] {
        for via in ["/escape/tmp", "/up/tmp", "/deep/a/b/up/tmp"] {
            let dest = format!("{container}:{via}/{name}");
            d.berth(&["cp", &s.arg("payload"), &dest]).ok();
            assert!(!marker.0.exists(), "{dest} reached the host");
        }
        // And out again through the same links: the container's files.
        let out = berth_bytes(&d, &["cp", &format!("{container}:/escape/etc/passwd"), "-"]);
        assert!(String::from_utf8_lossy(&tar_file(&out, "passwd").unwrap()).contains("app:x:1000"));
    }
    let seen = output(d.berth(&["exec", "running", "cat", &format!("/tmp/{name}")]));
    assert_eq!(seen, "payload\n");
    let out = berth_bytes(&d, &["cp", &format!("stopped:/tmp/{name}"), "-"]);
    assert_eq!(tar_file(&out, &name).unwrap(), b"payload\n");
    assert!(!marker.0.exists());
    assert_no_container_mounts(&d);
}

#[test]
fn hostile_archives_write_nothing_outside_the_container() {
    let d = Daemon::with_busybox();
    d.berth(&["create", "--name", "target", "busybox", "true"])
        .ok();
    let marker = HostMarker::new("hostile");
    fs::create_dir(&marker.0).unwrap();
    fs::write(marker.0.join("keep"), b"host\n").unwrap();
    let host_dir = marker.0.display().to_string();
    let refused = [
        RawTar::new()
            .file("../../../../../../../../x", b"x")
            .finish(),
        RawTar::new().file("a/../../x", b"x").finish(),
        RawTar::new().symlink("s", "../../../../../../..").finish(),
        RawTar::new()
            .hardlink("h", "../../../../etc/passwd")
            .finish(),
    ];
    for tar in &refused {
        let reply = put(&d, "target", "/tmp", tar);
        assert_eq!(reply.status, 400, "{}", reply.text());
    }
    // Symlinks to `/` and to the host's directory, then files through
    // them: inside the container those paths are the container's own.
    let through = RawTar::new()
        .symlink("root", "/")
        .file(&format!("root{host_dir}/new"), b"pwned\n")
        .symlink("abs", &host_dir)
        .file("abs/keep", b"pwned\n")
        .finish();
    let reply = put(&d, "target", "/tmp", &through);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(fs::read(marker.0.join("keep")).unwrap(), b"host\n");
    assert_eq!(fs::read_dir(&marker.0).unwrap().count(), 1);
    for name in ["keep", "new"] {
        let out = berth_bytes(&d, &["cp", &format!("target:{host_dir}/{name}"), "-"]);
        assert_eq!(tar_file(&out, name).unwrap(), b"pwned\n");
    }
    assert_no_container_mounts(&d);
}

#[test]
fn cp_into_a_running_container_sees_its_own_mounts() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    fs::write(s.path("f"), b"into tmpfs\n").unwrap();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "live",
        "--network",
        "none",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    d.berth(&["cp", &s.arg("f"), "live:/scratch/f"]).ok();
    assert_eq!(
        output(d.berth(&["exec", "live", "cat", "/scratch/f"])),
        "into tmpfs\n"
    );
    let out = berth_bytes(&d, &["cp", "live:/etc/hostname", "-"]);
    let hostname = output(d.berth(&["exec", "live", "hostname"]));
    assert_eq!(
        String::from_utf8_lossy(&tar_file(&out, "hostname").unwrap()),
        hostname
    );
    // Its /proc and /sys are its own mounts: there, but not read.
    let whole = tar_names(&berth_bytes(&d, &["cp", "live:/", "-"]));
    for expected in ["./", "./etc/passwd", "./proc/", "./sys/", "./scratch/f"] {
        assert!(
            whole.iter().any(|n| n == expected),
            "{expected} in {whole:?}"
        );
    }
    let inside = |n: &&String| {
        (n.starts_with("./proc/") && *n != "./proc/") || (n.starts_with("./sys/") && *n != "./sys/")
    };
    assert_eq!(whole.iter().filter(inside).count(), 0, "{whole:?}");
    d.berth(&["pause", "live"]).ok();
    d.berth(&["cp", &s.arg("f"), "live:/tmp/while-paused"]).ok();
    d.berth(&["unpause", "live"]).ok();
    assert_eq!(
        output(d.berth(&["exec", "live", "cat", "/tmp/while-paused"])),
        "into tmpfs\n"
    );
}

#[test]
fn cp_into_and_out_of_a_stopped_containers_volumes_and_binds() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    fs::write(s.path("f"), b"into the volume\n").unwrap();
    fs::create_dir(s.path("bind")).unwrap();
    fs::create_dir(s.path("device")).unwrap();
    let device = format!("device={}", s.arg("device"));
    d.berth(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "bound",
    ])
    .ok();
    let bind = format!("{}:/bind", s.arg("bind"));
    d.berth(&[
        "run",
        "--name",
        "vols",
        "--network",
        "none",
        "-v",
        "data:/data",
        "-v",
        &bind,
        "-v",
        "bound:/bound",
        "-v",
        "ro:/ro:ro",
        "busybox",
        "true",
    ])
    .ok();
    d.berth(&["cp", &s.arg("f"), "vols:/data/x"]).ok();
    d.berth(&["cp", &s.arg("f"), "vols:/bind/y"]).ok();
    d.berth(&["cp", &s.arg("f"), "vols:/bound/z"]).ok();
    assert_eq!(fs::read(s.path("bind/y")).unwrap(), b"into the volume\n");
    assert_eq!(fs::read(s.path("device/z")).unwrap(), b"into the volume\n");
    let seen = d.berth(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/v",
        "busybox",
        "cat",
        "/v/x",
    ]);
    assert_eq!(output(seen), "into the volume\n");
    // Out again, from the volume and the bind, with berth and docker.
    let out = berth_bytes(&d, &["cp", "vols:/data/x", "-"]);
    assert_eq!(tar_file(&out, "x").unwrap(), b"into the volume\n");
    d.docker(&["cp", "vols:/bind/y", &s.arg("y")]).ok();
    assert_eq!(fs::read(s.path("y")).unwrap(), b"into the volume\n");
    // A read-only volume refuses a copy, as Docker does.
    let run = d.berth(&["cp", &s.arg("f"), "vols:/ro/"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        "Error response from daemon: mounted volume is marked read-only"
    );
    let refused = put(&d, "vols", "/ro", &RawTar::new().file("z", b"z").finish());
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["message"],
        "mounted volume is marked read-only"
    );
    // A container never started: the volume's mountpoint, missing from
    // the image, is made for the copy.
    d.berth(&[
        "create",
        "--name",
        "fresh",
        "-v",
        "data:/new/data",
        "--read-only",
        "busybox",
        "true",
    ])
    .ok();
    let out = berth_bytes(&d, &["cp", "fresh:/new/data/x", "-"]);
    assert_eq!(tar_file(&out, "x").unwrap(), b"into the volume\n");
    // A read-only root still takes a copy into a volume, not beside it.
    d.berth(&["cp", &s.arg("f"), "fresh:/new/data/w"]).ok();
    let run = d.berth(&["cp", &s.arg("f"), "fresh:/tmp/"]);
    assert!(
        run.stderr.contains("container rootfs is marked read-only"),
        "{}",
        run.stderr
    );
    let out = berth_bytes(&d, &["cp", "vols:/data/w", "-"]);
    assert_eq!(tar_file(&out, "w").unwrap(), b"into the volume\n");
    assert_no_container_mounts(&d);
    // Binds and overlays were unmounted one by one, none detached.
    let log = d.log();
    assert!(!log.contains("private overlay busy"), "{log}");
    assert!(!log.contains("detaching a bind"), "{log}");
}

#[test]
fn a_volume_under_a_container_symlink_is_bound_inside_the_container() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    fs::write(s.path("f"), b"payload\n").unwrap();
    let marker = HostMarker::new("volume");
    d.berth(&[
        "run",
        "--name",
        "base",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "ln -s / /escape && ln -s ../../../../../.. /up",
    ])
    .ok();
    d.berth(&["commit", "base", "links"]).ok();
    let host = marker.0.display().to_string();
    let via_root = format!("vol:/escape{host}");
    fs::create_dir(s.path("bind")).unwrap();
    let via_up = format!("{}:/up{host}/up", s.arg("bind"));
    d.berth(&[
        "create", "--name", "linked", "-v", &via_root, "-v", &via_up, "links", "true",
    ])
    .ok();
    d.berth(&["cp", &s.arg("f"), &format!("linked:/escape{host}/f")])
        .ok();
    d.berth(&["cp", &s.arg("f"), &format!("linked:{host}/up/g")])
        .ok();
    assert!(!marker.0.exists(), "{host} made on the host");
    assert_eq!(fs::read(s.path("bind/g")).unwrap(), b"payload\n");
    let seen = d.berth(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "vol:/v",
        "busybox",
        "cat",
        "/v/f",
    ]);
    assert_eq!(output(seen), "payload\n");
    let out = berth_bytes(&d, &["cp", &format!("linked:{host}/f"), "-"]);
    assert_eq!(tar_file(&out, "f").unwrap(), b"payload\n");
    assert!(!marker.0.exists(), "{host} made on the host");
    assert_no_container_mounts(&d);
}

#[test]
fn export_has_the_image_and_the_containers_files() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "exp",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo mine > /root/new && rm /etc/group && exec sleep 600",
    ])
    .ok();
    assert!(berth_tests::eventually(
        std::time::Duration::from_secs(10),
        || d.berth(&["exec", "exp", "test", "-f", "/root/new"]).code == 0
    ));
    d.berth(&["export", "-o", &s.arg("exp.tar"), "exp"]).ok();
    let tar = fs::read(s.path("exp.tar")).unwrap();
    let names = tar_names(&tar);
    for expected in ["bin/busybox", "etc/passwd", "root/new", "proc/", "tmp/"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n == "etc/group"),
        "deleted file exported"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("proc/") && n.len() > 5),
        "proc contents exported"
    );
    assert_eq!(tar_file(&tar, "root/new").unwrap(), b"mine\n");
    // The same through stdout, and with the docker CLI.
    assert_eq!(tar_names(&berth_bytes(&d, &["export", "exp"])), names);
    let docker = d.docker_cmd(&["export", "exp"]).output().unwrap();
    assert!(docker.status.success());
    assert_eq!(tar_names(&docker.stdout), names);
    assert_no_container_mounts(&d);
}

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    let d = Daemon::with_busybox();
    d.berth(&["create", "--name", "clean", "busybox", "true"])
        .ok();
    assert_eq!(d.get("/containers/clean/changes").text().trim(), "null");
    d.berth(&[
        "run", "--name", "changed", "--network", "none", "busybox", "sh", "-c",
        "echo x >> /etc/passwd && rm /etc/group && mkdir -p /var/log/app && echo 1 > /var/log/app/a && echo n > /new",
    ])
    .ok();
    let expected = "C /etc\nD /etc/group\nC /etc/passwd\nA /new\nC /var\nC /var/log\nA /var/log/app\nA /var/log/app/a\n";
    assert_eq!(output(d.berth(&["diff", "changed"])), expected);
    assert_eq!(output(d.docker(&["diff", "changed"])), expected);
    let raw = d.get("/containers/changed/changes").json();
    assert_eq!(raw[0], serde_json::json!({"Path": "/etc", "Kind": 0}));
    assert_eq!(raw[1], serde_json::json!({"Path": "/etc/group", "Kind": 2}));
    assert_eq!(raw[3], serde_json::json!({"Path": "/new", "Kind": 1}));
}

#[test]
fn commit_makes_an_image_with_the_changes_and_the_deletions() {
    let d = Daemon::with_busybox();
    d.berth(&[
        "run",
        "--name",
        "src",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo committed > /x && rm /etc/group",
    ])
    .ok();
    let id = output(d.berth(&[
        "commit",
        "-a",
        "Ann <ann@example.com>",
        "-m",
        "first",
        "src",
        "snap:1",
    ]));
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let run = output(d.berth(&[
        "run", "--rm", "--network", "none", "snap:1", "sh", "-c",
        "cat /x; test -e /etc/group && echo group-back || echo group-gone; test -e /etc/hosts && echo hosts",
    ]));
    assert_eq!(run, "committed\ngroup-gone\nhosts\n");
    let inspect = d.get("/images/snap:1/json").json();
    assert_eq!(inspect["Author"], "Ann <ann@example.com>");
    assert_eq!(inspect["Comment"], "first");
    assert_eq!(inspect["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    let history = d.get("/images/snap:1/history").json();
    assert_eq!(history[0]["Comment"], "first");

    // A change sets the command; with --pause=false the running container
    // is committed as it runs.
    d.berth(&["commit", "-c", r#"CMD ["cat","/x"]"#, "src", "snap:cmd"])
        .ok();
    assert_eq!(
        output(d.berth(&["run", "--rm", "--network", "none", "snap:cmd"])),
        "committed\n"
    );
    d.berth(&[
        "run",
        "-d",
        "--name",
        "live",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo live > /live && exec sleep 600",
    ])
    .ok();
    assert!(berth_tests::eventually(
        std::time::Duration::from_secs(10),
        || d.berth(&["exec", "live", "test", "-f", "/live"]).code == 0
    ));
    d.berth(&["commit", "--pause=false", "live", "snap:live"])
        .ok();
    d.berth(&["commit", "live", "snap:paused"]).ok();
    let state = d.get("/containers/live/json").json();
    assert_eq!(state["State"]["Status"], "running");
    assert_eq!(
        output(d.berth(&[
            "run",
            "--rm",
            "--network",
            "none",
            "snap:paused",
            "cat",
            "/live"
        ])),
        "live\n"
    );
    // An unchanged container adds no layer.
    d.berth(&["create", "--name", "same", "busybox", "true"])
        .ok();
    d.berth(&["commit", "same", "snap:same"]).ok();
    let same = d.get("/images/snap:same/json").json();
    assert_eq!(same["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    // Bad input.
    let run = d.berth(&["commit", "-c", "FROM busybox", "src"]);
    assert!(
        run.stderr.contains("FROM is not a valid change command"),
        "{}",
        run.stderr
    );
    let bad = d.request("POST", "/commit?container=src&repo=Bad", None);
    assert_eq!(bad.status, 400);
    assert_eq!(
        d.request("POST", "/commit?container=nope", None).status,
        404
    );
    assert_no_container_mounts(&d);
}

#[test]
fn the_docker_cli_copies_diffs_exports_and_commits() {
    let d = Daemon::with_busybox();
    let s = Scratch::new();
    fs::write(s.path("in.txt"), b"via docker\n").unwrap();
    fs::create_dir(s.path("dir")).unwrap();
    fs::write(s.path("dir/inner"), b"inner\n").unwrap();
    d.docker(&[
        "create",
        "--name",
        "dk",
        "busybox",
        "sh",
        "-c",
        "cat /in.txt /root/dir/inner",
    ])
    .ok();
    d.docker(&["cp", &s.arg("in.txt"), "dk:/"]).ok();
    d.docker(&["cp", &s.arg("dir"), "dk:/root/"]).ok();
    d.docker(&["cp", "-a", &s.arg("in.txt"), "dk:/kept.txt"])
        .ok();
    assert_eq!(
        output(d.docker(&["start", "-a", "dk"])),
        "via docker\ninner\n"
    );
    d.docker(&["cp", "dk:/root/dir", &s.arg("back")]).ok();
    assert_eq!(fs::read(s.path("back/inner")).unwrap(), b"inner\n");
    d.docker(&["cp", "dk:/in.txt", &s.arg("back/")]).ok();
    assert_eq!(fs::read(s.path("back/in.txt")).unwrap(), b"via docker\n");
    let diff = output(d.docker(&["diff", "dk"]));
    assert_eq!(
        diff,
        "A /in.txt\nA /kept.txt\nC /root\nA /root/dir\nA /root/dir/inner\n"
    );
    let export = d.docker_cmd(&["export", "dk"]).output().unwrap();
    assert!(tar_names(&export.stdout).iter().any(|n| n == "in.txt"));
    let id = output(d.docker(&[
        "commit",
        "-c",
        "CMD [\"cat\",\"/in.txt\"]",
        "dk",
        "dksnap:v1",
    ]));
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(
        output(d.docker(&["run", "--rm", "--network", "none", "dksnap:v1"])),
        "via docker\n"
    );
    let err = d.docker(&["cp", "dk:/missing", &s.arg("x")]);
    assert_ne!(err.code, 0);
    assert!(
        err.stderr
            .contains("Could not find the file /missing in container dk"),
        "{}",
        err.stderr
    );
    assert_no_container_mounts(&d);
}

/// The uid and gid of one tar entry.
fn tar_owner(tar: &[u8], name: &str) -> (u64, u64) {
    let mut archive = tar::Archive::new(tar);
    let entry = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path_bytes().as_ref() == name.as_bytes())
        .unwrap_or_else(|| panic!("no {name} in the archive"));
    (entry.header().uid().unwrap(), entry.header().gid().unwrap())
}

#[test]
fn remapped_containers_copy_export_and_commit_their_own_ids() {
    let _user = RemapUser::before_daemon();
    let d = Daemon::start_with_args(&["--userns-remap", "default"]);
    let (archive, _) = berth_tests::busybox_fixture();
    d.berth(&["load", "-i", archive.to_str().unwrap()]).ok();
    let s = Scratch::new();
    fs::write(s.path("in"), b"in\n").unwrap();
    d.berth(&[
        "run",
        "--name",
        "mapped",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo x > /tmp/mine && chown 1000:1000 /tmp/mine",
    ])
    .ok();
    // Out: the ids the container sees, not the host's.
    let out = berth_bytes(&d, &["cp", "mapped:/tmp/mine", "-"]);
    assert_eq!(tar_owner(&out, "mine"), (1000, 1000));
    let export = berth_bytes(&d, &["export", "mapped"]);
    assert_eq!(tar_owner(&export, "tmp/mine"), (1000, 1000));
    assert_eq!(tar_owner(&export, "etc/passwd"), (0, 0));
    // In: the container's root owns what it did not bring owners for.
    d.berth(&["cp", &s.arg("in"), "mapped:/tmp/in"]).ok();
    d.berth(&["commit", "mapped", "mapped:snap"]).ok();
    let ids = output(d.berth(&[
        "run",
        "--rm",
        "--network",
        "none",
        "mapped:snap",
        "stat",
        "-c",
        "%u:%g %n",
        "/tmp/mine",
        "/tmp/in",
    ]));
    assert_eq!(ids, "1000:1000 /tmp/mine\n0:0 /tmp/in\n");
    assert_no_container_mounts(&d);
}
