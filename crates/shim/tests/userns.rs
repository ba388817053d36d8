//! A container in a user namespace of its own (dockerd's `--userns-remap`):
//! its root is an unprivileged id on the host, owns what it creates, keeps
//! its capabilities inside, and its tmpfs and terminals belong to it. Run
//! as root, on a busybox root whose files stay owned by the host's root.

mod common;

use berth_runtime::{IdMapping, UserNamespace};
use common::Fixture;
use std::os::unix::fs::MetadataExt;

/// Host id of the container's root: far from any real user's.
const HOST_ROOT: u32 = 1_800_000_000;
const SIZE: u32 = 65536;

fn remapped() -> UserNamespace {
    let map = vec![IdMapping {
        container: 0,
        host: HOST_ROOT,
        size: SIZE,
    }];
    UserNamespace {
        uid_map: map.clone(),
        gid_map: map,
    }
}

#[test]
fn the_containers_root_is_an_unprivileged_host_id() {
    let fx = Fixture::new();
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
                  grep ^CapEff /proc/self/status; touch /made; \
                  stat -c %u:%g /dev /dev/shm /run; mkdir /run/x; \
                  cat /proc/sys/net/ipv4/ip_unprivileged_port_start";
    let mut spec = fx.spec("c", &["sh", "-c", script]);
    spec.user_namespace = Some(remapped());
    spec.filesystem.tmpfs = vec![berth_runtime::TmpfsMount {
        destination: "/run".into(),
        options: vec!["mode=755".into()],
    }];
    // The daemon gives the container's upper directory (its `/`) to the
    // mapped root.
    std::os::unix::fs::chown(&spec.rootfs.upper, Some(HOST_ROOT), Some(HOST_ROOT)).unwrap();
    let grep = fx.lower.join("bin/grep");
    std::os::unix::fs::symlink("busybox", &grep).unwrap();

    let output = fx.output(&spec);
    let lines: Vec<Vec<&str>> = output
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let map = vec!["0".to_string(), HOST_ROOT.to_string(), SIZE.to_string()];
    assert_eq!(lines[0], map, "{output}");
    assert_eq!(lines[1], map, "{output}");
    assert_eq!(lines[2], ["0"]);
    assert_eq!(lines[3], ["0"]);
    // Docker's default capabilities, held in the container's namespace.
    assert_eq!(lines[4], ["CapEff:", "00000000a80425fb"]);
    // /dev, /dev/shm and the tmpfs belong to the container's root.
    assert_eq!(lines[5..8], [["0:0"], ["0:0"], ["0:0"]]);
    assert_eq!(lines[8], ["0"]);
    // What it created is the mapped root's on the host.
    let made = std::fs::metadata(spec.rootfs.upper.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (HOST_ROOT, HOST_ROOT));
}

#[test]
fn the_image_files_of_the_hosts_root_stay_out_of_reach() {
    let fx = Fixture::new();
    // The lower layer belongs to the host's root (not shifted): inside it
    // is nobody's, and the container's root cannot change it.
    let mut spec = fx.spec("c", &["sh", "-c", "stat -c %u /bin/busybox; touch /bin/x"]);
    spec.user_namespace = Some(remapped());
    std::os::unix::fs::chown(&spec.rootfs.upper, Some(HOST_ROOT), Some(HOST_ROOT)).unwrap();
    let (code, log) = fx.run(&spec);
    assert_ne!(code, 0, "{log:?}");
    assert_eq!(log[0].0, "65534\n");
    assert!(log[1].0.contains("Permission denied"), "{log:?}");
}

#[test]
fn idmapped_layers_give_the_image_files_to_the_containers_ids() {
    let fx = Fixture::new();
    // Layers as pulled, with the image's own ids: root's busybox and a
    // user's file, seen through the namespace's maps by the container.
    let home = fx.lower.join("home/user");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("notes"), b"image\n").unwrap();
    for path in [home.clone(), home.join("notes")] {
        std::os::unix::fs::chown(path, Some(1000), Some(1000)).unwrap();
    }
    let script = "stat -c %u:%g /bin/busybox /home/user/notes; \
                  echo more >> /home/user/notes; chown 7:7 /bin/busybox; touch /made";
    let mut spec = fx.spec("c", &["sh", "-c", script]);
    spec.user_namespace = Some(remapped());
    spec.rootfs.idmapped = true;
    std::os::unix::fs::chown(&spec.rootfs.upper, Some(HOST_ROOT), Some(HOST_ROOT)).unwrap();

    assert_eq!(fx.output(&spec), "0:0\n1000:1000\n");
    // Copied up and created: the mapped ids on the host, in the upper
    // directory only; the layer keeps the image's ids.
    let owner = |path: &std::path::Path| {
        let meta = std::fs::metadata(path).unwrap();
        (meta.uid(), meta.gid())
    };
    let upper = &spec.rootfs.upper;
    let user = HOST_ROOT + 1000;
    assert_eq!(owner(&upper.join("home/user/notes")), (user, user));
    assert_eq!(
        owner(&upper.join("bin/busybox")),
        (HOST_ROOT + 7, HOST_ROOT + 7)
    );
    assert_eq!(owner(&upper.join("made")), (HOST_ROOT, HOST_ROOT));
    assert_eq!(owner(&fx.lower.join("bin/busybox")), (0, 0));
    assert_eq!(owner(&home.join("notes")), (1000, 1000));
    assert_eq!(std::fs::read(home.join("notes")).unwrap(), b"image\n");
    // The idmapped copies lived in the container's mount namespace only.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(fx.lower.to_str().unwrap()), "{mounts}");
}
