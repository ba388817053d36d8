//! A container's root filesystem for the daemon's own work on it (`cp`,
//! `export`), on a thread of its own.
//!
//! A running (or paused) container's root is its init's `/proc/<pid>/root`,
//! which shows the container's own mounts (tmpfs, the file binds); the pid
//! is checked against the init's pidfd after the open, so a reused pid can
//! never hand out another process's root. A created or stopped container
//! has no mounted root: its overlay is mounted on `<container dir>/rootfs`
//! inside a mount namespace of the worker thread's own (`unshare(CLONE_NEWNS)`
//! with `/` made recursively private first), so the host never sees the
//! mount, and when the thread ends the namespace goes and the mount with it,
//! whatever happens to berthd meanwhile (the layers of a remapped
//! container are covered there with idmapped copies first, as its init
//! covers them, [`LayerIdmap`]). The container's binds and volumes
//! are bound into that overlay, parents first, as a start binds them, each
//! destination resolved inside the overlay
//! ([`berth_runtime::bind_under_root`]); they are unmounted, deepest first,
//! before the overlay.

use berth_api::ApiError;
use berth_image::ContainerRoot;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a container's root comes from.
pub(super) enum RootSource {
    /// A running container: `/proc/<pid>/root` of its init, which `pidfd`
    /// pins.
    Process { pid: i32, pidfd: OwnedFd },
    /// A container that is not running: its overlay, mounted privately.
    Overlay(Overlay),
}

/// An overlay to mount on `target`.
pub(super) struct Overlay {
    /// Layer directories, topmost first.
    pub(super) lower: Vec<PathBuf>,
    /// The upper and work directories; without them the mount is a
    /// read-only stack of `lower`.
    pub(super) upper: Option<(PathBuf, PathBuf)>,
    pub(super) target: PathBuf,
    pub(super) read_only: bool,
    /// What to bind into it, parents first.
    pub(super) binds: Vec<RootBind>,
    /// Layers among `lower` to mount idmapped, for a remapped container
    /// ([`super::remap_layers`]).
    pub(super) idmap: Option<LayerIdmap>,
}

/// Image layers that show their owners through a user namespace's maps.
pub(super) struct LayerIdmap {
    /// The namespace (its descriptor).
    pub(super) userns: Arc<OwnedFd>,
    pub(super) layers: Vec<PathBuf>,
}

/// A host path bound into an overlay.
pub(super) struct RootBind {
    pub(super) source: PathBuf,
    /// Where, inside the overlay.
    pub(super) destination: String,
    pub(super) read_only: bool,
    /// With the source's submounts.
    pub(super) recursive: bool,
}

/// What a worker thread mounted, to unmount before its result goes.
#[derive(Default)]
struct Mounted {
    overlay: Option<PathBuf>,
    /// Where the binds are, parents first.
    binds: Vec<PathBuf>,
}

/// Runs `work` on a new thread with the container's root (or why it could
/// not be had), and returns what it returns once any private mount is
/// gone: unmounted (not lazily: every descriptor into it has been closed
/// with the root `work` was given) before the result is sent, so that
/// whoever waits for it may mount the same upper directory at once.
pub(super) async fn in_root<T, F>(source: RootSource, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Result<ContainerRoot, ApiError>) -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("berth-rootfs".to_string())
        .spawn(move || {
            let mut mounted = Mounted::default();
            let root = open(source, &mut mounted);
            let result = work(root);
            unmount(mounted);
            let _ = tx.send(result);
        })
        .map_err(|e| ApiError::system(format!("starting a filesystem worker: {e}")))?;
    rx.await
        .map_err(|_| ApiError::system("the container filesystem worker failed"))
}

fn open(source: RootSource, mounted: &mut Mounted) -> Result<ContainerRoot, ApiError> {
    match source {
        RootSource::Process { pid, pidfd } => {
            let root = ContainerRoot::open(Path::new(&format!("/proc/{pid}/root")));
            // Opened while the init the pidfd pins was alive: then the pid
            // was still that init's, not a reused one.
            if !pidfd_alive(&pidfd, pid) {
                return Err(ApiError::conflict(format!(
                    "the container's process {pid} has exited"
                )));
            }
            root.map_err(|e| ApiError::system(format!("opening the container's root: {e}")))
        }
        RootSource::Overlay(overlay) => mount_private(&overlay, mounted)
            .map_err(|e| ApiError::system(format!("mounting the container's filesystem: {e}"))),
    }
}

/// Unmounts what the worker mounted: the binds, deepest first (one with
/// submounts of its own is detached, with them), then the overlay. A plain
/// unmount returns once the overlay is torn down; should something still
/// hold it, it is detached and goes when that lets go (and with the
/// thread's namespace in any case).
fn unmount(mounted: Mounted) {
    for bind in mounted.binds.iter().rev() {
        if let Err(e) = umount2(bind, MntFlags::UMOUNT_NOFOLLOW) {
            tracing::debug!(bind = %bind.display(), error = %e, "detaching a bind of a private overlay");
            let _ = umount2(bind, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
        }
    }
    if let Some(target) = mounted.overlay {
        if let Err(e) = umount2(&target, MntFlags::empty()) {
            tracing::warn!(target = %target.display(), error = %e, "private overlay busy: detaching it");
            let _ = umount2(&target, MntFlags::MNT_DETACH);
        }
    }
}

/// Whether the process `pidfd` refers to is still `pid` (its fdinfo says
/// `Pid: -1` once it has exited).
fn pidfd_alive(pidfd: &OwnedFd, pid: i32) -> bool {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))
        .unwrap_or_default();
    info.lines()
        .find_map(|line| line.strip_prefix("Pid:"))
        .is_some_and(|value| value.trim() == pid.to_string())
}

/// Mounts the overlay in a mount namespace of this thread's own, binds
/// into it what it is to have, and opens it; `mounted` says what is
/// mounted, whether or not all of it could be. A bind whose source is
/// missing is left out. Mountpoints missing for the binds are made in the
/// overlay: it is mounted writable for them, and made read-only once they
/// are bound when `read_only` (the binds are read-only then too). Call on
/// a thread that ends when its work is done.
fn mount_private(overlay: &Overlay, mounted: &mut Mounted) -> std::io::Result<ContainerRoot> {
    unshare(CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    let upper = overlay
        .upper
        .as_ref()
        .map(|(upper, work)| (upper.as_path(), work.as_path()));
    let options = berth_runtime::overlay_options(&overlay.lower, upper)?;
    if let Some(idmap) = &overlay.idmap {
        berth_runtime::idmap_layers(&idmap.layers, idmap.userns.as_fd())?;
    }
    let writable = overlay.upper.is_some() && (!overlay.read_only || !overlay.binds.is_empty());
    let flags = if writable {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    mount(
        Some("overlay"),
        &overlay.target,
        Some("overlay"),
        flags,
        Some(options.as_str()),
    )?;
    mounted.overlay = Some(overlay.target.clone());
    let root = ContainerRoot::open(&overlay.target)?;
    if overlay.binds.is_empty() {
        return Ok(root);
    }
    let top = std::fs::File::open(&overlay.target)?;
    for bind in &overlay.binds {
        if !bind.source.exists() {
            tracing::debug!(
                source = %bind.source.display(),
                destination = %bind.destination,
                "bind source missing: not bound"
            );
            continue;
        }
        let at = berth_runtime::bind_under_root(
            top.as_fd(),
            &bind.source,
            &bind.destination,
            bind.read_only || overlay.read_only,
            bind.recursive,
        )
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "binding {} at {}: {e}",
                    bind.source.display(),
                    bind.destination
                ),
            )
        })?;
        mounted.binds.push(at);
    }
    if overlay.read_only && writable {
        mount(
            None::<&str>,
            &overlay.target,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )?;
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_overlay_mounted_for_work_is_gone_with_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["lower", "upper", "work", "rootfs"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("lower/base"), b"base").unwrap();
        let overlay = Overlay {
            lower: vec![dir.path().join("lower")],
            upper: Some((dir.path().join("upper"), dir.path().join("work"))),
            target: dir.path().join("rootfs"),
            read_only: false,
            binds: Vec::new(),
            idmap: None,
        };
        let target = dir.path().join("rootfs");
        let seen = in_root(RootSource::Overlay(overlay), move |root| {
            let root = root.unwrap();
            let mounts = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
            let mounted = mounts.contains(target.to_str().unwrap());
            (mounted, root.stat("/base").unwrap().size)
        })
        .await
        .unwrap();
        assert_eq!(seen, (true, 4));
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(dir.path().to_str().unwrap()), "{mounts}");
    }

    fn bind(source: &Path, destination: &str) -> RootBind {
        RootBind {
            source: source.to_path_buf(),
            destination: destination.to_string(),
            read_only: false,
            recursive: true,
        }
    }

    #[test]
    fn binds_land_inside_the_overlay_and_unmount_before_it() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["lower", "upper", "work", "rootfs", "volume"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("volume/x"), b"volume").unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("lower/escape")).unwrap();
        let host = format!("/tmp/berth-private-root-{}", std::process::id());
        let volume = dir.path().join("volume");
        let overlay = Overlay {
            lower: vec![dir.path().join("lower")],
            upper: Some((dir.path().join("upper"), dir.path().join("work"))),
            target: dir.path().join("rootfs"),
            read_only: true,
            binds: vec![
                bind(&volume, "/data"),
                bind(&dir.path().join("missing"), "/gone"),
                bind(&volume, &format!("/escape{host}")),
            ],
            idmap: None,
        };
        let target = dir.path().join("rootfs");
        let inside = format!("{host}/x");
        let seen = std::thread::spawn(move || {
            let mut mounted = Mounted::default();
            let root = mount_private(&overlay, &mut mounted).unwrap();
            let size = root.stat("/data/x").unwrap().size;
            let escaped = root.stat(&inside).unwrap().size;
            let gone = root.stat("/gone").is_err();
            let refused = [target.join("new"), target.join("data/new")]
                .map(|path| std::fs::write(path, b"x").unwrap_err().raw_os_error());
            drop(root);
            let mut unmounted: Vec<_> = mounted
                .binds
                .iter()
                .rev()
                .map(|bind| umount2(bind, MntFlags::empty()))
                .collect();
            unmounted.push(umount2(&target, MntFlags::empty()));
            (size, escaped, gone, refused, unmounted)
        })
        .join()
        .unwrap();
        let (size, escaped, gone, refused, unmounted) = seen;
        assert_eq!((size, escaped, gone), (6, 6, true));
        assert_eq!(refused, [Some(libc::EROFS); 2]);
        assert!(unmounted.iter().all(Result::is_ok), "{unmounted:?}");
        let upper = dir.path().join("upper");
        assert!(upper.join("data").is_dir());
        assert!(upper.join(host.trim_start_matches('/')).is_dir());
        assert!(!Path::new(&host).exists(), "{host} made on the host");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(dir.path().to_str().unwrap()), "{mounts}");
    }
}
