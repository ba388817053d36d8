//! File-descriptor hygiene shared by the monitor and the container's init:
//! nothing the monitor holds may survive into the container (the leaked-fd
//! class of escapes, CVE-2024-21626).

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use std::os::fd::RawFd;

/// Marks every descriptor from `lowest` up close-on-exec.
pub fn set_cloexec_from(lowest: RawFd) -> Result<(), Errno> {
    close_range(lowest, libc::CLOSE_RANGE_CLOEXEC).or_else(|_| {
        for fd in open_fds_from(lowest)? {
            match fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)) {
                Ok(_) | Err(Errno::EBADF) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
}

/// Closes every descriptor from `lowest` up.
pub fn close_from(lowest: RawFd) -> Result<(), Errno> {
    close_range(lowest, 0).or_else(|_| {
        for fd in open_fds_from(lowest)? {
            // Closing an fd this loop does not own is the point here.
            let _ = nix::unistd::close(fd);
        }
        Ok(())
    })
}

/// close_range(2) from `lowest` to the top (Linux 5.9; CLOEXEC since 5.11).
fn close_range(lowest: RawFd, flags: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: close_range only acts on this process's descriptor table; the
    // callers own every descriptor in the range by contract.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            lowest as libc::c_uint,
            libc::c_uint::MAX,
            flags,
        )
    };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// The descriptors listed in /proc/self/fd, from `lowest` up (collected
/// first, so the listing's own descriptor is not acted on while in use).
fn open_fds_from(lowest: RawFd) -> Result<Vec<RawFd>, Errno> {
    let entries = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= lowest)
        .collect())
}
