//! mount(8)-style option words for tmpfs mounts (`--tmpfs /run:size=64m`),
//! merged with Docker's defaults and turned into mount(2) flags and data.

use nix::mount::MsFlags;

/// Options every tmpfs gets before the user's, as Docker gives them.
const TMPFS_DEFAULTS: [&str; 3] = ["noexec", "nosuid", "nodev"];

/// tmpfs data options Docker accepts (`size=64m`, `mode=1777`, ...).
const TMPFS_DATA: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// Words accepted and ignored: defaults, and propagation and bind words
/// that mean nothing for a fresh tmpfs.
const IGNORED: [&str; 12] = [
    "defaults",
    "bind",
    "rbind",
    "remount",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// A flag word: the flag it sets or clears, and whether it sets it.
fn flag(word: &str) -> Option<(MsFlags, bool)> {
    Some(match word {
        "ro" => (MsFlags::MS_RDONLY, true),
        "rw" => (MsFlags::MS_RDONLY, false),
        "nosuid" => (MsFlags::MS_NOSUID, true),
        "suid" => (MsFlags::MS_NOSUID, false),
        "nodev" => (MsFlags::MS_NODEV, true),
        "dev" => (MsFlags::MS_NODEV, false),
        "noexec" => (MsFlags::MS_NOEXEC, true),
        "exec" => (MsFlags::MS_NOEXEC, false),
        "sync" => (MsFlags::MS_SYNCHRONOUS, true),
        "async" => (MsFlags::MS_SYNCHRONOUS, false),
        "dirsync" => (MsFlags::MS_DIRSYNC, true),
        "mand" => (MsFlags::MS_MANDLOCK, true),
        "nomand" => (MsFlags::MS_MANDLOCK, false),
        "noatime" => (MsFlags::MS_NOATIME, true),
        "atime" => (MsFlags::MS_NOATIME, false),
        "nodiratime" => (MsFlags::MS_NODIRATIME, true),
        "diratime" => (MsFlags::MS_NODIRATIME, false),
        "relatime" => (MsFlags::MS_RELATIME, true),
        "norelatime" => (MsFlags::MS_RELATIME, false),
        "strictatime" => (MsFlags::MS_STRICTATIME, true),
        "nostrictatime" => (MsFlags::MS_STRICTATIME, false),
        _ => return None,
    })
}

/// The options of a tmpfs given `options` (HostConfig.Tmpfs's value,
/// comma-separated, possibly empty), as Docker merges them: `noexec`,
/// `nosuid` and `nodev` first, then the user's; where two words set the same
/// flag (`exec` after `noexec`) or the same data key (`size=` twice), the
/// last one wins. `Err` is Docker's message for a word that is neither a
/// flag nor a tmpfs data option (`invalid tmpfs option ["foo"]`).
pub fn tmpfs_options(options: &str) -> Result<Vec<String>, String> {
    let words: Vec<&str> = TMPFS_DEFAULTS
        .iter()
        .copied()
        .chain(options.split(',').filter(|w| !w.is_empty()))
        .collect();
    let mut merged: Vec<String> = Vec::new();
    let mut seen_flags = MsFlags::empty();
    let mut seen_keys: Vec<&str> = Vec::new();
    for word in words.iter().rev() {
        if let Some((bit, _)) = flag(word) {
            if !seen_flags.contains(bit) {
                seen_flags |= bit;
                merged.insert(0, word.to_string());
            }
            continue;
        }
        if IGNORED.contains(word) {
            continue;
        }
        match word.split_once('=') {
            Some((key, _)) if TMPFS_DATA.contains(&key) => {
                if !seen_keys.contains(&key) {
                    seen_keys.push(key);
                    merged.insert(0, word.to_string());
                }
            }
            _ => {
                let parts: Vec<String> = word.splitn(2, '=').map(|p| format!("{p:?}")).collect();
                return Err(format!("invalid tmpfs option [{}]", parts.join(" ")));
            }
        }
    }
    Ok(merged)
}

/// mount(2) flags and data for merged tmpfs options.
pub(crate) fn mount_flags(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for word in options {
        match flag(word) {
            Some((bit, true)) => flags |= bit,
            Some((bit, false)) => flags &= !bit,
            None if word.contains('=') => data.push(word.as_str()),
            None => {}
        }
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_first_and_the_last_word_wins() {
        assert_eq!(tmpfs_options("").unwrap(), ["noexec", "nosuid", "nodev"]);
        assert_eq!(
            tmpfs_options("size=64m").unwrap(),
            ["noexec", "nosuid", "nodev", "size=64m"]
        );
        assert_eq!(
            tmpfs_options("ro,exec,size=1m,size=2m,mode=700").unwrap(),
            ["nosuid", "nodev", "ro", "exec", "size=2m", "mode=700"]
        );
        assert_eq!(
            tmpfs_options("exec,noexec,rprivate,defaults").unwrap(),
            ["nosuid", "nodev", "noexec"]
        );
    }

    #[test]
    fn unknown_words_are_refused_with_dockers_message() {
        assert_eq!(
            tmpfs_options("foo").unwrap_err(),
            "invalid tmpfs option [\"foo\"]"
        );
        assert_eq!(
            tmpfs_options("size=1m,foo=1").unwrap_err(),
            "invalid tmpfs option [\"foo\" \"1\"]"
        );
    }

    #[test]
    fn options_become_flags_and_data() {
        let (flags, data) = mount_flags(&tmpfs_options("size=64m,mode=1777").unwrap());
        assert_eq!(
            flags,
            MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV
        );
        assert_eq!(data, "size=64m,mode=1777");
        let (flags, data) = mount_flags(&tmpfs_options("ro,exec,dev").unwrap());
        assert_eq!(flags, MsFlags::MS_NOSUID | MsFlags::MS_RDONLY);
        assert_eq!(data, "");
    }
}
