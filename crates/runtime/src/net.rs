//! The container's loopback interface and the network namespace's defaults.
//! A fresh network namespace has `lo` down; this brings it up. Everything
//! else about networking (veth, addresses, routes) belongs to
//! `berth-network`.

use crate::failure::StartFailure;
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Sets `IFF_UP` on `lo` in the calling process's network namespace.
pub(crate) fn bring_up_loopback() -> Result<(), Errno> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };

    // SAFETY: `ifreq` is plain old data (a name and a union of integers and
    // addresses); all-zero is a valid value of it.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name and writes the
    // `ifru_flags` member of `request`, which lives for both calls.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just filled `ifru_flags`, the member read here.
    unsafe {
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: as above; SIOCSIFFLAGS only reads `request`.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// The container's own sysctls (`--sysctl`, names checked by the daemon to
/// be dot-separated words), written through the host's `/proc`: the files
/// are per namespace, so they change the caller's.
pub(crate) fn set_sysctls(sysctls: &BTreeMap<String, String>) -> Result<(), StartFailure> {
    for (name, value) in sysctls {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        std::fs::write(&path, value)
            .map_err(|e| StartFailure::io(format!("writing {path}"), &e))?;
    }
    Ok(())
}

/// Docker's defaults for a container's own network namespace: any port may
/// be bound without CAP_NET_BIND_SERVICE, and any group may open ICMP echo
/// sockets (ping without CAP_NET_RAW). Written through the host's `/proc`
/// before the container's root is built; the files are per network
/// namespace, so they change the caller's. A kernel without one skips it.
pub(crate) fn set_default_sysctls() -> Result<(), StartFailure> {
    for (path, value) in [
        ("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"),
        ("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"),
    ] {
        match std::fs::write(path, value) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StartFailure::io(format!("writing {path}"), &e)),
        }
    }
    Ok(())
}
