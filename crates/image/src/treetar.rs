//! Writes a directory tree the daemon does not trust (a container's root or
//! upper directory) as a tar stream, the way Docker's archiver writes one:
//! names sorted within each directory, directories with a trailing `/`,
//! modes with the setuid, setgid and sticky bits, whole-second mtimes, no
//! user or group names, hard links as links to the first name seen,
//! `security.capability` as a PAX xattr record, sockets left out, and
//! what a `/proc` or `/sys` mount holds left out too (a running
//! container's root has them; Docker's view of it does not).
//!
//! The tree is read through descriptors only: every directory is opened
//! from its parent with `O_NOFOLLOW`, every file is opened with
//! `O_NOFOLLOW` and described by `fstat` of what was opened, so a symlink
//! is archived as a symlink and never followed, whatever the tree does
//! meanwhile. A file that changes size while it is read is cut or padded
//! with zeros to the size its header gave, so the stream stays a valid tar.
//!
//! Owners can be shifted back from a remapped container's host ids to the
//! ids the container sees; for a layer's diff, overlayfs whiteouts become
//! `.wh.name` files and opaque directories get a `.wh..wh..opq` entry.
//! A file that cannot be read is skipped with a warning, as Docker skips
//! it; a failure to write the stream ends it.
//!
//! [`clean_path`]: crate::clean_path

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, major, minor, FileStat, Mode, SFlag};
use tar::{EntryType, Header};

use crate::error::{ImageError, IoContext};
use crate::fsat::{
    dir_names, get_xattr_at, is_kind, is_opaque_at, is_whiteout, open_dir_at, stat_at,
};
use crate::idmap::IdMaps;
use crate::inroot::{base_name, ContainerRoot, PathInfo};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
const CAPABILITY_XATTR: &str = "security.capability";
/// The longest name or link target a ustar header holds; longer ones go
/// into PAX records.
const USTAR_NAME: usize = 100;

/// Decides whether an entry (its path from the top of the tree, and what
/// it is) is left out, with everything below it.
pub(crate) type Skip<'a> = &'a dyn Fn(&Path, &FileStat) -> bool;

/// How a tree is written.
pub(crate) struct TreeOptions<'a> {
    /// Shift owners from the host's ids back to the container's.
    pub(crate) maps: &'a IdMaps,
    /// Write overlayfs whiteouts and opaque directories as `.wh.` entries.
    pub(crate) whiteouts: bool,
    pub(crate) skip: Option<Skip<'a>>,
}

/// A tar stream being written from trees.
pub(crate) struct TreeTar<'a, W: Write> {
    builder: tar::Builder<W>,
    options: TreeOptions<'a>,
    /// Archive names of files with several links, by device and inode.
    links: HashMap<(u64, u64), Vec<u8>>,
}

/// Why writing stopped: the stream could not be written.
#[derive(Debug)]
pub(crate) struct WriteFailed(pub(crate) io::Error);

type Written = Result<(), WriteFailed>;

impl<'a, W: Write> TreeTar<'a, W> {
    pub(crate) fn new(out: W, options: TreeOptions<'a>) -> TreeTar<'a, W> {
        TreeTar {
            builder: tar::Builder::new(out),
            options,
            links: HashMap::new(),
        }
    }

    /// Adds `name` of the directory `dir` as `archive_name`, and if it is
    /// a directory everything below it as `archive_name/...`; `rel` is its
    /// path from the top of the tree.
    pub(crate) fn add(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        archive_name: &[u8],
        rel: &Path,
    ) -> Written {
        let st = match stat_at(dir, name) {
            Ok(Some(st)) => st,
            Ok(None) => return Ok(()),
            Err(e) => return skipped(rel, &e),
        };
        if self.options.skip.is_some_and(|skip| skip(rel, &st)) {
            return Ok(());
        }
        if is_kind(&st, SFlag::S_IFDIR) {
            return match open_dir_at(dir, name) {
                Ok(fd) => self.add_open_dir(&fd, Some((dir, name)), archive_name, rel),
                Err(e) => skipped(rel, &e),
            };
        }
        self.add_non_dir(dir, name, &st, archive_name, rel)
    }

    /// Adds the open directory `fd` as `archive_name` (a name ending in
    /// `/`, or `./` for the top) and everything below it. `at` names it in
    /// its parent, for its opaque mark.
    pub(crate) fn add_open_dir(
        &mut self,
        fd: &OwnedFd,
        at: Option<(&OwnedFd, &OsStr)>,
        archive_name: &[u8],
        rel: &Path,
    ) -> Written {
        let st = match fstat(fd.as_raw_fd()) {
            Ok(st) => st,
            Err(e) => return skipped(rel, &e.into()),
        };
        let mut name = archive_name.to_vec();
        if !name.ends_with(b"/") {
            name.push(b'/');
        }
        let Some(mut header) = self.header(&st, EntryType::Directory, &name, rel) else {
            return Ok(());
        };
        self.append(&mut header, &name, None, &[], io::empty())?;
        if self.options.whiteouts {
            if let Some((parent, dir_name)) = at {
                if is_opaque_at(parent, dir_name) {
                    let mut opaque = header.clone();
                    opaque.set_entry_type(EntryType::Regular);
                    opaque.set_mode(st.st_mode & 0o777);
                    opaque.set_mtime(0);
                    let mut opaque_name = name.clone();
                    opaque_name.extend_from_slice(OPAQUE_WHITEOUT.as_bytes());
                    self.append(&mut opaque, &opaque_name, None, &[], io::empty())?;
                }
            }
        }
        if is_pseudo_filesystem(fd) {
            return Ok(());
        }
        self.add_contents(fd, &name, rel)
    }

    /// Adds everything in the open directory `fd`, each name prefixed by
    /// `prefix` (empty, or ending in `/`).
    pub(crate) fn add_contents(&mut self, fd: &OwnedFd, prefix: &[u8], rel: &Path) -> Written {
        let names = match dir_names(fd) {
            Ok(names) => names,
            Err(e) => return skipped(rel, &e),
        };
        for child in names {
            let mut archive_name = prefix.to_vec();
            archive_name.extend_from_slice(child.as_bytes());
            self.add(fd, &child, &archive_name, &rel.join(&child))?;
        }
        Ok(())
    }

    /// Ends the stream (two zero blocks) and returns the writer.
    pub(crate) fn finish(self) -> Result<W, WriteFailed> {
        self.builder.into_inner().map_err(WriteFailed)
    }

    fn add_non_dir(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        st: &FileStat,
        archive_name: &[u8],
        rel: &Path,
    ) -> Written {
        let whiteout = self.options.whiteouts && is_whiteout(st);
        let kind = match st.st_mode & SFlag::S_IFMT.bits() {
            _ if whiteout => EntryType::Regular,
            m if m == SFlag::S_IFREG.bits() => EntryType::Regular,
            m if m == SFlag::S_IFLNK.bits() => EntryType::Symlink,
            m if m == SFlag::S_IFCHR.bits() => EntryType::Char,
            m if m == SFlag::S_IFBLK.bits() => EntryType::Block,
            m if m == SFlag::S_IFIFO.bits() => EntryType::Fifo,
            _ => {
                tracing::debug!(path = %rel.display(), "not archiving a socket");
                return Ok(());
            }
        };
        if whiteout {
            let mut name = archive_name.to_vec();
            let at = name.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1);
            name.splice(at..at, WHITEOUT_PREFIX.iter().copied());
            let mut header = raw_header(st, EntryType::Regular);
            header.set_mode(0o600);
            header.set_uid(u64::from(st.st_uid));
            header.set_gid(u64::from(st.st_gid));
            return self.append(&mut header, &name, None, &[], io::empty());
        }
        let xattrs = capability(dir, name);
        match kind {
            EntryType::Regular => self.add_file(dir, name, archive_name, rel, xattrs),
            EntryType::Symlink => {
                let target = match readlinkat(Some(dir.as_raw_fd()), name) {
                    Ok(target) => target,
                    Err(e) => return skipped(rel, &e.into()),
                };
                let Some(mut header) = self.header(st, kind, archive_name, rel) else {
                    return Ok(());
                };
                if let Some(first) = self.first_link(st, archive_name) {
                    header.set_entry_type(EntryType::Link);
                    return self.append(&mut header, archive_name, Some(&first), &[], io::empty());
                }
                self.append(
                    &mut header,
                    archive_name,
                    Some(target.as_bytes()),
                    &xattrs,
                    io::empty(),
                )
            }
            _ => {
                let Some(mut header) = self.header(st, kind, archive_name, rel) else {
                    return Ok(());
                };
                if kind != EntryType::Fifo {
                    let devices = header
                        .set_device_major(u32::try_from(major(st.st_rdev)).unwrap_or(0))
                        .and_then(|()| {
                            header.set_device_minor(u32::try_from(minor(st.st_rdev)).unwrap_or(0))
                        });
                    if let Err(e) = devices {
                        return skipped(rel, &e);
                    }
                }
                if let Some(first) = self.first_link(st, archive_name) {
                    header.set_entry_type(EntryType::Link);
                    return self.append(&mut header, archive_name, Some(&first), &[], io::empty());
                }
                self.append(&mut header, archive_name, None, &xattrs, io::empty())
            }
        }
    }

    /// A regular file: opened without following a symlink, described by
    /// what was opened.
    fn add_file(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        archive_name: &[u8],
        rel: &Path,
        xattrs: Vec<(String, Vec<u8>)>,
    ) -> Written {
        let opened = openat(
            Some(dir.as_raw_fd()),
            name,
            OFlag::O_RDONLY
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_NOCTTY
                | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        let file = match opened {
            // SAFETY: `openat` just returned this descriptor, owned by no one else.
            Ok(fd) => File::from(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(e) => return skipped(rel, &e.into()),
        };
        let st = match fstat(file.as_raw_fd()) {
            Ok(st) if is_kind(&st, SFlag::S_IFREG) => st,
            Ok(_) => return Ok(()),
            Err(e) => return skipped(rel, &e.into()),
        };
        let Some(mut header) = self.header(&st, EntryType::Regular, archive_name, rel) else {
            return Ok(());
        };
        if let Some(first) = self.first_link(&st, archive_name) {
            header.set_entry_type(EntryType::Link);
            return self.append(&mut header, archive_name, Some(&first), &[], io::empty());
        }
        let size = u64::try_from(st.st_size).unwrap_or(0);
        header.set_size(size);
        let data = Exact {
            inner: file,
            left: size,
            rel,
        };
        self.append(&mut header, archive_name, None, &xattrs, data)
    }

    /// For a file with several links: the archive name it was first
    /// written under, if it was (this name is remembered otherwise).
    fn first_link(&mut self, st: &FileStat, archive_name: &[u8]) -> Option<Vec<u8>> {
        if st.st_nlink <= 1 {
            return None;
        }
        let key = (st.st_dev, st.st_ino);
        if let Some(first) = self.links.get(&key) {
            return Some(first.clone());
        }
        self.links.insert(key, archive_name.to_vec());
        None
    }

    /// The header of an entry, owners shifted back into the container's
    /// ids; `None` (with a warning) if they cannot be.
    fn header(
        &self,
        st: &FileStat,
        kind: EntryType,
        archive_name: &[u8],
        rel: &Path,
    ) -> Option<Header> {
        let base = archive_name
            .strip_suffix(b"/")
            .unwrap_or(archive_name)
            .rsplit(|b| *b == b'/')
            .next()
            .unwrap_or_default();
        let (uid, gid) = if base.starts_with(WHITEOUT_PREFIX) {
            (st.st_uid, st.st_gid)
        } else {
            match self.options.maps.to_container_owner(st.st_uid, st.st_gid) {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(path = %rel.display(), error = %e, "not archiving a file");
                    return None;
                }
            }
        };
        let mut header = raw_header(st, kind);
        header.set_uid(u64::from(uid));
        header.set_gid(u64::from(gid));
        Some(header)
    }

    /// Writes one entry: its name and link target (in PAX records when too
    /// long for the header), xattrs as PAX records, then its data.
    fn append(
        &mut self,
        header: &mut Header,
        name: &[u8],
        link: Option<&[u8]>,
        xattrs: &[(String, Vec<u8>)],
        data: impl Read,
    ) -> Written {
        let mut records: Vec<(String, &[u8])> = Vec::new();
        set_field(&mut header.as_old_mut().name, name, "path", &mut records);
        if let Some(link) = link {
            set_field(
                &mut header.as_old_mut().linkname,
                link,
                "linkpath",
                &mut records,
            );
        }
        for (xattr, value) in xattrs {
            records.push((format!("SCHILY.xattr.{xattr}"), value));
        }
        if !records.is_empty() {
            self.builder
                .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
                .map_err(WriteFailed)?;
        }
        header.set_cksum();
        self.builder.append(header, data).map_err(WriteFailed)
    }
}

/// Writes the tar `GET /containers/{id}/archive` sends for `path` (a
/// cleaned path, see [`clean_path`], whose stat is `info`): a directory as
/// its name with everything below it, anything else as itself. Owners are
/// shifted back by `maps`.
pub fn archive_path(
    root: &ContainerRoot,
    path: &str,
    info: &PathInfo,
    maps: &IdMaps,
    out: impl Write,
) -> Result<(), ImageError> {
    let mut tar = TreeTar::new(
        out,
        TreeOptions {
            maps,
            whiteouts: false,
            skip: None,
        },
    );
    let base = match base_name(path) {
        name if name == "/" => ".".to_string(),
        name => name,
    };
    let written = if info.mode & libc::S_IFMT == libc::S_IFDIR {
        let dir = root
            .open_dir(Path::new(path))
            .ctx(|| format!("opening {path}"))?;
        tar.add_open_dir(&dir, None, base.as_bytes(), Path::new(&base))
    } else {
        let (dir, name) = root
            .open_parent(Path::new(path))
            .ctx(|| format!("opening the directory of {path}"))?;
        tar.add(&dir, &name, base.as_bytes(), Path::new(&base))
    };
    written
        .and_then(|()| tar.finish())
        .and_then(|mut out| out.flush().map_err(WriteFailed))
        .map_err(|e| e.0)
        .ctx(|| format!("writing the archive of {path}"))
}

/// Writes everything in a container's root as a tar (`export`), the root
/// itself left out, owners shifted back by `maps`.
pub fn export_root(root: &ContainerRoot, maps: &IdMaps, out: impl Write) -> Result<(), ImageError> {
    let mut tar = TreeTar::new(
        out,
        TreeOptions {
            maps,
            whiteouts: false,
            skip: None,
        },
    );
    let top = root
        .open_dir(Path::new("/"))
        .ctx(|| "opening the container's root".to_string())?;
    tar.add_contents(&top, b"", Path::new(""))
        .and_then(|()| tar.finish())
        .and_then(|mut out| out.flush().map_err(WriteFailed))
        .map_err(|e| e.0)
        .ctx(|| "writing the container's filesystem".to_string())
}

/// Whether the open directory is the top of a `/proc` or `/sys` mount (a
/// running container's root shows its own): archived as an empty
/// directory, as the image has it, never read.
fn is_pseudo_filesystem(dir: &OwnedFd) -> bool {
    use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC, SYSFS_MAGIC};
    fstatfs(dir).is_ok_and(|fs| {
        let kind = fs.filesystem_type();
        kind == PROC_SUPER_MAGIC || kind == SYSFS_MAGIC
    })
}

/// A ustar header of `kind` with `st`'s mode bits and mtime, size 0.
fn raw_header(st: &FileStat, kind: EntryType) -> Header {
    let mut header = Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(st.st_mode & 0o7777);
    header.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    header.set_size(0);
    header
}

/// Puts `value` into a header field, or, when it does not fit, its first
/// bytes there and the whole of it into a PAX record `key`.
fn set_field<'v>(
    field: &mut [u8; USTAR_NAME],
    value: &'v [u8],
    key: &str,
    records: &mut Vec<(String, &'v [u8])>,
) {
    field.fill(0);
    let n = value.len().min(USTAR_NAME);
    field[..n].copy_from_slice(&value[..n]);
    if value.len() > USTAR_NAME || value.contains(&0) {
        records.push((key.to_string(), value));
    }
}

/// `security.capability` of `name` in `dir`, as Docker archives it: a
/// version 3 value (with a root id) becomes version 2.
fn capability(dir: &OwnedFd, name: &OsStr) -> Vec<(String, Vec<u8>)> {
    const VERSION_OFFSET: usize = 3;
    const REVISION_2: u8 = 2;
    const REVISION_3: u8 = 3;
    const REVISION_2_SIZE: usize = 20;
    match get_xattr_at(dir, name, CAPABILITY_XATTR) {
        Some(mut value) if !value.is_empty() => {
            if value.get(VERSION_OFFSET) == Some(&REVISION_3) {
                value[VERSION_OFFSET] = REVISION_2;
                value.truncate(REVISION_2_SIZE);
            }
            vec![(CAPABILITY_XATTR.to_string(), value)]
        }
        _ => Vec::new(),
    }
}

/// Logs a file that could not be read and goes on without it.
fn skipped(rel: &Path, error: &io::Error) -> Written {
    tracing::warn!(path = %rel.display(), error = %error, "not archiving a file");
    Ok(())
}

/// A file's bytes, exactly as many as its header announced: cut if it
/// grew, padded with zeros if it shrank while read.
struct Exact<'p> {
    inner: File,
    left: u64,
    rel: &'p Path,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(0) => {
                tracing::warn!(path = %self.rel.display(), "file shrank while archived: padding");
                buf[..want].fill(0);
                want
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                tracing::warn!(path = %self.rel.display(), error = %e, "reading a file failed: padding");
                buf[..want].fill(0);
                want
            }
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsat::open_dir_path;
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    fn entries(tar: &[u8]) -> Vec<(String, EntryType, String, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                let kind = e.header().entry_type();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, kind, link, data.len() as u64)
            })
            .collect()
    }

    fn write(top: &Path, whiteouts: bool, skip: Option<Skip<'_>>) -> Vec<u8> {
        let maps = IdMaps::default();
        let mut tar = TreeTar::new(
            Vec::new(),
            TreeOptions {
                maps: &maps,
                whiteouts,
                skip,
            },
        );
        let fd = open_dir_path(top).unwrap();
        tar.add_contents(&fd, b"", Path::new("")).unwrap();
        tar.finish().unwrap()
    }

    #[test]
    fn a_tree_is_written_sorted_with_links_and_symlinks_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        fs::create_dir(top.join("d")).unwrap();
        fs::write(top.join("d/b"), b"bee").unwrap();
        fs::write(top.join("d/a"), b"a").unwrap();
        fs::hard_link(top.join("d/a"), top.join("d/c")).unwrap();
        symlink("/etc", top.join("link")).unwrap();
        fs::set_permissions(top.join("d/b"), fs::Permissions::from_mode(0o4755)).unwrap();
        let long = "n".repeat(150);
        fs::write(top.join(&long), b"long").unwrap();
        let tar = write(top, false, None);
        let got = entries(&tar);
        let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["d/", "d/a", "d/b", "d/c", "link", long.as_str()]);
        assert_eq!(got[3].1, EntryType::Link);
        assert_eq!(got[3].2, "d/a");
        assert_eq!(got[4].1, EntryType::Symlink);
        assert_eq!(got[4].2, "/etc");
        assert_eq!(got[5].3, 4);
        let mut archive = tar::Archive::new(&tar[..]);
        let modes: Vec<u32> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().header().mode().unwrap())
            .collect();
        assert_eq!(modes[2], 0o4755);
        let mtime = fs::metadata(top.join("d/b")).unwrap().mtime();
        let mut archive = tar::Archive::new(&tar[..]);
        let first = archive.entries().unwrap().nth(2).unwrap().unwrap();
        assert_eq!(first.header().mtime().unwrap(), mtime as u64);
    }

    #[test]
    fn whiteouts_and_opaque_directories_become_aufs_entries() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        fs::create_dir(top.join("etc")).unwrap();
        nix::sys::stat::mknod(
            &top.join("etc/gone"),
            SFlag::S_IFCHR,
            Mode::empty(),
            nix::sys::stat::makedev(0, 0),
        )
        .unwrap();
        fs::create_dir(top.join("opaque")).unwrap();
        fs::write(top.join("opaque/new"), b"n").unwrap();
        crate::lower::tests::make_opaque(&top.join("opaque"));
        fs::write(top.join("hosts"), b"").unwrap();
        let skip_hosts = |rel: &Path, _: &FileStat| rel == Path::new("hosts");
        let tar = write(top, true, Some(&skip_hosts));
        let names: Vec<(String, EntryType)> =
            entries(&tar).into_iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(
            names,
            [
                ("etc/".to_string(), EntryType::Directory),
                ("etc/.wh.gone".to_string(), EntryType::Regular),
                ("opaque/".to_string(), EntryType::Directory),
                ("opaque/.wh..wh..opq".to_string(), EntryType::Regular),
                ("opaque/new".to_string(), EntryType::Regular),
            ]
        );
        // Without conversion the whiteout is a device node.
        let plain = write(top, false, None);
        assert!(entries(&plain)
            .iter()
            .any(|e| e.0 == "etc/gone" && e.1 == EntryType::Char));
    }

    #[test]
    fn owners_shift_back_into_the_container_and_unmappable_files_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        fs::write(top.join("mapped"), b"m").unwrap();
        fs::write(top.join("stray"), b"s").unwrap();
        std::os::unix::fs::chown(top.join("mapped"), Some(100_005), Some(100_007)).unwrap();
        let maps = IdMaps {
            uids: vec![crate::IdRange {
                container: 0,
                host: 100_000,
                size: 65_536,
            }],
            gids: vec![crate::IdRange {
                container: 0,
                host: 100_000,
                size: 65_536,
            }],
        };
        let mut tar = TreeTar::new(
            Vec::new(),
            TreeOptions {
                maps: &maps,
                whiteouts: false,
                skip: None,
            },
        );
        let fd = open_dir_path(top).unwrap();
        tar.add_contents(&fd, b"", Path::new("")).unwrap();
        let bytes = tar.finish().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let owners: Vec<(String, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.path().unwrap().display().to_string();
                (name, e.header().uid().unwrap(), e.header().gid().unwrap())
            })
            .collect();
        assert_eq!(owners, [("mapped".to_string(), 5, 7)]);
    }
}
