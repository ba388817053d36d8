//! A container's image layers seen the way overlayfs merges them, without
//! mounting them: what a path is in the merged lower layers, and what a
//! merged directory holds. Layers are walked one component at a time with
//! descriptors and never through a symlink; a whiteout or a non-directory
//! in a higher layer hides the path in the layers below, and an opaque
//! directory hides what the layers below have under it.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{FileStat, SFlag};

use crate::fsat::{dir_names, is_kind, is_opaque_at, is_whiteout, open_dir_path, stat_at};

/// The lower layers of a container, top first.
pub(crate) struct LowerView {
    layers: Vec<OwnedFd>,
}

/// A path found in a layer: the directory holding it, its name there, and
/// what it is.
pub(crate) struct Found {
    pub(crate) dir: OwnedFd,
    pub(crate) name: OsString,
    pub(crate) stat: FileStat,
}

/// What one layer says about a path.
enum Hit {
    /// Nothing here: the layers below decide.
    Absent,
    /// Hidden from here down (a whiteout, a non-directory parent, or an
    /// opaque parent without it).
    Hidden,
    /// The path, and whether the layers below are hidden under it (an
    /// opaque directory on the way, or the path itself opaque).
    Found(Found, bool),
}

impl LowerView {
    /// Opens the layer directories, topmost first.
    pub(crate) fn open(top_first: &[PathBuf]) -> io::Result<LowerView> {
        let layers = top_first
            .iter()
            .map(|dir| open_dir_path(dir))
            .collect::<io::Result<_>>()?;
        Ok(LowerView { layers })
    }

    /// What the merged layers have at `rel` (a path relative to the root,
    /// not the root itself).
    pub(crate) fn lookup(&self, rel: &Path) -> io::Result<Option<Found>> {
        for layer in &self.layers {
            match walk(layer, rel)? {
                Hit::Absent => continue,
                Hit::Hidden => return Ok(None),
                Hit::Found(found, _) => return Ok(Some(found)),
            }
        }
        Ok(None)
    }

    /// The names in the merged directory `rel`, not the root (empty if it
    /// is no directory).
    pub(crate) fn list(&self, rel: &Path) -> io::Result<BTreeSet<OsString>> {
        let mut names = BTreeSet::new();
        let mut hidden = BTreeSet::new();
        for layer in &self.layers {
            let (found, below_hidden) = match walk(layer, rel)? {
                Hit::Absent => continue,
                Hit::Hidden => break,
                Hit::Found(found, below_hidden) => (found, below_hidden),
            };
            if !is_kind(&found.stat, SFlag::S_IFDIR) {
                break;
            }
            let dir = crate::fsat::open_dir_at(&found.dir, &found.name)?;
            for name in dir_names(&dir)? {
                if hidden.contains(&name) || names.contains(&name) {
                    continue;
                }
                match stat_at(&dir, &name)? {
                    Some(st) if is_whiteout(&st) => {
                        hidden.insert(name);
                    }
                    Some(_) => {
                        names.insert(name);
                    }
                    None => {}
                }
            }
            if below_hidden {
                break;
            }
        }
        Ok(names)
    }
}

/// Walks `rel` in one layer.
fn walk(layer: &OwnedFd, rel: &Path) -> io::Result<Hit> {
    let parts: Vec<&OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    let Some((last, parents)) = parts.split_last() else {
        return Ok(Hit::Absent);
    };
    let mut dir = layer.try_clone()?;
    let mut opaque = false;
    for part in parents {
        match stat_at(&dir, part)? {
            None if opaque => return Ok(Hit::Hidden),
            None => return Ok(Hit::Absent),
            Some(st) if !is_kind(&st, SFlag::S_IFDIR) => return Ok(Hit::Hidden),
            Some(_) => {
                opaque |= is_opaque_at(&dir, part);
                dir = crate::fsat::open_dir_at(&dir, part)?;
            }
        }
    }
    match stat_at(&dir, last)? {
        None if opaque => Ok(Hit::Hidden),
        None => Ok(Hit::Absent),
        Some(st) if is_whiteout(&st) => Ok(Hit::Hidden),
        Some(stat) => {
            let below_hidden =
                opaque || (is_kind(&stat, SFlag::S_IFDIR) && is_opaque_at(&dir, last));
            Ok(Hit::Found(
                Found {
                    dir,
                    name: last.to_os_string(),
                    stat,
                },
                below_hidden,
            ))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;

    pub(crate) fn whiteout(path: &Path) {
        nix::sys::stat::mknod(
            path,
            SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            nix::sys::stat::makedev(0, 0),
        )
        .unwrap();
    }

    pub(crate) fn make_opaque(path: &Path) {
        let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: valid NUL-terminated strings and a one-byte value.
        let rc = unsafe {
            libc::setxattr(
                path.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
    }

    #[test]
    fn whiteouts_opaque_dirs_and_files_hide_the_layers_below() {
        let top = tempfile::tempdir().unwrap();
        let bottom = tempfile::tempdir().unwrap();
        for dir in ["etc", "var/lib", "opt"] {
            fs::create_dir_all(bottom.path().join(dir)).unwrap();
        }
        for file in ["etc/passwd", "etc/group", "var/lib/x", "opt/y"] {
            fs::write(bottom.path().join(file), b"old").unwrap();
        }
        fs::create_dir(top.path().join("etc")).unwrap();
        whiteout(&top.path().join("etc/group"));
        fs::write(top.path().join("etc/new"), b"new").unwrap();
        fs::create_dir(top.path().join("var")).unwrap();
        make_opaque(&top.path().join("var"));
        fs::write(top.path().join("opt"), b"now a file").unwrap();
        let view = LowerView::open(&[top.path().into(), bottom.path().into()]).unwrap();
        let found = |p: &str| view.lookup(Path::new(p)).unwrap().is_some();
        assert!(found("etc/passwd"));
        assert!(found("etc/new"));
        assert!(!found("etc/group"));
        assert!(!found("var/lib/x"));
        assert!(found("var"));
        assert!(!found("opt/y"));
        assert!(!found("nothing"));
        let names = |p: &str| -> Vec<String> {
            view.list(Path::new(p))
                .unwrap()
                .into_iter()
                .map(|n| n.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("etc"), ["new", "passwd"]);
        assert!(names("var").is_empty());
        assert!(names("opt").is_empty());
    }
}
