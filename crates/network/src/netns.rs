//! Network namespaces held by a file descriptor, and running code inside one.
//!
//! A [`Netns`] lives exactly as long as its descriptor (and whatever else the
//! kernel counts: processes inside it, sockets made in it): there is no bind
//! mount under `/run/netns` to leak when the daemon dies.
//!
//! The network namespace is a property of a thread, so entering one is only
//! ever done on a short-lived thread made for the purpose: a thread of the
//! caller's (tokio) pool never changes namespace. Sockets keep the namespace
//! they were made in, so a socket made by [`Netns::run`] can be used from any
//! thread afterwards.
//!
//! Creating, opening and entering namespaces needs `CAP_SYS_ADMIN`.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread;

use nix::sched::{setns, unshare, CloneFlags};

/// A network namespace, kept alive by the descriptor this value owns.
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
}

impl Netns {
    /// A new, empty network namespace (only `lo`, down), kept alive by the
    /// descriptor only: dropping it is all the cleanup there is.
    pub fn create() -> io::Result<Netns> {
        on_own_thread("berth-netns-new", || {
            unshare(CloneFlags::CLONE_NEWNET)?;
            Netns::open(Path::new("/proc/thread-self/ns/net"))
        })?
    }

    /// Opens an existing namespace, e.g. `/proc/<pid>/ns/net` of a running
    /// container.
    pub fn open(path: &Path) -> io::Result<Netns> {
        let fd = OwnedFd::from(File::open(path)?);
        Ok(Netns { fd })
    }

    /// The descriptor, e.g. to move a link into this namespace.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A path through which another process can open this namespace while
    /// this value lives: `/proc/<our pid>/fd/<fd>`.
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.fd.as_raw_fd()
        ))
    }

    /// Runs `f` on a fresh thread that has entered this namespace, and
    /// returns its result. Sockets `f` makes stay in this namespace, e.g. a
    /// listener inside a container's network namespace. A panic in `f` is
    /// resumed on the caller's thread.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> io::Result<R> {
        let fd = self.fd.as_fd();
        on_own_thread("berth-netns-run", move || {
            setns(fd, CloneFlags::CLONE_NEWNET)?;
            Ok(f())
        })?
    }
}

/// Runs `f` on a new thread named `name` and waits for it, so that whatever
/// `f` does to its thread (namespaces) dies with it.
fn on_own_thread<'env, R: Send>(name: &str, f: impl FnOnce() -> R + Send + 'env) -> io::Result<R> {
    thread::scope(|scope| {
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn_scoped(scope, f)?;
        Ok(thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
    use std::os::unix::fs::MetadataExt;

    fn inode(path: &str) -> u64 {
        std::fs::metadata(path).unwrap().ino()
    }

    /// The links of the calling thread's namespace, over a netlink socket
    /// made on this thread.
    fn links_here() -> Vec<LinkMessage> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (connection, handle, _) = rtnetlink::new_connection().unwrap();
            tokio::spawn(connection);
            handle.link().get().execute().try_collect().await.unwrap()
        })
    }

    #[test]
    fn run_enters_the_namespace_and_leaves_the_caller_where_it_was() {
        let before = inode("/proc/thread-self/ns/net");
        let netns = Netns::create().unwrap();
        let inside = netns.run(|| inode("/proc/thread-self/ns/net")).unwrap();
        assert_ne!(inside, before);
        assert_eq!(inode("/proc/thread-self/ns/net"), before);
        assert_eq!(
            netns.run(|| inode("/proc/thread-self/ns/net")).unwrap(),
            inside
        );
    }

    #[test]
    fn a_new_namespace_has_only_lo_and_it_is_down() {
        let netns = Netns::create().unwrap();
        let links = netns.run(links_here).unwrap();
        assert_eq!(links.len(), 1);
        let lo = &links[0];
        assert!(lo.attributes.contains(&LinkAttribute::IfName("lo".into())));
        assert!(!lo.header.flags.contains(LinkFlags::Up));
    }

    #[test]
    fn proc_path_opens_the_same_namespace_while_the_value_lives() {
        let netns = Netns::create().unwrap();
        let again = Netns::open(&netns.proc_path()).unwrap();
        let ino = |ns: &Netns| std::fs::metadata(ns.proc_path()).unwrap().ino();
        assert_eq!(ino(&netns), ino(&again));
        assert_eq!(
            netns.run(|| inode("/proc/thread-self/ns/net")).unwrap(),
            ino(&netns)
        );
    }

    #[test]
    fn a_panic_inside_run_reaches_the_caller() {
        let netns = Netns::create().unwrap();
        let caught = std::panic::catch_unwind(|| netns.run(|| panic!("inside")));
        assert!(caught.is_err());
    }
}
