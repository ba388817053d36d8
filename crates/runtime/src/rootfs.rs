//! The container's root filesystem, built inside its private mount namespace:
//! the overlay root, the pseudo-filesystems and device nodes under it, the
//! daemon's file binds, and the pivot into it. Nothing here is visible to the
//! host: propagation from the container's namespace is cut first, and the
//! host's tree is detached after the pivot.
//!
//! Everything under the new root is mounted *after* the pivot, so symlinks in
//! the image resolve inside the container and can never point a mount at the
//! host. The file binds' sources are host paths, so they are cloned into
//! detached mount trees before the pivot and attached after it.

use crate::failure::StartFailure;
use crate::spec::{FileBind, RootfsSpec};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

/// Longest option string the kernel takes in one mount(2) call (one page, with its NUL).
const MAX_MOUNT_DATA: usize = 4095;

// Kernel ABI constants of the new mount API (linux/mount.h), not in `libc`.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_SYMLINKS: libc::c_uint = 0x10;
/// Symlinks followed before giving up with ELOOP, as the kernel does.
const MAX_SYMLINKS: usize = 40;

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
    data: Option<&'static str>,
}

/// A file bind's source, cloned before the pivot and waiting to be attached.
struct DetachedBind<'a> {
    tree: OwnedFd,
    destination: &'a str,
}

/// Builds the container's root and makes it the process's `/`. Must run in a
/// fresh mount namespace.
pub(crate) fn build(rootfs: &RootfsSpec, file_binds: &[FileBind]) -> Result<(), StartFailure> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| StartFailure::sys("making / a slave mount", e))?;

    let target = &rootfs.target;
    let options = overlay_options(rootfs)?;
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| StartFailure::sys(format!("mounting overlay on {}", target.display()), e))?;

    let binds = file_binds
        .iter()
        .map(detach_bind_source)
        .collect::<Result<Vec<_>, _>>()?;

    pivot_into(target)?;
    mount_pseudo_filesystems()?;
    binds.into_iter().try_for_each(attach_bind)
}

/// `lowerdir=...,upperdir=...,workdir=...`, refusing paths overlayfs cannot
/// take in its option string.
fn overlay_options(rootfs: &RootfsSpec) -> Result<String, StartFailure> {
    if rootfs.lower.is_empty() {
        return Err(StartFailure::new(
            "rootfs has no lower layer (overlayfs needs at least one)",
            crate::failure::EXIT_SETUP_FAILED,
        ));
    }
    let path_str = |path: &Path| -> Result<String, StartFailure> {
        match path.to_str() {
            Some(s) if !s.contains([',', ':']) => Ok(s.to_owned()),
            _ => Err(StartFailure::new(
                format!(
                    "overlay layer path {} must be UTF-8 without ',' or ':'",
                    path.display()
                ),
                crate::failure::EXIT_SETUP_FAILED,
            )),
        }
    };
    let lower = rootfs
        .lower
        .iter()
        .map(|p| path_str(p))
        .collect::<Result<Vec<_>, _>>()?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        path_str(&rootfs.upper)?,
        path_str(&rootfs.work)?
    );
    if options.len() > MAX_MOUNT_DATA {
        return Err(StartFailure::new(
            format!(
                "overlay options for {} layers are {} bytes, more than the kernel's {MAX_MOUNT_DATA}",
                rootfs.lower.len(),
                options.len()
            ),
            crate::failure::EXIT_SETUP_FAILED,
        ));
    }
    Ok(options)
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

fn pseudo_mounts() -> [PseudoMount; 6] {
    let nosuid_noexec_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    [
        PseudoMount {
            target: "/proc",
            fstype: "proc",
            source: "proc",
            flags: nosuid_noexec_nodev,
            data: None,
        },
        PseudoMount {
            target: "/sys",
            fstype: "sysfs",
            source: "sysfs",
            flags: nosuid_noexec_nodev | MsFlags::MS_RDONLY,
            data: None,
        },
        PseudoMount {
            target: "/dev",
            fstype: "tmpfs",
            source: "tmpfs",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            data: Some("mode=755,size=65536k"),
        },
        PseudoMount {
            target: "/dev/pts",
            fstype: "devpts",
            source: "devpts",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        },
        PseudoMount {
            target: "/dev/shm",
            fstype: "tmpfs",
            source: "shm",
            flags: nosuid_noexec_nodev,
            data: Some("mode=1777,size=65536k"),
        },
        PseudoMount {
            target: "/dev/mqueue",
            fstype: "mqueue",
            source: "mqueue",
            flags: nosuid_noexec_nodev,
            data: None,
        },
    ]
}

/// /proc, /sys, /dev with its device nodes and links, /dev/pts, /dev/shm,
/// /dev/mqueue. Runs after the pivot: every path is inside the container.
fn mount_pseudo_filesystems() -> Result<(), StartFailure> {
    for m in pseudo_mounts() {
        make_mountpoint(m.target)?;
        mount(Some(m.source), m.target, Some(m.fstype), m.flags, m.data)
            .map_err(|e| StartFailure::sys(format!("mounting {} on {}", m.fstype, m.target), e))?;
        if m.target == "/dev" {
            make_devices()?;
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

/// Clones the bind's source into a detached mount tree, reachable after the
/// host's tree is gone.
fn detach_bind_source(bind: &FileBind) -> Result<DetachedBind<'_>, StartFailure> {
    let context = || format!("bind-mounting {}", bind.source.display());
    let source = CString::new(bind.source.as_os_str().as_encoded_bytes())
        .map_err(|_| StartFailure::sys(context(), Errno::EINVAL))?;
    // SAFETY: `source` is a NUL-terminated path that outlives the call;
    // open_tree does not keep the pointer.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source.as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(StartFailure::sys(context(), Errno::last()));
    }
    Ok(DetachedBind {
        // SAFETY: open_tree returned a new descriptor that nothing else owns.
        tree: unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) },
        destination: &bind.destination,
    })
}

/// Attaches a detached bind over its destination in the container, creating
/// an empty file (and its parent directories) there first if needed. A
/// destination that is a symlink is followed inside the container, and a
/// missing target is created where the link points.
fn attach_bind(bind: DetachedBind<'_>) -> Result<(), StartFailure> {
    let destination = Path::new("/").join(bind.destination);
    let context = || format!("bind-mounting over {}", destination.display());
    ensure_file(&destination).map_err(|e| StartFailure::io(context(), &e))?;
    let c_destination = CString::new(destination.as_os_str().as_encoded_bytes())
        .map_err(|_| StartFailure::sys(context(), Errno::EINVAL))?;
    // SAFETY: both paths are NUL-terminated and outlive the call; `tree` is
    // an open detached mount; move_mount keeps no pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            bind.tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c_destination.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS,
        )
    };
    if rc < 0 {
        return Err(StartFailure::sys(context(), Errno::last()));
    }
    Ok(())
}

/// Makes sure something exists at `path`, following symlinks (only ever
/// called after the pivot, so they resolve inside the container); creates an
/// empty file and its parents where nothing is.
fn ensure_file(path: &Path) -> io::Result<()> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = path.parent().unwrap_or(Path::new("/")).join(target);
            }
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)?;
                }
                return fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map(drop);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
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
        }
    }

    #[test]
    fn overlay_options_join_lowers_topmost_first() {
        assert_eq!(
            overlay_options(&rootfs(&["/l/top", "/l/base"])).unwrap(),
            "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        assert_eq!(
            overlay_options(&rootfs(&["/l/only"])).unwrap(),
            "lowerdir=/l/only,upperdir=/c/upper,workdir=/c/work"
        );
    }

    #[test]
    fn overlay_options_refuse_no_layers_separators_and_overlong_strings() {
        assert!(overlay_options(&rootfs(&[])).is_err());
        assert!(overlay_options(&rootfs(&["/l/a,b"])).is_err());
        assert!(overlay_options(&rootfs(&["/l/a:b"])).is_err());
        let long = format!("/layers/{}", "a".repeat(100));
        let many = vec![long.as_str(); 50];
        let failure = overlay_options(&rootfs(&many)).unwrap_err();
        assert!(failure.message.contains("50 layers"), "{}", failure.message);
    }
}
