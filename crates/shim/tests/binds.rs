//! Host paths bound into real containers (busybox root): read-write and
//! read-only binds, file sources, destinations created inside the
//! container and never outside it, volumes filled from the image,
//! recursion and propagation. Run as root; tests that mount on the host
//! side do it in a mount namespace of their own thread.

mod common;

use berth_runtime::{BindMount, IdMapping, Propagation, StartReport, UserNamespace};
use common::Fixture;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Applets these tests use beyond the fixture's own.
const EXTRA_APPLETS: &[&str] = &["grep", "ls"];

fn fixture() -> Fixture {
    Fixture::with_applets(EXTRA_APPLETS)
}

/// Docker's defaults: read-write, recursive, rprivate.
fn bind(source: &Path, destination: &str) -> BindMount {
    BindMount {
        source: source.to_path_buf(),
        destination: destination.into(),
        readonly: false,
        recursive: true,
        propagation: Propagation::Rprivate,
        copy_up: false,
    }
}

/// A new directory `name` in the fixture's directory (on the host).
fn host_dir(fx: &Fixture, name: &str) -> PathBuf {
    let dir = fx.dir.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn host_mounts() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// Runs `test` on a thread of its own in a new mount namespace (a slave
/// of the host's), so that what it mounts never reaches the host; the
/// monitors it launches inherit the namespace.
fn in_own_mount_namespace(test: impl FnOnce() + Send + 'static) {
    let outcome = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .unwrap();
        test()
    })
    .join();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A mount made by a test, detached when dropped.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(target: &Path) -> Mounted {
        mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        Mounted(target.to_path_buf())
    }

    /// `target` bound over itself, as a shared mount.
    fn shared_bind(target: &Path) -> Mounted {
        mount(
            Some(target),
            target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        let mounted = Mounted(target.to_path_buf());
        mount(
            None::<&str>,
            target,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        mounted
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_read_write_bind_is_shared_with_the_host_and_leaves_no_mount_behind() {
    let fx = fixture();
    let data = host_dir(&fx, "data");
    fs::write(data.join("from-host"), "host\n").unwrap();
    let mut spec = fx.shell("cat /data/from-host; echo container > /data/from-container");
    spec.mounts = vec![bind(&data, "/data")];
    assert_eq!(fx.output(&spec), "host\n");
    assert_eq!(
        fs::read_to_string(data.join("from-container")).unwrap(),
        "container\n"
    );
    assert!(!host_mounts().contains(&*fx.dir.path().to_string_lossy()));
}

#[test]
fn a_read_only_bind_refuses_writes_in_it() {
    let fx = fixture();
    let data = host_dir(&fx, "data");
    fs::write(data.join("file"), "kept\n").unwrap();
    let mut spec = fx.shell(
        "cat /data/file; touch /data/new; echo changed > /data/file; \
         grep ' /data ' /proc/self/mountinfo",
    );
    spec.mounts = vec![BindMount {
        readonly: true,
        ..bind(&data, "/data")
    }];
    let (code, output) = fx.run_all(&spec);
    assert_eq!(code, 0, "{output}");
    assert!(output.starts_with("kept\n"), "{output}");
    assert!(
        output.contains("touch: /data/new: Read-only file system"),
        "{output}"
    );
    assert!(
        output.contains("can't create /data/file: Read-only file system"),
        "{output}"
    );
    assert!(output.contains(" /data ro,"), "{output}");
    assert_eq!(fs::read_to_string(data.join("file")).unwrap(), "kept\n");
    assert!(!data.join("new").exists());
}

#[test]
fn a_read_only_root_leaves_the_binds_their_own_flags() {
    let fx = fixture();
    let rw = host_dir(&fx, "rw");
    let ro = host_dir(&fx, "ro");
    let mut spec = fx.shell("touch /x; touch /rw/x && echo rw-writable; touch /ro/x");
    spec.filesystem.readonly_rootfs = true;
    spec.mounts = vec![
        bind(&rw, "/rw"),
        BindMount {
            readonly: true,
            ..bind(&ro, "/ro")
        },
    ];
    let (code, output) = fx.run_all(&spec);
    assert_ne!(code, 0, "{output}");
    assert!(
        output.contains("touch: /x: Read-only file system"),
        "{output}"
    );
    assert!(output.contains("rw-writable\n"), "{output}");
    assert!(
        output.contains("touch: /ro/x: Read-only file system"),
        "{output}"
    );
    assert!(rw.join("x").exists());
}

#[test]
fn missing_destinations_are_created_a_directory_or_a_file_like_the_source() {
    let fx = fixture();
    let data = host_dir(&fx, "data");
    let config = fx.dir.path().join("app.conf");
    fs::write(&config, "setting=1\n").unwrap();
    let mut spec = fx.shell(
        "stat -c %F /srv/new/data /etc/app/app.conf; cat /etc/app/app.conf; \
         echo setting=2 >> /etc/app/app.conf",
    );
    spec.mounts = vec![
        bind(&data, "/srv/new/data"),
        bind(&config, "/etc/app/app.conf"),
    ];
    assert_eq!(fx.output(&spec), "directory\nregular file\nsetting=1\n");
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        "setting=1\nsetting=2\n"
    );
    // The mountpoints are the container's, in its own layer.
    let upper = &spec.rootfs.upper;
    assert!(upper.join("srv/new/data").is_dir());
    assert_eq!(mode(&upper.join("srv/new")), 0o755);
    assert_eq!(
        fs::metadata(upper.join("etc/app/app.conf")).unwrap().len(),
        0
    );
}

#[test]
fn symlinked_destinations_resolve_inside_the_container() {
    let fx = fixture();
    let data = host_dir(&fx, "data");
    fs::write(data.join("marker"), "bound\n").unwrap();
    // Names nothing on the host has, so that their absence proves it.
    let unique = fx
        .dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let escape = format!("berth-escape-{unique}");
    let escape_up = format!("berth-escape-up-{unique}");
    let host_target = fx.dir.path().join("outside");
    symlink("/", fx.lower.join("link")).unwrap();
    symlink("../../..", fx.lower.join("etc/up")).unwrap();
    symlink(&host_target, fx.lower.join("absolute")).unwrap();
    let script = format!(
        "cat /{escape}/marker /{escape_up}/marker {}/marker",
        host_target.display()
    );
    let mut spec = fx.shell(&script);
    spec.mounts = vec![
        bind(&data, &format!("/link/{escape}")),
        bind(&data, &format!("/etc/up/{escape_up}")),
        bind(&data, "/absolute"),
    ];
    assert_eq!(fx.output(&spec), "bound\n".repeat(3));
    for name in [&escape, &escape_up] {
        assert!(!Path::new("/").join(name).exists(), "{name} on the host");
        assert!(spec.rootfs.upper.join(name).is_dir(), "{name}");
    }
    assert!(!host_target.exists());
    let inside = spec
        .rootfs
        .upper
        .join(host_target.strip_prefix("/").unwrap());
    assert!(inside.is_dir());
}

#[test]
fn a_new_volume_is_filled_from_the_image_with_modes_owners_and_links() {
    let fx = fixture();
    let etc = fx.lower.join("etc");
    fs::write(etc.join("secret"), "s3cret\n").unwrap();
    std::os::unix::fs::chown(etc.join("secret"), Some(1000), Some(2000)).unwrap();
    fs::set_permissions(etc.join("secret"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::create_dir(etc.join("conf.d")).unwrap();
    fs::write(etc.join("conf.d/a.conf"), "a\n").unwrap();
    fs::set_permissions(etc.join("conf.d"), fs::Permissions::from_mode(0o750)).unwrap();
    symlink("conf.d/a.conf", etc.join("a.conf")).unwrap();
    nix::unistd::mkfifo(
        &etc.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    fs::set_permissions(&etc, fs::Permissions::from_mode(0o751)).unwrap();
    let volume = host_dir(&fx, "volume");
    fs::set_permissions(&volume, fs::Permissions::from_mode(0o700)).unwrap();

    let mut spec = fx.shell("cat /etc/a.conf; id -un; echo new > /etc/new");
    spec.mounts = vec![BindMount {
        copy_up: true,
        ..bind(&volume, "/etc")
    }];
    assert_eq!(fx.output(&spec), "a\nroot\n");

    assert_eq!(mode(&volume), 0o751);
    assert_eq!(
        fs::read_to_string(volume.join("secret")).unwrap(),
        "s3cret\n"
    );
    let secret = fs::metadata(volume.join("secret")).unwrap();
    assert_eq!(
        (secret.uid(), secret.gid(), mode(&volume.join("secret"))),
        (1000, 2000, 0o640)
    );
    assert_eq!(mode(&volume.join("conf.d")), 0o750);
    assert_eq!(
        fs::read_link(volume.join("a.conf")).unwrap(),
        Path::new("conf.d/a.conf")
    );
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &fs::symlink_metadata(volume.join("fifo"))
            .unwrap()
            .file_type()
    ));
    assert_eq!(
        fs::read_to_string(volume.join("passwd")).unwrap(),
        fs::read_to_string(etc.join("passwd")).unwrap()
    );
    assert_eq!(fs::read_to_string(volume.join("new")).unwrap(), "new\n");
}

#[test]
fn a_volume_with_content_is_not_overwritten() {
    let fx = fixture();
    let volume = host_dir(&fx, "volume");
    fs::write(volume.join("keep"), "mine\n").unwrap();
    fs::set_permissions(&volume, fs::Permissions::from_mode(0o700)).unwrap();
    let mut spec = fx.shell("ls /etc");
    spec.mounts = vec![BindMount {
        copy_up: true,
        ..bind(&volume, "/etc")
    }];
    assert_eq!(fx.output(&spec), "keep\n");
    assert_eq!(fs::read_to_string(volume.join("keep")).unwrap(), "mine\n");
    assert!(!volume.join("passwd").exists());
    assert_eq!(mode(&volume), 0o700);
}

#[test]
fn a_volume_where_the_image_has_nothing_stays_empty() {
    let fx = fixture();
    let volume = host_dir(&fx, "volume");
    fs::set_permissions(&volume, fs::Permissions::from_mode(0o700)).unwrap();
    let mut spec = fx.shell("ls -A /data");
    spec.mounts = vec![BindMount {
        copy_up: true,
        ..bind(&volume, "/data")
    }];
    assert_eq!(fx.output(&spec), "");
    assert_eq!(fs::read_dir(&volume).unwrap().count(), 0);
    assert_eq!(mode(&volume), 0o700);
}

#[test]
fn a_read_only_volume_is_filled_then_read_only() {
    let fx = fixture();
    let volume = host_dir(&fx, "volume");
    let elsewhere = host_dir(&fx, "elsewhere");
    let mut spec = fx.shell("cat /etc/group; touch /etc/x; touch /data/x");
    let read_only_volume = |source: &Path, destination: &str| BindMount {
        copy_up: true,
        readonly: true,
        ..bind(source, destination)
    };
    spec.mounts = vec![
        read_only_volume(&volume, "/etc"),
        read_only_volume(&elsewhere, "/data"),
    ];
    let (code, output) = fx.run_all(&spec);
    assert_ne!(code, 0, "{output}");
    assert!(output.starts_with("root:x:0:\n"), "{output}");
    for path in ["/etc/x", "/data/x"] {
        assert!(
            output.contains(&format!("touch: {path}: Read-only file system")),
            "{output}"
        );
    }
    assert!(volume.join("group").exists());
    assert!(!volume.join("x").exists());
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn only_a_recursive_bind_brings_the_submounts_read_only_with_it() {
    in_own_mount_namespace(|| {
        let fx = fixture();
        let source = host_dir(&fx, "source");
        let sub = host_dir(&fx, "source/sub");
        let _tmpfs = Mounted::tmpfs(&sub);
        fs::write(sub.join("in-submount"), "").unwrap();
        let mut spec =
            fx.shell("ls /r/sub; echo -; ls /n/sub; echo -; ls /ro/sub; touch /ro/sub/x");
        spec.mounts = vec![
            bind(&source, "/r"),
            BindMount {
                recursive: false,
                ..bind(&source, "/n")
            },
            BindMount {
                readonly: true,
                ..bind(&source, "/ro")
            },
        ];
        let (code, output) = fx.run_all(&spec);
        assert_ne!(code, 0, "{output}");
        assert!(
            output.starts_with("in-submount\n-\n-\nin-submount\n"),
            "{output}"
        );
        assert!(
            output.contains("touch: /ro/sub/x: Read-only file system"),
            "{output}"
        );
        assert!(!sub.join("x").exists());
    });
}

#[test]
fn propagation_decides_whether_later_host_mounts_show_inside() {
    in_own_mount_namespace(|| {
        let fx = fixture();
        let source = host_dir(&fx, "source");
        let late = host_dir(&fx, "source/late");
        let _shared = Mounted::shared_bind(&source);
        let start = |propagation| {
            let mut spec = fx.spec("c", &["sleep", "1000"]);
            spec.mounts = vec![BindMount {
                propagation,
                ..bind(&source, "/data")
            }];
            fx.start(&spec).0
        };
        let private = start(Propagation::Rprivate);
        let slave = start(Propagation::Rslave);
        let shared = start(Propagation::Rshared);
        let _late = Mounted::tmpfs(&late);
        let mountinfo = |pid: i32| {
            let text = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
            let line = |target: &str| {
                text.lines()
                    .find(|line| line.split(' ').nth(4) == Some(target))
                    .map(str::to_owned)
            };
            (line("/data").unwrap(), line("/data/late"))
        };
        let (data, late_mount) = mountinfo(private);
        assert!(
            !data.contains("shared:") && !data.contains("master:"),
            "{data}"
        );
        assert_eq!(late_mount, None);
        let (data, late_mount) = mountinfo(slave);
        assert!(
            !data.contains("shared:") && data.contains("master:"),
            "{data}"
        );
        assert!(late_mount.is_some());
        let (data, late_mount) = mountinfo(shared);
        assert!(data.contains("shared:"), "{data}");
        assert!(late_mount.is_some());
        for pid in [private, slave, shared] {
            fx.kill(pid);
        }
        fx.wait_monitors_gone();
    });
}

#[test]
fn a_missing_source_fails_the_start_naming_it() {
    let fx = fixture();
    let missing = fx.dir.path().join("missing");
    let mut spec = fx.spec("c", &["true"]);
    spec.mounts = vec![bind(&missing, "/data")];
    match fx.launch(&spec) {
        StartReport::Failed { message, exit_code } => {
            assert_eq!(exit_code, 128, "{message}");
            let missing = missing.display();
            assert_eq!(
                message,
                format!(
                    "error mounting \"{missing}\" to rootfs at \"/data\": \
                     stat {missing}: no such file or directory"
                )
            );
        }
        started => panic!("{started:?}"),
    }
}

#[test]
fn binds_work_in_a_user_namespace_and_keep_their_flags() {
    const HOST_ROOT: u32 = 1_800_000_000;
    let map = vec![IdMapping {
        container: 0,
        host: HOST_ROOT,
        size: 65536,
    }];
    let fx = fixture();
    let rw = host_dir(&fx, "rw");
    let ro = host_dir(&fx, "ro");
    std::os::unix::fs::chown(&rw, Some(HOST_ROOT), Some(HOST_ROOT)).unwrap();
    std::os::unix::fs::chown(&ro, Some(HOST_ROOT), Some(HOST_ROOT)).unwrap();
    let mut spec = fx.shell("touch /rw/made && echo made; touch /ro/x");
    spec.user_namespace = Some(UserNamespace {
        uid_map: map.clone(),
        gid_map: map,
    });
    std::os::unix::fs::chown(&spec.rootfs.upper, Some(HOST_ROOT), Some(HOST_ROOT)).unwrap();
    spec.mounts = vec![
        bind(&rw, "/rw"),
        BindMount {
            readonly: true,
            ..bind(&ro, "/ro")
        },
    ];
    let (code, output) = fx.run_all(&spec);
    assert_ne!(code, 0, "{output}");
    assert!(output.starts_with("made\n"), "{output}");
    assert!(
        output.contains("touch: /ro/x: Read-only file system"),
        "{output}"
    );
    let made = fs::metadata(rw.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (HOST_ROOT, HOST_ROOT));
}
