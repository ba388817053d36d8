//! berth-runtime: the in-process container runtime.
//!
//! Owns everything between "here is a spec" and "the container's init has
//! exec'd": cloning the namespaces, mounting the overlay root and the
//! pseudo-filesystems, pivoting, hardening (masked and read-only paths,
//! capabilities, no_new_privs, seccomp, rlimits), switching user and
//! exec'ing. It knows nothing of HTTP or of the daemon's state; the monitor
//! (`berth-shim`) drives it through [`spawn_init`], and the daemon starts
//! monitors through [`launch`].

mod binds;
mod capabilities;
mod cgroup_join;
mod cgroup_mount;
pub mod control;
mod error;
mod exec;
mod exec_launch;
mod exec_process;
mod exec_spec;
mod failure;
pub mod fd;
mod init;
mod join;
mod launch;
mod lockdown;
mod mount_api;
mod mount_options;
mod net;
mod overlay;
pub mod pty;
mod rootfs;
mod spawn;
pub mod spec;
mod user;
mod userns;

pub use binds::bind_under_root;
pub use capabilities::{
    all_capabilities, capability_set, missing_from_bounding_set, normalize_capabilities,
};
pub use cgroup_join::CgroupProcs;
pub use error::RuntimeError;
pub use exec_launch::exec_command;
pub use exec_process::{spawn_exec, ExecOutcome, ExecStdio};
pub use exec_spec::ExecSpec;
pub use join::JoinTarget;
pub use launch::{launch, read_exit_status, shim_alive, SHIM_NAME, SYNC_FD};
pub use mount_options::tmpfs_options;
pub use overlay::{idmap_layers, overlay_options};
pub use spawn::{spawn_init, InitIo, InitOutcome, InitStdio};
pub use spec::{
    BindMount, ContainerSpec, DeviceNode, ExitStatus, FileBind, FilesystemSpec, IdMapping,
    NetworkNamespace, ProcessSpec, Propagation, Rlimit, RootfsSpec, SecuritySpec, StartReport,
    TmpfsMount, UserNamespace, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS,
};
pub use userns::mapped_user_namespace;
