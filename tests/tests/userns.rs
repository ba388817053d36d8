//! `berthd --userns-remap`: containers run in a user namespace of their
//! own, their root an unprivileged id on the host from the remap user's
//! subordinate ranges; `--userns host` opts out; what a user namespace
//! cannot share is refused as dockerd refuses it.

use berth_tests::{busybox_fixture, Daemon};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

/// The remap user `default` stands for.
const REMAP_USER: &str = "berthremap";

/// Removes the remap user at the end if this test made it (its
/// subordinate ranges go with it), so the host is left as it was.
struct RemapUser {
    created: bool,
}

impl RemapUser {
    fn before_daemon() -> RemapUser {
        RemapUser {
            created: nix::unistd::User::from_name(REMAP_USER).unwrap().is_none(),
        }
    }
}

impl Drop for RemapUser {
    fn drop(&mut self) {
        if self.created {
            let _ = Command::new("userdel").arg(REMAP_USER).status();
        }
    }
}

/// The first subordinate range of the remap user in `file`: (start, count).
fn first_range(file: &str) -> (u32, u32) {
    let content = std::fs::read_to_string(file).unwrap();
    let line = content
        .lines()
        .find(|l| l.starts_with(&format!("{REMAP_USER}:")))
        .unwrap_or_else(|| panic!("no {REMAP_USER} line in {file}:\n{content}"));
    let fields: Vec<&str> = line.split(':').collect();
    (fields[1].parse().unwrap(), fields[2].parse().unwrap())
}

fn words(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn remapped_containers_run_as_an_unprivileged_host_id() {
    let _user = RemapUser::before_daemon();
    let d = Daemon::start_with_args(&["--userns-remap", "default"]);
    let (uid, uid_count) = first_range("/etc/subuid");
    let (gid, _) = first_range("/etc/subgid");
    let (archive, _) = busybox_fixture();
    d.berth(&["load", "-i", archive.to_str().unwrap()]).ok();

    // docker info says so, and the data root is dockerd's `<uid>.<gid>`.
    let info = d
        .docker(&[
            "info",
            "--format",
            "{{json .SecurityOptions}} {{.DockerRootDir}}",
        ])
        .ok()
        .stdout;
    assert!(info.contains("name=userns"), "{info}");
    let root_dir = info.split_whitespace().nth(1).unwrap().to_string();
    assert!(root_dir.ends_with(&format!("/{uid}.{gid}")), "{info}");
    // The image's files belong to the mapped root on the host.
    let busybox = std::fs::read_dir(format!("{root_dir}/image/layers"))
        .unwrap()
        .map(|e| e.unwrap().path().join("bin/busybox"))
        .find(|p| p.exists())
        .expect("an unpacked busybox layer");
    assert_eq!(std::fs::metadata(&busybox).unwrap().uid(), uid);

    // Inside: root, Docker's capabilities, the maps, a writable `/` and
    // /etc/hosts, low ports.
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; \
                  grep ^CapEff /proc/self/status; touch /made && echo made; \
                  echo '127.0.0.2 extra' >> /etc/hosts && echo hosts; \
                  timeout 1 nc -l -p 80; echo nc=$?";
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            script,
        ])
        .ok()
        .stdout;
    let lines = words(&out);
    let uid_map = ["0".to_string(), uid.to_string(), uid_count.to_string()];
    assert_eq!(lines[0], uid_map, "{out}");
    assert_eq!(lines[1][..2], ["0".to_string(), gid.to_string()], "{out}");
    assert_eq!(lines[2], ["0"], "{out}");
    assert_eq!(lines[3], ["CapEff:", "00000000a80425fb"], "{out}");
    assert_eq!(lines[4..6], [["made"], ["hosts"]], "{out}");
    // Killed by timeout while listening (143), not refused the port (1).
    assert_eq!(lines[6], ["nc=143"], "{out}");

    // A running container's processes are the mapped ids on the host, and
    // an exec joins its user namespace.
    d.docker(&["run", "-d", "--name", "remapped", "busybox", "sleep", "60"])
        .ok();
    let pid = d
        .docker(&["inspect", "-f", "{{.State.Pid}}", "remapped"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let meta = std::fs::metadata(format!("/proc/{pid}")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let out = d
        .docker(&[
            "exec",
            "remapped",
            "sh",
            "-c",
            "cat /proc/self/uid_map; id -u",
        ])
        .ok()
        .stdout;
    assert_eq!(words(&out), [uid_map.to_vec(), vec!["0".to_string()]]);
    let out = d
        .docker(&["exec", "-u", "1000", "remapped", "id", "-u"])
        .ok()
        .stdout;
    assert_eq!(out, "1000\n");
    d.docker(&["rm", "-f", "remapped"]).ok();

    // --userns host: the host's ids, and then privileged and the host's
    // network are allowed.
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--userns",
            "host",
            "--privileged",
            "--network",
            "host",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ])
        .ok()
        .stdout;
    assert_eq!(words(&out), [["0", "0", "4294967295"]]);

    // What a user namespace cannot share: refused, nothing created.
    for (flags, message) in [
        (
            vec!["--privileged"],
            "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode",
        ),
        (
            vec!["--network", "host"],
            "cannot share the host's network namespace when user namespaces are enabled",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        for r in [d.docker(&args), d.berth(&args)] {
            assert_eq!(r.code, 125, "{}", r.stderr);
            assert!(r.stderr.contains(message), "{}", r.stderr);
        }
        assert!(d.container_ids().is_empty());
    }
}
