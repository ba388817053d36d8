//! berth-runtime: the in-process container runtime.
//!
//! Owns everything between "here is a spec" and "the container's init has
//! exec'd": cloning the namespaces, mounting the overlay root and the
//! pseudo-filesystems, pivoting, switching user and exec'ing. It knows nothing
//! of HTTP or of the daemon's state; the monitor (`berth-shim`) drives it.

pub mod spec;

pub use spec::{ContainerSpec, ExitStatus, FileBind, ProcessSpec, RootfsSpec, StartReport};
