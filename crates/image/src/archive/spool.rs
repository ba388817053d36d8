//! Spools an untrusted outer archive (`docker save` output, an OCI layout)
//! into a private temp directory so its files can be read in any order.
//!
//! Only regular files and directories are written, at normalized paths that
//! cannot leave the directory. Symlinks and hard links in the archive (old
//! `docker save` output links shared layers) are recorded, never created,
//! and resolved lexically inside the spool when a file is opened. The
//! directory is removed when the [`Spool`] is dropped.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use tempfile::TempDir;

use crate::error::{ImageError, IoContext};
use crate::fsutil::read_limited;

const MAX_LINK_HOPS: usize = 40;

enum Link {
    Symbolic(PathBuf),
    Hard(PathBuf),
}

pub(crate) struct Spool {
    dir: TempDir,
    links: BTreeMap<PathBuf, Link>,
}

impl Spool {
    /// Extracts `tar` into a new temp directory under `parent`.
    pub(crate) fn extract(tar: &mut dyn Read, parent: &Path) -> Result<Spool, ImageError> {
        let dir = tempfile::Builder::new()
            .prefix("archive-")
            .tempdir_in(parent)
            .ctx(|| format!("creating temp dir in {}", parent.display()))?;
        let mut spool = Spool {
            dir,
            links: BTreeMap::new(),
        };
        let mut archive = tar::Archive::new(tar);
        for entry in archive.entries().map_err(bad_archive)? {
            let mut entry = entry.map_err(bad_archive)?;
            let path = entry.path().map_err(bad_archive)?.into_owned();
            let rel = lexical(&path).ok_or_else(|| escape(&path))?;
            if rel.as_os_str().is_empty() {
                continue;
            }
            let full = spool.dir.path().join(&rel);
            match entry.header().entry_type() {
                tar::EntryType::Directory => {
                    fs::create_dir_all(&full).map_err(|e| conflict(&path, e))?;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    if let Some(parent) = full.parent() {
                        fs::create_dir_all(parent).map_err(|e| conflict(&path, e))?;
                    }
                    spool.links.remove(&rel);
                    let mut file = File::create(&full).map_err(|e| conflict(&path, e))?;
                    io::copy(&mut entry, &mut file).map_err(bad_archive)?;
                }
                tar::EntryType::Symlink => {
                    if let Some(target) = entry.link_name().map_err(bad_archive)? {
                        spool.links.insert(rel, Link::Symbolic(target.into_owned()));
                    }
                }
                tar::EntryType::Link => {
                    if let Some(target) = entry.link_name().map_err(bad_archive)? {
                        let target = lexical(&target).ok_or_else(|| escape(&path))?;
                        spool.links.insert(rel, Link::Hard(target));
                    }
                }
                other => tracing::debug!(entry = %path.display(), ?other, "ignoring archive entry"),
            }
        }
        Ok(spool)
    }

    /// Whether `name` resolves to a regular file.
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.resolve(name).is_ok()
    }

    /// The on-disk path of the regular file `name` (following the archive's
    /// links, never out of the spool).
    pub(crate) fn resolve(&self, name: &str) -> Result<PathBuf, ImageError> {
        let missing = || ImageError::invalid(format!("invalid archive: {name} not found"));
        let mut queue: VecDeque<OsString> = Path::new(name)
            .components()
            .filter_map(component_name)
            .collect();
        let mut resolved = PathBuf::new();
        let mut hops = 0;
        while let Some(part) = queue.pop_front() {
            if part == ".." {
                if !resolved.pop() {
                    return Err(missing());
                }
                continue;
            }
            resolved.push(&part);
            let Some(link) = self.links.get(&resolved) else {
                continue;
            };
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(missing());
            }
            let target = match link {
                Link::Symbolic(target) => {
                    resolved.pop();
                    if target.is_absolute() {
                        resolved.clear();
                    }
                    target
                }
                Link::Hard(target) => {
                    resolved.clear();
                    target
                }
            };
            for part in target.components().rev().filter_map(component_name) {
                queue.push_front(part);
            }
        }
        let path = self.dir.path().join(&resolved);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            _ => Err(missing()),
        }
    }

    /// Reads the whole file `name`, which may be at most `limit` bytes.
    pub(crate) fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        read_limited(&self.resolve(name)?, limit)
    }

    /// Parses the JSON file `name`.
    pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        limit: u64,
    ) -> Result<T, ImageError> {
        serde_json::from_slice(&self.read(name, limit)?)
            .map_err(|e| ImageError::invalid(format!("invalid archive: {name}: {e}")))
    }
}

/// Normalizes an archive path lexically; `None` if it climbs out with `..`.
fn lexical(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => out.pop().then_some(())?,
            _ => {}
        }
    }
    Some(out)
}

/// A component as a name to walk: `..` kept, `.` and `/` dropped.
fn component_name(component: Component<'_>) -> Option<OsString> {
    match component {
        Component::Normal(part) => Some(part.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    }
}

fn bad_archive(err: io::Error) -> ImageError {
    ImageError::invalid(format!("invalid archive: {err}"))
}

fn escape(path: &Path) -> ImageError {
    ImageError::invalid(format!(
        "invalid archive: {} points outside the archive",
        path.display()
    ))
}

fn conflict(path: &Path, err: io::Error) -> ImageError {
    ImageError::invalid(format!(
        "invalid archive: cannot extract {}: {err}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TarBuilder;

    #[test]
    fn links_resolve_inside_the_spool_and_never_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new()
            .file("a/layer.tar", b"data")
            .symlink("b/layer.tar", "../a/layer.tar")
            .hardlink("c", "a/layer.tar")
            .symlink("up", "../../../../etc/passwd")
            .symlink("abs", "/a/layer.tar")
            .finish();
        let spool = Spool::extract(&mut &tar[..], tmp.path()).unwrap();
        for name in [
            "a/layer.tar",
            "b/layer.tar",
            "c",
            "abs",
            "./b/../a/layer.tar",
        ] {
            assert_eq!(spool.read(name, 100).unwrap(), b"data", "{name}");
        }
        assert!(spool.read("up", 100).is_err());
        assert!(spool.read("../etc/passwd", 100).is_err());
    }

    #[test]
    fn entries_climbing_out_are_rejected_and_spool_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new().file("../evil", b"x").finish();
        assert!(Spool::extract(&mut &tar[..], tmp.path()).is_err());
        assert!(!tmp.path().parent().unwrap().join("evil").exists());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn oversized_metadata_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new().file("index.json", &[b' '; 64]).finish();
        let spool = Spool::extract(&mut &tar[..], tmp.path()).unwrap();
        assert!(spool.read("index.json", 10).is_err());
        assert!(spool.read("index.json", 64).is_ok());
    }
}
