//! Descriptor-relative filesystem helpers shared by the code that reads and
//! writes trees the daemon does not trust (layers, containers' upper
//! directories and roots): nothing here follows a symlink.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, major, minor, FileStat, Mode, SFlag};

/// The xattr overlayfs marks an opaque directory with.
pub(crate) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// `fstatat` without following a final symlink; `None` if absent.
pub(crate) fn stat_at(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<FileStat>> {
    match fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn is_kind(st: &FileStat, kind: SFlag) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == kind.bits()
}

/// An overlayfs whiteout: a character device 0/0.
pub(crate) fn is_whiteout(st: &FileStat) -> bool {
    is_kind(st, SFlag::S_IFCHR) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0
}

/// Opens the directory `name` in `dir` without following a symlink.
pub(crate) fn open_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    let fd = openat(
        Some(dir.as_raw_fd()),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `openat` just returned this descriptor, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the directory at `path` (a host path the daemon owns) without
/// following a final symlink.
pub(crate) fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    let fd = openat(
        None,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `openat` just returned this descriptor, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The names in the open directory `dir`, without `.` and `..`, sorted
/// bytewise (the order Go's directory walks use).
pub(crate) fn dir_names(dir: &OwnedFd) -> io::Result<Vec<OsString>> {
    // `Dir` owns the descriptor it is given and closes it when dropped.
    let mut listing = nix::dir::Dir::from_fd(dir.try_clone()?.into_raw_fd())?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name));
        }
    }
    names.sort();
    Ok(names)
}

/// A path naming `name` in the directory open as `dir`, for the calls that
/// have no `*at` form; `/proc/self/fd/N` resolves to that very directory.
pub(crate) fn fd_path(dir: &OwnedFd, name: &OsStr) -> PathBuf {
    Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name)
}

/// `lgetxattr(2)` of `name` in `dir`, not following a symlink; `None` if
/// the attribute (or the file) is absent or the filesystem has none.
pub(crate) fn get_xattr_at(dir: &OwnedFd, name: &OsStr, xattr: &str) -> Option<Vec<u8>> {
    let path = CString::new(fd_path(dir, name).into_os_string().into_vec()).ok()?;
    let xattr = CString::new(xattr).ok()?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: `path` and `xattr` are NUL-terminated strings that outlive
        // the call, and `buf`'s pointer and length describe one live buffer.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                xattr.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Some(buf);
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE) || buf.len() >= 1 << 16 {
            return None;
        }
        buf.resize(buf.len() * 4, 0);
    }
}

/// Whether the directory `name` in `dir` is an opaque overlayfs directory.
pub(crate) fn is_opaque_at(dir: &OwnedFd, name: &OsStr) -> bool {
    get_xattr_at(dir, name, OPAQUE_XATTR).as_deref() == Some(b"y")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_dots_left_out() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b", "a", "C", ".hidden"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let fd = open_dir_path(dir.path()).unwrap();
        assert_eq!(dir_names(&fd).unwrap(), [".hidden", "C", "a", "b"]);
        assert!(stat_at(&fd, OsStr::new("a")).unwrap().is_some());
        assert!(stat_at(&fd, OsStr::new("zz")).unwrap().is_none());
        assert_eq!(get_xattr_at(&fd, OsStr::new("a"), "user.none"), None);
    }
}
