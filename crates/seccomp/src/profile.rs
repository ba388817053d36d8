//! Docker's seccomp profile format: the types, decoding and validation.
//!
//! A profile is the JSON that `docker run --security-opt seccomp=FILE` sends
//! (the file's content travels inline in `HostConfig.SecurityOpt`). It is the
//! OCI runtime-spec `LinuxSeccomp` extended by Docker with `archMap` and with
//! `includes`/`excludes` conditions on each syscall rule, which are resolved
//! against the container's capabilities and the host (architecture, kernel
//! version) before the filter is built.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::Error;

/// Highest syscall argument index (syscalls take at most six arguments).
pub const MAX_ARG_INDEX: u32 = 5;

/// Highest value accepted for `errnoRet`/`defaultErrnoRet` (the action's
/// data field is 16 bits wide).
pub const MAX_ERRNO_RET: u32 = u16::MAX as u32;

/// A seccomp profile in Docker's JSON format.
///
/// Unknown fields are ignored, `null` is accepted wherever a list is, as
/// Docker's decoder does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Action for every syscall no rule matches. `None` (absent or `""`)
    /// together with no syscall rules means "no filter" (see
    /// [`Profile::is_unconfined`]).
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_action: Option<Action>,
    /// errno returned by a default action of `SCMP_ACT_ERRNO` (or the
    /// message of `SCMP_ACT_TRACE`); EPERM when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Architectures (`SCMP_ARCH_*`) the filter covers besides the native
    /// one. Mutually exclusive with `arch_map`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<String>,
    /// Per native architecture, the architectures the filter covers: the
    /// entry whose `architecture` is the host's is used, the others ignored.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arch_map: Vec<ArchMapEntry>,
    /// `SECCOMP_FILTER_FLAG_*` names. They are flags of the `seccomp(2)` call
    /// that loads the filter, not part of the BPF program: see
    /// [`Profile::filter_flags`].
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<String>,
    /// The syscall rules, applied in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub syscalls: Vec<Syscall>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchMapEntry {
    /// The native architecture this entry applies to (`SCMP_ARCH_X86_64`).
    pub architecture: String,
    /// Further architectures to cover on that host (`SCMP_ARCH_X86`, ...).
    #[serde(
        rename = "subArchitectures",
        default,
        deserialize_with = "null_as_default"
    )]
    pub sub_architectures: Vec<String>,
}

/// One syscall rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    /// The syscalls the rule applies to. Names libseccomp does not know are
    /// skipped when the filter is compiled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub names: Vec<String>,
    /// Deprecated single-name form; mutually exclusive with `names`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What happens when the rule matches.
    pub action: Action,
    /// errno for `SCMP_ACT_ERRNO` (message for `SCMP_ACT_TRACE`); EPERM when
    /// absent. Ignored for the other actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Conditions on the arguments. All must hold, except that conditions
    /// repeating an argument index are alternatives (each becomes a rule of
    /// its own), as runc does.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<Arg>,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The rule applies only when all of these hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Filter>,
    /// The rule is dropped when any of these holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<Filter>,
}

/// A condition on one syscall argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    /// Argument index, 0 to 5.
    pub index: u32,
    /// The value compared with; the mask for `SCMP_CMP_MASKED_EQ`.
    #[serde(default)]
    pub value: u64,
    /// The value the masked argument must equal for `SCMP_CMP_MASKED_EQ`;
    /// unused by the other operators.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    /// The comparison.
    pub op: Op,
}

/// Conditions of a rule's `includes` or `excludes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Capabilities (`CAP_SYS_ADMIN`): in `includes`, all must be held; in
    /// `excludes`, any held one drops the rule.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    /// Host architectures in Docker's short names (`amd64`, `arm64`, `arm`,
    /// `x86`, `s390x`, `ppc64le`, `riscv64`, ...).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
    /// A kernel version `"<kernel>.<major>"` the host must be at least
    /// (in `includes`) or below (in `excludes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

/// What a filter does with a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `SCMP_ACT_ALLOW`: run the syscall.
    Allow,
    /// `SCMP_ACT_ERRNO`: fail it with an errno (`errnoRet`, EPERM by default).
    Errno,
    /// `SCMP_ACT_KILL`: kill the thread (an alias of `SCMP_ACT_KILL_THREAD`).
    Kill,
    /// `SCMP_ACT_KILL_THREAD`: kill the calling thread.
    KillThread,
    /// `SCMP_ACT_KILL_PROCESS`: kill the whole process.
    KillProcess,
    /// `SCMP_ACT_TRAP`: send SIGSYS.
    Trap,
    /// `SCMP_ACT_TRACE`: notify a ptrace tracer (ENOSYS without one).
    Trace,
    /// `SCMP_ACT_LOG`: run the syscall and log it.
    Log,
    /// `SCMP_ACT_NOTIFY`: hand the syscall to a user-space agent. Decoded
    /// but refused when compiling: Berth runs no seccomp agent.
    Notify,
}

impl Action {
    /// The profile spelling, `SCMP_ACT_*`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "SCMP_ACT_ALLOW",
            Action::Errno => "SCMP_ACT_ERRNO",
            Action::Kill => "SCMP_ACT_KILL",
            Action::KillThread => "SCMP_ACT_KILL_THREAD",
            Action::KillProcess => "SCMP_ACT_KILL_PROCESS",
            Action::Trap => "SCMP_ACT_TRAP",
            Action::Trace => "SCMP_ACT_TRACE",
            Action::Log => "SCMP_ACT_LOG",
            Action::Notify => "SCMP_ACT_NOTIFY",
        }
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_ERRNO" => Action::Errno,
            "SCMP_ACT_KILL" => Action::Kill,
            "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_TRACE" => Action::Trace,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_NOTIFY" => Action::Notify,
            other => return Err(format!("unknown seccomp action {other:?}")),
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an argument is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `SCMP_CMP_NE`
    NotEqual,
    /// `SCMP_CMP_LT`
    LessThan,
    /// `SCMP_CMP_LE`
    LessOrEqual,
    /// `SCMP_CMP_EQ`
    Equal,
    /// `SCMP_CMP_GE`
    GreaterOrEqual,
    /// `SCMP_CMP_GT`
    GreaterThan,
    /// `SCMP_CMP_MASKED_EQ`: `(arg & value) == valueTwo`.
    MaskedEqual,
}

impl Op {
    /// The profile spelling, `SCMP_CMP_*`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::NotEqual => "SCMP_CMP_NE",
            Op::LessThan => "SCMP_CMP_LT",
            Op::LessOrEqual => "SCMP_CMP_LE",
            Op::Equal => "SCMP_CMP_EQ",
            Op::GreaterOrEqual => "SCMP_CMP_GE",
            Op::GreaterThan => "SCMP_CMP_GT",
            Op::MaskedEqual => "SCMP_CMP_MASKED_EQ",
        }
    }
}

impl FromStr for Op {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "SCMP_CMP_NE" => Op::NotEqual,
            "SCMP_CMP_LT" => Op::LessThan,
            "SCMP_CMP_LE" => Op::LessOrEqual,
            "SCMP_CMP_EQ" => Op::Equal,
            "SCMP_CMP_GE" => Op::GreaterOrEqual,
            "SCMP_CMP_GT" => Op::GreaterThan,
            "SCMP_CMP_MASKED_EQ" => Op::MaskedEqual,
            other => return Err(format!("unknown seccomp operator {other:?}")),
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(de::Error::custom)
            }
        }
    };
}

string_serde!(Action);
string_serde!(Op);

/// A kernel version as profiles write it: `"<kernel>.<major>"` (`"4.8"`).
/// Minor revisions and suffixes of the host's release are ignored when
/// comparing, as Docker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// The `4` in `4.8`.
    pub kernel: u32,
    /// The `8` in `4.8`.
    pub major: u32,
}

impl KernelVersion {
    /// Parses the leading `<kernel>.<major>` of a release string such as
    /// `uname -r`'s `6.1.0-18-amd64`.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.split('.');
        let kernel = leading_number(parts.next()?)?;
        let major = leading_number(parts.next()?)?;
        Some(KernelVersion { kernel, major })
    }
}

fn leading_number(s: &str) -> Option<u32> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

impl FromStr for KernelVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("invalid kernel version {s:?}, expected \"<kernel>.<major>\"{why}");
        let (kernel, major) = s.split_once('.').ok_or_else(|| bad(""))?;
        let kernel: u32 = kernel.parse().map_err(|_| bad(""))?;
        let major: u32 = major.parse().map_err(|_| bad(""))?;
        if kernel == 0 && major == 0 {
            return Err(bad(": version cannot be 0.0"));
        }
        Ok(KernelVersion { kernel, major })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kernel, self.major)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// `null` decodes as the type's default (Go decodes `null` into an empty
/// slice).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `null` and `""` decode as `None`.
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(de::Error::custom),
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The `SECCOMP_FILTER_FLAG_*` names a profile may list, with their values.
const FILTER_FLAGS: &[(&str, u32)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", 1),
    ("SECCOMP_FILTER_FLAG_LOG", 2),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4),
];

impl Profile {
    /// Decodes a profile from JSON. Errors read "Decoding seccomp profile
    /// failed: ..." as Docker's do. The profile is not validated here; see
    /// [`Profile::validate`] (which [`crate::compile`] runs).
    pub fn from_json(json: &[u8]) -> Result<Profile, Error> {
        serde_json::from_slice(json).map_err(|e| Error::Decode(e.to_string()))
    }

    /// True for a profile with neither a default action nor rules (`{}`),
    /// which Docker takes as "run without seccomp". [`crate::compile`]
    /// refuses such a profile, so callers check this first.
    pub fn is_unconfined(&self) -> bool {
        self.default_action.is_none() && self.syscalls.is_empty()
    }

    /// The `flags` as the `flags` argument of
    /// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`.
    pub fn filter_flags(&self) -> Result<u32, Error> {
        self.flags.iter().try_fold(0, |acc, name| {
            FILTER_FLAGS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| acc | v)
                .ok_or_else(|| Error::Invalid(format!("unknown seccomp flag {name:?}")))
        })
    }

    /// Checks everything that does not depend on the host or the
    /// capabilities: a default action, not both `architectures` and
    /// `archMap`, known architecture and flag names, each rule naming
    /// syscalls (not both `name` and `names`), argument indexes 0 to 5,
    /// errno values in range, no `SCMP_ACT_NOTIFY`.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |msg: String| Err(Error::Invalid(msg));
        let Some(default_action) = self.default_action else {
            return invalid("the seccomp profile has no defaultAction".into());
        };
        check_action(default_action, "defaultAction")?;
        check_errno(self.default_errno_ret, "defaultErrnoRet")?;
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return invalid(
                "both 'architectures' and 'archMap' are specified in the seccomp profile, \
                 use either 'architectures' or 'archMap'"
                    .into(),
            );
        }
        let arch_names = self.architectures.iter().chain(
            self.arch_map
                .iter()
                .flat_map(|m| std::iter::once(&m.architecture).chain(&m.sub_architectures)),
        );
        for arch in arch_names {
            if arch.parse::<libseccomp::ScmpArch>().is_err() {
                return invalid(format!("unknown seccomp architecture {arch:?}"));
            }
        }
        self.filter_flags()?;
        for (i, rule) in self.syscalls.iter().enumerate() {
            let what = || format!("syscall rule {} ({})", i, rule.names().join(","));
            if !rule.name.is_empty() && !rule.names.is_empty() {
                return invalid(format!(
                    "{}: both 'name' and 'names' are specified in the seccomp profile, \
                     use either 'name' or 'names'",
                    what()
                ));
            }
            if rule.names().is_empty() {
                return invalid(format!(
                    "syscall rule {i} names no syscall: 'names' is empty"
                ));
            }
            if rule.names().iter().any(|n| n.is_empty()) {
                return invalid(format!("{}: empty syscall name", what()));
            }
            check_action(rule.action, &what())?;
            check_errno(rule.errno_ret, &what())?;
            for arg in &rule.args {
                if arg.index > MAX_ARG_INDEX {
                    return invalid(format!(
                        "{}: argument index {} is out of range (0 to {MAX_ARG_INDEX})",
                        what(),
                        arg.index
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check_action(action: Action, what: &str) -> Result<(), Error> {
    if action == Action::Notify {
        return Err(Error::Invalid(format!(
            "{what}: SCMP_ACT_NOTIFY is not supported (no seccomp agent)"
        )));
    }
    Ok(())
}

fn check_errno(errno: Option<u32>, what: &str) -> Result<(), Error> {
    match errno {
        Some(e) if e > MAX_ERRNO_RET => Err(Error::Invalid(format!(
            "{what}: errno {e} is out of range (0 to {MAX_ERRNO_RET})"
        ))),
        _ => Ok(()),
    }
}

impl Syscall {
    /// The syscall names of the rule, from `names` or the deprecated `name`.
    pub fn names(&self) -> &[String] {
        if self.name.is_empty() {
            &self.names
        } else {
            std::slice::from_ref(&self.name)
        }
    }
}
