//! Device access: which device nodes a container may create (`m`), read
//! (`r`) and write (`w`), as Docker's `--device-cgroup-rule`, `--device` and
//! `--privileged` set it up.
//!
//! A rule list is read in order with the kernel's cgroup v1 semantics
//! ([`Policy`]): an `a` rule resets everything to deny-all or allow-all, and
//! each later rule adds or removes an exception. The resulting policy is
//! what gets written, on every host, so a rule list means the same thing on
//! v1 and v2:
//!
//! - v1 (legacy hosts, and hybrid hosts, where Docker uses v1 too): `a` to
//!   `devices.deny` (or `devices.allow`), then one line per exception to
//!   the other file;
//! - v2: an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` ([`bpf`])
//!   attached to the cgroup directory. The kernel frees it with the cgroup.
//!
//! Like runc, removing part of a wildcard exception (`deny c 1:3 r` after
//! `allow c *:* r`) is refused: v1 would silently ignore it.

pub(crate) mod bpf;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// `m`: mknod(2) of the node.
pub(crate) const MKNOD: u8 = 1;
/// `r`: open for reading.
pub(crate) const READ: u8 = 2;
/// `w`: open for writing.
pub(crate) const WRITE: u8 = 4;
/// `rwm`.
pub(crate) const ALL: u8 = MKNOD | READ | WRITE;

/// One device rule: Docker's `--device-cgroup-rule` and the lines of the v1
/// `devices.allow` and `devices.deny` files (`c 1:3 rwm`, `b 8:* r`, `a`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceRule {
    /// Allow (`true`) or deny what the rule matches.
    pub allow: bool,
    /// `'c'` (character devices), `'b'` (block devices) or `'a'` (every
    /// device with every access: the rule resets the whole list, whatever
    /// its numbers and access say, as the kernel reads it).
    pub kind: char,
    /// The major number; `None` is `*`.
    pub major: Option<u64>,
    /// The minor number; `None` is `*`.
    pub minor: Option<u64>,
    /// A non-empty combination of `r` (read), `w` (write), `m` (mknod).
    pub access: String,
}

impl DeviceRule {
    /// `a *:* rwm` allowed: every device (Docker's `--privileged`).
    pub fn allow_all() -> DeviceRule {
        DeviceRule::all(true)
    }

    /// `a *:* rwm` denied: no device at all.
    pub fn deny_all() -> DeviceRule {
        DeviceRule::all(false)
    }

    fn all(allow: bool) -> DeviceRule {
        DeviceRule {
            allow,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        }
    }

    /// An allow rule for one device (`--device`): `kind major:minor access`.
    pub fn allow_device(kind: char, major: u64, minor: u64, access: &str) -> DeviceRule {
        DeviceRule {
            allow: true,
            kind,
            major: Some(major),
            minor: Some(minor),
            access: access.into(),
        }
    }

    /// Parses Docker's `--device-cgroup-rule` syntax into an allow rule:
    /// `TYPE MAJOR:MINOR ACCESS` with single spaces, `*` for any number
    /// (`c 1:3 mr`, `b 8:* r`, `a *:* rwm`), or `a` alone. Errors use the
    /// daemon's wording (`invalid device cgroup rule format: 'x'`).
    pub fn parse(rule: &str) -> Result<DeviceRule> {
        let bad = |what: &str| Error::InvalidDeviceRule(format!("{what}: '{rule}'"));
        let format = || bad("invalid device cgroup rule format");
        let expanded = if rule == "a" { "a *:* rwm" } else { rule };
        let mut parts = expanded.split(' ');
        let (Some(kind), Some(numbers), Some(access), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format());
        };
        let kind = match kind {
            "a" | "b" | "c" => kind.chars().next().unwrap_or('a'),
            _ => return Err(format()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(format)?;
        let number = |text: &str, what: &str| -> Result<Option<u64>> {
            if text == "*" {
                return Ok(None);
            }
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format());
            }
            // The kernel reads device numbers as 32-bit values.
            match text.parse::<u32>() {
                Ok(n) => Ok(Some(u64::from(n))),
                Err(_) => Err(bad(&format!(
                    "invalid {what} value in device cgroup rule format"
                ))),
            }
        };
        let (major, minor) = (number(major, "major")?, number(minor, "minor")?);
        if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
            return Err(format());
        }
        Ok(DeviceRule {
            allow: true,
            kind,
            major,
            minor,
            access: access.into(),
        })
    }

    /// The access letters as bits, or an error for anything but a
    /// non-empty combination of `r`, `w`, `m`.
    fn access_bits(&self) -> Result<u8> {
        let mut bits = 0;
        for c in self.access.chars() {
            bits |= match c {
                'm' => MKNOD,
                'r' => READ,
                'w' => WRITE,
                _ => return Err(self.invalid("access must be a combination of r, w and m")),
            };
        }
        if bits == 0 {
            return Err(self.invalid("access must be a combination of r, w and m"));
        }
        Ok(bits)
    }

    fn invalid(&self, why: &str) -> Error {
        Error::InvalidDeviceRule(format!("invalid device rule '{self}': {why}"))
    }
}

impl FromStr for DeviceRule {
    type Err = Error;

    fn from_str(s: &str) -> Result<DeviceRule> {
        DeviceRule::parse(s)
    }
}

/// `TYPE MAJOR:MINOR ACCESS` as the kernel and Docker write it (the allow
/// or deny is not part of the text: it is the file the line goes to).
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = |n: Option<u64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

/// Docker's device rules for a container that is not privileged, in order:
/// moby's default spec (deny everything; allow `c 1:5`, `1:3`, `1:9`,
/// `1:8`, `5:0`, `5:1` rwm; deny `c 10:229` rwm, fuse), then the rules runc
/// appends to every container (`c *:* m` and `b *:* m`, so any node can be
/// created but not opened; `c 1:3`, `1:8`, `1:7`, `5:0`, `1:5`, `1:9`,
/// `136:*` (pts), `5:2` (ptmx), `10:200` (tun) rwm).
///
/// Docker puts the container's own rules (`--device`,
/// `--device-cgroup-rule`) between the two; they are all allow rules, and
/// the only deny here precedes every allow, so appending them to this list
/// gives the same policy.
pub fn docker_default_rules() -> Vec<DeviceRule> {
    let c = |major, minor: Option<u64>, access: &str| DeviceRule {
        allow: true,
        kind: 'c',
        major,
        minor,
        access: access.into(),
    };
    let chr = |major: u64, minor: u64| c(Some(major), Some(minor), "rwm");
    let mut fuse = chr(10, 229);
    fuse.allow = false;
    vec![
        // moby: oci.DefaultLinuxSpec().Linux.Resources.Devices
        DeviceRule::deny_all(),
        chr(1, 5),
        chr(1, 3),
        chr(1, 9),
        chr(1, 8),
        chr(5, 0),
        chr(5, 1),
        fuse,
        // runc: specconv.AllowedDevices
        c(None, None, "m"),
        DeviceRule {
            kind: 'b',
            ..c(None, None, "m")
        },
        chr(1, 3),
        chr(1, 8),
        chr(1, 7),
        chr(5, 0),
        chr(1, 5),
        chr(1, 9),
        c(Some(136), None, "rwm"),
        chr(5, 2),
        chr(10, 200),
    ]
}

/// What an exception matches: a device type (`'b'` or `'c'`) and numbers
/// (`None` = `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Target {
    pub(crate) kind: char,
    pub(crate) major: Option<u32>,
    pub(crate) minor: Option<u32>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{}",
            self.kind,
            number(self.major),
            number(self.minor)
        )
    }
}

/// The state the v1 devices controller is in after a rule list: a default
/// (allow or deny everything) and exceptions to it, each with the access
/// bits it grants (deny default) or takes away (allow default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) default_allow: bool,
    pub(crate) exceptions: BTreeMap<Target, u8>,
}

impl Policy {
    /// Replays `rules` on a fresh cgroup (which allows everything, as a new
    /// cgroup does on either version). Bad rules, and rules v1 would
    /// silently ignore, are [`Error::InvalidDeviceRule`].
    pub(crate) fn from_rules(rules: &[DeviceRule]) -> Result<Policy> {
        let mut policy = Policy {
            default_allow: true,
            exceptions: BTreeMap::new(),
        };
        for rule in rules {
            policy.apply(rule)?;
        }
        Ok(policy)
    }

    fn apply(&mut self, rule: &DeviceRule) -> Result<()> {
        let access = rule.access_bits()?;
        let number = |n: Option<u64>| -> Result<Option<u32>> {
            n.map(|n| {
                u32::try_from(n).map_err(|_| rule.invalid("device numbers are 32-bit values"))
            })
            .transpose()
        };
        let target = Target {
            kind: match rule.kind {
                'a' => {
                    self.default_allow = rule.allow;
                    self.exceptions.clear();
                    return Ok(());
                }
                'b' | 'c' => rule.kind,
                _ => return Err(rule.invalid("the type must be a, b or c")),
            },
            major: number(rule.major)?,
            minor: number(rule.minor)?,
        };
        if rule.allow != self.default_allow {
            *self.exceptions.entry(target).or_default() |= access;
            return Ok(());
        }
        // The rule agrees with the default: it takes access away from the
        // exception with exactly these numbers. v1 ignores it where a
        // wildcard exception grants the same access; refuse that instead.
        let wildcards = [
            Target {
                major: None,
                ..target
            },
            Target {
                minor: None,
                ..target
            },
            Target {
                major: None,
                minor: None,
                ..target
            },
        ];
        for wider in wildcards.iter().filter(|w| **w != target) {
            if let Some(bits) = self.exceptions.get(wider).filter(|b| *b & access != 0) {
                return Err(rule.invalid(&format!(
                    "it cannot take access away from part of the wider rule '{wider} {}'",
                    access_string(*bits)
                )));
            }
        }
        if let Some(bits) = self.exceptions.get_mut(&target) {
            *bits &= !access;
            if *bits == 0 {
                self.exceptions.remove(&target);
            }
        }
        Ok(())
    }

    /// Whether the policy lets a process do `access` (one or more bits) on
    /// device `kind major:minor`, as the kernel decides it.
    #[cfg(test)]
    pub(crate) fn allows(&self, kind: char, major: u32, minor: u32, access: u8) -> bool {
        let matches = |t: &Target| {
            t.kind == kind
                && t.major.is_none_or(|m| m == major)
                && t.minor.is_none_or(|m| m == minor)
        };
        let mut exceptions = self.exceptions.iter().filter(|(t, _)| matches(t));
        if self.default_allow {
            // A deny exception matches if it takes away any requested access.
            !exceptions.any(|(_, bits)| bits & access != 0)
        } else {
            // One allow exception must grant all the requested access.
            exceptions.any(|(_, bits)| access & !bits == 0)
        }
    }

    /// The v1 writes that produce this policy, in order: `(file, line)`.
    pub(crate) fn v1_writes(&self) -> Vec<(&'static str, String)> {
        let (reset, exception) = if self.default_allow {
            ("devices.allow", "devices.deny")
        } else {
            ("devices.deny", "devices.allow")
        };
        let mut writes = vec![(reset, "a".to_string())];
        writes.extend(
            self.exceptions
                .iter()
                .map(|(t, bits)| (exception, format!("{t} {}", access_string(*bits)))),
        );
        writes
    }
}

/// Access bits as the kernel writes them (`rwm` order).
pub(crate) fn access_string(bits: u8) -> String {
    [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> DeviceRule {
        DeviceRule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn deny(text: &str) -> DeviceRule {
        DeviceRule {
            allow: false,
            ..rule(text)
        }
    }

    #[test]
    fn dockers_rule_syntax_parses_and_formats_back() {
        for text in ["c 1:3 mr", "a *:* rwm", "b 8:* r", "c *:* m", "b 254:0 rw"] {
            let r = rule(text);
            assert!(r.allow, "{text}");
            assert_eq!(r.to_string(), text);
            assert_eq!(text.parse::<DeviceRule>().unwrap(), r);
        }
        assert_eq!(rule("a"), DeviceRule::allow_all());
        assert_eq!(
            rule("b 8:* r"),
            DeviceRule {
                allow: true,
                kind: 'b',
                major: Some(8),
                minor: None,
                access: "r".into()
            }
        );
        assert_eq!(rule(&format!("c {}:0 r", u32::MAX)).major, Some(4294967295));
    }

    #[test]
    fn malformed_rules_get_the_daemons_messages() {
        for text in [
            "",
            "x",
            "c",
            "c 1:3",
            "c 1:3 rwx",
            "c 1:3 ",
            "c  1:3 r",
            "d 1:3 r",
            "c 1 r",
            "c -1:3 r",
            "c 1:3 rwmr",
            "c a:3 r",
            "c 1:3 r extra",
        ] {
            let err = DeviceRule::parse(text).unwrap_err();
            assert!(err.is_invalid_input());
            assert_eq!(
                err.to_string(),
                format!("invalid device cgroup rule format: '{text}'")
            );
        }
        let err = DeviceRule::parse("c 4294967296:1 r").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid major value in device cgroup rule format: 'c 4294967296:1 r'"
        );
        let err = DeviceRule::parse("b 1:99999999999 r").unwrap_err();
        assert!(err.to_string().starts_with("invalid minor value"), "{err}");
    }

    #[test]
    fn docker_defaults_deny_disks_and_fuse_but_allow_the_standard_nodes() {
        let p = Policy::from_rules(&docker_default_rules()).unwrap();
        assert!(!p.default_allow);
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
        ] {
            assert!(
                p.allows('c', major, minor, READ | WRITE),
                "c {major}:{minor}"
            );
        }
        assert!(p.allows('c', 136, 7, READ | WRITE | MKNOD), "pts");
        assert!(p.allows('c', 10, 200, READ | WRITE), "tun");
        assert!(!p.allows('b', 8, 0, READ), "a disk");
        assert!(p.allows('b', 8, 0, MKNOD), "mknod of anything");
        assert!(!p.allows('c', 10, 229, READ), "fuse");
        assert!(p.allows('c', 10, 229, MKNOD), "runc's c *:* m comes after");
        assert!(!p.allows('c', 1, 11, WRITE), "kmsg");
        // What a v1 cgroup is told: deny all, then one allow per exception.
        let writes = p.v1_writes();
        assert_eq!(writes[0], ("devices.deny", "a".to_string()));
        let allowed: Vec<&str> = writes[1..]
            .iter()
            .inspect(|(file, _)| assert_eq!(*file, "devices.allow"))
            .map(|(_, line)| line.as_str())
            .collect();
        assert!(allowed.contains(&"c 1:3 rwm"), "{allowed:?}");
        assert!(allowed.contains(&"c *:* m"), "{allowed:?}");
        assert!(allowed.contains(&"b *:* m"), "{allowed:?}");
        assert!(allowed.contains(&"c 136:* rwm"), "{allowed:?}");
        assert!(
            !allowed.iter().any(|l| l.starts_with("c 10:229")),
            "{allowed:?}"
        );
    }

    #[test]
    fn rules_follow_the_kernels_v1_semantics() {
        // Later allows add up; one exception must cover the whole access.
        let p = Policy::from_rules(&[
            DeviceRule::deny_all(),
            rule("c 1:3 r"),
            rule("c 1:3 w"),
            rule("c *:* m"),
        ])
        .unwrap();
        assert!(p.allows('c', 1, 3, READ | WRITE));
        assert!(!p.allows('c', 1, 3, READ | WRITE | MKNOD), "split over two");
        assert!(p.allows('c', 1, 3, MKNOD));
        // A deny on the exact numbers takes access away again.
        let p = Policy::from_rules(&[DeviceRule::deny_all(), rule("c 1:3 rwm"), deny("c 1:3 w")])
            .unwrap();
        assert!(p.allows('c', 1, 3, READ));
        assert!(!p.allows('c', 1, 3, WRITE));
        // `a` resets everything before it, whatever its numbers say.
        let p = Policy::from_rules(&[DeviceRule::deny_all(), rule("c 1:3 r"), rule("a 1:3 r")])
            .unwrap();
        assert_eq!(p, Policy::from_rules(&[]).unwrap());
        assert!(p.allows('b', 8, 0, ALL));
        // Allow-list mode: deny exceptions block any overlapping access.
        let p = Policy::from_rules(&[deny("b 8:* w")]).unwrap();
        assert!(p.default_allow);
        assert!(p.allows('b', 8, 0, READ));
        assert!(!p.allows('b', 8, 0, READ | WRITE));
        assert!(p.allows('b', 9, 0, WRITE));
        assert_eq!(
            p.v1_writes(),
            [
                ("devices.allow", "a".to_string()),
                ("devices.deny", "b 8:* w".to_string())
            ]
        );
        let p = Policy::from_rules(&[deny("b 8:* w"), rule("b 8:* w")]).unwrap();
        assert!(p.exceptions.is_empty());
    }

    #[test]
    fn punching_a_hole_in_a_wildcard_is_refused() {
        let err = Policy::from_rules(&[DeviceRule::deny_all(), rule("c *:* r"), deny("c 1:3 r")])
            .unwrap_err();
        assert!(err.is_invalid_input());
        assert!(err.to_string().contains("'c *:* r'"), "{err}");
        // No overlap in access: fine.
        Policy::from_rules(&[DeviceRule::deny_all(), rule("c *:* m"), deny("c 1:3 r")]).unwrap();
        let err = Policy::from_rules(&[deny("b 8:* w"), rule("b 8:0 rw")]).unwrap_err();
        assert!(err.to_string().contains("'b 8:* w'"), "{err}");
    }

    #[test]
    fn bad_hand_made_rules_are_invalid_input() {
        let bad = [
            DeviceRule {
                kind: 'x',
                ..DeviceRule::allow_all()
            },
            DeviceRule {
                access: String::new(),
                ..rule("c 1:3 r")
            },
            DeviceRule {
                access: "rx".into(),
                ..rule("c 1:3 r")
            },
            DeviceRule {
                major: Some(1 << 32),
                ..rule("c 1:3 r")
            },
        ];
        for r in bad {
            let err = Policy::from_rules(std::slice::from_ref(&r)).unwrap_err();
            assert!(err.is_invalid_input(), "{r:?}");
            assert!(err.to_string().starts_with("invalid device rule"), "{err}");
        }
    }

    #[test]
    fn access_strings_are_in_kernel_order() {
        assert_eq!(access_string(ALL), "rwm");
        assert_eq!(access_string(MKNOD | READ), "rm");
        assert_eq!(access_string(WRITE), "w");
    }
}
