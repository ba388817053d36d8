//! Applying a [`SecuritySpec`] to a container's process (the init or an
//! exec) between its setup and `execve`.
//!
//! Everything is checked first ([`Lockdown::new`]: capability names, the
//! filter's shape, rlimit names), so a bad spec fails before anything
//! changed. Then, in runc's order:
//!
//! 0. [`Lockdown::set_limits`]: rlimits and the OOM score adjustment
//!    (raising either may need privileges dropped below, or lost in a user
//!    namespace).
//! 1. [`Lockdown::before_user_switch`]: `no_new_privs`, then the seccomp filter if `no_new_privs` is off (the
//!    kernel then wants CAP_SYS_ADMIN for it, still held here), and last the
//!    bounding set (dropping needs CAP_SETPCAP).
//! 2. the caller switches user (supplementary groups, gid, uid): a uid other
//!    than 0 loses its permitted and effective capabilities on the way.
//! 3. [`Lockdown::after_user_switch`]: the effective, permitted and
//!    inheritable sets (the kept capabilities for uid 0, nothing for other
//!    uids, nothing inheritable), and the ambient set cleared.
//! 4. [`Lockdown::before_exec`]: the seccomp filter if `no_new_privs` is
//!    on, as late as possible so that the filter sees as few of the setup's
//!    own syscalls as can be.
//!
//! Runs in the forked child, so it may allocate.

use crate::failure::{StartFailure, EXIT_SETUP_FAILED};
use crate::spec::{Rlimit, SecuritySpec};
use caps::{CapSet, Capability, CapsHashSet};
use nix::errno::Errno;

/// Size of one `struct sock_filter`.
const SOCK_FILTER_SIZE: usize = 8;
/// Most instructions the kernel takes in one filter (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;
/// Highest capability number worth asking the kernel about.
const MAX_CAPABILITY: libc::c_int = 63;

/// A checked [`SecuritySpec`], ready to apply.
pub(crate) struct Lockdown<'a> {
    spec: &'a SecuritySpec,
    /// The capabilities kept: those asked for that the bounding set has.
    kept: CapsHashSet,
    /// The seccomp program, aligned for the kernel.
    filter: Option<Vec<libc::sock_filter>>,
}

impl<'a> Lockdown<'a> {
    /// Checks `spec` and reads which of its capabilities this process's
    /// bounding set allows; changes nothing.
    pub(crate) fn new(spec: &'a SecuritySpec) -> Result<Lockdown<'a>, StartFailure> {
        let mut kept = CapsHashSet::new();
        for name in &spec.capabilities {
            let capability: Capability = name.parse().map_err(|_| {
                StartFailure::new(format!("unknown capability {name:?}"), EXIT_SETUP_FAILED)
            })?;
            if caps::has_cap(None, CapSet::Bounding, capability).unwrap_or(false) {
                kept.insert(capability);
            }
        }
        if let Some(unknown) = spec.rlimits.iter().find(|r| resource(&r.name).is_none()) {
            return Err(StartFailure::new(
                format!("unknown rlimit {:?}", unknown.name),
                EXIT_SETUP_FAILED,
            ));
        }
        let filter = spec.seccomp.as_deref().map(sock_filters).transpose()?;
        Ok(Lockdown { spec, kept, filter })
    }

    /// Step 0: rlimits and the OOM score adjustment, while the process
    /// still holds the host's privileges (raising either needs them, and a
    /// container's user namespace, entered next, has none over the host).
    pub(crate) fn set_limits(&self) -> Result<(), StartFailure> {
        self.spec.rlimits.iter().try_for_each(set_rlimit)?;
        // An exec into a remapped container is already in its user
        // namespace, where writing even the current value is refused: only
        // a change is written.
        let current = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
        if let Some(score) = self
            .spec
            .oom_score_adj
            .filter(|score| current.trim() != score.to_string())
        {
            std::fs::write("/proc/self/oom_score_adj", score.to_string())
                .map_err(|e| StartFailure::io(format!("setting oom_score_adj to {score}"), &e))?;
        }
        Ok(())
    }

    /// Step 1: `no_new_privs`, the seccomp filter when `no_new_privs` is
    /// off, the bounding set.
    pub(crate) fn before_user_switch(&self) -> Result<(), StartFailure> {
        if self.spec.no_new_privileges {
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            if rc != 0 {
                return Err(StartFailure::sys("setting no_new_privs", Errno::last()));
            }
        } else {
            self.load_filter()?;
        }
        self.drop_bounding_set()
    }

    /// Step 3: the permitted, effective and inheritable sets for `uid`, and
    /// an empty ambient set.
    pub(crate) fn after_user_switch(&self, uid: u32) -> Result<(), StartFailure> {
        let failed = |e: caps::errors::CapsError| {
            StartFailure::new(format!("setting capabilities: {e}"), EXIT_SETUP_FAILED)
        };
        let granted = if uid == 0 {
            self.kept.clone()
        } else {
            CapsHashSet::new()
        };
        // Effective first: it must stay within the permitted set throughout.
        caps::set(None, CapSet::Effective, &granted).map_err(failed)?;
        caps::set(None, CapSet::Permitted, &granted).map_err(failed)?;
        caps::clear(None, CapSet::Inheritable).map_err(failed)?;
        caps::clear(None, CapSet::Ambient).map_err(failed)
    }

    /// Step 4: the seccomp filter when `no_new_privs` is on.
    pub(crate) fn before_exec(&self) -> Result<(), StartFailure> {
        if self.spec.no_new_privileges {
            self.load_filter()?;
        }
        Ok(())
    }

    /// Drops every capability the bounding set has and `kept` lacks, by
    /// number up to the kernel's last one (so that capabilities newer than
    /// the names Berth knows go too).
    fn drop_bounding_set(&self) -> Result<(), StartFailure> {
        for number in 0..=MAX_CAPABILITY {
            // SAFETY: prctl with integer arguments only.
            let present = unsafe { libc::prctl(libc::PR_CAPBSET_READ, number, 0, 0, 0) };
            if present < 0 {
                // EINVAL: past the kernel's last capability.
                break;
            }
            let keep = self
                .kept
                .iter()
                .any(|c| libc::c_int::from(c.index()) == number);
            if present == 1 && !keep {
                // SAFETY: prctl with integer arguments only.
                let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, number, 0, 0, 0) };
                if rc != 0 {
                    return Err(StartFailure::sys(
                        format!("dropping capability {number} from the bounding set"),
                        Errno::last(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn load_filter(&self) -> Result<(), StartFailure> {
        let Some(filter) = &self.filter else {
            return Ok(());
        };
        let program = libc::sock_fprog {
            // At most BPF_MAXINSNS, checked in `sock_filters`.
            len: filter.len() as u16,
            filter: filter.as_ptr().cast_mut(),
        };
        // SAFETY: `program` points at `filter`, which outlives the call; the
        // kernel copies the program and keeps no pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.spec.seccomp_flags,
                &program as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(StartFailure::sys(
                "loading the seccomp filter",
                Errno::last(),
            ));
        }
        Ok(())
    }
}

/// The filter's bytes as `struct sock_filter`s (native byte order).
fn sock_filters(bytes: &[u8]) -> Result<Vec<libc::sock_filter>, StartFailure> {
    let count = bytes.len() / SOCK_FILTER_SIZE;
    if bytes.is_empty() || !bytes.len().is_multiple_of(SOCK_FILTER_SIZE) || count > BPF_MAXINSNS {
        return Err(StartFailure::new(
            format!(
                "invalid seccomp filter of {} bytes: not 1 to {BPF_MAXINSNS} instructions of {SOCK_FILTER_SIZE} bytes",
                bytes.len()
            ),
            EXIT_SETUP_FAILED,
        ));
    }
    Ok(bytes
        .chunks_exact(SOCK_FILTER_SIZE)
        .map(|insn| libc::sock_filter {
            code: u16::from_ne_bytes([insn[0], insn[1]]),
            jt: insn[2],
            jf: insn[3],
            k: u32::from_ne_bytes([insn[4], insn[5], insn[6], insn[7]]),
        })
        .collect())
}

/// The kernel's resource number for Docker's name of it.
fn resource(name: &str) -> Option<libc::c_int> {
    let resource = match name {
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        _ => return None,
    };
    Some(resource as libc::c_int)
}

fn set_rlimit(limit: &Rlimit) -> Result<(), StartFailure> {
    let Some(number) = resource(&limit.name) else {
        return Err(StartFailure::new(
            format!("unknown rlimit {:?}", limit.name),
            EXIT_SETUP_FAILED,
        ));
    };
    let value = libc::rlimit {
        rlim_cur: limit.soft,
        rlim_max: limit.hard,
    };
    // SAFETY: setrlimit reads one valid rlimit.
    let rc = unsafe { libc::setrlimit(number as _, &value) };
    if rc != 0 {
        return Err(StartFailure::sys(
            format!(
                "setting rlimit {} to {}:{}",
                limit.name, limit.soft, limit.hard
            ),
            Errno::last(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_bytes_become_native_sock_filters() {
        // BPF_RET|BPF_K, SECCOMP_RET_ALLOW
        let mut bytes = 0x06u16.to_ne_bytes().to_vec();
        bytes.extend([1, 2]);
        bytes.extend(0x7fff_0000u32.to_ne_bytes());
        let filters = sock_filters(&bytes).unwrap();
        assert_eq!(filters.len(), 1);
        assert_eq!(
            (filters[0].code, filters[0].jt, filters[0].jf, filters[0].k),
            (6, 1, 2, 0x7fff_0000)
        );
    }

    #[test]
    fn malformed_filters_are_refused() {
        assert!(sock_filters(&[]).is_err());
        assert!(sock_filters(&[0; 12]).is_err());
        assert!(sock_filters(&vec![0; 8 * (BPF_MAXINSNS + 1)]).is_err());
        assert!(sock_filters(&vec![0; 8 * BPF_MAXINSNS]).is_ok());
    }

    #[test]
    fn every_docker_rlimit_name_is_known() {
        for name in [
            "core",
            "cpu",
            "data",
            "fsize",
            "locks",
            "memlock",
            "msgqueue",
            "nice",
            "nofile",
            "nproc",
            "rss",
            "rtprio",
            "rttime",
            "sigpending",
            "stack",
        ] {
            assert!(resource(name).is_some(), "{name}");
        }
        assert_eq!(resource("nofile"), Some(libc::RLIMIT_NOFILE as libc::c_int));
        assert!(resource("files").is_none());
    }

    #[test]
    fn unknown_names_fail_before_anything_changes() {
        let spec = SecuritySpec {
            capabilities: vec!["CAP_FOO".into()],
            ..SecuritySpec::default()
        };
        assert_eq!(
            Lockdown::new(&spec).err().unwrap().message,
            "unknown capability \"CAP_FOO\""
        );
        let spec = SecuritySpec {
            rlimits: vec![Rlimit {
                name: "files".into(),
                soft: 1,
                hard: 1,
            }],
            ..SecuritySpec::default()
        };
        assert_eq!(
            Lockdown::new(&spec).err().unwrap().message,
            "unknown rlimit \"files\""
        );
    }
}
