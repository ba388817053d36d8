//! Capability names as Docker's API takes them, and the set a container
//! gets from `CapAdd`, `CapDrop` and `Privileged`.
//!
//! Names are normalised as Docker normalises them: upper case, with a
//! `CAP_` prefix added when missing; `ALL` stands for every capability.
//! The known names are those of the `caps` crate (every capability up to
//! `CAP_CHECKPOINT_RESTORE`, Linux 5.9).

use crate::spec::DEFAULT_CAPABILITIES;
use caps::Capability;

/// The special name for every capability in `CapAdd` and `CapDrop`.
const ALL: &str = "ALL";

/// Every capability name Berth knows, in the kernel's numbering order.
pub fn all_capabilities() -> Vec<String> {
    let mut all: Vec<Capability> = caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.into_iter().map(|c| c.to_string()).collect()
}

/// Normalises `names` as Docker does (`net_admin` and `CAP_NET_ADMIN` are
/// the same; `all` is `ALL`). `Err` carries Docker's message for the first
/// unknown name: `unknown capability: "CAP_FOO"`.
pub fn normalize_capabilities(names: &[String]) -> Result<Vec<String>, String> {
    names
        .iter()
        .map(|name| {
            let upper = name.to_uppercase();
            if upper == ALL {
                return Ok(upper);
            }
            let canonical = caps::to_canonical(&upper);
            match canonical.parse::<Capability>() {
                Ok(_) => Ok(canonical),
                Err(_) => Err(format!("unknown capability: {canonical:?}")),
            }
        })
        .collect()
}

/// The capabilities of a container, as Docker computes them: every
/// capability when `privileged`; otherwise Docker's defaults less `drop`,
/// plus `add`, where `ALL` in `add` means every capability but those
/// dropped, and `ALL` in `drop` means only those added. `Err` is Docker's
/// message for an unknown name (`invalid CapAdd: unknown capability:
/// "CAP_FOO"`), checked even when privileged.
pub fn capability_set(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<Vec<String>, String> {
    let add = normalize_capabilities(add).map_err(|e| format!("invalid CapAdd: {e}"))?;
    let drop = normalize_capabilities(drop).map_err(|e| format!("invalid CapDrop: {e}"))?;
    let has = |list: &[String], name: &str| list.iter().any(|c| c == name);
    let mut set: Vec<String> = if privileged {
        all_capabilities()
    } else if has(&add, ALL) {
        all_capabilities()
            .into_iter()
            .filter(|c| !has(&drop, c))
            .collect()
    } else if has(&drop, ALL) {
        add
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !has(&drop, c))
            .chain(add)
            .collect()
    };
    let mut seen = std::collections::HashSet::new();
    set.retain(|c| seen.insert(c.clone()));
    Ok(set)
}

/// The names in `capabilities` that this process's bounding set lacks (or
/// that are not capability names): a container started from here cannot
/// have them, and its init leaves them out.
pub fn missing_from_bounding_set(capabilities: &[String]) -> Vec<String> {
    capabilities
        .iter()
        .filter(|name| {
            name.parse::<Capability>()
                .ok()
                .and_then(|c| caps::has_cap(None, caps::CapSet::Bounding, c).ok())
                != Some(true)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// The set as a bit mask, as /proc/self/status shows it.
    fn mask(set: &[String]) -> u64 {
        set.iter()
            .map(|c| 1u64 << c.parse::<Capability>().unwrap().index())
            .sum()
    }

    #[test]
    fn names_are_normalised_like_dockers() {
        assert_eq!(
            normalize_capabilities(&strings(&["net_admin", "CAP_chown", "all", "Sys_Time"]))
                .unwrap(),
            strings(&["CAP_NET_ADMIN", "CAP_CHOWN", "ALL", "CAP_SYS_TIME"])
        );
        assert_eq!(
            normalize_capabilities(&strings(&["chown", "foo"])).unwrap_err(),
            "unknown capability: \"CAP_FOO\""
        );
    }

    #[test]
    fn the_default_set_is_dockers_a80425fb() {
        assert_eq!(mask(&capability_set(&[], &[], false).unwrap()), 0xa80425fb);
    }

    #[test]
    fn drop_then_add_as_docker_does() {
        let set = capability_set(&strings(&["net_admin"]), &strings(&["CHOWN"]), false).unwrap();
        assert_eq!(mask(&set), (0xa80425fb & !1) | 1 << 12);
        // In both lists: dropped first, then added back.
        let set = capability_set(&strings(&["chown"]), &strings(&["chown"]), false).unwrap();
        assert_eq!(mask(&set), 0xa80425fb);
        // Adding one the defaults have changes nothing and lists it once.
        let set = capability_set(&strings(&["KILL"]), &[], false).unwrap();
        assert_eq!(set.len(), 14);
    }

    #[test]
    fn all_in_add_or_drop() {
        let every = mask(&all_capabilities());
        let set = capability_set(&strings(&["ALL"]), &strings(&["chown"]), false).unwrap();
        assert_eq!(mask(&set), every & !1);
        let set = capability_set(&strings(&["kill"]), &strings(&["all"]), false).unwrap();
        assert_eq!(set, strings(&["CAP_KILL"]));
        assert!(capability_set(&[], &strings(&["ALL"]), false)
            .unwrap()
            .is_empty());
        assert_eq!(mask(&capability_set(&[], &[], true).unwrap()), every);
    }

    #[test]
    fn unknown_names_use_dockers_message() {
        assert_eq!(
            capability_set(&strings(&["CAP_FOO"]), &[], false).unwrap_err(),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        assert_eq!(
            capability_set(&[], &strings(&["bar"]), true).unwrap_err(),
            "invalid CapDrop: unknown capability: \"CAP_BAR\""
        );
    }

    #[test]
    fn what_the_bounding_set_lacks_is_reported() {
        let bounding = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_owned()))
            .unwrap();
        let bounding = u64::from_str_radix(&bounding, 16).unwrap();
        let all = all_capabilities();
        let expected: Vec<String> = all
            .iter()
            .filter(|c| bounding & mask(std::slice::from_ref(c)) == 0)
            .cloned()
            .collect();
        assert_eq!(missing_from_bounding_set(&all), expected);
        assert_eq!(
            missing_from_bounding_set(&strings(&["CAP_FOO"])),
            strings(&["CAP_FOO"])
        );
    }

    #[test]
    fn every_known_capability_up_to_checkpoint_restore() {
        let all = all_capabilities();
        assert_eq!(all.len(), 41);
        assert_eq!(all[0], "CAP_CHOWN");
        assert_eq!(all[40], "CAP_CHECKPOINT_RESTORE");
    }
}
