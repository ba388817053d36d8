//! Pseudo-terminals: allocating one inside a container, making it the
//! controlling terminal, sizing it, and handing its master to the monitor.
//!
//! Where the pty comes from matters: the slave must live in the container's
//! own devpts instance (mounted `newinstance` on its `/dev/pts`), so that
//! `tty` prints `/dev/pts/0` and the node exists in the container. The
//! container's init therefore opens `/dev/ptmx` itself, after its root and
//! devpts are mounted, and passes the master back to the monitor over a
//! socketpair (`SCM_RIGHTS`). The master then belongs to the monitor alone:
//! it reads the container's output from it and writes stdin into it.
//!
//! This module does not own what flows through the master; that is the
//! monitor's.

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Both ends of a freshly allocated pseudo-terminal.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens `ptmx` (the container's `/dev/ptmx`, which points into its own
/// devpts) and the matching slave, both close-on-exec and neither becoming a
/// controlling terminal by accident.
pub fn open(ptmx: &str) -> Result<Pty, Errno> {
    let master_raw = nix::fcntl::open(
        ptmx,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: open just returned this descriptor and nothing else owns it.
    let master = unsafe { OwnedFd::from_raw_fd(master_raw) };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from a valid pointer.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
    let slave = open_peer(&master).or_else(|_| open_by_number(&master, ptmx))?;
    Ok(Pty { master, slave })
}

/// TIOCGPTPEER (Linux 4.13): the slave of `master` without a path lookup,
/// so it is certainly the right devpts instance.
fn open_peer(master: &OwnedFd) -> Result<OwnedFd, Errno> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes flags by value and returns a new descriptor.
    let fd = Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) })?;
    // SAFETY: the ioctl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Older kernels: the slave's number, opened beside `ptmx` in `pts/`.
fn open_by_number(master: &OwnedFd, ptmx: &str) -> Result<OwnedFd, Errno> {
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int to a valid pointer.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) })?;
    let dir = ptmx.rsplit_once('/').map_or("", |(dir, _)| dir);
    let path = format!("{dir}/pts/{number}");
    let fd = nix::fcntl::open(
        path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: open just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets the terminal size of the pty behind `fd` (master or slave). The
/// kernel sends SIGWINCH to the terminal's foreground process group when the
/// size changes.
pub fn set_window_size(fd: BorrowedFd<'_>, height: u16, width: u16) -> Result<(), Errno> {
    let size = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) }).map(drop)
}

/// Makes the terminal behind `slave` the controlling terminal of the calling
/// process, which must lead a session that has none yet (after setsid).
pub fn make_controlling_terminal(slave: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an int by value (0: do not steal).
    Errno::result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// Sends `fd` over the Unix socket `socket` with one byte of payload.
pub fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let fds: [RawFd; 1] = [fd.as_raw_fd()];
    let payload = [IoSlice::new(b"m")];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &payload,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map(drop)
}

/// Receives a descriptor sent with [`send_fd`], without blocking: `None` if
/// none is waiting (or the peer closed without sending). Received
/// descriptors are close-on-exec.
pub fn receive_fd(socket: BorrowedFd<'_>) -> Result<Option<OwnedFd>, Errno> {
    let mut byte = [0u8; 1];
    let mut payload = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut payload,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    );
    let message = match message {
        Ok(message) => message,
        Err(Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut received = None;
    for control in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = control {
            for fd in fds {
                // SAFETY: SCM_RIGHTS installed this descriptor in our table
                // just now; nothing else owns it. Extra ones are closed.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                received.get_or_insert(fd);
            }
        }
    }
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    fn window_size(fd: BorrowedFd<'_>) -> (u16, u16) {
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize to a valid pointer.
        assert_eq!(
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) },
            0
        );
        (size.ws_row, size.ws_col)
    }

    #[test]
    fn a_pty_passed_over_a_socket_is_the_same_terminal() {
        let pty = open("/dev/ptmx").unwrap();
        set_window_size(pty.slave.as_fd(), 24, 80).unwrap();
        let (left, right) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        assert!(receive_fd(right.as_fd()).unwrap().is_none());
        send_fd(left.as_fd(), pty.master.as_fd()).unwrap();
        let master = receive_fd(right.as_fd()).unwrap().unwrap();
        assert_eq!(window_size(master.as_fd()), (24, 80));
        set_window_size(master.as_fd(), 50, 132).unwrap();
        assert_eq!(window_size(pty.slave.as_fd()), (50, 132));

        nix::unistd::write(&pty.slave, b"hi\n").unwrap();
        let mut buffer = [0u8; 16];
        let n = nix::unistd::read(master.as_raw_fd(), &mut buffer).unwrap();
        assert_eq!(
            &buffer[..n],
            b"hi\r\n",
            "the line discipline maps NL to CR-NL"
        );
        let flags = nix::fcntl::fcntl(master.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }
}
