//! Resolving a profile against the capabilities and the host, and building
//! the BPF program with libseccomp.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::FromRawFd;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

use crate::profile::{Action, Arg, Filter, KernelVersion, Op, Profile, MAX_ARG_INDEX};
use crate::{Error, BPF_MAXINSNS, SOCK_FILTER_SIZE};

/// libseccomp keeps some process-wide state (API level, probed kernel
/// features) that it fills lazily without locking: one filter is built at a
/// time.
static LIBSECCOMP: Mutex<()> = Mutex::new(());

/// Rule count above which libseccomp's binary-tree syscall lookup is turned
/// on (libseccomp up to 2.5.4 misbehaves with it and no rules; runc uses the
/// same threshold).
const OPTIMIZE_ABOVE: usize = 32;

/// What a profile is resolved against besides the capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Host {
    /// Docker's short name of the native architecture (`amd64`, `arm64`),
    /// matched against `includes.arches`/`excludes.arches`.
    pub arch: &'static str,
    /// libseccomp's name of the native architecture, matched against
    /// `archMap[].architecture`.
    pub scmp_arch: &'static str,
    /// The running kernel's `<kernel>.<major>`, `None` when unknown.
    pub kernel: Option<KernelVersion>,
}

impl Host {
    /// This machine.
    pub fn current() -> Host {
        let (arch, scmp_arch) = native_arch();
        Host {
            arch,
            scmp_arch,
            kernel: running_kernel(),
        }
    }
}

fn native_arch() -> (&'static str, &'static str) {
    if cfg!(target_arch = "x86_64") {
        ("amd64", "SCMP_ARCH_X86_64")
    } else if cfg!(target_arch = "aarch64") {
        ("arm64", "SCMP_ARCH_AARCH64")
    } else if cfg!(target_arch = "arm") {
        ("arm", "SCMP_ARCH_ARM")
    } else if cfg!(target_arch = "x86") {
        ("x86", "SCMP_ARCH_X86")
    } else if cfg!(target_arch = "riscv64") {
        ("riscv64", "SCMP_ARCH_RISCV64")
    } else if cfg!(target_arch = "s390x") {
        ("s390x", "SCMP_ARCH_S390X")
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        ("ppc64le", "SCMP_ARCH_PPC64LE")
    } else if cfg!(target_arch = "powerpc64") {
        ("ppc64", "SCMP_ARCH_PPC64")
    } else if cfg!(target_arch = "loongarch64") {
        ("loongarch64", "SCMP_ARCH_LOONGARCH64")
    } else if cfg!(all(target_arch = "mips64", target_endian = "little")) {
        ("mipsel64", "SCMP_ARCH_MIPSEL64")
    } else if cfg!(target_arch = "mips64") {
        ("mips64", "SCMP_ARCH_MIPS64")
    } else {
        ("unknown", "SCMP_ARCH_NATIVE")
    }
}

fn running_kernel() -> Option<KernelVersion> {
    static KERNEL: OnceLock<Option<KernelVersion>> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        // SAFETY: uname fills the zeroed struct; the release is a
        // NUL-terminated string within it.
        let release = unsafe {
            let mut uts: libc::utsname = std::mem::zeroed();
            if libc::uname(&mut uts) != 0 {
                return None;
            }
            std::ffi::CStr::from_ptr(uts.release.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        let version = KernelVersion::from_release(&release);
        if version.is_none() {
            tracing::warn!(release, "cannot parse the kernel release");
        }
        version
    })
}

/// Normalizes capability names: upper case with the `CAP_` prefix
/// (`sys_admin` → `CAP_SYS_ADMIN`), sorted, without duplicates.
pub fn normalize_capabilities<S: AsRef<str>>(capabilities: &[S]) -> Vec<String> {
    let mut caps: Vec<String> = capabilities
        .iter()
        .map(|c| normalize_capability(c.as_ref()))
        .filter(|c| c != "CAP_")
        .collect();
    caps.sort();
    caps.dedup();
    caps
}

fn normalize_capability(cap: &str) -> String {
    let cap = cap.trim().to_ascii_uppercase();
    if cap.starts_with("CAP_") {
        cap
    } else {
        format!("CAP_{cap}")
    }
}

/// A profile after includes/excludes, in libseccomp's terms.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    pub default_action: ScmpAction,
    /// Architectures besides the native one (which every filter has).
    pub arches: Vec<ScmpArch>,
    pub rules: Vec<Rule<'a>>,
}

#[derive(Debug)]
pub(crate) struct Rule<'a> {
    pub names: &'a [String],
    pub action: ScmpAction,
    pub args: &'a [Arg],
}

fn scmp_action(action: Action, errno_ret: Option<u32>) -> Result<ScmpAction, Error> {
    let data = errno_ret.unwrap_or(libc::EPERM as u32);
    Ok(match action {
        Action::Allow => ScmpAction::Allow,
        // validate() keeps data within 16 bits.
        Action::Errno => ScmpAction::Errno(data as i32),
        Action::Trace => ScmpAction::Trace(data as u16),
        Action::Kill | Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Log => ScmpAction::Log,
        Action::Notify => {
            return Err(Error::Invalid(
                "SCMP_ACT_NOTIFY is not supported (no seccomp agent)".into(),
            ))
        }
    })
}

fn parse_arch(name: &str) -> Result<ScmpArch, Error> {
    name.parse()
        .map_err(|_| Error::Invalid(format!("unknown seccomp architecture {name:?}")))
}

/// Applies the profile's conditions: validates it, picks the architectures
/// for `host`, and keeps the rules whose includes/excludes hold for the
/// (normalized) `caps` and `host`.
pub(crate) fn resolve<'a>(
    profile: &'a Profile,
    caps: &[String],
    host: &Host,
) -> Result<Resolved<'a>, Error> {
    profile.validate()?;
    let default_action = scmp_action(
        profile.default_action.expect("validated"),
        profile.default_errno_ret,
    )?;

    let mut arches = Vec::new();
    for name in &profile.architectures {
        arches.push(parse_arch(name)?);
    }
    if let Some(entry) = profile
        .arch_map
        .iter()
        .find(|m| m.architecture == host.scmp_arch)
    {
        arches.push(parse_arch(&entry.architecture)?);
        for name in &entry.sub_architectures {
            arches.push(parse_arch(name)?);
        }
    }

    let has_cap = |cap: &String| caps.binary_search(&normalize_capability(cap)).is_ok();
    let kernel_at_least = |min: &KernelVersion| -> Result<bool, Error> {
        let running = host.kernel.ok_or_else(|| {
            Error::Compile(format!(
                "the seccomp profile needs kernel {min} or later, but the running kernel's version is unknown"
            ))
        })?;
        Ok(running >= *min)
    };

    let mut rules = Vec::new();
    for rule in &profile.syscalls {
        if let Some(Filter {
            caps: ex_caps,
            arches: ex_arches,
            min_kernel,
        }) = &rule.excludes
        {
            if ex_arches.iter().any(|a| a == host.arch) || ex_caps.iter().any(has_cap) {
                continue;
            }
            if let Some(min) = min_kernel {
                if kernel_at_least(min)? {
                    continue;
                }
            }
        }
        if let Some(Filter {
            caps: in_caps,
            arches: in_arches,
            min_kernel,
        }) = &rule.includes
        {
            if !in_arches.is_empty() && !in_arches.iter().any(|a| a == host.arch) {
                continue;
            }
            if !in_caps.iter().all(has_cap) {
                continue;
            }
            if let Some(min) = min_kernel {
                if !kernel_at_least(min)? {
                    continue;
                }
            }
        }
        rules.push(Rule {
            names: rule.names(),
            action: scmp_action(rule.action, rule.errno_ret)?,
            args: &rule.args,
        });
    }
    Ok(Resolved {
        default_action,
        arches,
        rules,
    })
}

fn condition(arg: &Arg) -> ScmpArgCompare {
    let op = match arg.op {
        Op::NotEqual => ScmpCompareOp::NotEqual,
        Op::LessThan => ScmpCompareOp::Less,
        Op::LessOrEqual => ScmpCompareOp::LessOrEqual,
        Op::Equal => ScmpCompareOp::Equal,
        Op::GreaterOrEqual => ScmpCompareOp::GreaterEqual,
        Op::GreaterThan => ScmpCompareOp::Greater,
        Op::MaskedEqual => ScmpCompareOp::MaskedEqual(arg.value),
    };
    let datum = match arg.op {
        Op::MaskedEqual => arg.value_two,
        _ => arg.value,
    };
    ScmpArgCompare::new(arg.index, op, datum)
}

fn libseccomp_error(what: &str, e: libseccomp::error::SeccompError) -> Error {
    Error::Compile(format!("{what}: {e}"))
}

/// Builds the filter of a resolved profile with libseccomp and exports it.
pub(crate) fn build(resolved: &Resolved<'_>) -> Result<Vec<u8>, Error> {
    let _guard = LIBSECCOMP.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mut ctx = ScmpFilterContext::new(resolved.default_action)
        .map_err(|e| libseccomp_error("cannot create the seccomp filter", e))?;
    for &arch in &resolved.arches {
        let present = ctx
            .is_arch_present(arch)
            .map_err(|e| libseccomp_error("cannot query the filter's architectures", e))?;
        if !present {
            // The profile asks for an architecture this libseccomp cannot
            // filter: the profile's problem, like an unknown name.
            ctx.add_arch(arch).map_err(|e| {
                Error::Invalid(format!(
                    "cannot add architecture {arch:?} to the seccomp filter: {e}"
                ))
            })?;
        }
    }

    let mut added = 0usize;
    let mut unknown = Vec::new();
    for rule in &resolved.rules {
        if rule.action == resolved.default_action {
            // libseccomp refuses a rule that repeats the default action; it
            // would change nothing anyway.
            continue;
        }
        // Conditions on distinct arguments are ANDed in one rule; when an
        // argument is tested more than once they are alternatives, one rule
        // each (libseccomp allows one test per argument and rule).
        let mut seen = [false; MAX_ARG_INDEX as usize + 1];
        let repeated = rule
            .args
            .iter()
            .any(|a| std::mem::replace(&mut seen[a.index as usize], true));
        let conditions: Vec<ScmpArgCompare> = rule.args.iter().map(condition).collect();
        for name in rule.names {
            let syscall = match ScmpSyscall::from_name(name) {
                Ok(s) => s,
                Err(_) => {
                    unknown.push(name.as_str());
                    continue;
                }
            };
            let result = if repeated {
                conditions.iter().try_for_each(|c| {
                    ctx.add_rule_conditional(rule.action, syscall, std::slice::from_ref(c))
                        .map(|_| ())
                })
            } else {
                ctx.add_rule_conditional(rule.action, syscall, &conditions)
                    .map(|_| ())
            };
            result.map_err(|e| {
                Error::Invalid(format!(
                    "cannot add the seccomp rule {} for syscall {name:?}: {e}",
                    rule_summary(rule)
                ))
            })?;
            added += 1;
        }
    }
    if !unknown.is_empty() {
        tracing::debug!(syscalls = ?unknown, "seccomp: syscalls unknown to libseccomp skipped");
    }
    if added > OPTIMIZE_ABOVE {
        if let Err(e) = ctx.set_ctl_optimize(2) {
            tracing::debug!(error = %e, "seccomp: binary tree optimization not available");
        }
    }

    let bpf = export(&ctx)?;
    if bpf.is_empty() || bpf.len() % SOCK_FILTER_SIZE != 0 {
        return Err(Error::Compile(format!(
            "libseccomp exported {} bytes, not a whole number of instructions",
            bpf.len()
        )));
    }
    let insns = bpf.len() / SOCK_FILTER_SIZE;
    if insns > BPF_MAXINSNS {
        return Err(Error::Invalid(format!(
            "the seccomp filter is too large: {insns} instructions, the kernel takes at most {BPF_MAXINSNS}"
        )));
    }
    tracing::debug!(
        rules = added,
        instructions = insns,
        elapsed_us = started.elapsed().as_micros() as u64,
        "seccomp filter compiled"
    );
    Ok(bpf)
}

fn rule_summary(rule: &Rule<'_>) -> String {
    let mut s = format!("{:?}", rule.action);
    for a in rule.args {
        s.push_str(&format!(
            " arg{} {} {:#x}/{:#x}",
            a.index, a.op, a.value, a.value_two
        ));
    }
    s
}

/// `seccomp_export_bpf` writes to a file descriptor: a memfd, read back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, Error> {
    let io = |what: &str, e: std::io::Error| Error::Compile(format!("{what}: {e}"));
    // SAFETY: a valid NUL-terminated name; the new fd is owned by `file`.
    let fd = unsafe { libc::memfd_create(c"berth-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io("memfd_create", std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just created and is not owned elsewhere.
    let mut file = unsafe { File::from_raw_fd(fd) };
    ctx.export_bpf(&file)
        .map_err(|e| libseccomp_error("cannot export the seccomp filter", e))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| io("reading the exported filter", e))?;
    let mut bpf = Vec::new();
    file.read_to_end(&mut bpf)
        .map_err(|e| io("reading the exported filter", e))?;
    Ok(bpf)
}
