//! A container's root filesystem seen through one directory descriptor.
//!
//! Every path inside it is resolved by the kernel with `openat2(2)` and
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: `..` at the top, absolute
//! symlinks and `/proc/self/...` magic links all stay inside the root, so a
//! container that points `/escape` at `/` or at `../../..` leads to its own
//! root and never to the host's (CVE-2018-15664). Operations that must not
//! follow a final symlink (stat, create, remove) resolve the parent this way
//! and act on the last name with `*at` calls that do not follow it.
//!
//! Paths are container paths as the Docker API takes them (`etc/passwd`,
//! `/etc/`, `/etc/.`), cleaned as Docker cleans them: a trailing `/` or `/.`
//! asserts a directory and makes a final symlink be followed.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{fchown, Gid, Uid};

use crate::fsat::is_kind;

/// How often a resolution the kernel could not vouch for (a concurrent
/// rename, `EAGAIN`) is retried.
const RESOLVE_RETRIES: usize = 64;
/// Most symlinks followed when a path is resolved by hand (Linux's limit
/// for one lookup is 40; Docker's `FollowSymlinkInScope` allows 255).
const MAX_LINKS: usize = 255;

/// The root directory of a container (`/proc/<pid>/root` of its init, or
/// its overlay mounted privately), and every path resolved inside it.
#[derive(Debug)]
pub struct ContainerRoot {
    fd: OwnedFd,
}

/// What `HEAD /containers/{id}/archive` reports about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// The last element of the cleaned path (`/` for the root).
    pub name: String,
    pub size: i64,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
    /// For a symlink, the path it finally leads to inside the container.
    pub link_target: String,
}

impl ContainerRoot {
    /// Opens `path` (following symlinks: `/proc/<pid>/root` is one) as the
    /// root of a container.
    pub fn open(path: &Path) -> io::Result<ContainerRoot> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: `open` just returned this descriptor, owned by no one else.
        Ok(ContainerRoot {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Opens a container path with `flags`, every symlink on the way
    /// (the final one too, unless `flags` has `O_NOFOLLOW`) resolved inside
    /// the root.
    pub(crate) fn open_path(&self, path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
        let rel = if path.as_os_str().as_bytes().iter().all(|b| *b == b'/') {
            Path::new(".")
        } else {
            path
        };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let mut tries = 0;
        loop {
            match openat2(self.fd.as_raw_fd(), rel, how) {
                Ok(fd) => {
                    // SAFETY: `openat2` just returned this descriptor, owned by no one else.
                    return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                }
                Err(Errno::EAGAIN) if tries < RESOLVE_RETRIES => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Opens the directory at a container path (following every symlink
    /// inside the root), for `*at` calls and listing.
    pub fn open_dir(&self, path: &Path) -> io::Result<OwnedFd> {
        self.open_path(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
    }

    /// The directory holding the last element of `path` (a cleaned
    /// absolute path other than `/`), and that element.
    pub(crate) fn open_parent(&self, path: &Path) -> io::Result<(OwnedFd, OsString)> {
        let (parent, name) = split_last(path.as_os_str().as_bytes()).ok_or(Errno::EINVAL)?;
        Ok((
            self.open_dir(Path::new(OsStr::from_bytes(parent)))?,
            OsString::from_vec(name.to_vec()),
        ))
    }

    /// Docker's stat of a container path: `lstat` of the cleaned path (a
    /// trailing `/` or `/.` follows a final symlink), and for a symlink the
    /// path it leads to.
    pub fn stat(&self, path: &str) -> io::Result<PathInfo> {
        let abs = clean_path(path);
        let st = self.lstat(&abs)?;
        let link_target = if is_kind(&st, SFlag::S_IFLNK) {
            self.resolve(&abs)
        } else {
            String::new()
        };
        Ok(PathInfo {
            name: base_name(&abs),
            size: st.st_size,
            mode: st.st_mode,
            mtime_secs: st.st_mtime,
            mtime_nanos: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
            link_target,
        })
    }

    /// `lstat` of a cleaned path; a path asserting a directory follows its
    /// final symlink, as the kernel does for a trailing slash.
    pub(crate) fn lstat(&self, abs: &str) -> io::Result<FileStat> {
        if abs == "/" || asserts_directory(abs) {
            return Ok(fstat(
                self.open_path(Path::new(abs), OFlag::O_PATH)?.as_raw_fd(),
            )?);
        }
        let (dir, name) = self.open_parent(Path::new(abs))?;
        Ok(fstatat(
            Some(dir.as_raw_fd()),
            name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?)
    }

    /// The path `path` leads to once every symlink on it is followed inside
    /// the root, as far as it exists (Docker's `FollowSymlinkInScope`): a
    /// missing or dangling part is kept as it is.
    pub fn resolve(&self, path: &str) -> String {
        let mut done: Vec<OsString> = Vec::new();
        let mut pending: Vec<OsString> = components(path.as_bytes()).rev().collect();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            let candidate = join_parts(done.iter().chain(std::iter::once(&part)));
            let target = match self.open_parent(&candidate) {
                Ok((dir, name)) => readlinkat(Some(dir.as_raw_fd()), name.as_os_str()).ok(),
                Err(_) => None,
            };
            match target {
                Some(target) if links < MAX_LINKS => {
                    links += 1;
                    let target = target.into_vec();
                    if target.starts_with(b"/") {
                        done.clear();
                    }
                    pending.extend(components(&target).rev());
                }
                _ => done.push(part),
            }
        }
        join_parts(done.iter()).to_string_lossy().into_owned()
    }

    /// Opens the directory at `path`, creating what is missing of it
    /// (mode 0755, owned by `owner`) one component at a time, every
    /// existing component resolved inside the root.
    pub(crate) fn make_dirs(&self, path: &Path, owner: (Uid, Gid)) -> io::Result<OwnedFd> {
        let mut dir = self.open_dir(Path::new("/"))?;
        let mut walked: Vec<OsString> = Vec::new();
        for part in components(path.as_os_str().as_bytes()) {
            if part == ".." {
                walked.pop();
                dir = self.open_dir(&join_parts(walked.iter()))?;
                continue;
            }
            walked.push(part.clone());
            let here = join_parts(walked.iter());
            match self.open_dir(&here) {
                Ok(fd) => dir = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let created =
                        match mkdirat(Some(dir.as_raw_fd()), part.as_os_str(), Mode::S_IRWXU) {
                            Ok(()) => true,
                            Err(Errno::EEXIST) => false,
                            Err(e) => return Err(e.into()),
                        };
                    dir = self.open_dir(&here)?;
                    if created {
                        fchmod(dir.as_raw_fd(), Mode::from_bits_truncate(0o755))?;
                        fchown(dir.as_raw_fd(), Some(owner.0), Some(owner.1))?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dir)
    }
}

/// Docker's cleaning of an API path: `Clean("/" + path)` with a trailing
/// `/` or `/.` kept (Go's `archive.PreserveTrailingDotOrSeparator`).
pub fn clean_path(path: &str) -> String {
    let parts = components(path.as_bytes()).fold(Vec::new(), |mut parts, part| {
        if part == ".." {
            parts.pop();
        } else {
            parts.push(part);
        }
        parts
    });
    let mut clean = join_parts(parts.iter()).to_string_lossy().into_owned();
    if base_name(&clean) != "." && base_name(path) == "." {
        if !clean.ends_with('/') {
            clean.push('/');
        }
        clean.push('.');
    }
    if path.ends_with('/') && !clean.ends_with('/') {
        clean.push('/');
    }
    clean
}

/// Whether a path asserts a directory: a trailing `/` or `/.`.
pub(crate) fn asserts_directory(path: &str) -> bool {
    path.ends_with('/') || base_name(path) == "."
}

/// Go's `filepath.Base`: the last element, trailing slashes ignored; `/`
/// for the root.
pub(crate) fn base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" }.to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// The parent (`/` at the top) and the last element of a cleaned absolute
/// path; `None` for the root itself.
fn split_last(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = path.iter().rposition(|b| *b != b'/')? + 1;
    let trimmed = &path[..end];
    let slash = trimmed.iter().rposition(|b| *b == b'/')?;
    let (parent, name) = (&trimmed[..slash], &trimmed[slash + 1..]);
    if name == b"." || name == b".." {
        return None;
    }
    Some((if parent.is_empty() { b"/" } else { parent }, name))
}

/// The non-empty, non-`.` components of a path, `..` kept.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = OsString> + '_ {
    path.split(|b| *b == b'/')
        .filter(|part| !part.is_empty() && *part != b".")
        .map(|part| OsString::from_vec(part.to_vec()))
}

/// `/a/b` from `[a, b]`; `/` from nothing.
fn join_parts<'a>(parts: impl Iterator<Item = &'a OsString>) -> PathBuf {
    let mut out = Vec::new();
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part.as_bytes());
    }
    if out.is_empty() {
        out.push(b'/');
    }
    PathBuf::from(OsString::from_vec(out))
}

/// A host path as a container root, for tests.
#[cfg(test)]
pub(crate) fn root_at(path: &Path) -> ContainerRoot {
    ContainerRoot::open(path).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn paths_are_cleaned_as_docker_cleans_them() {
        assert_eq!(clean_path("etc/passwd"), "/etc/passwd");
        assert_eq!(clean_path("/etc/"), "/etc/");
        assert_eq!(clean_path("/etc/."), "/etc/.");
        assert_eq!(clean_path("/etc/./"), "/etc/./");
        assert_eq!(clean_path("/./"), "/./");
        assert_eq!(clean_path("/../../etc//x/../y"), "/etc/y");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("."), "/.");
        assert_eq!(clean_path("/."), "/.");
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/etc/."), ".");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("/a/b"), "b");
        assert!(asserts_directory("/etc/") && asserts_directory("/etc/."));
        assert!(!asserts_directory("/etc"));
        assert_eq!(split_last(b"/a/b"), Some((&b"/a"[..], &b"b"[..])));
        assert_eq!(split_last(b"/a/"), Some((&b"/"[..], &b"a"[..])));
        assert_eq!(split_last(b"/"), None);
    }

    /// A root with `/escape -> /`, `/up -> ../../..` and `/etc/passwd`,
    /// inside a directory whose sibling the escapes would reach.
    fn hostile_root() -> (tempfile::TempDir, PathBuf) {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/passwd"), b"inside").unwrap();
        fs::create_dir_all(outer.path().join("etc")).unwrap();
        fs::write(outer.path().join("etc/passwd"), b"outside").unwrap();
        symlink("/", root.join("escape")).unwrap();
        symlink("../../..", root.join("up")).unwrap();
        symlink("/etc/passwd", root.join("pw")).unwrap();
        symlink("/nowhere/x", root.join("dangling")).unwrap();
        (outer, root)
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_outer, root) = hostile_root();
        let root = root_at(&root);
        for path in ["/escape/etc/passwd", "/up/etc/passwd", "up/../etc/passwd"] {
            let fd = root.open_path(Path::new(path), OFlag::O_RDONLY).unwrap();
            let text = fs::read(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
            assert_eq!(text, b"inside", "{path}");
        }
        assert_eq!(root.resolve("/escape/etc/passwd"), "/etc/passwd");
        assert_eq!(root.resolve("/up/etc"), "/etc");
        assert_eq!(root.resolve("/pw"), "/etc/passwd");
        assert_eq!(root.resolve("/dangling"), "/nowhere/x");
        assert_eq!(root.resolve("/"), "/");
    }

    #[test]
    fn stat_follows_a_final_symlink_only_when_a_directory_is_asserted() {
        let (_outer, root) = hostile_root();
        let root = root_at(&root);
        let link = root.stat("escape").unwrap();
        assert!(link.mode & libc::S_IFMT == libc::S_IFLNK);
        assert_eq!(link.name, "escape");
        assert_eq!(link.link_target, "/");
        let dir = root.stat("/escape/").unwrap();
        assert!(dir.mode & libc::S_IFMT == libc::S_IFDIR);
        assert_eq!(dir.name, "escape");
        assert_eq!(dir.link_target, "");
        let file = root.stat("/up/etc/passwd").unwrap();
        assert_eq!(file.size, 6);
        assert_eq!(file.name, "passwd");
        assert_eq!(root.stat("/").unwrap().name, "/");
        assert_eq!(
            root.stat("/nope").unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        assert_eq!(
            root.stat("/etc/passwd/").unwrap_err().raw_os_error(),
            Some(libc::ENOTDIR)
        );
    }

    #[test]
    fn missing_directories_are_made_inside_the_root() {
        let (outer, root_path) = hostile_root();
        let root = root_at(&root_path);
        let owner = (Uid::current(), Gid::current());
        root.make_dirs(Path::new("/escape/tmp/a/b"), owner).unwrap();
        assert!(root_path.join("tmp/a/b").is_dir());
        root.make_dirs(Path::new("/up/new"), owner).unwrap();
        assert!(root_path.join("new").is_dir());
        assert!(!outer.path().join("new").exists());
        assert!(!outer.path().join("tmp").exists());
        let err = root
            .make_dirs(Path::new("/etc/passwd/x"), owner)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    }
}
