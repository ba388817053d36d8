//! The monitor binary as containers could reach it (CVE-2019-5736).
//!
//! Until it execs the container's command, a container's init (and an exec'd
//! process) is the `berth-shim` image, so a process in the container can
//! open `/proc/<pid>/exe` — the host's binary — and, once nothing runs it,
//! write to it, and every later container would run the attacker's code as
//! root on the host. berthd therefore starts monitors only from a read-only
//! bind mount of the binary in its exec root: writing through
//! `/proc/<pid>/exe` then fails with EROFS, whatever the writer's
//! privileges, and the mount lives in the host's mount namespace where no
//! container can remount it.

use anyhow::Context;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};

const NAME: &str = "berth-shim";

/// Bind-mounts `real` read-only at `<exec_root>/berth-shim` and returns that
/// path. A mount left there by a daemon that did not stop is replaced (the
/// monitors still running from it keep it alive until they exit).
pub fn protect(real: &Path, exec_root: &Path) -> anyhow::Result<PathBuf> {
    let target = exec_root.join(NAME);
    release(&target);
    std::fs::File::create(&target)
        .with_context(|| format!("creating the mount point {}", target.display()))?;
    mount(
        Some(real),
        &target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind-mounting {} on {}", real.display(), target.display()))?;
    mount(
        None::<&str>,
        &target,
        None::<&str>,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .with_context(|| format!("making {} read-only", target.display()))?;
    tracing::debug!(path = %target.display(), "monitor binary mounted read-only");
    Ok(target)
}

/// Detaches every mount stacked on `target` and removes the mount point.
/// Monitors running from it keep their copy until they exit.
pub fn release(target: &Path) {
    loop {
        match umount2(target, MntFlags::MNT_DETACH) {
            Ok(()) => continue,
            Err(Errno::EINVAL | Errno::ENOENT) => break,
            Err(e) => {
                tracing::warn!(path = %target.display(), error = %e, "unmounting the monitor binary");
                break;
            }
        }
    }
    let _ = std::fs::remove_file(target);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn the_mounted_binary_runs_but_cannot_be_written_even_by_root() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::copy("/bin/true", &real).unwrap();
        let exec_root = dir.path().join("exec");
        std::fs::create_dir(&exec_root).unwrap();
        // Protecting twice (a restart) replaces the mount rather than stacking.
        let first = protect(&real, &exec_root).unwrap();
        let path = protect(&real, &exec_root).unwrap();
        assert_eq!(first, path);
        assert!(std::process::Command::new(&path)
            .status()
            .unwrap()
            .success());
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ReadOnlyFilesystem, "{err}");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let ours = path.to_str().unwrap();
        assert_eq!(mounts.lines().filter(|l| l.contains(ours)).count(), 1);
        release(&path);
        assert!(!path.exists());
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(ours));
    }
}
