//! Seccomp profiles in Docker's JSON format, compiled into classic BPF.
//!
//! Berth filters containers' syscalls the way Docker does: a profile (the
//! built-in [default](default_profile), or a user's JSON from
//! `--security-opt seccomp=FILE`) is resolved against the container's
//! capabilities and the host (architecture, kernel version), built into a
//! filter by libseccomp, and exported as a BPF program. The program is
//! plain bytes, so the daemon compiles it (once per profile and capability
//! set, see [`FilterCache`]) and the container's init loads it with one
//! syscall: neither the shim nor the init needs libseccomp.
//!
//! # The bytes
//!
//! [`compile`] returns the program as libseccomp's `seccomp_export_bpf`
//! writes it: an array of `struct sock_filter` (`<linux/filter.h>`), each
//! [`SOCK_FILTER_SIZE`] = 8 bytes, in the host's byte order, no header:
//!
//! ```text
//! offset 0  u16 code   opcode (BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K, ...)
//! offset 2  u8  jt     jump offset if true
//! offset 3  u8  jf     jump offset if false
//! offset 4  u32 k      operand (seccomp_data offset, constant, or SECCOMP_RET_* value)
//! ```
//!
//! The length is a non-zero multiple of 8 and at most [`BPF_MAXINSNS`]
//! instructions. To load it, copy it into a `Vec<libc::sock_filter>` (for
//! alignment), point a `libc::sock_fprog { len: n_insns as u16, filter }` at
//! it and call `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)` (or
//! `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)`), after
//! `prctl(PR_SET_NO_NEW_PRIVS, 1)` unless the process holds CAP_SYS_ADMIN.
//! `flags` come from [`Profile::filter_flags`] (0 for the default profile).
//! The filter checks the architecture first (`seccomp_data.arch`); a
//! syscall of an architecture the filter does not cover kills the thread.
//!
//! # Behaviour
//!
//! As Docker and runc: rules whose `includes` do not hold, or whose
//! `excludes` do, are dropped; syscall names libseccomp does not know are
//! skipped (logged at debug level); a rule whose action equals the default
//! action is skipped; `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` without `errnoRet`
//! return EPERM; `SCMP_ACT_KILL` kills the thread; the `archMap` entry of
//! the native architecture adds its sub-architectures (x86 and x32 on
//! x86_64, arm on aarch64).

mod cache;
mod compile;
mod profile;

use std::sync::LazyLock;

pub use cache::FilterCache;
pub use compile::normalize_capabilities;
pub use profile::{
    Action, ArchMapEntry, Arg, Filter, KernelVersion, Op, Profile, Syscall, MAX_ARG_INDEX,
    MAX_ERRNO_RET,
};

/// Size of one BPF instruction (`struct sock_filter`) in the compiled bytes.
pub const SOCK_FILTER_SIZE: usize = 8;

/// Most instructions the kernel accepts in one filter (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

/// The built-in default profile, in Docker's JSON format: deny (EPERM) by
/// default, allow the everyday syscalls, keep namespace, mount, module,
/// clock, tracing and similar calls behind the capability that makes them
/// legitimate, give `clone3` ENOSYS so libc falls back to `clone`, whose
/// namespace flags are checked.
pub const DEFAULT_PROFILE_JSON: &str = include_str!("default.json");

/// Errors from decoding, validating or compiling a profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The JSON does not decode as a profile (syntax, types, unknown action
    /// or operator names). A client error (HTTP 400).
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(String),
    /// The profile decodes but cannot be used (missing default action,
    /// argument index out of range, unknown architecture, ...). A client
    /// error (HTTP 400).
    #[error("invalid seccomp profile: {0}")]
    Invalid(String),
    /// libseccomp or the system failed. A server error (HTTP 500).
    #[error("cannot compile the seccomp profile: {0}")]
    Compile(String),
}

impl Error {
    /// True when the profile is at fault (answer 400), false for a server
    /// side failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Error::Decode(_) | Error::Invalid(_))
    }
}

/// The built-in default profile ([`DEFAULT_PROFILE_JSON`], decoded once).
pub fn default_profile() -> &'static Profile {
    static PROFILE: LazyLock<Profile> = LazyLock::new(|| {
        Profile::from_json(DEFAULT_PROFILE_JSON.as_bytes())
            .expect("the built-in seccomp profile decodes")
    });
    &PROFILE
}

/// Compiles `profile` for a container holding `capabilities` (names as
/// `"CAP_SYS_ADMIN"`; `"SYS_ADMIN"` and any case work too) on this host,
/// into the BPF bytes described in the [crate docs](crate).
///
/// Validates the profile first ([`Profile::validate`]). A profile that
/// [is unconfined](Profile::is_unconfined) (`{}`) is refused as having no
/// default action: the caller runs such a container without a filter.
/// Blocks for a few milliseconds; [`FilterCache`] compiles each distinct
/// input once.
pub fn compile(profile: &Profile, capabilities: &[String]) -> Result<Vec<u8>, Error> {
    let caps = normalize_capabilities(capabilities);
    let resolved = compile::resolve(profile, &caps, &compile::Host::current())?;
    compile::build(&resolved)
}

/// [`Profile::from_json`] then [`compile`].
pub fn compile_json(profile_json: &[u8], capabilities: &[String]) -> Result<Vec<u8>, Error> {
    compile(&Profile::from_json(profile_json)?, capabilities)
}

/// The syscall names in `profile` that the linked libseccomp cannot resolve
/// for the native architecture; [`compile`] skips them.
pub fn unknown_syscalls(profile: &Profile) -> Vec<String> {
    let mut names: Vec<String> = profile
        .syscalls
        .iter()
        .flat_map(|r| r.names())
        .filter(|n| libseccomp::ScmpSyscall::from_name(n).is_err())
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests;
