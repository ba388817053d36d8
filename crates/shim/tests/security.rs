//! What a container may do: capabilities, no_new_privs, seccomp, rlimits,
//! OOM score, extra groups, masked and read-only paths, read-only root,
//! tmpfs mounts and extra device nodes, on real containers (busybox root).
//! Run as root.

mod common;

use berth_runtime::{
    all_capabilities, ContainerSpec, DeviceNode, FileBind, Rlimit, StartReport, TmpfsMount,
};
use common::Fixture;

/// Applets these tests use beyond the fixture's own.
const EXTRA_APPLETS: &[&str] = &["grep", "df", "mount", "ls"];

/// Docker's 14 default capabilities as /proc/self/status shows them.
const DEFAULT_CAPS: &str = "00000000a80425fb";

fn fixture() -> Fixture {
    Fixture::with_applets(EXTRA_APPLETS)
}

/// The `Cap*` lines of /proc/self/status as "Inh Prm Eff Bnd Amb".
fn capability_masks(fx: &Fixture, mut spec: ContainerSpec) -> String {
    spec.process.args = ["sh", "-c", "grep ^Cap /proc/self/status"]
        .map(String::from)
        .to_vec();
    fx.output(&spec)
        .lines()
        .map(|line| line.split_whitespace().nth(1).unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A field of this (the test's) process's /proc/self/status.
fn own_status(field: &str) -> String {
    common::proc_status(std::process::id() as i32, field).unwrap()
}

#[test]
fn root_gets_dockers_default_capabilities_and_nothing_inheritable() {
    let fx = fixture();
    let spec = fx.shell("");
    assert_eq!(
        capability_masks(&fx, spec),
        format!("0000000000000000 {DEFAULT_CAPS} {DEFAULT_CAPS} {DEFAULT_CAPS} 0000000000000000")
    );
}

#[test]
fn another_user_keeps_only_the_bounding_set() {
    let fx = fixture();
    for user in ["app", "1000:1000", "4242"] {
        let mut spec = fx.shell("");
        spec.process.user = user.into();
        assert_eq!(
            capability_masks(&fx, spec),
            format!("0000000000000000 0000000000000000 0000000000000000 {DEFAULT_CAPS} 0000000000000000"),
            "{user}"
        );
    }
    let mut spec = fx.shell("");
    spec.process.user = "0:1000".into();
    assert!(capability_masks(&fx, spec).starts_with(&format!("0000000000000000 {DEFAULT_CAPS}")));
}

#[test]
fn the_capability_list_is_the_bounding_permitted_and_effective_set() {
    let fx = fixture();
    let mut spec = fx.shell("");
    spec.security.capabilities = vec!["CAP_KILL".into(), "CAP_NET_ADMIN".into()];
    let kill_net_admin = format!("{:016x}", 1u64 << 5 | 1 << 12);
    assert_eq!(
        capability_masks(&fx, spec),
        format!(
            "0000000000000000 {kill_net_admin} {kill_net_admin} {kill_net_admin} 0000000000000000"
        )
    );
    let mut spec = fx.shell("");
    spec.security.capabilities.clear();
    assert_eq!(
        capability_masks(&fx, spec),
        ["0000000000000000"; 5].join(" ")
    );
}

#[test]
fn every_capability_is_the_hosts_bounding_set_and_no_more() {
    let fx = fixture();
    let mut spec = fx.shell("");
    spec.security.capabilities = all_capabilities();
    let host = own_status("CapBnd");
    assert_eq!(
        capability_masks(&fx, spec),
        format!("0000000000000000 {host} {host} {host} 0000000000000000")
    );
}

#[test]
fn dropped_capabilities_really_are_gone() {
    let fx = fixture();
    // CAP_CHOWN is a default: chown to another user works.
    let spec = fx.shell("touch /f && chown 1000 /f && stat -c %u /f");
    assert_eq!(fx.output(&spec), "1000\n");
    let mut spec = fx.shell("touch /f && chown 1000 /f");
    spec.security.capabilities.retain(|c| c != "CAP_CHOWN");
    let (code, output) = fx.run_all(&spec);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("Operation not permitted"), "{output}");
}

#[test]
fn no_new_privileges_is_set_only_when_asked() {
    let fx = fixture();
    let spec = fx.shell("grep ^NoNewPrivs /proc/self/status");
    assert_eq!(fx.output(&spec), "NoNewPrivs:\t0\n");
    let mut spec = fx.shell("grep ^NoNewPrivs /proc/self/status");
    spec.security.no_new_privileges = true;
    assert_eq!(fx.output(&spec), "NoNewPrivs:\t1\n");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_seccomp_filter_is_loaded_with_or_without_no_new_privileges() {
    let fx = fixture();
    for no_new_privileges in [false, true] {
        let mut spec = fx.shell("grep ^Seccomp: /proc/self/status; touch /ok; mkdir /denied");
        spec.security.seccomp = Some(common::deny_mkdir_filter());
        spec.security.no_new_privileges = no_new_privileges;
        let (code, output) = fx.run_all(&spec);
        assert_eq!(code, 1, "{output}");
        assert!(output.starts_with("Seccomp:\t2\n"), "{output}");
        assert!(
            output.contains("mkdir: can't create directory '/denied': Operation not permitted"),
            "{output}"
        );
    }
    let spec = fx.shell("grep ^Seccomp: /proc/self/status; mkdir /allowed");
    assert_eq!(fx.output(&spec), "Seccomp:\t0\n");
}

#[test]
fn a_malformed_filter_fails_the_start() {
    let fx = fixture();
    let mut spec = fx.shell("true");
    spec.security.seccomp = Some(vec![0; 12]);
    match fx.launch(&spec) {
        StartReport::Failed { message, exit_code } => {
            assert_eq!(exit_code, 128);
            assert!(
                message.starts_with("invalid seccomp filter of 12 bytes"),
                "{message}"
            );
        }
        started => panic!("started with a malformed filter: {started:?}"),
    }
}

#[test]
fn rlimits_oom_score_and_extra_groups_apply() {
    let fx = fixture();
    let mut spec =
        fx.shell("ulimit -n; ulimit -Hn; ulimit -Hc; cat /proc/self/oom_score_adj; id -G");
    spec.security.rlimits = vec![
        Rlimit {
            name: "nofile".into(),
            soft: 100,
            hard: 200,
        },
        Rlimit {
            name: "core".into(),
            soft: 0,
            hard: 0,
        },
    ];
    spec.security.oom_score_adj = Some(500);
    spec.security.additional_groups = vec!["devs".into(), "777".into()];
    assert_eq!(fx.output(&spec), "100\n200\n0\n500\n0 777 2000\n");
    // A user keeps its own supplementary groups and gets the extra ones.
    let mut as_app = fx.shell("id -G");
    as_app.process.user = "app".into();
    as_app.security = spec.security.clone();
    assert_eq!(fx.output(&as_app), "1000 777 2000\n");
}

#[test]
fn without_rlimits_the_monitors_own_are_inherited() {
    let fx = fixture();
    let spec = fx.shell("ulimit -n; ulimit -Hn");
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) }, 0);
    assert_eq!(
        fx.output(&spec),
        format!("{}\n{}\n", own.rlim_cur, own.rlim_max)
    );
}

#[test]
fn an_unknown_extra_group_fails_with_dockers_message() {
    let fx = fixture();
    let mut spec = fx.shell("true");
    spec.security.additional_groups = vec!["nosuch".into()];
    assert_eq!(
        fx.launch(&spec),
        StartReport::Failed {
            message: "Unable to find group nosuch: no matching entries in group file".into(),
            exit_code: 128
        }
    );
}

/// `(target, options)` of each mount in the container's /proc/mounts.
fn mounts(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (fields.len() == 6).then(|| (fields[1].to_owned(), fields[3].to_owned()))
        })
        .collect()
}

#[test]
fn masked_paths_hide_files_and_directories_that_exist() {
    let fx = fixture();
    let spec = fx.shell(
        "cat /proc/mounts; echo interrupts=$(wc -c < /proc/interrupts); \
         echo acpi=$(ls /proc/acpi | wc -l); echo firmware=$(ls /sys/firmware | wc -l)",
    );
    let output = fx.output(&spec);
    let host_has = |path: &str| std::path::Path::new(path).exists();
    assert!(host_has("/proc/interrupts") && host_has("/sys/firmware"));
    assert!(output.contains("interrupts=0\n"), "{output}");
    assert!(output.contains("firmware=0\n"), "{output}");
    if host_has("/proc/acpi") {
        assert!(output.contains("acpi=0\n"), "{output}");
    }
    let mounts = mounts(&output);
    for path in berth_runtime::DEFAULT_MASKED_PATHS {
        let mounted = mounts.iter().find(|(target, _)| target == path);
        assert_eq!(mounted.is_some(), host_has(path), "{path}: {output}");
        if std::path::Path::new(path).is_dir() {
            assert!(mounted.unwrap().1.starts_with("ro,"), "{path}: {output}");
        }
    }
    // The host's /proc/interrupts is not empty.
    assert!(!std::fs::read("/proc/interrupts").unwrap().is_empty());
}

#[test]
fn readonly_paths_and_sys_are_read_only() {
    let fx = fixture();
    let spec = fx.shell(
        "cat /proc/mounts; echo x > /proc/sys/kernel/hostname; touch /sys/x; \
         mkdir /sys/fs/cgroup/x; echo done",
    );
    let (code, output) = fx.run_all(&spec);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("can't create /proc/sys/kernel/hostname: Read-only file system"),
        "{output}"
    );
    assert!(
        output.contains("touch: /sys/x: Read-only file system"),
        "{output}"
    );
    let mounts = mounts(&output);
    for path in berth_runtime::DEFAULT_READONLY_PATHS {
        let mounted = mounts.iter().find(|(target, _)| target == path);
        if std::path::Path::new(path).exists() {
            let options = &mounted.unwrap_or_else(|| panic!("{path}: {output}")).1;
            assert!(
                options.starts_with("ro,nosuid,nodev,noexec"),
                "{path}: {options}"
            );
        }
    }
}

#[test]
fn privileged_has_no_masks_and_writable_sys_and_proc_sys() {
    let fx = fixture();
    let mut spec = fx.shell(
        "echo changed > /proc/sys/kernel/hostname && hostname; \
         echo interrupts=$(wc -c < /proc/interrupts | tr -d ' '); grep ' /sys ' /proc/mounts",
    );
    spec.security.capabilities = all_capabilities();
    spec.filesystem.masked_paths.clear();
    spec.filesystem.readonly_paths.clear();
    spec.filesystem.writable_sysfs = true;
    let output = fx.output(&spec);
    assert!(output.starts_with("changed\n"), "{output}");
    assert!(!output.contains("interrupts=0\n"), "{output}");
    assert!(output.contains("sysfs /sys sysfs rw,"), "{output}");
}

#[test]
fn masking_refuses_a_dev_null_that_is_not_the_null_device() {
    let fx = fixture();
    let mut spec = fx.shell("true");
    // A tmpfs hides the standard /dev; the device node put in its place
    // is /dev/zero's.
    spec.filesystem.tmpfs = vec![TmpfsMount {
        destination: "/dev".into(),
        options: vec!["nosuid".into()],
    }];
    spec.devices = vec![DeviceNode {
        path: "/dev/null".into(),
        kind: 'c',
        major: 1,
        minor: 5,
        mode: 0o666,
        uid: 0,
        gid: 0,
    }];
    match fx.launch(&spec) {
        StartReport::Failed { message, .. } => assert_eq!(
            message,
            "opening /dev/null to mask paths: /dev/null is not the null device"
        ),
        started => panic!("started: {started:?}"),
    }
}

#[test]
fn read_only_root_keeps_dev_proc_tmpfs_and_the_workdir() {
    let fx = fixture();
    let hosts = fx.dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let mut spec = fx.shell("pwd; touch /x; touch /etc/hosts; touch /dev/x /dev/shm/x /run/x /run/lock/y && echo writable; \
         grep -E ' (/|/run|/run/lock|/etc/hosts) ' /proc/mounts; stat -c %a /run; df -k /run | tail -1",
    );
    spec.process.cwd = "/srv/work".into();
    spec.filesystem.readonly_rootfs = true;
    spec.file_binds = vec![FileBind {
        source: hosts,
        destination: "/etc/hosts".into(),
    }];
    spec.filesystem.tmpfs = vec![
        TmpfsMount {
            destination: "/run".into(),
            options: berth_runtime::tmpfs_options("size=64m,mode=1777").unwrap(),
        },
        TmpfsMount {
            destination: "/run/lock".into(),
            options: berth_runtime::tmpfs_options("exec").unwrap(),
        },
    ];
    let (code, output) = fx.run_all(&spec);
    assert_eq!(code, 0, "{output}");
    assert!(output.starts_with("/srv/work\n"), "{output}");
    assert!(
        output.contains("touch: /x: Read-only file system"),
        "{output}"
    );
    assert!(
        output.contains("touch: /etc/hosts: Read-only file system"),
        "{output}"
    );
    assert!(output.contains("writable\n"), "{output}");
    let mounts = mounts(&output);
    let options = |target: &str| {
        mounts
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| panic!("{target}: {output}"))
    };
    assert!(options("/").starts_with("ro,"), "{output}");
    assert!(options("/etc/hosts").starts_with("ro,"), "{output}");
    assert_eq!(
        options("/run"),
        "rw,nosuid,nodev,noexec,relatime,size=65536k"
    );
    assert_eq!(options("/run/lock"), "rw,nosuid,nodev,relatime");
    assert!(output.contains("\n1777\n"), "{output}");
    assert!(output.contains(" 65536 "), "{output}");
}

#[test]
fn extra_device_nodes_are_created_with_mode_and_owner() {
    let fx = fixture();
    let spec_device = |path: &str, kind, minor| DeviceNode {
        path: path.into(),
        kind,
        major: 1,
        minor,
        mode: 0o620,
        uid: 1000,
        gid: 2000,
    };
    let mut spec = fx.shell("stat -c '%n %F %a %u %g %t,%T' /dev/sub/mynull /mydisk /dev/null; echo hi > /dev/sub/mynull",
    );
    spec.devices = vec![
        spec_device("/dev/sub/mynull", 'c', 3),
        spec_device("/mydisk", 'b', 7),
        // Already there: left as it is.
        spec_device("/dev/null", 'c', 5),
    ];
    assert_eq!(
        fx.output(&spec),
        "/dev/sub/mynull character special file 620 1000 2000 1,3\n\
         /mydisk block special file 620 1000 2000 1,7\n\
         /dev/null character special file 666 0 0 1,3\n"
    );
}
