//! The container's root filesystem, built inside its private mount namespace:
//! the overlay root, the pseudo-filesystems and device nodes under it, the
//! bind mounts and the daemon's file binds, and the pivot into it. Nothing
//! here is visible to the host: propagation from the container's namespace
//! is cut first, and the host's tree is detached after the pivot.
//!
//! Everything under the new root is mounted *after* the pivot, so symlinks in
//! the image resolve inside the container and can never point a mount at the
//! host. The sources of the bind mounts and file binds are host paths, so
//! they are cloned into detached mount trees before the pivot and attached
//! after it ([`crate::binds`]).
//!
//! After the pseudo-filesystems come the tmpfs mounts, the bind mounts, the
//! file binds, the extra device nodes, then the masked paths (the
//! container's own `/dev/null`, checked to be the null device, bound over
//! files; an empty read-only tmpfs over directories) and the read-only paths
//! (bound over themselves, remounted read-only). A read-only root is the
//! init's last mount step ([`make_root_readonly`]), once its working
//! directory exists.

use crate::binds;
use crate::cgroup_mount::{host_cgroups, mount_cgroups, HostCgroups};
use crate::failure::{StartFailure, EXIT_SETUP_FAILED};
use crate::mount_options;
use crate::overlay;
use crate::spec::{ContainerSpec, DeviceNode, FileBind, RootfsSpec, TmpfsMount, UserNamespace};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, makedev, mknod, Mode, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{fchownat, Gid, Uid};
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

/// The `tty` group, owner of the container's terminals.
const TTY_GID: u32 = 5;
/// The null device's numbers; masked files get it bound over them.
const NULL_DEVICE: (u64, u64) = (1, 3);

/// Character devices every container gets: name, major, minor.
const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Symlinks in /dev: link, target.
const DEV_LINKS: [(&str, &str); 5] = [
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

/// A pseudo-filesystem mounted in the new root.
struct PseudoMount {
    target: &'static str,
    fstype: &'static str,
    source: &'static str,
    flags: MsFlags,
    data: Option<String>,
}

/// Builds the container's root and makes it the process's `/`: the overlay,
/// the pivot, the pseudo-filesystems, tmpfs mounts, bind mounts, file
/// binds, device nodes, masked and read-only paths. Must run in a fresh
/// mount namespace. `idmap`: the user namespace whose maps the layers get
/// ([`RootfsSpec::idmapped`]).
pub(crate) fn build(
    spec: &ContainerSpec,
    idmap: Option<BorrowedFd<'_>>,
) -> Result<(), StartFailure> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| StartFailure::sys("making / a slave mount", e))?;

    let target = &spec.rootfs.target;
    let options = overlay_options(&spec.rootfs)?;
    if let Some(userns) = idmap {
        overlay::idmap_layers(&spec.rootfs.lower, userns)
            .map_err(|e| StartFailure::new(e.to_string(), EXIT_SETUP_FAILED))?;
    }
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| StartFailure::sys(format!("mounting overlay on {}", target.display()), e))?;

    let cgroups = host_cgroups()?;
    let mounts = spec
        .mounts
        .iter()
        .map(binds::detach_mount)
        .collect::<Result<Vec<_>, _>>()?;
    let file_binds = spec
        .file_binds
        .iter()
        .map(binds::detach_file)
        .collect::<Result<Vec<_>, _>>()?;

    pivot_into(target)?;
    let filesystem = &spec.filesystem;
    let userns = spec.user_namespace.as_ref();
    mount_pseudo_filesystems(filesystem.writable_sysfs, userns, &cgroups)?;
    filesystem
        .tmpfs
        .iter()
        .try_for_each(|tmpfs| mount_tmpfs(tmpfs, userns))?;
    mounts.into_iter().try_for_each(binds::attach_mount)?;
    file_binds.into_iter().try_for_each(binds::attach_file)?;
    spec.devices.iter().try_for_each(make_device)?;
    mask_paths(&filesystem.masked_paths)?;
    filesystem
        .readonly_paths
        .iter()
        .try_for_each(|path| make_path_readonly(path))
}

/// Remounts the root read-only (`--read-only`), and the file binds with it
/// as Docker does; mounts on top of the root (`/proc`, `/dev`, tmpfs, the
/// bind mounts) keep their own flags: only the root's own mount is
/// remounted, never its submounts.
pub(crate) fn make_root_readonly(file_binds: &[FileBind]) -> Result<(), StartFailure> {
    remount_readonly("/")?;
    file_binds.iter().try_for_each(|bind| {
        let destination = Path::new("/").join(&bind.destination);
        remount_readonly(&destination.to_string_lossy())
    })
}

/// The overlay's options for the container's root: its layers, upper and
/// work directories.
fn overlay_options(rootfs: &RootfsSpec) -> Result<String, StartFailure> {
    if rootfs.lower.is_empty() {
        return Err(StartFailure::new(
            "rootfs has no lower layer (overlayfs needs at least one)",
            EXIT_SETUP_FAILED,
        ));
    }
    overlay::overlay_options(&rootfs.lower, Some((&rootfs.upper, &rootfs.work)))
        .map_err(|e| StartFailure::new(e.to_string(), EXIT_SETUP_FAILED))
}

/// Makes `target` the root: `pivot_root(".", ".")` stacks the old root on
/// the new one, and the lazy unmount of "." then drops the old root.
fn pivot_into(target: &Path) -> Result<(), StartFailure> {
    let context = || format!("pivoting into {}", target.display());
    nix::unistd::chdir(target).map_err(|e| StartFailure::sys(context(), e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| StartFailure::sys(context(), e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| StartFailure::sys(context(), e))?;
    nix::unistd::chdir("/").map_err(|e| StartFailure::sys(context(), e))
}

/// The pseudo-filesystems, in mount order; `/sys` read-only unless
/// `writable_sysfs`. With a user namespace, the tmpfs roots belong to the
/// container's root and devpts's tty group is the container's.
fn pseudo_mounts(writable_sysfs: bool, userns: Option<&UserNamespace>) -> [PseudoMount; 6] {
    let owned = |options: &str| format!("{options}{}", owner_options(userns, options));
    let tty_gid = match userns {
        Some(namespace) => namespace.host_gid(TTY_GID),
        None => Some(TTY_GID),
    };
    let devpts = match tty_gid {
        Some(gid) => format!("newinstance,ptmxmode=0666,mode=0620,gid={gid}"),
        None => "newinstance,ptmxmode=0666,mode=0620".to_string(),
    };
    let nosuid_noexec_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let sysfs_flags = if writable_sysfs {
        nosuid_noexec_nodev
    } else {
        nosuid_noexec_nodev | MsFlags::MS_RDONLY
    };
    [
        PseudoMount {
            target: "/proc",
            fstype: "proc",
            source: "proc",
            flags: nosuid_noexec_nodev,
            data: None,
        },
        PseudoMount {
            target: "/dev",
            fstype: "tmpfs",
            source: "tmpfs",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            data: Some(owned("mode=755,size=65536k")),
        },
        PseudoMount {
            target: "/dev/pts",
            fstype: "devpts",
            source: "devpts",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: Some(devpts),
        },
        PseudoMount {
            target: "/sys",
            fstype: "sysfs",
            source: "sysfs",
            flags: sysfs_flags,
            data: None,
        },
        PseudoMount {
            target: "/dev/mqueue",
            fstype: "mqueue",
            source: "mqueue",
            flags: nosuid_noexec_nodev,
            data: None,
        },
        PseudoMount {
            target: "/dev/shm",
            fstype: "tmpfs",
            source: "shm",
            flags: nosuid_noexec_nodev,
            data: Some(owned("mode=1777,size=65536k")),
        },
    ]
}

/// /proc, /dev with its device nodes, /dev/pts, /sys, /sys/fs/cgroup,
/// /dev/mqueue, /dev/shm (Docker's order), then the links in /dev. Runs
/// after the pivot: every path is inside the container.
fn mount_pseudo_filesystems(
    writable_sysfs: bool,
    userns: Option<&UserNamespace>,
    cgroups: &HostCgroups,
) -> Result<(), StartFailure> {
    for m in pseudo_mounts(writable_sysfs, userns) {
        make_mountpoint(m.target)?;
        mount(
            Some(m.source),
            m.target,
            Some(m.fstype),
            m.flags,
            m.data.as_deref(),
        )
        .map_err(|e| StartFailure::sys(format!("mounting {} on {}", m.fstype, m.target), e))?;
        match m.target {
            "/dev" => make_devices()?,
            "/sys" => mount_cgroups(cgroups, writable_sysfs)?,
            _ => {}
        }
    }
    for (link, target) in DEV_LINKS {
        symlink(target, link).map_err(|e| StartFailure::io(format!("creating {link}"), &e))?;
    }
    Ok(())
}

fn make_mountpoint(path: &str) -> Result<(), StartFailure> {
    match nix::unistd::mkdir(path, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(StartFailure::sys(format!("creating mountpoint {path}"), e)),
    }
}

fn make_devices() -> Result<(), StartFailure> {
    for (name, major, minor) in DEVICES {
        let path = format!("/dev/{name}");
        let context = || format!("creating device {path}");
        mknod(
            path.as_str(),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|e| StartFailure::sys(context(), e))?;
        // mknod's mode is filtered through the umask; the devices are 0666.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .map_err(|e| StartFailure::io(context(), &e))?;
    }
    Ok(())
}

/// Creates one extra device node (`--device`, `--privileged`) with its
/// parent directories, mode and owner. A path that exists already (a
/// standard node, say) is left as it is.
fn make_device(device: &DeviceNode) -> Result<(), StartFailure> {
    let path = Path::new("/").join(&device.path);
    let context = || format!("creating device {}", path.display());
    let kind = match device.kind {
        'c' | 'u' => SFlag::S_IFCHR,
        'b' => SFlag::S_IFBLK,
        'p' => SFlag::S_IFIFO,
        other => {
            return Err(StartFailure::new(
                format!("{}: unknown device type {other:?}", context()),
                EXIT_SETUP_FAILED,
            ))
        }
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| StartFailure::io(context(), &e))?;
    }
    let mode = Mode::from_bits_truncate(device.mode & 0o7777);
    match mknod(&path, kind, mode, makedev(device.major, device.minor)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        Err(e) => return Err(StartFailure::sys(context(), e)),
    }
    // mknod's mode went through the umask.
    fs::set_permissions(&path, fs::Permissions::from_mode(device.mode & 0o7777))
        .map_err(|e| StartFailure::io(context(), &e))?;
    fchownat(
        None,
        &path,
        Some(Uid::from_raw(device.uid)),
        Some(Gid::from_raw(device.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| StartFailure::sys(context(), e))
}

/// Mounts one tmpfs, creating its mountpoint (inside the container: this
/// runs after the pivot).
fn mount_tmpfs(tmpfs: &TmpfsMount, userns: Option<&UserNamespace>) -> Result<(), StartFailure> {
    let destination = Path::new("/").join(&tmpfs.destination);
    let context = || format!("mounting tmpfs on {}", destination.display());
    fs::create_dir_all(&destination).map_err(|e| StartFailure::io(context(), &e))?;
    let (flags, mut data) = mount_options::mount_flags(&tmpfs.options);
    data.push_str(&owner_options(userns, &data));
    let data = (!data.is_empty()).then_some(data.as_str());
    mount(Some("tmpfs"), &destination, Some("tmpfs"), flags, data)
        .map_err(|e| StartFailure::sys(context(), e))
}

/// `,uid=U,gid=G` giving a tmpfs's root to the container's root when it has
/// a user namespace, for each of the two that `options` does not set.
fn owner_options(userns: Option<&UserNamespace>, options: &str) -> String {
    let Some((uid, gid)) = userns.and_then(UserNamespace::host_root) else {
        return String::new();
    };
    let given = |key: &str| options.split(',').any(|o| o.starts_with(key));
    let mut extra = String::new();
    if !given("uid=") {
        extra.push_str(&format!(",uid={uid}"));
    }
    if !given("gid=") {
        extra.push_str(&format!(",gid={gid}"));
    }
    if options.is_empty() {
        extra.remove(0);
    }
    extra
}

/// Hides each existing path: a directory under an empty read-only tmpfs,
/// anything else under a bind of the container's `/dev/null`, opened once
/// and checked to be the null device (never a file or link put in its
/// place).
fn mask_paths(paths: &[String]) -> Result<(), StartFailure> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = open_null_device()?;
    for path in paths {
        let context = || format!("masking {path}");
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if missing(&e) => continue,
            Err(e) => return Err(StartFailure::io(context(), &e)),
        };
        if meta.is_dir() {
            let flags =
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(
                Some("tmpfs"),
                path.as_str(),
                Some("tmpfs"),
                flags,
                None::<&str>,
            )
            .map_err(|e| StartFailure::sys(context(), e))?;
        } else {
            binds::bind_fd(null.as_fd(), Path::new(path))
                .map_err(|e| StartFailure::sys(context(), e))?;
        }
    }
    Ok(())
}

/// `/dev/null`, opened `O_PATH` without following a link, and only if it
/// is the character device 1:3.
fn open_null_device() -> Result<OwnedFd, StartFailure> {
    let context = "opening /dev/null to mask paths";
    let fd = nix::fcntl::open(
        "/dev/null",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| StartFailure::sys(context, e))?;
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let stat = fstat(fd.as_raw_fd()).map_err(|e| StartFailure::sys(context, e))?;
    let is_char = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_char || stat.st_rdev != makedev(NULL_DEVICE.0, NULL_DEVICE.1) {
        return Err(StartFailure::new(
            format!("{context}: /dev/null is not the null device"),
            EXIT_SETUP_FAILED,
        ));
    }
    Ok(fd)
}

/// Binds `path` over itself and makes that mount read-only; a missing path
/// is skipped.
fn make_path_readonly(path: &str) -> Result<(), StartFailure> {
    let context = || format!("making {path} read-only");
    match fs::metadata(path) {
        Ok(_) => {}
        Err(e) if missing(&e) => return Ok(()),
        Err(e) => return Err(StartFailure::io(context(), &e)),
    }
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| StartFailure::sys(context(), e))?;
    remount_readonly(path)
}

/// Makes the mount at `path` read-only, keeping its other per-mount flags
/// (a bind remount without them would clear nosuid, nodev, noexec).
fn remount_readonly(path: &str) -> Result<(), StartFailure> {
    let context = || format!("remounting {path} read-only");
    let current = statvfs(path)
        .map_err(|e| StartFailure::sys(context(), e))?
        .flags();
    let kept = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ]
    .into_iter()
    .filter(|(st, _)| current.contains(*st))
    .fold(MsFlags::empty(), |all, (_, ms)| all | ms);
    mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept,
        None::<&str>,
    )
    .map_err(|e| StartFailure::sys(context(), e))
}

/// Not there: the path, or a directory on its way, does not exist.
fn missing(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn rootfs(lower: &[&str]) -> RootfsSpec {
        RootfsSpec {
            lower: lower.iter().map(PathBuf::from).collect(),
            upper: "/c/upper".into(),
            work: "/c/work".into(),
            target: "/c/rootfs".into(),
            idmapped: false,
        }
    }

    #[test]
    fn overlay_options_name_upper_and_work_and_need_a_layer() {
        assert_eq!(
            overlay_options(&rootfs(&["/l/top", "/l/base"])).unwrap(),
            "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        let failure = overlay_options(&rootfs(&[])).unwrap_err();
        assert!(
            failure.message.contains("no lower layer"),
            "{}",
            failure.message
        );
        let failure = overlay_options(&rootfs(&["/l/a:b"])).unwrap_err();
        assert_eq!(failure.exit_code, EXIT_SETUP_FAILED);
    }
}
