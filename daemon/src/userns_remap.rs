//! `--userns-remap`: the user whose subordinate ids container users become.
//!
//! As with dockerd, the flag names a host user, and optionally a group,
//! whose ranges in `/etc/subuid` and `/etc/subgid` make the containers' uid
//! and gid maps: container root is the first subordinate id of the first
//! range, and every further range continues where the previous one ended.
//! `default` names the system user `berthremap` (dockerd's `dockremap`),
//! which berthd creates, with 65536 subordinate uids and gids, when it is
//! missing.

use anyhow::{anyhow, bail, Context};
use nix::unistd::{Gid, Group, Uid, User};
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;

/// The flag value that asks for [`DEFAULT_USER`].
const DEFAULT_SPEC: &str = "default";
/// The user (and group) `default` stands for, created when missing.
const DEFAULT_USER: &str = "berthremap";
const SUBUID_FILE: &str = "/etc/subuid";
const SUBGID_FILE: &str = "/etc/subgid";
/// How many subordinate uids and gids `berthremap` is given.
const DEFAULT_RANGE_SIZE: u32 = 65536;
/// The lowest id a range given to `berthremap` may start at (shadow's
/// default `SUB_UID_MIN`).
const LOWEST_SUBORDINATE_ID: u64 = 100_000;
/// Ranges given to `berthremap` start at a multiple of this.
const RANGE_ALIGN: u64 = 65536;
/// Ranges end (exclusively) at or below this: ids are 32-bit, and the last
/// one, `(uid_t)-1`, is no id (the kernel maps no range holding it).
const ID_LIMIT: u64 = u32::MAX as u64;
/// The most ranges the kernel takes in a uid or gid map (since Linux 4.15).
const MAX_RANGES: usize = 340;
/// Fewer container ids than this make many images unusable.
const USUAL_ID_COUNT: u64 = 65536;

/// A contiguous mapping range: container ids `container..container+size`
/// are host ids `host..host+size`, as the runtime writes it.
pub type IdRange = berth_runtime::IdMapping;

/// The remapping `--userns-remap` asks for: the user and group it names and
/// their subordinate ranges as container id maps. Each map starts at
/// container id 0 and continues without gaps, one range per line of
/// `/etc/subuid` or `/etc/subgid`, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemapConfig {
    pub user: String,
    pub group: String,
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

/// The user part of a `--userns-remap` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    /// `default`: the `berthremap` user, created when missing.
    Default,
    /// A user name, to be found in the passwd database.
    Name(String),
    /// A numeric uid, to be found in the passwd database.
    Id(u32),
}

/// The group part of a `--userns-remap` value (after the `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSpec {
    /// A group name, to be found in the group database.
    Name(String),
    /// A numeric gid, to be found in the group database.
    Id(u32),
}

impl RemapConfig {
    /// Parses the flag value and resolves the ranges (creating `berthremap`
    /// for `default`).
    ///
    /// `USER` and `UID` take the group of the same name or number;
    /// `USER:GROUP` and `UID:GID` name it. Uids come from the user's lines
    /// of `/etc/subuid` (lines naming the user or its uid). Gids come from
    /// the group's lines of `/etc/subgid` (naming the group or its gid) or,
    /// when the group has none, from the user's lines, which is where
    /// shadow's tools and current dockerd put and look for them. Root is
    /// refused: dockerd turns user namespaces off for it instead.
    pub fn resolve(flag: &str) -> anyhow::Result<RemapConfig> {
        resolve_as(flag, DEFAULT_USER)
    }

    /// The mappings as the runtime writes them for each container.
    pub fn user_namespace(&self) -> berth_runtime::UserNamespace {
        berth_runtime::UserNamespace {
            uid_map: self.uids.clone(),
            gid_map: self.gids.clone(),
        }
    }

    /// The host uid and gid of container root (for the data root's
    /// `<uid>.<gid>` directory, as dockerd names it).
    ///
    /// # Panics
    ///
    /// If `uids` or `gids` does not map container id 0, which never happens
    /// to a config [`RemapConfig::resolve`] returned.
    pub fn root_pair(&self) -> (u32, u32) {
        (root_of(&self.uids), root_of(&self.gids))
    }
}

/// The host id that container id 0 maps to.
fn root_of(ranges: &[IdRange]) -> u32 {
    ranges
        .iter()
        .find(|range| range.container == 0)
        .map(|range| range.host)
        .expect("a remapping maps container root")
}

/// Splits a `--userns-remap` value into its user and group parts: `default`,
/// `USER`, `USER:GROUP`, `UID` or `UID:GID` (names and numbers may be
/// mixed). A part made only of digits is a number. Nothing is looked up.
pub fn parse_flag(flag: &str) -> anyhow::Result<(UserSpec, Option<GroupSpec>)> {
    let invalid = || anyhow!("Invalid user/group specification in --userns-remap: {flag:?}");
    let mut parts = flag.split(':');
    let user = parts.next().unwrap_or_default();
    let group = parts.next();
    if parts.next().is_some() || user.is_empty() || group == Some("") {
        return Err(invalid());
    }
    if user == DEFAULT_SPEC {
        return match group {
            None => Ok((UserSpec::Default, None)),
            Some(_) => Err(invalid()),
        };
    }
    let user = match numeric_part(user).ok_or_else(invalid)? {
        Some(uid) => UserSpec::Id(uid),
        None => UserSpec::Name(user.to_owned()),
    };
    let group = match group {
        None => None,
        Some(group) => Some(match numeric_part(group).ok_or_else(invalid)? {
            Some(gid) => GroupSpec::Id(gid),
            None => GroupSpec::Name(group.to_owned()),
        }),
    };
    Ok((user, group))
}

/// `Some(Some(id))` for a part made only of digits that fits in 32 bits,
/// `Some(None)` for a name, `None` for digits too large to be an id.
fn numeric_part(part: &str) -> Option<Option<u32>> {
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok().map(Some)
    } else {
        Some(None)
    }
}

/// A decimal id as the subordinate id files write them: digits only.
fn decimal(field: &str) -> Option<u32> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

/// One well-formed line of `/etc/subuid` or `/etc/subgid`.
struct Entry<'a> {
    owner: &'a str,
    start: u32,
    count: u32,
}

/// The well-formed lines of a subordinate id file, in order. Blank lines
/// and `#` comments are skipped silently; any other line that is not
/// `owner:start:count` with a non-empty owner, a count of at least 1 and
/// no id past 4294967294 is skipped with a warning.
fn entries(content: &str) -> impl Iterator<Item = Entry<'_>> {
    content.lines().enumerate().filter_map(|(index, raw)| {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let entry = parse_entry(line);
        if entry.is_none() {
            tracing::warn!(
                line = index + 1,
                text = line,
                "skipping a malformed line of a subordinate id file (expected name:start:count)"
            );
        }
        entry
    })
}

fn parse_entry(line: &str) -> Option<Entry<'_>> {
    let mut fields = line.split(':');
    let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || owner.is_empty() {
        return None;
    }
    let (start, count) = (decimal(start)?, decimal(count)?);
    if count == 0 || u64::from(start) + u64::from(count) > ID_LIMIT {
        return None;
    }
    Some(Entry {
        owner,
        start,
        count,
    })
}

/// The ranges that `content` (of `/etc/subuid` or `/etc/subgid`) gives to
/// `name`, or to the numeric `id` (shadow accepts either as a line's
/// owner), as contiguous container ranges in file order: the first line's
/// ids are container ids `0..count1`, the second's `count1..count1+count2`,
/// and so on. Malformed lines are skipped with a warning (see [`entries`]),
/// so every range holds at least one id and none past 4294967294 on the
/// host side; on the container side, the lines that would map ids past
/// 4294967294 are dropped, with a warning.
pub fn parse_subordinate(content: &str, name: &str, id: Option<u32>) -> Vec<IdRange> {
    let owned = |owner: &str| owner == name || (id.is_some() && decimal(owner) == id);
    let mut ranges = Vec::new();
    let mut next: u64 = 0;
    for entry in entries(content).filter(|entry| owned(entry.owner)) {
        let end = next + u64::from(entry.count);
        if end > ID_LIMIT {
            tracing::warn!(
                owner = name,
                "ignoring subordinate ids that would map past container id 4294967294"
            );
            break;
        }
        ranges.push(IdRange {
            // next < end <= u32::MAX
            container: next as u32,
            host: entry.start,
            size: entry.count,
        });
        next = end;
    }
    ranges
}

/// The start of the first range of `count` ids that overlaps no range of
/// `content` (of `/etc/subuid` or `/etc/subgid`, whoever owns the ranges)
/// and starts at a multiple of 65536 at or above 100000; `None` if no such
/// range fits below id 4294967295.
pub fn first_free_range(content: &str, count: u32) -> Option<u32> {
    let taken: Vec<(u64, u64)> = entries(content)
        .map(|entry| {
            let start = u64::from(entry.start);
            (start, start + u64::from(entry.count))
        })
        .collect();
    let align = |id: u64| id.div_ceil(RANGE_ALIGN) * RANGE_ALIGN;
    let mut start = align(LOWEST_SUBORDINATE_ID);
    loop {
        let end = start + u64::from(count);
        if end > ID_LIMIT {
            return None;
        }
        let overlapping_end = taken
            .iter()
            .filter(|&&(taken_start, taken_end)| taken_start < end && start < taken_end)
            .map(|&(_, taken_end)| taken_end)
            .max();
        match overlapping_end {
            None => return u32::try_from(start).ok(),
            Some(taken_end) => start = align(taken_end),
        }
    }
}

/// [`RemapConfig::resolve`], with `default` standing for `default_user`.
fn resolve_as(flag: &str, default_user: &str) -> anyhow::Result<RemapConfig> {
    let (user_spec, group_spec) = parse_flag(flag)?;
    let user = match &user_spec {
        UserSpec::Default => ensure_user(default_user)?,
        UserSpec::Name(name) => user_by_name(name)?
            .ok_or_else(|| anyhow!("Error during uid lookup for {name:?}: no such user"))?,
        UserSpec::Id(uid) => User::from_uid(Uid::from_raw(*uid))
            .with_context(|| format!("looking up uid {uid}"))?
            .ok_or_else(|| anyhow!("Uid {uid} has no entry in /etc/passwd"))?,
    };
    let group = match (&user_spec, group_spec) {
        (_, Some(GroupSpec::Name(name))) => group_by_name(&name)?
            .ok_or_else(|| anyhow!("Error during groupname lookup for {name:?}: no such group"))?,
        (_, Some(GroupSpec::Id(gid))) | (&UserSpec::Id(gid), None) => group_by_gid(gid)?,
        (UserSpec::Default | UserSpec::Name(_), None) => group_by_name(&user.name)?
            .ok_or_else(|| anyhow!("Error during gid lookup for {:?}: no such group", user.name))?,
    };
    if user.uid.is_root() {
        bail!(
            "--userns-remap: root cannot be remapped with itself; name another user, or leave user namespaces off"
        );
    }
    if user_spec == UserSpec::Default {
        ensure_ranges(&user, &group)?;
    }

    let subuid = read_subordinate_file(SUBUID_FILE)?;
    let uids = parse_subordinate(&subuid, &user.name, Some(user.uid.as_raw()));
    if uids.is_empty() {
        bail!(
            "Can't create ID mappings: no subuid ranges found for user {:?}",
            user.name
        );
    }
    let subgid = read_subordinate_file(SUBGID_FILE)?;
    let (gids, gid_owner) = subgid_ranges(&subgid, &user, &group);
    if gids.is_empty() {
        if group.name == user.name {
            bail!(
                "Can't create ID mappings: no subgid ranges found for user {:?}",
                user.name
            );
        }
        bail!(
            "Can't create ID mappings: no subgid ranges found for group {:?} or user {:?}",
            group.name,
            user.name
        );
    }
    validate("subuid", &user.name, &uids)?;
    validate("subgid", gid_owner, &gids)?;
    tracing::info!(
        user = %user.name,
        group = %group.name,
        "user namespaces: container ids map to the subordinate ids of {}:{}",
        user.name,
        group.name
    );
    Ok(RemapConfig {
        user: user.name,
        group: group.name,
        uids,
        gids,
    })
}

fn user_by_name(name: &str) -> anyhow::Result<Option<User>> {
    User::from_name(name).with_context(|| format!("looking up user {name:?}"))
}

fn group_by_name(name: &str) -> anyhow::Result<Option<Group>> {
    Group::from_name(name).with_context(|| format!("looking up group {name:?}"))
}

fn group_by_gid(gid: u32) -> anyhow::Result<Group> {
    Group::from_gid(Gid::from_raw(gid))
        .with_context(|| format!("looking up gid {gid}"))?
        .ok_or_else(|| anyhow!("Gid {gid} has no entry in /etc/group"))
}

/// The gid ranges of `group` in `content` (of `/etc/subgid`), or those of
/// `user` when the group has none, with the name of their owner.
fn subgid_ranges<'a>(content: &str, user: &'a User, group: &'a Group) -> (Vec<IdRange>, &'a str) {
    let by_group = parse_subordinate(content, &group.name, Some(group.gid.as_raw()));
    if !by_group.is_empty() {
        return (by_group, &group.name);
    }
    let by_user = parse_subordinate(content, &user.name, Some(user.uid.as_raw()));
    (by_user, &user.name)
}

/// Checks what [`parse_subordinate`] cannot: that the kernel takes as many
/// ranges, that no range holds host root, and that no two ranges share a
/// host id (the kernel refuses overlapping ranges); warns when fewer than
/// 65536 ids are mapped.
fn validate(kind: &str, owner: &str, ranges: &[IdRange]) -> anyhow::Result<()> {
    if ranges.len() > MAX_RANGES {
        bail!(
            "Can't create ID mappings: {} {kind} ranges found for {owner:?}, more than the kernel's {MAX_RANGES}",
            ranges.len()
        );
    }
    let end = |range: &IdRange| u64::from(range.host) + u64::from(range.size);
    if let Some(range) = ranges.iter().find(|range| range.host == 0) {
        bail!(
            "Can't create ID mappings: {kind} range 0-{} of {owner:?} holds host root",
            end(range) - 1
        );
    }
    let mut by_host: Vec<&IdRange> = ranges.iter().collect();
    by_host.sort_by_key(|range| range.host);
    for pair in by_host.windows(2) {
        if end(pair[0]) > u64::from(pair[1].host) {
            bail!(
                "Can't create ID mappings: {kind} ranges {}-{} and {}-{} of {owner:?} overlap",
                pair[0].host,
                end(pair[0]) - 1,
                pair[1].host,
                end(pair[1]) - 1
            );
        }
    }
    let total: u64 = ranges.iter().map(|range| u64::from(range.size)).sum();
    if total < USUAL_ID_COUNT {
        tracing::warn!(
            owner,
            count = total,
            "only {total} {kind} ids for {owner:?}: images with files owned by ids from {total} up cannot be used"
        );
    }
    Ok(())
}

fn read_subordinate_file(path: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("Can't create ID mappings: reading {path}"))
}

/// Like [`read_subordinate_file`], but an absent file is created empty
/// (mode 0644, as shadow's are): `usermod` adds no ranges without one.
fn read_or_create_subordinate_file(path: &str) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(path)
            {
                Ok(_) => Ok(String::new()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => read_subordinate_file(path),
                Err(e) => Err(e).with_context(|| format!("creating {path}")),
            }
        }
        result => result.with_context(|| format!("reading {path}")),
    }
}

/// The user `name`, created first when missing as a system user without
/// home or login shell, in the group of the same name (created with it
/// unless it exists).
fn ensure_user(name: &str) -> anyhow::Result<User> {
    if let Some(user) = user_by_name(name)? {
        return Ok(user);
    }
    let mut useradd = Command::new("useradd");
    useradd.args(["--system", "--no-create-home", "--shell", "/bin/false"]);
    if group_by_name(name)?.is_some() {
        useradd.args(["--gid", name]);
    } else {
        useradd.arg("--user-group");
    }
    let output = useradd
        .arg(name)
        .output()
        .with_context(|| format!("Error during {name:?} user creation: running useradd"))?;
    // When another process created the user meanwhile, useradd fails but
    // the user is there: go on with it.
    match user_by_name(name)? {
        Some(user) => {
            if output.status.success() {
                tracing::info!(
                    user = name,
                    "created system user {name} for user namespaces"
                );
            }
            Ok(user)
        }
        None => bail!(
            "Error during {name:?} user creation: useradd {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
}

/// Gives `user` 65536 subordinate uids, and 65536 subordinate gids, when
/// it has none (gids counting those of `group`), each at the first free
/// aligned place of its file (see [`first_free_range`]), with `usermod`,
/// which locks the files and rewrites them atomically, leaving the other
/// lines as they are.
fn ensure_ranges(user: &User, group: &Group) -> anyhow::Result<()> {
    let mut args = Vec::new();
    let subuid = read_or_create_subordinate_file(SUBUID_FILE)?;
    if parse_subordinate(&subuid, &user.name, Some(user.uid.as_raw())).is_empty() {
        args.push("--add-subuids".to_owned());
        args.push(free_range(&subuid, SUBUID_FILE)?);
    }
    let subgid = read_or_create_subordinate_file(SUBGID_FILE)?;
    if subgid_ranges(&subgid, user, group).0.is_empty() {
        args.push("--add-subgids".to_owned());
        args.push(free_range(&subgid, SUBGID_FILE)?);
    }
    if args.is_empty() {
        return Ok(());
    }
    let output = Command::new("usermod")
        .args(&args)
        .arg(&user.name)
        .output()
        .context("couldn't create subordinate ID ranges: running usermod")?;
    if !output.status.success() {
        bail!(
            "couldn't create subordinate ID ranges for user {:?}: usermod {}: {}",
            user.name,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    tracing::info!(user = %user.name, ranges = ?args, "gave subordinate ids to {}", user.name);
    Ok(())
}

/// `FIRST-LAST` of the first free range of [`DEFAULT_RANGE_SIZE`] ids in
/// `content`, as `usermod` takes it.
fn free_range(content: &str, path: &str) -> anyhow::Result<String> {
    let first = first_free_range(content, DEFAULT_RANGE_SIZE).with_context(|| {
        format!("couldn't create subordinate ID ranges: no {DEFAULT_RANGE_SIZE} free ids in {path}")
    })?;
    Ok(format!("{first}-{}", first + (DEFAULT_RANGE_SIZE - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(container: u32, host: u32, size: u32) -> IdRange {
        IdRange {
            container,
            host,
            size,
        }
    }

    #[test]
    fn parse_subordinate_joins_ranges_in_file_order() {
        let content = "\
# subordinate uids
alice:300000:1000

bob:100000:65536
alice:200000:65536
  alice:500000:10  \n";
        assert_eq!(
            parse_subordinate(content, "alice", None),
            vec![
                range(0, 300000, 1000),
                range(1000, 200000, 65536),
                range(66536, 500000, 10),
            ]
        );
        assert_eq!(
            parse_subordinate(content, "bob", Some(1001)),
            vec![range(0, 100000, 65536)]
        );
        assert!(parse_subordinate(content, "carol", None).is_empty());
        assert!(parse_subordinate(content, "# subordinate uids", None).is_empty());
    }

    #[test]
    fn parse_subordinate_accepts_entries_by_numeric_id() {
        let content = "1000:100000:65536\nalice:165536:65536\n1001:231072:65536\n";
        assert_eq!(
            parse_subordinate(content, "alice", Some(1000)),
            vec![range(0, 100000, 65536), range(65536, 165536, 65536)]
        );
        // Without an id, a numeric owner is someone else.
        assert_eq!(
            parse_subordinate(content, "alice", None),
            vec![range(0, 165536, 65536)]
        );
        // "01000" is the same number, as shadow reads it.
        assert_eq!(
            parse_subordinate("01000:100000:5\n", "alice", Some(1000)),
            vec![range(0, 100000, 5)]
        );
    }

    #[test]
    fn parse_subordinate_skips_malformed_lines() {
        let content = "\
alice:100000
alice:100000:65536:extra
alice:x:65536
alice:100000:-1
alice:-5:10
alice:100000:0
alice:4294967295:2
alice: 100000:65536
:100000:65536
alice:200000:65536
alice:4294967290:5
alice:4294967290:6
";
        assert_eq!(
            parse_subordinate(content, "alice", None),
            vec![range(0, 200000, 65536), range(65536, 4294967290, 5)]
        );
        assert!(parse_subordinate(content, "", Some(0)).is_empty());
    }

    #[test]
    fn parse_subordinate_stops_at_the_container_id_limit() {
        let content = "alice:1:4294967294\nalice:100:1\nalice:200:1\n";
        assert_eq!(
            parse_subordinate(content, "alice", None),
            vec![range(0, 1, 4294967294), range(4294967294, 100, 1)]
        );
        // The first range that does not fit ends the map.
        let content = "alice:1:4294967293\nalice:100:3\nalice:200:1\n";
        assert_eq!(
            parse_subordinate(content, "alice", None),
            vec![range(0, 1, 4294967293)]
        );
    }

    #[test]
    fn first_free_range_starts_at_the_first_aligned_id() {
        assert_eq!(first_free_range("", 65536), Some(131072));
        assert_eq!(first_free_range("# nothing\n\n", 65536), Some(131072));
        // Ranges below or above the candidate do not matter.
        assert_eq!(
            first_free_range("a:1000:99000\nb:196608:65536\n", 65536),
            Some(131072)
        );
    }

    #[test]
    fn first_free_range_skips_overlapping_ranges_in_any_order() {
        // Debian gives users 100000, 165536, 231072... of 65536 each.
        let content = "\
carol:231072:65536
alice:100000:65536
bob:165536:65536
";
        assert_eq!(first_free_range(content, 65536), Some(327680));
        // Another owner's range beyond the first gap, listed first.
        let content = "x:400000:10\ny:131072:1\n";
        assert_eq!(first_free_range(content, 65536), Some(196608));
        // A range ending exactly at the candidate does not overlap it.
        assert_eq!(first_free_range("x:0:131072\n", 65536), Some(131072));
        // A range starting right after the candidate's end neither.
        assert_eq!(first_free_range("x:196608:1\n", 65536), Some(131072));
        // The last id of the candidate overlapping is enough.
        assert_eq!(first_free_range("x:196607:1\n", 65536), Some(196608));
        // Malformed lines are not ranges.
        assert_eq!(first_free_range("x:131072\n", 65536), Some(131072));
    }

    #[test]
    fn first_free_range_fails_when_ids_run_out() {
        assert_eq!(first_free_range("x:131072:4294836223\n", 65536), None);
        // The last aligned start, 4294901760, would hold id 4294967295.
        assert_eq!(first_free_range("x:131072:4294770688\n", 65536), None);
        assert_eq!(
            first_free_range("x:131072:4294705152\n", 65536),
            Some(4294836224)
        );
        assert_eq!(first_free_range("", u32::MAX), None);
    }

    #[test]
    fn parse_flag_forms() {
        assert_eq!(parse_flag("default").unwrap(), (UserSpec::Default, None));
        assert_eq!(
            parse_flag("alice").unwrap(),
            (UserSpec::Name("alice".into()), None)
        );
        assert_eq!(
            parse_flag("alice:staff").unwrap(),
            (
                UserSpec::Name("alice".into()),
                Some(GroupSpec::Name("staff".into()))
            )
        );
        assert_eq!(parse_flag("1000").unwrap(), (UserSpec::Id(1000), None));
        assert_eq!(
            parse_flag("1000:50").unwrap(),
            (UserSpec::Id(1000), Some(GroupSpec::Id(50)))
        );
        assert_eq!(
            parse_flag("alice:50").unwrap(),
            (UserSpec::Name("alice".into()), Some(GroupSpec::Id(50)))
        );
        assert_eq!(
            parse_flag("1000:staff").unwrap(),
            (UserSpec::Id(1000), Some(GroupSpec::Name("staff".into())))
        );
        assert_eq!(
            parse_flag("4294967295").unwrap(),
            (UserSpec::Id(u32::MAX), None)
        );
        // Not only digits: a name.
        assert_eq!(
            parse_flag("-1").unwrap(),
            (UserSpec::Name("-1".into()), None)
        );
        assert_eq!(
            parse_flag("defaults").unwrap(),
            (UserSpec::Name("defaults".into()), None)
        );
    }

    #[test]
    fn parse_flag_rejects_malformed_values() {
        for flag in [
            "",
            ":",
            "alice:",
            ":staff",
            "a:b:c",
            "default:staff",
            "4294967296",
            "alice:4294967296",
        ] {
            let err = parse_flag(flag).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("Invalid user/group specification in --userns-remap: {flag:?}"),
            );
        }
    }

    #[test]
    fn validate_refuses_host_root_and_overlaps() {
        assert!(validate("subuid", "a", &[range(0, 100000, 65536)]).is_ok());
        let err = validate("subuid", "a", &[range(0, 0, 10)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Can't create ID mappings: subuid range 0-9 of \"a\" holds host root"
        );
        let err = validate(
            "subgid",
            "a",
            &[range(0, 200000, 100), range(100, 100000, 100001)],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Can't create ID mappings: subgid ranges 100000-200000 and 200000-200099 of \"a\" overlap"
        );
        let many: Vec<IdRange> = (0..341).map(|i| range(i, 100000 + i, 1)).collect();
        assert!(validate("subuid", "a", &many).is_err());
        assert!(validate("subuid", "a", &many[..340]).is_ok());
    }

    #[test]
    fn root_pair_is_the_host_ids_of_container_zero() {
        let config = RemapConfig {
            user: "a".into(),
            group: "b".into(),
            uids: vec![range(0, 300000, 10), range(10, 100000, 65536)],
            gids: vec![range(0, 231072, 65536)],
        };
        assert_eq!(config.root_pair(), (300000, 231072));
    }
}
