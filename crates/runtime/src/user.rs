//! Docker's `User` string resolved against the container's own `/etc/passwd`
//! and `/etc/group`: which uid, gid, supplementary groups and home directory
//! the container's command runs with.
//!
//! Accepted forms: empty (root), `name`, `uid`, `name:group`, `uid:gid`,
//! `name:gid`, `uid:group`. A numeric uid or gid need not exist in the files;
//! a name must. Supplementary groups are the primary group (as dockerd since
//! 23.0, CVE-2023-25173: a process that leaves its primary group stays bound
//! by that group's permissions), then the groups whose member list names the
//! user, these only when no group was given explicitly (an explicit group
//! replaces them, as in Docker).

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::fs::File;
use std::io::Read;

/// Highest uid or gid Docker accepts.
const MAX_ID: u32 = i32::MAX as u32;
/// Refuse to read account databases larger than this (a hostile image could
/// point /etc/passwd at something endless).
const MAX_DATABASE_BYTES: u64 = 16 << 20;

/// Who the container's command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub supplementary_gids: Vec<u32>,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// Resolves `spec` (Docker's `User`) against the contents of `/etc/passwd` and
/// `/etc/group` (`None` when the file does not exist). The error is the message
/// Docker prints.
pub(crate) fn resolve(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ExecUser, String> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let numeric_uid = parse_id(user_arg)?;
    let users = passwd.map(parse_passwd).unwrap_or_default();
    let matched = if user_arg.is_empty() {
        users.iter().find(|u| u.uid == 0)
    } else if let Some(uid) = numeric_uid {
        users.iter().find(|u| u.uid == uid)
    } else {
        users.iter().find(|u| u.name == user_arg)
    };

    let mut user = match matched {
        Some(entry) => ExecUser {
            uid: entry.uid,
            gid: entry.gid,
            supplementary_gids: Vec::new(),
            home: entry.home.to_owned(),
        },
        None if user_arg.is_empty() || numeric_uid.is_some() => ExecUser {
            uid: numeric_uid.unwrap_or(0),
            gid: 0,
            supplementary_gids: Vec::new(),
            home: String::new(),
        },
        None => {
            return Err(format!(
                "unable to find user {user_arg}: no matching entries in passwd file"
            ))
        }
    };
    if user.home.is_empty() {
        user.home = "/".to_owned();
    }

    let groups = group.map(parse_group).unwrap_or_default();
    match group_arg {
        Some(group_arg) => {
            let numeric_gid = parse_id(group_arg)?;
            let found = match numeric_gid {
                Some(gid) => groups.iter().find(|g| g.gid == gid),
                None => groups.iter().find(|g| g.name == group_arg),
            };
            user.gid = match (found, numeric_gid) {
                (Some(entry), _) => entry.gid,
                (None, Some(gid)) => gid,
                (None, None) => {
                    return Err(format!(
                        "unable to find group {group_arg}: no matching entries in group file"
                    ))
                }
            };
        }
        None => {
            if let Some(entry) = matched {
                user.supplementary_gids = groups
                    .iter()
                    .filter(|g| g.members.contains(&entry.name))
                    .map(|g| g.gid)
                    .collect();
            }
        }
    }
    if !user.supplementary_gids.contains(&user.gid) {
        user.supplementary_gids.insert(0, user.gid);
    }
    Ok(user)
}

/// The gids of Docker's `GroupAdd` entries, looked up in the contents of
/// `/etc/group` (`None` when there is none): a group's name, or a numeric
/// gid, which need not exist. The error is the message Docker prints.
pub(crate) fn additional_gids(names: &[String], group: Option<&str>) -> Result<Vec<u32>, String> {
    let groups = group.map(parse_group).unwrap_or_default();
    names
        .iter()
        .map(|name| {
            if let Some(entry) = groups.iter().find(|g| g.name == name) {
                return Ok(entry.gid);
            }
            match parse_id(name)? {
                Some(gid) => Ok(gid),
                None => Err(format!(
                    "Unable to find group {name}: no matching entries in group file"
                )),
            }
        })
        .collect()
}

/// `Some(id)` when `arg` is all digits; an error when those digits are out of range.
fn parse_id(arg: &str) -> Result<Option<u32>, String> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match arg.parse::<u32>() {
        Ok(id) if id <= MAX_ID => Ok(Some(id)),
        _ => Err(format!("uids and gids must be in range 0-{MAX_ID}")),
    }
}

/// Lines of a colon-separated database, skipping blanks, comments and NIS
/// `+`/`-` entries.
fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', '+', '-']))
        .map(|line| line.split(':').collect())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry<'_>> {
    records(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?,
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry<'_>> {
    records(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?,
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|list| {
                        list.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads an account database inside the container: `Ok(None)` if it does not
/// exist. Opened non-blocking and checked to be a regular file of sane size,
/// so an image cannot hang the start with a FIFO or a device in its place.
pub(crate) fn read_database(path: &str) -> Result<Option<String>, nix::Error> {
    let fd = match nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    let file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let meta = file.metadata().map_err(io_errno)?;
    if !meta.is_file() || meta.len() > MAX_DATABASE_BYTES {
        return Err(nix::Error::EINVAL);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_DATABASE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(io_errno)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn io_errno(error: std::io::Error) -> nix::Error {
    nix::Error::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
# a comment line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin

app:x:1000:1000::/home/app:/bin/sh
nohome:x:1001:1001:::/bin/sh
broken:x:notanumber:1:::
";
    const GROUP: &str = "\
root:x:0:root
wheel:x:10:root,app
app:x:1000:
devs:x:2000:ops, app
nogroup:x:65534:
";

    fn resolve_ok(spec: &str) -> ExecUser {
        resolve(spec, Some(PASSWD), Some(GROUP)).unwrap()
    }

    #[test]
    fn empty_user_is_root_with_roots_groups_and_home() {
        assert_eq!(
            resolve_ok(""),
            ExecUser {
                uid: 0,
                gid: 0,
                supplementary_gids: vec![0, 10],
                home: "/root".into()
            }
        );
    }

    #[test]
    fn name_resolves_uid_gid_home_and_supplementary_groups() {
        assert_eq!(
            resolve_ok("app"),
            ExecUser {
                uid: 1000,
                gid: 1000,
                supplementary_gids: vec![1000, 10, 2000],
                home: "/home/app".into()
            }
        );
    }

    #[test]
    fn numeric_uid_in_passwd_takes_that_entry() {
        let user = resolve_ok("1000");
        assert_eq!(
            (user.uid, user.gid, user.home.as_str()),
            (1000, 1000, "/home/app")
        );
        assert_eq!(user.supplementary_gids, vec![1000, 10, 2000]);
    }

    #[test]
    fn numeric_uid_not_in_passwd_gets_gid_0_and_home_slash() {
        assert_eq!(
            resolve_ok("4242"),
            ExecUser {
                uid: 4242,
                gid: 0,
                supplementary_gids: vec![0],
                home: "/".into()
            }
        );
    }

    #[test]
    fn explicit_group_replaces_primary_and_supplementary_groups() {
        let user = resolve_ok("app:devs");
        assert_eq!((user.uid, user.gid), (1000, 2000));
        assert_eq!(user.supplementary_gids, vec![2000]);
        let user = resolve_ok("1000:1000");
        assert_eq!((user.uid, user.gid), (1000, 1000));
        assert_eq!(user.supplementary_gids, vec![1000]);
    }

    #[test]
    fn name_with_numeric_gid_and_uid_with_group_name() {
        let user = resolve_ok("nobody:777");
        assert_eq!((user.uid, user.gid), (65534, 777));
        let user = resolve_ok("4242:wheel");
        assert_eq!((user.uid, user.gid), (4242, 10));
    }

    #[test]
    fn empty_home_field_means_slash() {
        assert_eq!(resolve_ok("nohome").home, "/");
    }

    #[test]
    fn unknown_user_name_uses_dockers_wording() {
        assert_eq!(
            resolve("ghost", Some(PASSWD), Some(GROUP)).unwrap_err(),
            "unable to find user ghost: no matching entries in passwd file"
        );
    }

    #[test]
    fn unknown_group_name_uses_dockers_wording() {
        assert_eq!(
            resolve("app:ghosts", Some(PASSWD), Some(GROUP)).unwrap_err(),
            "unable to find group ghosts: no matching entries in group file"
        );
    }

    #[test]
    fn missing_databases_allow_root_and_numeric_ids_only() {
        assert_eq!(
            resolve("", None, None).unwrap(),
            ExecUser {
                uid: 0,
                gid: 0,
                supplementary_gids: vec![0],
                home: "/".into()
            }
        );
        let user = resolve("12:34", None, None).unwrap();
        assert_eq!((user.uid, user.gid), (12, 34));
        assert_eq!(
            resolve("app", None, None).unwrap_err(),
            "unable to find user app: no matching entries in passwd file"
        );
    }

    #[test]
    fn out_of_range_ids_are_rejected() {
        assert_eq!(
            resolve("2147483648", Some(PASSWD), None).unwrap_err(),
            "uids and gids must be in range 0-2147483647"
        );
        assert!(resolve("app:99999999999", Some(PASSWD), None).is_err());
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert_eq!(
            resolve("broken", Some(PASSWD), None).unwrap_err(),
            "unable to find user broken: no matching entries in passwd file"
        );
    }

    #[test]
    fn additional_groups_by_name_or_number() {
        let names = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            additional_gids(&names(&["wheel", "777", "devs"]), Some(GROUP)).unwrap(),
            vec![10, 777, 2000]
        );
        assert_eq!(additional_gids(&names(&["5"]), None).unwrap(), vec![5]);
        assert_eq!(
            additional_gids(&names(&["nosuch"]), Some(GROUP)).unwrap_err(),
            "Unable to find group nosuch: no matching entries in group file"
        );
        assert!(additional_gids(&names(&["99999999999"]), Some(GROUP)).is_err());
    }

    #[test]
    fn read_database_refuses_fifos_and_reports_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("passwd");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            read_database(fifo.to_str().unwrap()),
            Err(nix::Error::EINVAL)
        );
        let missing = dir.path().join("group");
        assert_eq!(read_database(missing.to_str().unwrap()), Ok(None));
        std::fs::write(&missing, "g:x:1:\n").unwrap();
        assert_eq!(
            read_database(missing.to_str().unwrap()),
            Ok(Some("g:x:1:\n".to_owned()))
        );
    }
}
