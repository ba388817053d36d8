//! `berthd --userns-remap`: containers run in a user namespace of their
//! own, their root an unprivileged id on the host from the remap user's
//! subordinate ranges; `--userns host` opts out; what a user namespace
//! cannot share is refused as dockerd refuses it.

use berth_tests::{busybox_fixture, Daemon, RemapUser};
use std::os::unix::fs::MetadataExt;

/// The remap user `default` stands for.
const REMAP_USER: &str = RemapUser::NAME;

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

/// Whether this kernel's overlayfs takes idmapped layers (5.19 and later).
fn kernel_idmaps_overlay_layers() -> bool {
    let release = nix::sys::utsname::uname().unwrap();
    let mut numbers = release
        .release()
        .to_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (numbers.next().unwrap(), numbers.next().unwrap()) >= (5, 19)
}

#[test]
fn remapped_containers_run_as_an_unprivileged_host_id() {
    let _user = RemapUser::before_daemon();
    // A new store, idmapped where the kernel allows it; then a store that
    // a berthd of shifted layers made (its choice written beforehand).
    let expected = if kernel_idmaps_overlay_layers() {
        "idmapped"
    } else {
        "shifted"
    };
    remapped_daemon_runs_containers(|_| {}, expected);
    // The first daemon made the remap user and its ranges.
    remapped_daemon_runs_containers(
        |data| {
            let (uid, gid) = (first_range("/etc/subuid").0, first_range("/etc/subgid").0);
            let image = data.join(format!("{uid}.{gid}/image"));
            std::fs::create_dir_all(&image).unwrap();
            std::fs::write(image.join("layer-owners"), "shifted").unwrap();
        },
        "shifted",
    );
}

/// Runs the remapped checks on a daemon whose data root `prepare` made,
/// whose layers must be `layers` ("idmapped" or "shifted").
fn remapped_daemon_runs_containers(prepare: impl FnOnce(&std::path::Path), layers: &str) {
    let d = Daemon::start_prepared(&["--userns-remap", "default"], prepare);
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
    // The image's files keep the image's ids on the host (idmapped when
    // mounted) or belong to the mapped root (shifted when unpacked).
    let choice = std::fs::read_to_string(format!("{root_dir}/image/layer-owners")).unwrap();
    assert_eq!(choice, layers);
    let busybox = std::fs::read_dir(format!("{root_dir}/image/layers"))
        .unwrap()
        .map(|e| e.unwrap().path().join("bin/busybox"))
        .find(|p| p.exists())
        .expect("an unpacked busybox layer");
    let owner = if layers == "idmapped" { 0 } else { uid };
    assert_eq!(std::fs::metadata(&busybox).unwrap().uid(), owner);

    // Inside: root, Docker's capabilities, the maps, a writable `/` and
    // /etc/hosts, low ports.
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; \
                  grep ^CapEff /proc/self/status; stat -c %u:%g /bin/busybox; \
                  touch /made && echo made; \
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
    // The image's root owns its files inside, either way.
    assert_eq!(lines[4], ["0:0"], "{out}");
    assert_eq!(lines[5..7], [["made"], ["hosts"]], "{out}");
    // Killed by timeout while listening (143), not refused the port (1).
    assert_eq!(lines[7], ["nc=143"], "{out}");

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
            "sh",
            "-c",
            "cat /proc/self/uid_map; stat -c %u /bin/busybox",
        ])
        .ok()
        .stdout;
    // Its layers are not idmapped: it sees the ids they hold.
    let owner = owner.to_string();
    assert_eq!(
        words(&out),
        [vec!["0", "0", "4294967295"], vec![owner.as_str()]]
    );

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
