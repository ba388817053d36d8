//! Joining a running container, for `docker exec`: its namespaces and its
//! root directory.
//!
//! The container is named by its id and its init's pid on the host.
//! [`JoinTarget::open`] pins the init with a pidfd, checks that its parent is
//! the container's monitor (a stale pid must never lead into some host
//! process's namespaces) and opens its root directory while the caller
//! still sees the host's `/proc`; [`JoinTarget::enter`] then moves the caller
//! into the init's pid, mount, UTS, IPC, network and cgroup namespaces (one
//! `setns` on the pidfd, Linux 5.8; one `setns` per `/proc/<pid>/ns/*` file
//! before that) and makes the init's root the caller's root and working
//! directory; a remapped container's user namespace comes last, and the
//! caller becomes root there. Joining the pid namespace only places the caller's future
//! children in it, so the caller forks next.
//!
//! This module does not start anything: [`crate::spawn_exec`] does.

use crate::error::RuntimeError;
use crate::launch::shim_alive;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

/// The namespaces an exec joins (every one a container gets), with their
/// names under `/proc/<pid>/ns`. The mount namespace comes last: once it is
/// joined, the caller's paths resolve in the container.
const NAMESPACES: [(CloneFlags, &str); 6] = [
    (CloneFlags::CLONE_NEWUTS, "uts"),
    (CloneFlags::CLONE_NEWIPC, "ipc"),
    (CloneFlags::CLONE_NEWNET, "net"),
    (CloneFlags::CLONE_NEWPID, "pid"),
    (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
    (CloneFlags::CLONE_NEWNS, "mnt"),
];

/// The user namespace of `pid`, opened, when it differs from the caller's.
fn own_user_namespace(pid: i32) -> Result<Option<OwnedFd>, RuntimeError> {
    use std::os::unix::fs::MetadataExt;
    let path = PathBuf::from(format!("/proc/{pid}/ns/user"));
    let file = |source| RuntimeError::File {
        action: "opening the container's user namespace",
        path: path.clone(),
        source,
    };
    let theirs = std::fs::File::open(&path).map_err(file)?;
    let (mine, their_meta) = (
        std::fs::metadata("/proc/self/ns/user").map_err(file)?,
        theirs.metadata().map_err(file)?,
    );
    let same = (mine.dev(), mine.ino()) == (their_meta.dev(), their_meta.ino());
    Ok((!same).then(|| theirs.into()))
}

/// A running container's init, held open so that it can be joined.
#[derive(Debug)]
pub struct JoinTarget {
    pid: i32,
    /// Pins the init: the pid cannot name another process while this is open
    /// and the init has not been reaped.
    pidfd: OwnedFd,
    /// The init's root directory (`/proc/<pid>/root`), opened `O_PATH`.
    root: OwnedFd,
    /// The init's user namespace when it is not the caller's (a remapped
    /// container), joined last.
    user: Option<OwnedFd>,
}

impl JoinTarget {
    /// Opens the init of container `container_id`, host pid `init_pid`.
    /// Fails if that process does not exist, exits meanwhile, or is not the
    /// container's init: its parent must be the container's monitor
    /// ([`crate::shim_alive`]), so that a stale pid, recycled by some host
    /// process, is never joined.
    pub fn open(container_id: &str, init_pid: i32) -> Result<JoinTarget, RuntimeError> {
        let target = JoinTarget::pin(init_pid)?;
        let parent = parent_pid(init_pid).unwrap_or(0);
        if !shim_alive(parent, container_id) {
            return Err(RuntimeError::NotContainerInit {
                pid: init_pid,
                container_id: container_id.to_owned(),
            });
        }
        // Alive after everything was read from /proc/<pid>: the pid was not
        // recycled in between, so it all describes the pinned process.
        target.check_alive().map_err(not_running)?;
        Ok(target)
    }

    /// Opens `pid` (a pidfd and its root) without asking whose it is.
    fn pin(pid: i32) -> Result<JoinTarget, RuntimeError> {
        if pid <= 0 {
            return Err(not_running(Errno::ESRCH));
        }
        let pidfd = pidfd_open(pid).map_err(not_running)?;
        let root_path = PathBuf::from(format!("/proc/{pid}/root"));
        let root = nix::fcntl::open(
            &root_path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| RuntimeError::File {
            action: "opening the container's root",
            path: root_path,
            source: errno.into(),
        })?;
        // SAFETY: `open` just returned this descriptor and nothing else owns it.
        let root = unsafe { OwnedFd::from_raw_fd(root) };
        let user = own_user_namespace(pid)?;
        Ok(JoinTarget {
            pid,
            pidfd,
            root,
            user,
        })
    }

    /// Moves the calling process into the container: its namespaces, then
    /// its root as root and working directory.
    ///
    /// The caller must be single-threaded (the kernel refuses to move a
    /// process that shares its filesystem context into another mount
    /// namespace) and must fork before running anything in the container's
    /// pid namespace.
    pub fn enter(&self) -> Result<(), RuntimeError> {
        let sys = |action| move |source| RuntimeError::Sys { action, source };
        match self.enter_namespaces_by_pidfd() {
            Ok(()) => {}
            // Kernels before 5.8 take only namespace files.
            Err(Errno::EINVAL) => NamespaceFiles::open(self.pid)?
                .enter()
                .map_err(sys("joining the container's namespaces"))?,
            Err(errno) => return Err(sys("joining the container's namespaces")(errno)),
        }
        self.enter_root()
            .map_err(sys("entering the container's root"))?;
        if let Some(user) = &self.user {
            nix::sched::setns(user, CloneFlags::CLONE_NEWUSER)
                .map_err(sys("joining the container's user namespace"))?;
            crate::userns::become_root()
                .map_err(sys("becoming root of the container's user namespace"))?;
        }
        Ok(())
    }

    /// Whether the init still runs (signal 0 through the pidfd).
    fn check_alive(&self) -> Result<(), Errno> {
        // SAFETY: pidfd_send_signal with a valid pidfd, signal 0 and no siginfo.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                0,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    /// All namespaces in one atomic `setns` on the pidfd (Linux 5.8).
    fn enter_namespaces_by_pidfd(&self) -> Result<(), Errno> {
        let all = NAMESPACES
            .iter()
            .fold(CloneFlags::empty(), |all, (flag, _)| all | *flag);
        nix::sched::setns(self.pidfd.as_fd(), all)
    }

    /// `fchdir` to the init's root and `chroot(".")`: without it the caller
    /// would keep the host's root after joining the mount namespace. Only
    /// syscalls, so it is safe between fork and exec.
    fn enter_root(&self) -> Result<(), Errno> {
        nix::unistd::fchdir(self.root.as_raw_fd())?;
        nix::unistd::chroot(".")
    }
}

fn not_running(source: Errno) -> RuntimeError {
    RuntimeError::Sys {
        action: "opening the container's init process",
        source,
    }
}

/// The `PPid` of `pid`, from /proc/<pid>/status.
fn parent_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("PPid:"))
        .and_then(|value| value.trim().parse().ok())
}

/// The init's namespace files, for kernels whose `setns` takes no pidfd.
struct NamespaceFiles {
    files: Vec<(CloneFlags, OwnedFd)>,
}

impl NamespaceFiles {
    /// Opens every file first: after the mount namespace is joined,
    /// `/proc/<pid>` of a host pid no longer resolves.
    fn open(pid: i32) -> Result<NamespaceFiles, RuntimeError> {
        let files = NAMESPACES
            .iter()
            .map(|&(flag, name)| {
                let path = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
                match nix::fcntl::open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
                    // SAFETY: `open` just returned this descriptor and nothing else owns it.
                    Ok(fd) => Ok((flag, unsafe { OwnedFd::from_raw_fd(fd) })),
                    Err(errno) => Err(RuntimeError::File {
                        action: "opening the container's namespace",
                        path,
                        source: errno.into(),
                    }),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(NamespaceFiles { files })
    }

    /// One `setns` per namespace, in [`NAMESPACES`] order. Only syscalls.
    fn enter(&self) -> Result<(), Errno> {
        self.files
            .iter()
            .try_for_each(|(flag, fd)| nix::sched::setns(fd.as_fd(), *flag))
    }
}

fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (close-on-exec by definition).
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a non-negative result is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    const TARGET_HOSTNAME: &str = "berth-join-test";

    /// A `sleep` in new UTS, IPC, network, mount and cgroup namespaces (the
    /// host's pid namespace and root), killed on drop.
    struct Target(Child);

    impl Target {
        fn start() -> Target {
            let mut command = Command::new("/bin/busybox");
            command.args(["sleep", "30"]);
            // SAFETY: the hook runs between fork and exec and makes only syscalls.
            unsafe {
                command.pre_exec(|| {
                    nix::sched::unshare(
                        CloneFlags::CLONE_NEWUTS
                            | CloneFlags::CLONE_NEWIPC
                            | CloneFlags::CLONE_NEWNET
                            | CloneFlags::CLONE_NEWNS
                            | CloneFlags::CLONE_NEWCGROUP,
                    )?;
                    nix::unistd::sethostname(TARGET_HOSTNAME)?;
                    Ok(())
                })
            };
            // spawn returns once the child has exec'd, namespaces in place.
            let target = Target(command.spawn().unwrap());
            assert_ne!(target.namespace("net"), namespace_of("self", "net"));
            target
        }

        fn pid(&self) -> i32 {
            self.0.id() as i32
        }

        fn namespace(&self, name: &str) -> String {
            namespace_of(&self.pid().to_string(), name)
        }
    }

    impl Drop for Target {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn namespace_of(pid: &str, name: &str) -> String {
        std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
            .map(|link| link.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Runs `hostname` and `readlink` of each namespace in a child that
    /// joins with `join` between fork and exec.
    fn run_joined(join: impl Fn() -> Result<(), Errno> + Send + Sync + 'static) -> String {
        let mut command = Command::new("/bin/busybox");
        command.args([
            "sh",
            "-c",
            "hostname; for ns in uts ipc net mnt cgroup; do readlink /proc/self/ns/$ns; done",
        ]);
        // SAFETY: the hook runs between fork and exec; `join` makes only syscalls.
        unsafe { command.pre_exec(move || join().map_err(std::io::Error::from)) };
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    fn expected(target: &Target) -> String {
        let mut lines = vec![TARGET_HOSTNAME.to_owned()];
        lines.extend(["uts", "ipc", "net", "mnt", "cgroup"].map(|ns| target.namespace(ns)));
        lines.join("\n") + "\n"
    }

    #[test]
    fn enter_by_pidfd_joins_every_namespace() {
        let target = Target::start();
        let joined = JoinTarget::pin(target.pid()).unwrap();
        let output = run_joined(move || {
            joined.enter_namespaces_by_pidfd()?;
            joined.enter_root()
        });
        assert_eq!(output, expected(&target));
    }

    #[test]
    fn enter_by_namespace_files_joins_every_namespace() {
        let target = Target::start();
        let joined = JoinTarget::pin(target.pid()).unwrap();
        let files = NamespaceFiles::open(target.pid()).unwrap();
        let output = run_joined(move || {
            files.enter()?;
            joined.enter_root()
        });
        assert_eq!(output, expected(&target));
    }

    #[test]
    fn open_fails_for_a_process_that_is_gone() {
        let mut child = Command::new("/bin/busybox").arg("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        let error = JoinTarget::open("c", pid).unwrap_err();
        assert!(error.to_string().contains("ESRCH"), "{error}");
        assert!(JoinTarget::open("c", 0).is_err());
    }

    #[test]
    fn open_refuses_a_process_whose_parent_is_not_the_containers_monitor() {
        let target = Target::start();
        let error = JoinTarget::open("c0ffee", target.pid()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "process {} is not the init of container c0ffee",
                target.pid()
            )
        );
    }
}
