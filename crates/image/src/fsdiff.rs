//! `docker diff`: what a container changed, from its overlay upper
//! directory and the image layers below it, without mounting anything.
//!
//! The result is what Docker reports today (moby compares the mounted
//! container filesystem with its parent, `archive.ChangesDirs`), computed
//! from the upper directory alone: a path of the upper directory that the
//! merged lower layers lack is added (and so is everything under it); one
//! they have is modified when its mode, owner, device number,
//! `security.capability`, or (not for directories) size or mtime differ;
//! a whiteout of a path the layers have is a deletion, and so is every
//! name the layers have under an opaque directory that the upper directory
//! does not bring back. A directory with changes below it is listed as
//! modified before them unless listed already; `/` never is. Names come in
//! byte order within each directory.
//!
//! Mount points the daemon makes when the image lacks them (`/etc/hosts`
//! and the like) are the daemon's, not the container's: Docker keeps them
//! in a layer of its own under the container's, so they are never listed.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::stat::{FileStat, SFlag};

use crate::error::{ImageError, IoContext};
use crate::fsat::{
    dir_names, get_xattr_at, is_kind, is_opaque_at, is_whiteout, open_dir_at, open_dir_path,
    stat_at,
};
use crate::lower::{Found, LowerView};

const CAPABILITY_XATTR: &str = "security.capability";

/// What happened to a path (Docker's `Kind`: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute, as the container sees it.
    pub path: String,
    pub kind: ChangeKind,
}

/// The changes of a container whose overlay upper directory is `upper`
/// over the image layers `lower` (topmost first). `daemon_paths` (relative,
/// like `etc/hosts`) are the mount points the daemon makes at start: when
/// the layers lack one, it is not a change of the container's.
pub fn container_changes(
    upper: &Path,
    lower: &[PathBuf],
    daemon_paths: &[&str],
) -> Result<Vec<Change>, ImageError> {
    let view = LowerView::open(lower).ctx(|| "opening the image layers".to_string())?;
    let top = open_dir_path(upper).ctx(|| format!("opening {}", upper.display()))?;
    let mut differ = Differ {
        lower: view,
        daemon_paths,
        changes: Vec::new(),
    };
    differ
        .dir(&top, Path::new(""), true, false, false)
        .ctx(|| format!("comparing {} with its image", upper.display()))?;
    Ok(differ.changes)
}

struct Differ<'a> {
    lower: LowerView,
    daemon_paths: &'a [&'a str],
    changes: Vec<Change>,
}

impl Differ<'_> {
    /// Compares the upper directory `fd` (at `rel`) with the layers:
    /// `old_dir` when they have `rel` as a directory, `added` when
    /// everything below is new, `opaque` when it hides what they have.
    fn dir(
        &mut self,
        fd: &OwnedFd,
        rel: &Path,
        old_dir: bool,
        added: bool,
        opaque: bool,
    ) -> io::Result<()> {
        let mut names: BTreeSet<OsString> = dir_names(fd)?.into_iter().collect();
        let old_names = if opaque && old_dir && !added {
            self.lower.list(rel)?
        } else {
            BTreeSet::new()
        };
        names.extend(old_names.iter().cloned());
        for name in names {
            let path = rel.join(&name);
            match stat_at(fd, &name)? {
                None => {
                    if old_names.contains(&name) {
                        self.push(&path, ChangeKind::Deleted);
                    }
                }
                Some(st) if is_whiteout(&st) => {
                    let existed = if opaque {
                        old_names.contains(&name)
                    } else {
                        old_dir && !added && self.lower.lookup(&path)?.is_some()
                    };
                    if existed {
                        self.push(&path, ChangeKind::Deleted);
                    }
                }
                Some(st) => self.entry(fd, &name, &path, &st, old_dir && !added)?,
            }
        }
        Ok(())
    }

    /// An entry of the upper directory that the container sees.
    fn entry(
        &mut self,
        fd: &OwnedFd,
        name: &OsStr,
        path: &Path,
        st: &FileStat,
        compare: bool,
    ) -> io::Result<()> {
        let old = if compare {
            self.lower.lookup(path)?
        } else {
            None
        };
        let start = self.changes.len();
        let recorded = match &old {
            None if self.is_daemon_path(path) => false,
            None => {
                self.push(path, ChangeKind::Added);
                true
            }
            Some(old) if differs(old, fd, name, st) => {
                self.push(path, ChangeKind::Modified);
                true
            }
            Some(_) => false,
        };
        if !is_kind(st, SFlag::S_IFDIR) {
            return Ok(());
        }
        let old_dir = old
            .as_ref()
            .is_some_and(|o| is_kind(&o.stat, SFlag::S_IFDIR));
        let child = open_dir_at(fd, name)?;
        let before = self.changes.len();
        self.dir(&child, path, old_dir, !old_dir, is_opaque_at(fd, name))?;
        if self.changes.len() > before && !recorded {
            self.changes.insert(
                start,
                Change {
                    path: absolute(path),
                    kind: ChangeKind::Modified,
                },
            );
        }
        Ok(())
    }

    fn is_daemon_path(&self, path: &Path) -> bool {
        self.daemon_paths.iter().any(|p| Path::new(p) == path)
    }

    fn push(&mut self, path: &Path, kind: ChangeKind) {
        self.changes.push(Change {
            path: absolute(path),
            kind,
        });
    }
}

/// Docker's test for a changed file (moby's `statDifferent` and the
/// capability check): mode, owner and device always; size and mtime
/// (whole seconds match when either side has none finer) for all but
/// directories.
fn differs(old: &Found, dir: &OwnedFd, name: &OsStr, new: &FileStat) -> bool {
    let o = &old.stat;
    let same_time = o.st_mtime == new.st_mtime
        && (o.st_mtime_nsec == new.st_mtime_nsec || o.st_mtime_nsec == 0 || new.st_mtime_nsec == 0);
    o.st_mode != new.st_mode
        || o.st_uid != new.st_uid
        || o.st_gid != new.st_gid
        || o.st_rdev != new.st_rdev
        || (!is_kind(o, SFlag::S_IFDIR) && (!same_time || o.st_size != new.st_size))
        || get_xattr_at(&old.dir, &old.name, CAPABILITY_XATTR)
            != get_xattr_at(dir, name, CAPABILITY_XATTR)
}

fn absolute(rel: &Path) -> String {
    format!("/{}", rel.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::tests::{make_opaque, whiteout};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn lines(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let kind = match c.kind {
                    ChangeKind::Modified => "C",
                    ChangeKind::Added => "A",
                    ChangeKind::Deleted => "D",
                };
                format!("{kind} {}", c.path)
            })
            .collect()
    }

    /// An image layer and an upper directory copied up from it.
    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        let upper = dir.path().join("upper");
        for d in ["etc", "tmp", "var/log", "opt/app", "home"] {
            fs::create_dir_all(layer.join(d)).unwrap();
        }
        for f in [
            "etc/passwd",
            "etc/group",
            "opt/app/a",
            "opt/app/b",
            "home/x",
        ] {
            fs::write(layer.join(f), b"layer").unwrap();
        }
        fs::create_dir(&upper).unwrap();
        (dir, layer, upper)
    }

    /// A directory of the upper dir as a copy-up makes it: same mode,
    /// owner and mtime as in the layer.
    fn copy_up_dir(layer: &Path, upper: &Path, rel: &str) {
        fs::create_dir_all(upper.join(rel)).unwrap();
        let meta = fs::metadata(layer.join(rel)).unwrap();
        fs::set_permissions(upper.join(rel), meta.permissions()).unwrap();
        let file = fs::File::open(upper.join(rel)).unwrap();
        file.set_modified(meta.modified().unwrap()).unwrap();
    }

    #[test]
    fn added_changed_and_deleted_files_with_their_parents() {
        let (_dir, layer, upper) = setup();
        copy_up_dir(&layer, &upper, "etc");
        fs::write(upper.join("etc/passwd"), b"changed").unwrap();
        whiteout(&upper.join("etc/group"));
        for daemon in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
            fs::write(upper.join(daemon), b"").unwrap();
        }
        copy_up_dir(&layer, &upper, "tmp");
        fs::write(upper.join("tmp/new"), b"n").unwrap();
        copy_up_dir(&layer, &upper, "var");
        copy_up_dir(&layer, &upper, "var/log");
        fs::create_dir(upper.join("var/log/sub")).unwrap();
        fs::write(upper.join("var/log/sub/f"), b"f").unwrap();
        whiteout(&upper.join("home"));
        whiteout(&upper.join("never-existed"));
        fs::write(upper.join("top"), b"t").unwrap();
        let changes = container_changes(
            &upper,
            &[layer],
            &["etc/hosts", "etc/hostname", "etc/resolv.conf"],
        )
        .unwrap();
        assert_eq!(
            lines(&changes),
            [
                "C /etc",
                "D /etc/group",
                "C /etc/passwd",
                "D /home",
                "C /tmp",
                "A /tmp/new",
                "A /top",
                "C /var",
                "C /var/log",
                "A /var/log/sub",
                "A /var/log/sub/f",
            ]
        );
    }

    #[test]
    fn a_changed_mode_is_a_change_and_an_untouched_copy_up_is_none() {
        let (_dir, layer, upper) = setup();
        copy_up_dir(&layer, &upper, "etc");
        fs::copy(layer.join("etc/passwd"), upper.join("etc/passwd")).unwrap();
        let meta = fs::metadata(layer.join("etc/passwd")).unwrap();
        fs::File::options()
            .write(true)
            .open(upper.join("etc/passwd"))
            .unwrap()
            .set_modified(meta.modified().unwrap())
            .unwrap();
        assert!(container_changes(&upper, std::slice::from_ref(&layer), &[])
            .unwrap()
            .is_empty());
        fs::set_permissions(upper.join("etc"), fs::Permissions::from_mode(0o700)).unwrap();
        let changes = container_changes(&upper, &[layer], &[]).unwrap();
        assert_eq!(lines(&changes), ["C /etc"]);
    }

    #[test]
    fn an_opaque_directory_deletes_what_it_does_not_bring_back() {
        let (_dir, layer, upper) = setup();
        copy_up_dir(&layer, &upper, "opt");
        copy_up_dir(&layer, &upper, "opt/app");
        make_opaque(&upper.join("opt/app"));
        fs::write(upper.join("opt/app/b"), b"a longer b").unwrap();
        fs::write(upper.join("opt/app/c"), b"c").unwrap();
        let changes = container_changes(&upper, &[layer], &[]).unwrap();
        assert_eq!(
            lines(&changes),
            [
                "C /opt",
                "C /opt/app",
                "D /opt/app/a",
                "C /opt/app/b",
                "A /opt/app/c"
            ]
        );
    }

    #[test]
    fn a_file_replacing_a_directory_and_the_reverse() {
        let (_dir, layer, upper) = setup();
        fs::write(upper.join("home"), b"now a file").unwrap();
        fs::create_dir(upper.join("tmp")).unwrap();
        fs::write(upper.join("tmp/inside"), b"i").unwrap();
        fs::set_permissions(upper.join("tmp"), fs::Permissions::from_mode(0o700)).unwrap();
        let changes = container_changes(&upper, &[layer], &[]).unwrap();
        assert_eq!(lines(&changes), ["C /home", "C /tmp", "A /tmp/inside"]);
    }
}
