//! Overlay mounts of a container's root: the option string overlayfs takes
//! (for the init's root and for the daemon's private mounts of a root that
//! is not running), and idmapped layers.
//!
//! With a user namespace and layers that hold the image's own ids
//! (`--userns-remap` on a kernel with idmapped overlay layers, 5.19 and
//! later), each layer directory is covered, in the caller's own mount
//! namespace, by an idmapped copy of itself: a clone of its mount
//! (`open_tree`) given the namespace's maps (`mount_setattr` with
//! `MOUNT_ATTR_IDMAP`) and attached on the directory. The overlay then
//! names the same paths and stacks the idmapped copies, so the container's
//! root sees its image's files as its own while the layers on disk keep the
//! image's ids, shared by every namespace and never copied or shifted.

use crate::mount_api::{
    mount_setattr, move_mount, open_tree, MountAttr, MOUNT_ATTR_IDMAP, OPEN_TREE_CLONE,
};
use nix::errno::Errno;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Longest option string the kernel takes in one mount(2) call (one page,
/// with its NUL).
const MAX_MOUNT_DATA: usize = 4095;

/// `lowerdir=...[,upperdir=...,workdir=...]` for `lower` (topmost first)
/// and, for a writable overlay, its upper and work directories; refuses
/// paths overlayfs cannot take in its option string, and strings longer
/// than the kernel takes.
pub fn overlay_options(lower: &[PathBuf], upper: Option<(&Path, &Path)>) -> io::Result<String> {
    let text = |path: &Path| match path.to_str() {
        Some(s) if !s.contains([',', ':']) => Ok(s.to_owned()),
        _ => Err(io::Error::other(format!(
            "overlay layer path {} must be UTF-8 without ',' or ':'",
            path.display()
        ))),
    };
    let lower = lower
        .iter()
        .map(|p| text(p))
        .collect::<io::Result<Vec<_>>>()?;
    let mut options = format!("lowerdir={}", lower.join(":"));
    if let Some((upper, work)) = upper {
        options.push_str(&format!(
            ",upperdir={},workdir={}",
            text(upper)?,
            text(work)?
        ));
    }
    if options.len() > MAX_MOUNT_DATA {
        return Err(io::Error::other(format!(
            "overlay options for {} layers are {} bytes, more than the kernel's {MAX_MOUNT_DATA}",
            lower.len(),
            options.len()
        )));
    }
    Ok(options)
}

/// Covers each of `layers` with an idmapped copy of itself that shows its
/// owners through the maps of the user namespace `userns` (see the module
/// documentation). Only for a mount namespace of the caller's own that
/// propagates nothing to the host's (private, or a slave).
pub fn idmap_layers(layers: &[PathBuf], userns: BorrowedFd<'_>) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..MountAttr::default()
    };
    for layer in layers {
        let failed = |step: &str, errno: Errno| {
            io::Error::new(
                io::Error::from(errno).kind(),
                format!("idmapping layer {}: {step}: {errno}", layer.display()),
            )
        };
        let path = CString::new(layer.as_os_str().as_bytes())
            .map_err(|_| io::Error::other(format!("layer path {} has a NUL", layer.display())))?;
        let tree = open_tree(libc::AT_FDCWD, &path, OPEN_TREE_CLONE)
            .map_err(|e| failed("cloning its mount", e))?;
        mount_setattr(&tree, false, &attr).map_err(|e| failed("setting the id map", e))?;
        let target = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(layer)
            .map_err(|e| failed("opening it", io_errno(&e)))?;
        move_mount(&tree, target.as_fd()).map_err(|e| failed("attaching the copy", e))?;
    }
    Ok(())
}

fn io_errno(error: &io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(lower: &[&str]) -> Vec<PathBuf> {
        lower.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn options_list_the_layers_topmost_first() {
        let upper = Some((Path::new("/c/upper"), Path::new("/c/work")));
        assert_eq!(
            overlay_options(&paths(&["/l/top", "/l/base"]), upper).unwrap(),
            "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        assert_eq!(
            overlay_options(&paths(&["/l/only"]), None).unwrap(),
            "lowerdir=/l/only"
        );
    }

    #[test]
    fn options_refuse_separators_and_overlong_strings() {
        assert!(overlay_options(&paths(&["/l/a,b"]), None).is_err());
        assert!(overlay_options(&paths(&["/l/a:b"]), None).is_err());
        let work = Some((Path::new("/c/up:per"), Path::new("/c/work")));
        assert!(overlay_options(&paths(&["/l/a"]), work).is_err());
        let long = format!("/layers/{}", "a".repeat(100));
        let error = overlay_options(&paths(&vec![long.as_str(); 50]), None).unwrap_err();
        assert!(error.to_string().contains("50 layers"), "{error}");
    }

    #[test]
    fn idmapped_layers_show_their_owners_through_the_maps() {
        use crate::spec::{IdMapping, UserNamespace};
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        std::fs::write(layer.join("file"), b"x").unwrap();
        std::os::unix::fs::chown(layer.join("file"), Some(5), Some(6)).unwrap();
        let map = |host| {
            vec![IdMapping {
                container: 0,
                host,
                size: 1000,
            }]
        };
        let namespace = UserNamespace {
            uid_map: map(1_700_000_000),
            gid_map: map(1_700_100_000),
        };
        let userns = crate::mapped_user_namespace(&namespace).unwrap();
        let layers = vec![layer.clone()];
        let (inside, mounted) = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            let private = nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE;
            nix::mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>).unwrap();
            idmap_layers(&layers, userns.as_fd()).unwrap();
            let meta = std::fs::metadata(layers[0].join("file")).unwrap();
            let mounts = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
            let mounted = mounts.contains(layers[0].to_str().unwrap());
            ((meta.uid(), meta.gid()), mounted)
        })
        .join()
        .unwrap();
        assert_eq!(inside, (1_700_000_005, 1_700_100_006));
        assert!(mounted);
        // The host sees neither the copy nor other owners.
        let meta = std::fs::metadata(layer.join("file")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (5, 6));
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(layer.to_str().unwrap()), "{mounts}");
    }
}
