//! End-to-end tests of berth-shim + berth-runtime on a busybox root: what a
//! container sees, what lands in its log, and how its start and exit are
//! reported. Run as root.

mod common;

use berth_runtime::{FileBind, NetworkNamespace, StartReport};
use common::{proc_status, wait_exit, Fixture};
use std::time::Duration;

#[test]
fn stdout_and_stderr_land_in_the_json_log_with_their_stream() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sh", "-c", "echo out; echo err >&2; printf tail"]);
    let (code, log) = fx.run(&spec);
    assert_eq!(code, 0);
    let mut log_by_stream = log.clone();
    log_by_stream.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        log_by_stream,
        [
            ("err\n".to_string(), "stderr".to_string()),
            ("out\n".to_string(), "stdout".to_string()),
            ("tail".to_string(), "stdout".to_string()),
        ]
    );
}

#[test]
fn exit_code_is_reported() {
    let fx = Fixture::new();
    let (code, _) = fx.run(&fx.spec("c", &["sh", "-c", "exit 3"]));
    assert_eq!(code, 3);
}

#[test]
fn sigkill_from_outside_is_exit_137_and_the_exit_file_appears() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sleep", "1000"]);
    let (pid, _) = fx.start(&spec);
    std::thread::sleep(Duration::from_millis(100));
    assert!(berth_runtime::read_exit_status(&spec.exit_path)
        .unwrap()
        .is_none());
    let killed_at = std::time::SystemTime::now();
    fx.kill(pid);
    let status = wait_exit(&spec);
    assert_eq!(status.exit_code, 137);
    let killed_nanos = killed_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(status.finished_unix_nanos >= killed_nanos);
    fx.wait_monitors_gone();
}

#[test]
fn missing_command_fails_with_not_found_in_path_127() {
    let fx = Fixture::new();
    let report = fx.launch(&fx.spec("c", &["nosuchcmd", "arg"]));
    assert_eq!(
        report,
        StartReport::Failed {
            message: "exec: \"nosuchcmd\": executable file not found in $PATH".into(),
            exit_code: 127
        }
    );
}

#[test]
fn missing_explicit_path_fails_with_stat_error_127() {
    let fx = Fixture::new();
    let report = fx.launch(&fx.spec("c", &["/x/y"]));
    assert_eq!(
        report,
        StartReport::Failed {
            message: "exec: \"/x/y\": stat /x/y: no such file or directory".into(),
            exit_code: 127
        }
    );
}

#[test]
fn non_executable_file_fails_with_permission_denied_126() {
    let fx = Fixture::new();
    let report = fx.launch(&fx.spec("c", &["/etc/passwd"]));
    assert_eq!(
        report,
        StartReport::Failed {
            message: "exec: \"/etc/passwd\": permission denied".into(),
            exit_code: 126
        }
    );
}

#[test]
fn directory_as_command_fails_with_is_a_directory_126() {
    let fx = Fixture::new();
    let report = fx.launch(&fx.spec("c", &["/etc"]));
    assert_eq!(
        report,
        StartReport::Failed {
            message: "exec: \"/etc\": is a directory".into(),
            exit_code: 126
        }
    );
}

#[test]
fn unknown_user_fails_with_dockers_wording() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["id"]);
    spec.process.user = "ghost".into();
    assert_eq!(
        fx.launch(&spec),
        StartReport::Failed {
            message: "unable to find user ghost: no matching entries in passwd file".into(),
            exit_code: 128
        }
    );
    spec.process.user = "app:ghosts".into();
    assert_eq!(
        fx.launch(&spec),
        StartReport::Failed {
            message: "unable to find group ghosts: no matching entries in group file".into(),
            exit_code: 128
        }
    );
}

#[test]
fn hostname_is_the_specs() {
    let fx = Fixture::new();
    assert_eq!(fx.output(&fx.spec("c", &["hostname"])), "berth-test\n");
}

#[test]
fn the_command_is_pid_1() {
    let fx = Fixture::new();
    assert_eq!(fx.output(&fx.spec("c", &["sh", "-c", "echo $$"])), "1\n");
}

#[test]
fn user_by_name_gets_uid_gid_home_and_supplementary_groups() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sh", "-c", "id -u; id -g; id -G; echo $HOME"]);
    spec.process.user = "app".into();
    assert_eq!(fx.output(&spec), "1000\n1000\n1000 2000\n/home/app\n");
}

#[test]
fn numeric_user_and_group_need_no_passwd_entry() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sh", "-c", "id -u; id -g; id -G; echo $HOME"]);
    spec.process.user = "1000:1000".into();
    assert_eq!(fx.output(&spec), "1000\n1000\n1000\n/home/app\n");
    let mut spec = fx.spec("d", &["sh", "-c", "id -u; id -g; echo $HOME"]);
    spec.process.user = "4242".into();
    assert_eq!(fx.output(&spec), "4242\n0\n/\n");
}

#[test]
fn root_gets_home_slash_root_unless_env_sets_home() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sh", "-c", "id -u; echo $HOME"]);
    assert_eq!(fx.output(&spec), "0\n/root\n");
    let mut spec = fx.spec("d", &["sh", "-c", "echo $HOME"]);
    spec.process.env.push("HOME=/custom".into());
    assert_eq!(fx.output(&spec), "/custom\n");
}

#[test]
fn working_dir_is_created_and_entered_even_for_a_user() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["sh", "-c", "pwd; stat -c '%a %u' ."]);
    spec.process.cwd = "/srv/app/data".into();
    spec.process.user = "app".into();
    assert_eq!(fx.output(&spec), "/srv/app/data\n755 0\n");
}

#[test]
fn environment_is_the_specs() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["env"]);
    spec.process.env.push("GREETING=hello world".into());
    let output = fx.output(&spec);
    let mut vars: Vec<&str> = output.lines().collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            "GREETING=hello world",
            "HOME=/root",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]
    );
}

#[test]
fn writes_stay_in_the_containers_own_upper_layer() {
    let fx = Fixture::new();
    let first = fx.spec(
        "first",
        &["sh", "-c", "echo secret > /data.txt; touch /bin/new"],
    );
    assert_eq!(fx.output(&first), "");
    assert_eq!(
        std::fs::read_to_string(first.rootfs.upper.join("data.txt")).unwrap(),
        "secret\n"
    );
    assert!(!fx.lower.join("data.txt").exists());
    assert!(!fx.lower.join("bin/new").exists());

    let second = fx.spec("second", &["sh", "-c", "ls /data.txt /bin/new 2>&1; true"]);
    let output = fx.output(&second);
    assert!(output.contains("/data.txt: No such file"), "{output}");
    assert!(output.contains("/bin/new: No such file"), "{output}");
}

#[test]
fn a_restarted_container_keeps_its_upper_layer() {
    let fx = Fixture::new();
    let mut spec = fx.spec(
        "c",
        &["sh", "-c", "cat /count 2>/dev/null; echo run >> /count"],
    );
    assert_eq!(fx.output(&spec), "");
    std::fs::remove_file(&spec.exit_path).unwrap();
    std::fs::remove_file(&spec.log_path).unwrap();
    spec.process.args[2] = "cat /count".into();
    assert_eq!(fx.output(&spec), "run\n");
}

#[test]
fn only_loopback_is_visible_and_it_is_up() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags; tail=$(cat /proc/net/dev); echo \"$tail\" | wc -l"]);
    assert_eq!(fx.output(&spec), "lo\n0x9\n3\n");
}

/// A network namespace of the test's own, made on a thread of its own and
/// held by a descriptor.
fn new_netns() -> std::fs::File {
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        std::fs::File::open("/proc/thread-self/ns/net").unwrap()
    })
    .join()
    .unwrap()
}

fn netns_link(path: &str) -> String {
    std::fs::read_link(path).unwrap().display().to_string()
}

#[test]
fn a_joined_network_namespace_is_the_containers_and_is_left_as_it_is() {
    use std::os::fd::AsRawFd;
    let fx = Fixture::new();
    let netns = new_netns();
    let path = format!("/proc/{}/fd/{}", std::process::id(), netns.as_raw_fd());
    let mut spec = fx.spec(
        "c",
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/net; cat /sys/class/net/lo/flags",
        ],
    );
    spec.network = NetworkNamespace::Join(path.clone().into());
    // lo stays down: the daemon, which prepared the namespace, owns it.
    assert_eq!(fx.output(&spec), format!("{}\n0x8\n", netns_link(&path)));
}

#[test]
fn a_missing_network_namespace_fails_the_start() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["true"]);
    spec.network = NetworkNamespace::Join("/nonexistent/netns".into());
    match fx.launch(&spec) {
        StartReport::Failed { message, exit_code } => {
            assert_eq!(exit_code, 128, "{message}");
            assert_eq!(
                message,
                "opening network namespace /nonexistent/netns: no such file or directory"
            );
        }
        started => panic!("{started:?}"),
    }
}

#[test]
fn the_host_network_namespace_is_shared() {
    let fx = Fixture::new();
    let mut spec = fx.spec("c", &["readlink", "/proc/self/ns/net"]);
    spec.network = NetworkNamespace::Host;
    assert_eq!(
        fx.output(&spec),
        format!("{}\n", netns_link("/proc/self/ns/net"))
    );
}

#[test]
fn proc_sys_dev_and_device_nodes_are_mounted() {
    let fx = Fixture::new();
    let spec = fx.spec(
        "c",
        &[
            "sh",
            "-c",
            "cat /proc/self/mountinfo; \
             for d in null zero full random urandom tty; do stat -c '%n %F %a %t,%T' /dev/$d; done; \
             for l in fd stdin stdout stderr ptmx; do echo /dev/$l '->' $(readlink /dev/$l); done; \
             echo x > /dev/null && head -c 3 /dev/zero | wc -c; \
             touch /sys/x 2>/dev/null || echo sys read-only",
        ],
    );
    let output = fx.output(&spec);
    let mounts: Vec<(String, String, String)> = output
        .lines()
        .filter(|l| l.contains(" - "))
        .map(|line| {
            let (left, right) = line.split_once(" - ").unwrap();
            let left: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next().unwrap();
            (left[4].to_owned(), fstype.to_owned(), left[5].to_owned())
        })
        .collect();
    let find = |target: &str| {
        mounts
            .iter()
            .find(|(t, _, _)| t == target)
            .unwrap_or_else(|| panic!("{target} not mounted: {output}"))
    };
    assert_eq!(find("/").1, "overlay");
    assert_eq!(find("/proc").1, "proc");
    assert!(find("/proc").2.contains("nosuid,nodev,noexec"));
    assert_eq!(find("/sys").1, "sysfs");
    assert!(find("/sys").2.starts_with("ro,"));
    assert_eq!(find("/dev").1, "tmpfs");
    assert_eq!(find("/dev/pts").1, "devpts");
    assert_eq!(find("/dev/shm").1, "tmpfs");
    assert_eq!(find("/dev/mqueue").1, "mqueue");
    // Masked and read-only paths under /proc and /sys are tested in
    // security.rs.
    let top_level = mounts
        .iter()
        .filter(|(t, _, _)| !t.starts_with("/proc/") && !t.starts_with("/sys/"))
        .count();
    assert_eq!(top_level, 7, "no host mount is visible: {output}");
    for expected in [
        "/dev/null character special file 666 1,3",
        "/dev/zero character special file 666 1,5",
        "/dev/full character special file 666 1,7",
        "/dev/random character special file 666 1,8",
        "/dev/urandom character special file 666 1,9",
        "/dev/tty character special file 666 5,0",
        "/dev/fd -> /proc/self/fd",
        "/dev/stdin -> /proc/self/fd/0",
        "/dev/stdout -> /proc/self/fd/1",
        "/dev/stderr -> /proc/self/fd/2",
        "/dev/ptmx -> pts/ptmx",
        "3",
        "sys read-only",
    ] {
        assert!(
            output.lines().any(|l| l == expected),
            "missing {expected:?} in {output}"
        );
    }
}

#[test]
fn file_binds_cover_existing_and_missing_destinations() {
    let fx = Fixture::new();
    let hosts = fx.dir.path().join("hosts");
    let resolv = fx.dir.path().join("resolv.conf");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    std::fs::write(&resolv, "nameserver 192.0.2.1\n").unwrap();
    let mut spec = fx.spec(
        "c",
        &["sh", "-c", "cat /etc/passwd /etc/new/dir/resolv.conf"],
    );
    spec.file_binds = vec![
        FileBind {
            source: hosts.clone(),
            destination: "/etc/passwd".into(),
        },
        FileBind {
            source: resolv,
            destination: "/etc/new/dir/resolv.conf".into(),
        },
    ];
    assert_eq!(
        fx.output(&spec),
        "127.0.0.1 localhost\nnameserver 192.0.2.1\n"
    );
}

#[test]
fn file_binds_follow_symlinks_inside_the_container() {
    let fx = Fixture::new();
    let etc = fx.lower.join("etc");
    std::os::unix::fs::symlink("../run/resolve/stub.conf", etc.join("resolv.conf")).unwrap();
    std::fs::write(etc.join("hosts.real"), "image hosts\n").unwrap();
    std::os::unix::fs::symlink("/etc/hosts.real", etc.join("hosts")).unwrap();
    let source = fx.dir.path().join("bound");
    std::fs::write(&source, "bound\n").unwrap();
    let mut spec = fx.spec(
        "c",
        &[
            "cat",
            "/etc/resolv.conf",
            "/run/resolve/stub.conf",
            "/etc/hosts",
            "/etc/hosts.real",
        ],
    );
    spec.file_binds = ["/etc/resolv.conf", "/etc/hosts"]
        .iter()
        .map(|destination| FileBind {
            source: source.clone(),
            destination: destination.to_string(),
        })
        .collect();
    assert_eq!(fx.output(&spec), "bound\n".repeat(4));
    assert_eq!(
        std::fs::read_to_string(etc.join("hosts.real")).unwrap(),
        "image hosts\n"
    );
}

#[test]
fn no_mount_leaks_to_the_host_while_running_or_after() {
    let fx = Fixture::new();
    let marker = fx.dir.path().to_string_lossy().into_owned();
    let host_mounts = || std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let spec = fx.spec("c", &["sleep", "1000"]);
    let (pid, _) = fx.start(&spec);
    assert!(!host_mounts().contains(&marker));
    let container_mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(container_mounts.contains(" /proc "), "{container_mounts}");
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
    fx.wait_monitors_gone();
    assert!(!host_mounts().contains(&marker));
}

#[test]
fn the_monitor_and_the_container_are_detached_in_sessions_of_their_own() {
    let fx = Fixture::new();
    let spec = fx.spec("c", &["sleep", "1000"]);
    let (pid, shim_pid) = fx.start(&spec);
    let me = std::process::id().to_string();
    assert_ne!(proc_status(shim_pid, "PPid").unwrap(), me);
    let stat = std::fs::read_to_string(format!("/proc/{shim_pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[3],
        shim_pid.to_string(),
        "session id is the monitor's pid"
    );
    assert_eq!(proc_status(pid, "PPid").unwrap(), shim_pid.to_string());
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[3],
        pid.to_string(),
        "the container has a session of its own"
    );
    assert!(berth_runtime::shim_alive(shim_pid, &spec.id));
    assert!(!berth_runtime::shim_alive(
        shim_pid,
        "0123456789abcdef-other"
    ));

    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{shim_pid}/fd"))
        .unwrap()
        .map(|e| {
            std::fs::read_link(e.unwrap().path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        fds.iter().filter(|t| *t == "/dev/null").count(),
        3,
        "{fds:?}"
    );
    assert!(fds.iter().all(|t| !t.contains("spec.json")), "{fds:?}");
    fx.kill(pid);
    wait_exit(&spec);
    fx.wait_monitors_gone();
    assert!(!berth_runtime::shim_alive(shim_pid, &spec.id));
}

#[test]
fn the_command_inherits_no_descriptors_and_default_signal_state() {
    let fx = Fixture::new();
    assert_eq!(
        fx.output(&fx.spec("c", &["ls", "/proc/self/fd"])),
        "0\n1\n2\n3\n"
    );
    let status = fx.output(&fx.spec("d", &["cat", "/proc/self/status"]));
    for field in ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"] {
        assert!(status.lines().any(|l| l == field), "{field} in {status}");
    }
}

#[test]
fn stdin_is_dev_null_unless_kept_open() {
    let fx = Fixture::new();
    assert_eq!(fx.output(&fx.spec("c", &["cat"])), "");

    let mut spec = fx.spec("d", &["cat"]);
    spec.process.open_stdin = true;
    let (pid, _) = fx.start(&spec);
    std::thread::sleep(Duration::from_millis(200));
    assert!(berth_runtime::read_exit_status(&spec.exit_path)
        .unwrap()
        .is_none());
    fx.kill(pid);
    assert_eq!(wait_exit(&spec).exit_code, 137);
}

/// Volume and line splitting through the real pipes; the throughput figures
/// (50 MB, release build) are measured separately, as a debug build is slow.
#[test]
fn ten_megabytes_and_a_hundred_thousand_lines_are_logged_whole() {
    let fx = Fixture::new();
    let spec = fx.spec(
        "c",
        &[
            "sh",
            "-c",
            "head -c 10000000 /dev/zero | tr '\\0' 'x'; echo; head -c 100000 /dev/zero | tr '\\0' '\\n'",
        ],
    );
    let (code, log) = fx.run(&spec);
    assert_eq!(code, 0);
    let bytes: usize = log.iter().map(|(l, _)| l.len()).sum();
    assert_eq!(bytes, 10_000_000 + 1 + 100_000);
    assert_eq!(log.len(), 10_000_000 / 16384 + 1 + 100_000);
    assert!(log.iter().all(|(l, s)| l.len() <= 16384 && s == "stdout"));
}
