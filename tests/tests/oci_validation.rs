//! The OCI runtime-tools conformance checker, `runtimetest`, run inside
//! Berth containers. It reads an OCI `config.json` and checks, as TAP, that
//! the container it runs in matches it. Each test creates a container with
//! the real `docker` CLI, writes the `config.json` Docker would give a
//! container made with the same options (moby's `oci/defaults.go` and
//! `daemon/oci_linux.go`, as runc then applies it), and runs `runtimetest`
//! from a read-only bind mount against it. Every check must pass, except
//! the few in [`NOT_APPLICABLE`].
//!
//! `runtimetest` is built once per run from `tests/third_party/runtime-tools`
//! (Go, offline, `build.sh`) into the cargo target directory.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use berth_tests::{bin_dir, busybox_fixture, Daemon, RemapUser, Run};
use serde_json::{json, Value};

/// Checks whose failure says nothing about Berth, with the reason. Matched
/// against the whole TAP description.
const NOT_APPLICABLE: &[(&str, &str)] = &[(
    "has expected soft RLIMIT_NOFILE",
    "the Go runtime (1.19 and later) raises its own soft RLIMIT_NOFILE to the \
     hard limit at start, so runtimetest reads the hard one; `ulimit_nofile` \
     checks the soft limit from a shell instead",
)];

/// Capability names by number, as runtimetest spells them (its capability
/// library knows these 41, up to CAP_CHECKPOINT_RESTORE).
const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// moby's `caps.DefaultCapabilities()`.
const DOCKER_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// moby's default masked paths (the per-CPU `thermal_throttle` entries it
/// adds where they exist are added by [`docker_spec`]).
const DOCKER_MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

const DOCKER_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the bundle directory appears in the container.
const BUNDLE: &str = "/oci";

/// The container's command: runtimetest reading `/oci/config.json`,
/// reporting failures of every RFC 2119 level (at the default "must" level
/// a failed SHOULD or MAY check is printed as a skip).
const COMMAND: [&str; 5] = [
    "/oci/runtimetest",
    "--path",
    BUNDLE,
    "--compliance-level",
    "may",
];

/// `runtimetest`, built once per test process.
fn runtimetest() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let out = bin_dir().join("oci-runtimetest");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("third_party/runtime-tools/build.sh");
        let run = Run::from_command(Command::new("bash").arg(&script).arg(&out));
        assert_eq!(
            run.code, 0,
            "building runtimetest failed (is golang-go installed?):\n{}{}",
            run.stdout, run.stderr
        );
        out.join("runtimetest")
    })
}

/// The bits of `/proc/self/status` `Cap<field>:` as capability names.
fn own_capabilities(field: &str) -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("Cap{field}:")))
        .unwrap()
        .trim();
    let mask = u64::from_str_radix(hex, 16).unwrap();
    CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// Whether `/sys/fs/cgroup` is the cgroup v2 hierarchy itself.
fn unified_cgroups() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// What Docker gives `docker run -v BUNDLE:/oci:ro busybox COMMAND` as
/// root on the default bridge network, with `id` for the container's id.
fn docker_spec(id: &str, bundle: &Path) -> Value {
    let hostname = &id[..12];
    // runc turns the "cgroup" mount of Docker's config into a read-only
    // cgroup2 mount ("cgroup") on a cgroup v2 host and a tmpfs ("tmpfs")
    // holding the v1 hierarchies otherwise.
    let (cgroup_type, cgroup_source) = if unified_cgroups() {
        ("cgroup2", "cgroup")
    } else {
        ("tmpfs", "tmpfs")
    };
    let mut masked: Vec<String> = DOCKER_MASKED_PATHS.iter().map(|p| p.to_string()).collect();
    let cpus = std::fs::read_dir("/sys/devices/system/cpu").unwrap();
    for cpu in cpus.flatten() {
        let throttle = cpu.path().join("thermal_throttle");
        let name = cpu.file_name().to_string_lossy().into_owned();
        if name.starts_with("cpu") && name[3..].parse::<u32>().is_ok() && throttle.exists() {
            masked.push(throttle.to_string_lossy().into_owned());
        }
    }
    // runc skips a read-only path the kernel does not have (this one may
    // lack /proc/sysrq-trigger); runtimetest stops at one.
    let readonly: Vec<&str> = DOCKER_READONLY_PATHS
        .into_iter()
        .filter(|p| Path::new(p).exists())
        .collect();
    json!({
        "ociVersion": "1.1.0",
        "process": {
            "terminal": false,
            // getUser: the primary group is always among the additional
            // ones; root is in no other group of the image's /etc/group.
            "user": {"uid": 0, "gid": 0, "additionalGids": [0]},
            "args": COMMAND,
            // CreateDaemonEnvironment's PATH and HOSTNAME (the image sets
            // the same PATH), and the HOME runc sets from /etc/passwd.
            "env": [DEFAULT_PATH, format!("HOSTNAME={hostname}"), "HOME=/root"],
            "cwd": "/",
            "capabilities": {
                "bounding": DOCKER_CAPABILITIES,
                "effective": DOCKER_CAPABILITIES,
                "permitted": DOCKER_CAPABILITIES,
            },
            "noNewPrivileges": false,
            "oomScoreAdj": 0,
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": hostname,
        // DefaultLinuxSpec's mounts, then the container's own sorted by
        // depth (binds and volumes before /etc/resolv.conf, /etc/hostname
        // and /etc/hosts). Binds are written without `"type": "bind"`
        // (the same mount to a runtime: the options say bind), which
        // runtimetest cannot check yet; the sources of Docker's own files
        // are paths in its data root, so they are left out.
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": cgroup_type, "source": cgroup_source,
             "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
            {"destination": BUNDLE, "source": bundle, "options": ["rbind", "ro", "rprivate"]},
            {"destination": "/etc/resolv.conf", "options": ["rbind", "rprivate"]},
            {"destination": "/etc/hostname", "options": ["rbind", "rprivate"]},
            {"destination": "/etc/hosts", "options": ["rbind", "rprivate"]},
        ],
        "linux": {
            // Set for every container with a network namespace of its own.
            // The kernel prints ping_group_range with a tab; runtimetest
            // compares the text.
            "sysctl": {
                "net.ipv4.ip_unprivileged_port_start": "0",
                "net.ipv4.ping_group_range": "0\t2147483647",
            },
            "maskedPaths": masked,
            "readonlyPaths": readonly,
            "devices": [],
        },
    })
}

/// Sets `KEY=value` in the spec's environment, as Docker's
/// ReplaceOrAppendEnvValues.
fn set_env(spec: &mut Value, entry: &str) {
    let key = entry.split('=').next().unwrap();
    let env = spec["process"]["env"].as_array_mut().unwrap();
    match env
        .iter_mut()
        .find(|e| e.as_str().unwrap().split('=').next() == Some(key))
    {
        Some(existing) => *existing = json!(entry),
        None => env.push(json!(entry)),
    }
}

/// The host's device nodes as containerd's `HostDevices()` lists them for a
/// privileged container: every character and block device under /dev,
/// recursively, but not in pts, shm, fd, mqueue, .lxc, .lxd-mounts or .udev,
/// and not a file named console.
fn host_devices(dir: &Path, out: &mut Vec<Value>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            let skipped = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
            if !skipped.contains(&name.as_str()) {
                host_devices(&path, out);
            }
            continue;
        }
        if name == "console" {
            continue;
        }
        let device_type = if kind.is_char_device() {
            "c"
        } else if kind.is_block_device() {
            "b"
        } else {
            continue;
        };
        out.push(json!({
            "path": path,
            "type": device_type,
            "major": libc::major(meta.rdev()),
            "minor": libc::minor(meta.rdev()),
            "fileMode": meta.mode() & 0o7777,
            "uid": meta.uid(),
            "gid": meta.gid(),
        }));
    }
}

/// One check's result line, with the YAML block runtimetest printed after
/// it.
struct Check {
    ok: bool,
    skip: bool,
    todo: bool,
    description: String,
    line: String,
    details: String,
}

/// Parses runtimetest's TAP output; panics unless it ran to its plan.
fn parse_tap(run: &Run) -> Vec<Check> {
    let output = &run.stdout;
    let mut checks: Vec<Check> = Vec::new();
    let mut plan = None;
    for line in output.lines() {
        if let Some(count) = line.strip_prefix("1..") {
            plan = count.trim().parse::<usize>().ok();
            continue;
        }
        let (ok, rest) = if let Some(rest) = line.strip_prefix("ok ") {
            (true, rest)
        } else if let Some(rest) = line.strip_prefix("not ok ") {
            (false, rest)
        } else {
            if line.starts_with("  ") {
                if let Some(last) = checks.last_mut() {
                    last.details.push_str(line);
                    last.details.push('\n');
                }
            }
            continue;
        };
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        let (skip, todo, description) = if let Some(d) = rest.strip_prefix(" # SKIP ") {
            (true, false, d)
        } else if let Some(d) = rest.strip_prefix(" # TODO ") {
            (false, true, d)
        } else {
            (false, false, rest.strip_prefix(" - ").unwrap_or(rest))
        };
        checks.push(Check {
            ok,
            skip,
            todo,
            description: description.to_owned(),
            line: line.to_owned(),
            details: String::new(),
        });
    }
    assert_eq!(
        plan,
        Some(checks.len()),
        "runtimetest did not run to the end (exit {}):\n{output}\nstderr:\n{}",
        run.code,
        run.stderr
    );
    checks
}

/// Creates a container with `flags`, writes Docker's `config.json` for it
/// (the defaults of [`docker_spec`] changed by `adjust`), runs runtimetest
/// in it and asserts that every applicable check passed. Returns the daemon
/// for further checks.
fn validate(name: &str, flags: &[&str], adjust: impl FnOnce(&mut Value)) -> Daemon {
    validate_on(Daemon::with_busybox(), name, flags, adjust)
}

/// [`validate`] on the daemon `d`, which has the busybox image.
fn validate_on(d: Daemon, name: &str, flags: &[&str], adjust: impl FnOnce(&mut Value)) -> Daemon {
    let tester = runtimetest();
    let bundle = tempfile::Builder::new()
        .prefix("berth-oci-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(bundle.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(tester, bundle.path().join("runtimetest")).unwrap();

    let volume = format!("{}:{BUNDLE}:ro", bundle.path().display());
    let mut args = vec!["create", "--name", name, "-v", &volume];
    args.extend(flags);
    args.push("busybox");
    args.extend(COMMAND);
    let id = d.docker(&args).ok().stdout.trim().to_owned();

    let mut spec = docker_spec(&id, bundle.path());
    adjust(&mut spec);
    let config = bundle.path().join("config.json");
    std::fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    let run = d.docker(&["start", "-a", name]);
    d.docker(&["rm", name]).ok();
    let checks = parse_tap(&run);

    let passed = checks.iter().filter(|c| c.ok && !c.skip).count();
    let skipped = checks.iter().filter(|c| c.skip).count();
    let mut failed = Vec::new();
    let mut waived = Vec::new();
    for check in checks.iter().filter(|c| !c.ok && !c.todo) {
        match NOT_APPLICABLE
            .iter()
            .find(|(description, _)| *description == check.description)
        {
            Some((_, reason)) => waived.push(format!("{} ({reason})", check.line)),
            None => failed.push(format!("{}\n{}", check.line, check.details)),
        }
    }
    println!(
        "{name}: {} checks, {passed} passed, {skipped} skipped, {} failed, {} not applicable",
        checks.len(),
        failed.len(),
        waived.len()
    );
    for line in &waived {
        println!("  not applicable: {line}");
    }
    assert!(
        failed.is_empty(),
        "{name}: {} of {} runtimetest checks failed:\n{}\nconfig.json:\n{}\nstderr:\n{}",
        failed.len(),
        checks.len(),
        failed.join(""),
        serde_json::to_string_pretty(&spec).unwrap(),
        run.stderr
    );
    d
}

#[test]
fn docker_defaults() {
    validate("oci-defaults", &[], |_| {});
}

#[test]
fn cap_drop_all_cap_add_net_admin() {
    validate(
        "oci-caps",
        &["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"],
        |spec| {
            spec["process"]["capabilities"] = json!({
                "bounding": ["CAP_NET_ADMIN"],
                "effective": ["CAP_NET_ADMIN"],
                "permitted": ["CAP_NET_ADMIN"],
            });
        },
    );
}

#[test]
fn read_only_root_with_tmpfs() {
    validate(
        "oci-read-only",
        &["--read-only", "--tmpfs", "/tmp"],
        |spec| {
            spec["root"]["readonly"] = json!(true);
            let mounts = spec["mounts"].as_array_mut().unwrap();
            // Tmpfs mounts come before binds of the same depth.
            let bind = mounts
                .iter()
                .position(|m| m["destination"] == BUNDLE)
                .unwrap();
            mounts.insert(
                bind,
                json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                       "options": ["noexec", "nosuid", "nodev", "rprivate"]}),
            );
            // With a read-only root Docker's own files are read-only too.
            for m in mounts.iter_mut() {
                if m["destination"].as_str().unwrap().starts_with("/etc/") {
                    m["options"] = json!(["rbind", "ro", "rprivate"]);
                }
            }
        },
    );
}

#[test]
fn user_workdir_env_hostname() {
    validate(
        "oci-user",
        &[
            "--user",
            "1000:1000",
            "-w",
            "/some/dir",
            "-e",
            "FOO=bar",
            "--hostname",
            "h1",
        ],
        |spec| {
            // With an explicit group, /etc/group adds no other group.
            spec["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1000]});
            // Docker's config asks for the default set in every set, but
            // execve as a non-root user clears the permitted and effective
            // sets (moby/containerd leave that to the kernel): only the
            // bounding set remains.
            spec["process"]["capabilities"] = json!({
                "bounding": DOCKER_CAPABILITIES,
                "effective": [],
                "permitted": [],
            });
            spec["process"]["cwd"] = json!("/some/dir");
            spec["hostname"] = json!("h1");
            set_env(spec, "HOSTNAME=h1");
            // runc's HOME for uid 1000, "app" in the image's /etc/passwd.
            set_env(spec, "HOME=/home/app");
            set_env(spec, "FOO=bar");
        },
    );
}

#[test]
fn ulimit_nofile() {
    let flags = ["--ulimit", "nofile=1024:2048"];
    let d = validate("oci-ulimit", &flags, |spec| {
        spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]);
    });
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(flags);
    args.extend(["busybox", "sh", "-c", "ulimit -Sn; ulimit -Hn"]);
    assert_eq!(d.docker(&args).ok().stdout, "1024\n2048\n");
}

#[test]
fn no_new_privileges() {
    validate(
        "oci-no-new-privs",
        &["--security-opt", "no-new-privileges"],
        |spec| {
            spec["process"]["noNewPrivileges"] = json!(true);
        },
    );
}

#[test]
fn sysctls() {
    // A new network namespace inherits ip_forward from the host's (often
    // 1 already), so a second one whose value differs from the kernel's
    // default shows whether --sysctl is applied at all.
    validate(
        "oci-sysctl",
        &[
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "net.ipv4.tcp_keepalive_time=600",
        ],
        |spec| {
            spec["linux"]["sysctl"]["net.ipv4.ip_forward"] = json!("1");
            spec["linux"]["sysctl"]["net.ipv4.tcp_keepalive_time"] = json!("600");
        },
    );
}

#[test]
fn privileged() {
    validate("oci-privileged", &["--privileged"], |spec| {
        // Every capability. Docker asks for every one the kernel knows, and
        // runc cannot start it where the host withholds one from the
        // bounding set; Berth gives those it has, so expect this process's
        // bounding set (berthd's, started by it).
        let all = own_capabilities("Bnd");
        spec["process"]["capabilities"] = json!({
            "bounding": all,
            "effective": all,
            "permitted": all,
        });
        let linux = spec["linux"].as_object_mut().unwrap();
        linux.remove("maskedPaths");
        linux.remove("readonlyPaths");
        let mut devices = Vec::new();
        host_devices(Path::new("/dev"), &mut devices);
        // runc makes /dev/ptmx the symlink to pts/ptmx whatever the
        // config lists (checked among the default devices and symlinks).
        devices.retain(|d| d["path"] != "/dev/ptmx");
        linux.insert("devices".into(), json!(devices));
        for m in spec["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/sys" {
                m["options"] = json!(["nosuid", "noexec", "nodev"]);
            }
            if m["destination"] == "/sys/fs/cgroup" {
                m["options"] = json!(["nosuid", "noexec", "nodev"]);
            }
        }
    });
}

#[test]
fn remapped_user_namespace() {
    let _user = RemapUser::before_daemon();
    let d = Daemon::start_with_args(&["--userns-remap", "default"]);
    let (archive, _) = busybox_fixture();
    d.berth(&["load", "-i", archive.to_str().unwrap()]).ok();
    // The remap user's first subordinate ranges, all of which dockerd maps.
    let ranges = |file: &str| -> Vec<Value> {
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{}:", RemapUser::NAME)))
            .scan(0u64, |container, range| {
                let (host, size) = range.split_once(':').unwrap();
                let (host, size): (u64, u64) = (host.parse().unwrap(), size.parse().unwrap());
                let mapping = json!({"containerID": *container, "hostID": host, "size": size});
                *container += size;
                Some(mapping)
            })
            .collect()
    };
    validate_on(d, "oci-remapped", &[], |spec| {
        spec["linux"]["uidMappings"] = json!(ranges("/etc/subuid"));
        spec["linux"]["gidMappings"] = json!(ranges("/etc/subgid"));
        // dockerd leaves ping_group_range out with a user namespace. Berth
        // sets it still (the container's network namespace belongs to the
        // host's user namespace, where its NET_RAW does not count; see
        // docs/security.md), and the container reads the host's gids
        // through its own maps (65534, unmapped): not Docker's config.
        let sysctl = spec["linux"]["sysctl"].as_object_mut().unwrap();
        sysctl.remove("net.ipv4.ping_group_range");
    });
}
