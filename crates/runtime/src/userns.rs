//! A container's own user namespace (dockerd's `--userns-remap`).
//!
//! The init builds the container's root as the host's root first: the
//! overlay over layers under the daemon's private data root, the
//! pseudo-filesystems, device nodes, masks and read-only paths all need the
//! host's privileges. Only then does it unshare a user namespace and ask
//! the monitor, over a socketpair, to write the namespace's uid and gid
//! maps (only a process privileged in the parent namespace may map ids
//! other than its own). Once the monitor answers, the init becomes root of
//! the new namespace (on the host, the mapped root: an unprivileged id)
//! and goes on to its lockdown, its user and `execve`.
//!
//! The container's other namespaces were made at clone and stay owned by
//! the host's user namespace, so the container's root holds capabilities
//! over its own files and processes, never over its mounts, hostname or
//! network devices; the network namespace's
//! `net.ipv4.ip_unprivileged_port_start` and `ping_group_range` (set for
//! every container, as Docker does) let it bind low ports and ping.
//!
//! An exec joins the init's user namespace last, after its other
//! namespaces and root ([`crate::JoinTarget`]), and becomes root there too.

use crate::failure::{StartFailure, EXIT_SETUP_FAILED};
use crate::spawn::clone_into_namespaces;
use crate::spec::{IdMapping, UserNamespace};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::{Gid, Pid, Uid};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// The byte the init sends once it has unshared, and the monitor sends
/// back once the maps are written.
const READY: u8 = 1;

/// Init side: unshares the user namespace, waits until the monitor has
/// written its maps (`sync` is the init's end of the socketpair), and
/// becomes root of the namespace.
pub(crate) fn enter_new(sync: OwnedFd) -> Result<(), StartFailure> {
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(|e| StartFailure::sys("creating the user namespace", e))?;
    let mut sync = UnixStream::from(sync);
    sync.write_all(&[READY])
        .map_err(|e| StartFailure::io("asking for the user namespace's id maps", &e))?;
    let mut answer = [0u8];
    match sync.read(&mut answer) {
        Ok(1) if answer[0] == READY => {
            become_root().map_err(|e| StartFailure::sys("becoming root of the user namespace", e))
        }
        Ok(_) => Err(StartFailure::new(
            "the monitor did not map the user namespace",
            EXIT_SETUP_FAILED,
        )),
        Err(e) => Err(StartFailure::io(
            "waiting for the user namespace's id maps",
            &e,
        )),
    }
}

/// Makes the caller root of the user namespace it is in: no supplementary
/// groups, uid and gid 0 (real, effective, saved and filesystem), so that
/// what it creates belongs to the container's root.
pub(crate) fn become_root() -> Result<(), Errno> {
    nix::unistd::setgroups(&[])?;
    let (gid, uid) = (Gid::from_raw(0), Uid::from_raw(0));
    nix::unistd::setresgid(gid, gid, gid)?;
    nix::unistd::setresuid(uid, uid, uid)
}

/// Monitor side: waits for the init (`pid`) to unshare its user namespace,
/// writes the maps and tells it to go on. Returns without writing when the
/// init ended before it got there (`sync` reads EOF): its error pipe says
/// why.
pub(crate) fn write_maps(
    pid: Pid,
    namespace: &UserNamespace,
    sync: OwnedFd,
) -> Result<(), StartFailure> {
    let mut sync = UnixStream::from(sync);
    let mut request = [0u8];
    match sync.read(&mut request) {
        Ok(0) => return Ok(()),
        Ok(_) => {}
        Err(e) => {
            return Err(StartFailure::io(
                "waiting for the init's user namespace",
                &e,
            ))
        }
    }
    write_map(pid, "uid_map", &namespace.uid_map)?;
    write_map(pid, "gid_map", &namespace.gid_map)?;
    sync.write_all(&[READY])
        .map_err(|e| StartFailure::io("releasing the init", &e))
}

/// A user namespace with `namespace`'s maps, held by its descriptor, for
/// idmapped mounts ([`crate::idmap_layers`]): a child cloned into a new
/// user namespace waits on a pipe while its maps are written and its
/// namespace opened, then is let go and reaped. The child only reads the
/// pipe and exits, so a multi-threaded caller may use this too.
pub fn mapped_user_namespace(namespace: &UserNamespace) -> std::io::Result<OwnedFd> {
    let (hold, release) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: the child makes only async-signal-safe calls (close, read,
    // _exit): it neither allocates nor takes a lock another thread held.
    let child = unsafe { clone_into_namespaces(libc::CLONE_NEWUSER) }?;
    let Some(pid) = child else {
        let mut byte = 0u8;
        // SAFETY: closing its copy of the write end (so that the parent's
        // close ends the read) and reading into a local byte.
        unsafe {
            libc::close(release.as_raw_fd());
            libc::read(hold.as_raw_fd(), (&raw mut byte).cast(), 1);
            libc::_exit(0)
        }
    };
    drop(hold);
    let opened = write_map_file(pid, "uid_map", &namespace.uid_map)
        .and_then(|()| write_map_file(pid, "gid_map", &namespace.gid_map))
        .and_then(|()| std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from))
        .map_err(|e| {
            std::io::Error::new(e.kind(), format!("making an id-mapped user namespace: {e}"))
        });
    drop(release);
    while let Err(Errno::EINTR) = waitpid(pid, None) {}
    opened
}

fn write_map_file(pid: Pid, file: &str, map: &[IdMapping]) -> std::io::Result<()> {
    std::fs::write(format!("/proc/{pid}/{file}"), map_text(map))
}

/// Writes one map in a single `write`, as the kernel requires.
fn write_map(pid: Pid, file: &str, map: &[IdMapping]) -> Result<(), StartFailure> {
    write_map_file(pid, file, map)
        .map_err(|e| StartFailure::io(format!("writing /proc/{pid}/{file}"), &e))
}

/// A map as `/proc/<pid>/uid_map` takes it: one `container host size` line
/// per range.
fn map_text(map: &[IdMapping]) -> String {
    map.iter()
        .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_written_one_range_per_line() {
        let map = [
            IdMapping {
                container: 0,
                host: 100000,
                size: 1000,
            },
            IdMapping {
                container: 1000,
                host: 300000,
                size: 64536,
            },
        ];
        assert_eq!(map_text(&map), "0 100000 1000\n1000 300000 64536\n");
        let namespace = UserNamespace {
            uid_map: map.to_vec(),
            gid_map: vec![IdMapping {
                container: 0,
                host: 200000,
                size: 65536,
            }],
        };
        assert_eq!(namespace.host_root(), Some((100000, 200000)));
        assert_eq!(namespace.host_gid(5), Some(200005));
        assert_eq!(namespace.host_gid(65536), None);
    }
}
