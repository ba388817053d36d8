//! Isolation defaults and options, driven by the real `docker` CLI and by
//! `berth`: capabilities (`--cap-add`, `--cap-drop`, `--privileged`, exec
//! `--privileged`), `--security-opt`, masked and read-only paths,
//! `--read-only` with `--tmpfs`, `--ulimit`, `--group-add`,
//! `--oom-score-adj`, `--device`, and Docker's refusals.

use berth_tests::{Daemon, Run};
use serde_json::json;

/// Docker's 14 default capabilities as /proc/self/status shows them.
const DEFAULTS: &str = "00000000a80425fb";
const NONE: &str = "0000000000000000";

/// The `Cap*` values printed by `grep ^Cap /proc/self/status`, as
/// "Inh Prm Eff Bnd Amb".
fn masks(run: Run) -> String {
    run.ok()
        .stdout
        .lines()
        .map(|line| line.split_whitespace().nth(1).unwrap_or("?").to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "Inh Prm Eff Bnd Amb" for a root process holding `set`.
fn root_with(set: &str) -> String {
    format!("{NONE} {set} {set} {set} {NONE}")
}

/// This test process's bounding set: what berthd, started by it, has.
fn host_bounding_set() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_owned()
}

fn run_args<'a>(flags: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(flags);
    args.push("busybox");
    args.extend(command);
    args
}

const GREP_CAPS: [&str; 3] = ["grep", "^Cap", "/proc/self/status"];

#[test]
fn capabilities_follow_docker_for_root_users_and_privileged() {
    let d = Daemon::with_busybox();
    let docker_caps = |flags: &[&str]| masks(d.docker(&run_args(flags, &GREP_CAPS)));
    assert_eq!(docker_caps(&[]), root_with(DEFAULTS));
    assert_eq!(docker_caps(&["--cap-drop", "ALL"]), root_with(NONE));
    assert_eq!(
        docker_caps(&["--cap-add", "NET_ADMIN"]),
        root_with("00000000a80435fb")
    );
    assert_eq!(
        docker_caps(&["--cap-drop", "all", "--cap-add", "cap_kill"]),
        root_with("0000000000000020")
    );
    let host = host_bounding_set();
    assert_eq!(docker_caps(&["--privileged"]), root_with(&host));
    // Another user keeps only the bounding set.
    assert_eq!(
        docker_caps(&["-u", "1000"]),
        format!("{NONE} {NONE} {NONE} {DEFAULTS} {NONE}")
    );
    // And the same through berth.
    let berth_caps = |flags: &[&str]| masks(d.berth(&run_args(flags, &GREP_CAPS)));
    assert_eq!(berth_caps(&[]), root_with(DEFAULTS));
    assert_eq!(
        berth_caps(&["--cap-drop", "chown", "--cap-add", "sys_time"]),
        root_with("00000000aa0425fa")
    );
    assert_eq!(berth_caps(&["--privileged"]), root_with(&host));
}

#[test]
fn execs_get_the_containers_privileges_and_limits() {
    let d = Daemon::with_busybox();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "box",
        "--network",
        "none",
        "--cap-drop",
        "chown",
        "--security-opt",
        "no-new-privileges",
        "--ulimit",
        "nofile=100:200",
        "--group-add",
        "daemon",
        "--group-add",
        "777",
        "--oom-score-adj",
        "500",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let without_chown = "00000000a80425fa";
    let exec = |flags: &[&str], command: &[&str]| {
        let mut args = vec!["exec"];
        args.extend(flags);
        args.push("box");
        args.extend(command);
        d.docker(&args)
    };
    assert_eq!(masks(exec(&[], &GREP_CAPS)), root_with(without_chown));
    assert_eq!(
        exec(
            &[],
            &[
                "sh",
                "-c",
                "grep ^NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; \
                 cat /proc/self/oom_score_adj; id -G"
            ]
        )
        .ok()
        .stdout,
        "NoNewPrivs:\t1\n100\n200\n500\n0 1 777\n"
    );
    assert_eq!(
        masks(exec(&["--privileged"], &GREP_CAPS)),
        root_with(&host_bounding_set())
    );
    assert_eq!(
        masks(exec(&["-u", "1000"], &GREP_CAPS)),
        format!("{NONE} {NONE} {NONE} {without_chown} {NONE}")
    );
    assert_eq!(
        exec(&["-u", "1000:1000"], &["id", "-G"]).ok().stdout,
        "1000 1 777\n"
    );
    // berth exec --privileged too.
    assert_eq!(
        masks(d.berth(&[
            "exec",
            "--privileged",
            "box",
            "grep",
            "^Cap",
            "/proc/self/status"
        ])),
        root_with(&host_bounding_set())
    );
    // The container's own processes keep what they had.
    assert_eq!(masks(exec(&[], &GREP_CAPS)), root_with(without_chown));
    d.docker(&["rm", "-f", "box"]).ok();
}

#[test]
fn proc_and_sys_are_masked_and_read_only_unless_privileged() {
    let d = Daemon::with_busybox();
    let script = "echo interrupts=$(wc -c < /proc/interrupts); echo firmware=$(ls /sys/firmware | wc -l); \
                  echo x > /proc/sys/kernel/hostname; touch /sys/kernel/x; grep ' /sys ' /proc/mounts";
    let r = d.docker(&run_args(&[], &["sh", "-c", script]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("interrupts=0\n"), "{}", r.stdout);
    assert!(r.stdout.contains("firmware=0\n"), "{}", r.stdout);
    assert!(r.stdout.contains("sysfs /sys sysfs ro,"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("can't create /proc/sys/kernel/hostname: Read-only file system"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("touch: /sys/kernel/x: Read-only file system"),
        "{}",
        r.stderr
    );
    // The host's /proc/interrupts is not empty: the mask hid something.
    assert!(!std::fs::read("/proc/interrupts").unwrap().is_empty());

    // --privileged: nothing masked, /sys and /proc/sys writable (the
    // hostname file is the container's own UTS namespace's).
    let script = "echo interrupts=$(wc -c < /proc/interrupts); \
                  echo changed > /proc/sys/kernel/hostname && hostname; grep ' /sys ' /proc/mounts";
    let r = d
        .docker(&run_args(&["--privileged"], &["sh", "-c", script]))
        .ok();
    assert!(!r.stdout.contains("interrupts=0\n"), "{}", r.stdout);
    assert!(r.stdout.contains("changed\n"), "{}", r.stdout);
    assert!(r.stdout.contains("sysfs /sys sysfs rw,"), "{}", r.stdout);

    // systempaths=unconfined: nothing masked, as docker's CLI asks it.
    let r = d
        .docker(&run_args(
            &["--security-opt", "systempaths=unconfined"],
            &["sh", "-c", "wc -c < /proc/interrupts"],
        ))
        .ok();
    assert_ne!(r.stdout.trim(), "0", "{}", r.stdout);
}

#[test]
fn read_only_root_with_tmpfs_mounts() {
    let d = Daemon::with_busybox();
    let script =
        "touch /x; touch /etc/hosts; touch /run/ok /dev/shm/ok /tmp2/ok && echo writable; \
                  grep -E ' (/|/run|/tmp2) ' /proc/mounts; df -k /run | tail -1";
    for cli in ["docker", "berth"] {
        let args = run_args(
            &[
                "--read-only",
                "--tmpfs",
                "/run:size=64m",
                "--tmpfs",
                "/tmp2",
            ],
            &["sh", "-c", script],
        );
        let r = if cli == "docker" {
            d.docker(&args)
        } else {
            d.berth(&args)
        };
        assert_eq!(r.code, 0, "{cli}: {}", r.stderr);
        assert!(
            r.stderr.contains("touch: /x: Read-only file system"),
            "{cli}: {}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains("touch: /etc/hosts: Read-only file system"),
            "{cli}: {}",
            r.stderr
        );
        assert!(r.stdout.contains("writable\n"), "{cli}: {}", r.stdout);
        assert!(
            r.stdout.contains("overlay / overlay ro,"),
            "{cli}: {}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k "),
            "{cli}: {}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("tmpfs /tmp2 tmpfs rw,nosuid,nodev,noexec,relatime "),
            "{cli}: {}",
            r.stdout
        );
        assert!(r.stdout.contains(" 65536 "), "{cli}: {}", r.stdout);
    }
    // Without --read-only the root is writable.
    d.docker(&run_args(&[], &["touch", "/x"])).ok();
}

#[test]
fn security_opts_ulimits_groups_oom_score_and_devices_apply() {
    let d = Daemon::with_busybox();
    let script = "grep ^NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; id -G; \
                  cat /proc/self/oom_score_adj; stat -c '%t,%T' /dev/mynull";
    let flags = [
        "--security-opt",
        "no-new-privileges",
        "--ulimit",
        "nofile=100:200",
        "--group-add",
        "daemon",
        "--group-add",
        "777",
        "--oom-score-adj",
        "500",
        "--device",
        "/dev/null:/dev/mynull",
    ];
    let expected = "NoNewPrivs:\t1\n100\n200\n0 1 777\n500\n1,3\n";
    assert_eq!(
        d.docker(&run_args(&flags, &["sh", "-c", script]))
            .ok()
            .stdout,
        expected
    );
    assert_eq!(
        d.berth(&run_args(&flags, &["sh", "-c", script]))
            .ok()
            .stdout,
        expected
    );
    // The defaults: no no_new_privs, the daemon's own limits, score 0.
    let r = d
        .docker(&run_args(
            &[],
            &[
                "sh",
                "-c",
                "grep ^NoNewPrivs /proc/self/status; ulimit -Hn; cat /proc/self/oom_score_adj",
            ],
        ))
        .ok();
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit; berthd inherited ours.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) }, 0);
    assert_eq!(r.stdout, format!("NoNewPrivs:\t0\n{}\n0\n", own.rlim_max));
    // An explicit no-new-privileges=false.
    let r = d
        .docker(&run_args(
            &["--security-opt", "no-new-privileges=false"],
            &["grep", "^NoNewPrivs", "/proc/self/status"],
        ))
        .ok();
    assert_eq!(r.stdout, "NoNewPrivs:\t0\n");
}

#[test]
fn inspect_shows_the_isolation_settings_as_given() {
    let d = Daemon::with_busybox();
    let profile = d.root.join("profile.json");
    std::fs::write(&profile, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").unwrap();
    let seccomp = format!("seccomp={}", profile.display());
    for cli in ["docker", "berth"] {
        let args = [
            "create",
            "--name",
            cli,
            "--network",
            "none",
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "CAP_CHOWN",
            "--security-opt",
            "no-new-privileges",
            "--security-opt",
            &seccomp,
            "--read-only",
            "--tmpfs",
            "/run:size=64m",
            "--ulimit",
            "nofile=100:200",
            "--group-add",
            "audio",
            "--oom-score-adj",
            "-5",
            "busybox",
        ];
        if cli == "docker" {
            d.docker(&args).ok();
        } else {
            d.berth(&args).ok();
        }
        let host = &d.get(&format!("/containers/{cli}/json")).json()["HostConfig"];
        assert_eq!(host["CapAdd"], json!(["CAP_NET_ADMIN"]), "{cli}");
        assert_eq!(host["CapDrop"], json!(["CAP_CHOWN"]), "{cli}");
        assert_eq!(
            host["SecurityOpt"],
            json!([
                "no-new-privileges",
                r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#
            ]),
            "{cli}"
        );
        assert_eq!(host["ReadonlyRootfs"], json!(true), "{cli}");
        assert_eq!(host["Tmpfs"], json!({"/run": "size=64m"}), "{cli}");
        assert_eq!(
            host["Ulimits"],
            json!([{"Name": "nofile", "Hard": 200, "Soft": 100}]),
            "{cli}"
        );
        assert_eq!(host["GroupAdd"], json!(["audio"]), "{cli}");
        assert_eq!(host["OomScoreAdj"], json!(-5), "{cli}");
        assert_eq!(host["Privileged"], json!(false), "{cli}");
        assert_eq!(host["MaskedPaths"].as_array().unwrap().len(), 12, "{cli}");
        assert_eq!(
            host["ReadonlyPaths"],
            json!([
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]),
            "{cli}"
        );
    }
    d.docker(&["create", "--name", "priv", "--privileged", "busybox"])
        .ok();
    let host = &d.get("/containers/priv/json").json()["HostConfig"];
    assert_eq!(host["Privileged"], json!(true));
    assert_eq!(host["MaskedPaths"], json!(null));
}

/// Runs a refused `docker run`/`berth run`: exit 125, `message` on stderr,
/// and no container left.
fn assert_refused(d: &Daemon, r: Run, message: &str) {
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains(message),
        "{message:?} not in {}",
        r.stderr
    );
    assert!(
        d.container_ids().is_empty(),
        "a refused run created a container"
    );
}

#[test]
fn bad_isolation_settings_are_refused_with_dockers_messages() {
    let d = Daemon::with_busybox();
    for (flags, message) in [
        (
            vec!["--cap-add", "foo"],
            "invalid CapAdd: unknown capability: \"CAP_FOO\"",
        ),
        (
            vec!["--cap-drop", "bar"],
            "invalid CapDrop: unknown capability: \"CAP_BAR\"",
        ),
        (
            vec!["--security-opt", "foo=bar"],
            "invalid --security-opt 2: \"foo=bar\"",
        ),
        (
            vec!["--security-opt", "no-new-privileges:maybe"],
            "invalid --security-opt 2: \"no-new-privileges:maybe\"",
        ),
        (
            vec!["--oom-score-adj", "1001"],
            "Invalid value 1001, range for oom score adj is [-1000, 1000]",
        ),
        (vec!["--ulimit", "foo=1"], "invalid ulimit type: foo"),
        (
            vec!["--ulimit", "nofile=300:200"],
            "ulimit soft limit must be less than or equal to hard limit: 300 > 200",
        ),
        (
            vec!["--security-opt", "bogus"],
            "Invalid --security-opt: \"bogus\"",
        ),
        (
            vec!["--tmpfs", "/run:bogus"],
            "invalid tmpfs option [\"bogus\"]",
        ),
    ] {
        let args = run_args(&flags, &["true"]);
        assert_refused(&d, d.docker(&args), message);
        assert_refused(&d, d.berth(&args), message);
    }
    // What the docker CLI refuses itself, the daemon refuses too.
    for (host_config, message) in [
        (
            json!({"Ulimits": [{"Name": "foo", "Soft": 1, "Hard": 1}]}),
            "invalid ulimit type: foo",
        ),
        (
            json!({"SecurityOpt": ["bogus"]}),
            "invalid --security-opt 1: \"bogus\"",
        ),
        (
            json!({"Tmpfs": {"run": ""}}),
            "invalid mount path: 'run' mount path must be absolute",
        ),
        (
            json!({"Sysctls": {"vm.swappiness": "1"}}),
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        ),
        (
            json!({"Sysctls": {"net./../../etc/x": "1"}}),
            "sysctl \"net./../../etc/x\" is not in a separate kernel namespace",
        ),
    ] {
        let reply = d.post_json(
            "/containers/create",
            &json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host_config}),
        );
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(reply.json()["message"], message);
    }
    assert!(d.container_ids().is_empty());
    // A network sysctl needs the container's own network namespace.
    let args = [
        "run",
        "--rm",
        "--network",
        "host",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "busybox",
        "true",
    ];
    for r in [d.docker(&args), d.berth(&args)] {
        let message = "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace";
        assert_refused(&d, r, message);
    }
    // Sysctls docker's CLI does not allow: its flag error, from berth too.
    for cli in [
        d.docker(&run_args(&["--sysctl", "vm.swappiness=1"], &["true"])),
        d.berth(&run_args(&["--sysctl", "vm.swappiness=1"], &["true"])),
    ] {
        assert_refused(&d, cli, "sysctl 'vm.swappiness=1' is not allowed");
    }
    // An unknown --group-add name fails the start (the container's own
    // /etc/group is read then), as with Docker.
    let r = d.docker(&run_args(&["--group-add", "nosuch"], &["true"]));
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Unable to find group nosuch: no matching entries in group file"),
        "{}",
        r.stderr
    );
}

#[test]
fn sysctls_are_set_in_the_containers_own_namespaces() {
    let d = Daemon::with_busybox();
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let flipped = if host_forward.trim() == "1" { "0" } else { "1" };
    let script = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_unprivileged_port_start \
                  /proc/sys/kernel/shmmni /proc/sys/fs/mqueue/msg_max";
    for cli in ["docker", "berth"] {
        let forward = format!("net.ipv4.ip_forward={flipped}");
        let args = [
            "run",
            "--rm",
            "--sysctl",
            &forward,
            // Overrides Docker's default of 0.
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=1024",
            "--sysctl",
            "kernel.shmmni=1234",
            "--sysctl",
            "fs.mqueue.msg_max=42",
            "busybox",
            "sh",
            "-c",
            script,
        ];
        let r = if cli == "docker" {
            d.docker(&args)
        } else {
            d.berth(&args)
        };
        assert_eq!(
            r.ok().stdout,
            format!("{flipped}\n1024\n1234\n42\n"),
            "{cli}"
        );
    }
    // The host's own values are untouched.
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(after, host_forward);
    let inspect = d
        .docker(&["create", "--sysctl", "kernel.sem=1 2 3 4", "busybox"])
        .ok()
        .stdout;
    let host = d
        .docker(&[
            "inspect",
            "-f",
            "{{json .HostConfig.Sysctls}}",
            inspect.trim(),
        ])
        .ok()
        .stdout;
    assert_eq!(host.trim(), r#"{"kernel.sem":"1 2 3 4"}"#);
    d.docker(&["rm", inspect.trim()]).ok();
}

/// The `Seccomp:` mode of the container's process (0 none, 2 filter).
const SECCOMP_MODE: [&str; 3] = ["grep", "^Seccomp:", "/proc/self/status"];

#[test]
fn seccomp_filters_by_default_and_follows_the_security_opts() {
    let d = Daemon::with_busybox();
    let filtered = "Seccomp:\t2\n";
    let none = "Seccomp:\t0\n";
    let mode = |flags: &[&str]| d.docker(&run_args(flags, &SECCOMP_MODE)).ok().stdout;
    assert_eq!(mode(&[]), filtered);
    assert_eq!(mode(&["--security-opt", "seccomp=unconfined"]), none);
    assert_eq!(mode(&["--privileged"]), none);
    assert_eq!(d.berth(&run_args(&[], &SECCOMP_MODE)).ok().stdout, filtered);

    // The default profile keeps namespace creation behind CAP_SYS_ADMIN. A
    // user namespace needs no capability, so only the filter refuses it:
    let unshare = ["sh", "-c", "unshare -U true && echo unshared"];
    let r = d.docker(&run_args(&[], &unshare));
    assert_ne!(r.code, 0, "unshare was allowed: {}", r.stdout);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    assert_eq!(
        d.docker(&run_args(
            &["--security-opt", "seccomp=unconfined"],
            &unshare
        ))
        .ok()
        .stdout,
        "unshared\n"
    );
    // With CAP_SYS_ADMIN the filter lets unshare and mount through.
    let admin = ["--cap-add", "SYS_ADMIN"];
    assert_eq!(
        d.docker(&run_args(&admin, &unshare)).ok().stdout,
        "unshared\n"
    );
    let mount = ["sh", "-c", "mkdir /m && mount -t tmpfs none /m"];
    d.docker(&run_args(&admin, &mount)).ok();
    // Execs run under the container's filter.
    let name = "seccomp-exec";
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
    assert_eq!(
        d.docker(&["exec", name, "grep", "^Seccomp:", "/proc/self/status"])
            .ok()
            .stdout,
        filtered
    );
    let r = d.docker(&["exec", name, "unshare", "-U", "true"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    d.docker(&["rm", "-f", name]).ok();

    // A profile of the user's: everything allowed but mkdir and mkdirat,
    // which answer EACCES.
    let profile = d.root.join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let custom = format!("seccomp={}", profile.display());
    for r in [
        d.docker(&run_args(&["--security-opt", &custom], &["mkdir", "/new"])),
        d.berth(&run_args(&["--security-opt", &custom], &["mkdir", "/new"])),
    ] {
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
    }
    // Under that profile unshare is allowed (its default action is allow).
    assert_eq!(
        d.docker(&run_args(&["--security-opt", &custom], &unshare))
            .ok()
            .stdout,
        "unshared\n"
    );
    // An empty profile means no filter, as with Docker.
    std::fs::write(&profile, "{}").unwrap();
    let empty = format!("seccomp={}", profile.display());
    assert_eq!(mode(&["--security-opt", &empty]), none);

    // A profile that does not decode or validate: refused before anything
    // is created.
    for (content, message) in [
        (
            r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
            "Decoding seccomp profile failed",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "invalid seccomp profile",
        ),
    ] {
        std::fs::write(&profile, content).unwrap();
        let args = run_args(&["--security-opt", &custom], &["true"]);
        assert_refused(&d, d.docker(&args), message);
        assert_refused(&d, d.berth(&args), message);
    }
}

#[test]
fn info_lists_the_security_options_in_force() {
    let d = Daemon::with_busybox();
    let options = d
        .docker(&["info", "--format", "{{json .SecurityOptions}}"])
        .ok()
        .stdout;
    let options: Vec<String> = serde_json::from_str(&options).unwrap();
    assert!(
        options.contains(&"name=seccomp,profile=builtin".to_string())
            && options.contains(&"name=cgroupns".to_string()),
        "{options:?}"
    );
    assert!(!options
        .iter()
        .any(|o| o.contains("apparmor") || o.contains("selinux") || o.contains("userns")));
}
