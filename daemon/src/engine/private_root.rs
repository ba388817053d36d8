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
//! whatever happens to berthd meanwhile. Mounts a container adds to its root
//! (volumes) belong in that namespace too, after the overlay.

use berth_api::ApiError;
use berth_image::ContainerRoot;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The most the kernel takes as mount options (one page less the NUL).
const MAX_MOUNT_DATA: usize = 4095;

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
            let target = match &source {
                RootSource::Overlay(overlay) => Some(overlay.target.clone()),
                RootSource::Process { .. } => None,
            };
            let root = open(source);
            let mounted = root.is_ok();
            let result = work(root);
            if let Some(target) = target.filter(|_| mounted) {
                unmount(&target);
            }
            let _ = tx.send(result);
        })
        .map_err(|e| ApiError::system(format!("starting a filesystem worker: {e}")))?;
    rx.await
        .map_err(|_| ApiError::system("the container filesystem worker failed"))
}

fn open(source: RootSource) -> Result<ContainerRoot, ApiError> {
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
        RootSource::Overlay(overlay) => mount_private(&overlay)
            .map_err(|e| ApiError::system(format!("mounting the container's filesystem: {e}"))),
    }
}

/// Unmounts the private overlay. A plain unmount returns once the overlay
/// is torn down; should something still hold it, it is detached and goes
/// when that lets go (and with the thread's namespace in any case).
fn unmount(target: &Path) {
    if let Err(e) = umount2(target, MntFlags::empty()) {
        tracing::warn!(target = %target.display(), error = %e, "private overlay busy: detaching it");
        let _ = umount2(target, MntFlags::MNT_DETACH);
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

/// Mounts the overlay in a mount namespace of this thread's own and opens
/// it. Call on a thread that ends when its work is done.
fn mount_private(overlay: &Overlay) -> std::io::Result<ContainerRoot> {
    unshare(CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    let options = overlay_options(overlay)?;
    let flags = if overlay.read_only || overlay.upper.is_none() {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    mount(
        Some("overlay"),
        &overlay.target,
        Some("overlay"),
        flags,
        Some(options.as_str()),
    )?;
    ContainerRoot::open(&overlay.target)
}

/// `lowerdir=...[,upperdir=...,workdir=...]`, refusing paths overlayfs
/// cannot take in its options.
fn overlay_options(overlay: &Overlay) -> std::io::Result<String> {
    let text = |path: &Path| match path.to_str() {
        Some(s) if !s.contains([',', ':']) => Ok(s.to_string()),
        _ => Err(std::io::Error::other(format!(
            "layer path {} must be UTF-8 without ',' or ':'",
            path.display()
        ))),
    };
    let lower = overlay
        .lower
        .iter()
        .map(|p| text(p))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut options = format!("lowerdir={}", lower.join(":"));
    if let Some((upper, work)) = &overlay.upper {
        options.push_str(&format!(
            ",upperdir={},workdir={}",
            text(upper)?,
            text(work)?
        ));
    }
    if options.len() > MAX_MOUNT_DATA {
        return Err(std::io::Error::other(format!(
            "overlay options for {} layers are {} bytes, more than the kernel's {MAX_MOUNT_DATA}",
            overlay.lower.len(),
            options.len()
        )));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_list_the_layers_top_first() {
        let overlay = Overlay {
            lower: vec!["/l/top".into(), "/l/base".into()],
            upper: Some(("/c/upper".into(), "/c/work".into())),
            target: "/c/rootfs".into(),
            read_only: false,
        };
        assert_eq!(
            overlay_options(&overlay).unwrap(),
            "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        let bad = Overlay {
            lower: vec!["/l/a:b".into()],
            upper: None,
            target: "/t".into(),
            read_only: true,
        };
        assert!(overlay_options(&bad).is_err());
    }

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
}
