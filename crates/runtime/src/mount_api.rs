//! The new mount API's system calls (`open_tree`, `move_mount`,
//! `mount_setattr`), which neither `libc` nor `nix` wraps.

use nix::errno::Errno;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

// Kernel ABI of the new mount API (linux/mount.h), not in `libc`.
pub(crate) const OPEN_TREE_CLONE: libc::c_uint = 1;
pub(crate) const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
pub(crate) const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
pub(crate) const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
/// The propagation types mount_setattr(2) takes (mount(2)'s `MS_*` bits).
pub(crate) const MS_PRIVATE: u64 = 1 << 18;
pub(crate) const MS_SLAVE: u64 = 1 << 19;
pub(crate) const MS_SHARED: u64 = 1 << 20;
pub(crate) const AT_EMPTY_PATH: libc::c_uint = libc::AT_EMPTY_PATH as libc::c_uint;
pub(crate) const AT_RECURSIVE: libc::c_uint = libc::AT_RECURSIVE as libc::c_uint;

/// `struct mount_attr` of mount_setattr(2), its first version
/// (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct MountAttr {
    pub(crate) attr_set: u64,
    pub(crate) attr_clr: u64,
    pub(crate) propagation: u64,
    pub(crate) userns_fd: u64,
}

/// `open_tree(dirfd, path, flags)`: with `OPEN_TREE_CLONE`, a detached copy
/// of the mount at `path` (relative to `dirfd`).
pub(crate) fn open_tree(dirfd: RawFd, path: &CStr, flags: libc::c_uint) -> Result<OwnedFd, Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call; open_tree
    // does not keep the pointer.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dirfd,
            path.as_ptr(),
            OPEN_TREE_CLOEXEC | flags,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: open_tree returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Attaches the detached mount `tree` on `target` (on top of whatever is
/// mounted there already).
pub(crate) fn move_mount(tree: &OwnedFd, target: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: both paths are NUL-terminated and outlive the call; both
    // descriptors are open; move_mount keeps no pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// `mount_setattr(tree, "", AT_EMPTY_PATH, attr)` on the mount `tree`
/// (detached or attached), with its submounts when `recursive`.
pub(crate) fn mount_setattr(
    tree: &OwnedFd,
    recursive: bool,
    attr: &MountAttr,
) -> Result<(), Errno> {
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the path is NUL-terminated, `attr` is a valid mount_attr of
    // the size passed; mount_setattr keeps no pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_attr_is_the_kernels_first_version() {
        assert_eq!(std::mem::size_of::<MountAttr>(), 32);
    }
}
