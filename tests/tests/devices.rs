//! Device access as Docker sets it up: every container gets the default
//! device cgroup rules (the standard nodes work; a node it makes for a host
//! disk cannot be opened), `--device-cgroup-rule` and `--privileged` widen
//! them, and a `--device` that does not exist is refused at create.
//!
//! The containers make their own nodes with `mknod` (they hold CAP_MKNOD,
//! and the rules allow creating any node): what is tested is the cgroup.

use berth_tests::Daemon;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

/// A block device of this host that this test process (root) can open:
/// a whole disk if possible, else zram, loop, ... (on some hosts even root
/// may not open the system disk). Only ever opened, never read from or
/// written to by the host; containers read at most one byte.
struct Disk {
    path: PathBuf,
    major: u32,
    minor: u32,
}

fn a_disk() -> Option<Disk> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| {
        let virtual_disk = ["loop", "ram", "zram", "nbd"]
            .iter()
            .any(|p| n.starts_with(p));
        (virtual_disk, n.clone())
    });
    names.into_iter().find_map(|name| {
        let path = PathBuf::from("/dev").join(name);
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.file_type().is_block_device() || std::fs::File::open(&path).is_err() {
            return None;
        }
        Some(Disk {
            major: libc::major(meta.rdev()),
            minor: libc::minor(meta.rdev()),
            path,
        })
    })
}

/// `docker run --rm --network none [args] busybox sh -c SCRIPT`: exit code
/// and stdout followed by stderr.
fn run(d: &Daemon, args: &[&str], script: &str) -> (i32, String) {
    let mut argv = vec!["run", "--rm", "--network", "none"];
    argv.extend_from_slice(args);
    argv.extend(["busybox", "sh", "-c", script]);
    let r = d.docker(&argv);
    (r.code, format!("{}{}", r.stdout, r.stderr))
}

#[test]
fn a_default_container_cannot_open_a_host_disk_node_it_makes() {
    let Some(disk) = a_disk() else {
        eprintln!("skipped: no block device this host lets root open");
        return;
    };
    let d = Daemon::with_busybox();
    let script = format!(
        "head -c1 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; \
         mknod /tmp/disk b {} {} && echo mknod-ok; head -c1 /tmp/disk; echo read=$?",
        disk.major, disk.minor
    );
    let (code, out) = run(&d, &[], &script);
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().any(|l| l.trim() == "1"), "/dev/zero: {out}");
    assert!(out.contains("null-ok") && out.contains("mknod-ok"), "{out}");
    assert!(
        out.contains("read=1"),
        "{} was readable: {out}",
        disk.path.display()
    );
    assert!(
        out.contains("/tmp/disk: Operation not permitted"),
        "refused by the device cgroup: {out}"
    );
}

#[test]
fn a_device_cgroup_rule_lets_the_container_read_that_disk_and_no_more() {
    let Some(disk) = a_disk() else {
        eprintln!("skipped: no block device this host lets root open");
        return;
    };
    let d = Daemon::with_busybox();
    let rule = format!("b {}:{} r", disk.major, disk.minor);
    // `<>` opens read-write without writing anything.
    let script = format!(
        "mknod /tmp/disk b {} {} && head -c1 /tmp/disk >/dev/null; echo read=$?; \
         true <> /tmp/disk; echo rw=$?",
        disk.major, disk.minor
    );
    let (code, out) = run(&d, &["--device-cgroup-rule", &rule], &script);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("read=0"), "{rule} should allow reading: {out}");
    assert!(out.contains("rw=1"), "{rule} must not allow writing: {out}");
    assert!(out.contains("Operation not permitted"), "{out}");
}

#[test]
fn a_privileged_container_may_open_any_device() {
    let Some(disk) = a_disk() else {
        eprintln!("skipped: no block device this host lets root open");
        return;
    };
    let d = Daemon::with_busybox();
    let script = format!(
        "mknod /tmp/disk b {} {} && head -c1 /tmp/disk >/dev/null; echo read=$?",
        disk.major, disk.minor
    );
    let (code, out) = run(&d, &["--privileged"], &script);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("read=0"), "{out}");
}

#[test]
fn the_v1_devices_cgroup_holds_dockers_list() {
    let root = PathBuf::from("/sys/fs/cgroup/devices");
    if !root.join("devices.list").exists() {
        eprintln!("skipped: no v1 devices controller (the v2 lane covers the eBPF program)");
        return;
    }
    let d = Daemon::with_busybox();
    let list = |args: &[&str]| {
        let mut argv = vec!["run", "-d", "--network", "none"];
        argv.extend_from_slice(args);
        argv.extend(["busybox", "sleep", "300"]);
        let id = d.docker(&argv).ok().stdout.trim().to_string();
        let file = root.join(d.cgroup_parent()).join(&id).join("devices.list");
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        d.docker(&["rm", "-f", &id]).ok();
        assert!(!file.exists(), "the cgroup outlived its container");
        text
    };
    let default = list(&[]);
    for want in [
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 5:2 rwm",
        "c 136:* rwm",
        "c *:* m",
        "b *:* m",
    ] {
        assert!(default.lines().any(|l| l == want), "{want} in {default}");
    }
    assert!(!default.contains("a *:* rwm"), "{default}");
    let with_rule = list(&["--device-cgroup-rule", "b 7:* r"]);
    assert!(with_rule.lines().any(|l| l == "b 7:* r"), "{with_rule}");
    assert_eq!(list(&["--privileged"]).trim(), "a *:* rwm");
}

#[test]
fn a_missing_device_is_refused_at_create_in_dockers_words() {
    let d = Daemon::with_busybox();
    let message = "error gathering device information while adding custom device \"/dev/nope\": no such file or directory";
    // Exit codes are the docker CLI's own: `create` exits 1 on any daemon
    // error; `run` exits 125, except 127 when the message says "no such
    // file or directory", as this one (moby's wording) does.
    let r = d.docker(&[
        "create",
        "--network",
        "none",
        "--device",
        "/dev/nope",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(message), "{}", r.stderr);
    let r = d.docker(&["run", "--rm", "--device", "/dev/nope", "busybox", "true"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(r.stderr.contains(message), "{}", r.stderr);
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["true"],
        "HostConfig": {"NetworkMode": "none", "Devices": [{"PathOnHost": "/dev/nope", "PathInContainer": "/dev/nope", "CgroupPermissions": "rwm"}]},
    });
    let r = d.post_json("/containers/create", &body);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["message"], message);
    let body = serde_json::json!({
        "Image": "busybox",
        "Cmd": ["true"],
        "HostConfig": {"NetworkMode": "none", "DeviceCgroupRules": ["c 1:3"]},
    });
    let r = d.post_json("/containers/create", &body);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "invalid device cgroup rule format: 'c 1:3'"
    );
    assert!(
        d.container_ids().is_empty(),
        "a refused create left a container"
    );
}
