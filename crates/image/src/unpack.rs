//! Applies one layer tarball to an empty directory: the defence against
//! hostile archives.
//!
//! Every entry path is normalized and must stay inside the layer (`..` is
//! rejected, absolute paths are made relative). Parent directories are
//! walked with `lstat` and a symlink anywhere on the way fails the layer, so
//! a symlink planted by the archive is never followed. Symlinks themselves
//! are created verbatim (their targets mean something only inside the
//! container). Hard links must point at an entry already in the layer.
//! OCI/AUFS whiteouts become overlayfs whiteouts: `.wh.name` a 0/0 character
//! device, `.wh..wh..opq` the `trusted.overlay.opaque` xattr. The caller owns
//! the directory and removes it if this fails.

use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use tar::{EntryType, Header};

use crate::compression::{bad_stream, decompress};
use crate::digest::HashingReader;
use crate::error::{ImageError, IoContext};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
const COPY_BUF: usize = 64 * 1024;

/// What unpacking learned about a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnpackedLayer {
    /// `sha256:` of the uncompressed tar stream.
    pub(crate) diff_id: String,
    /// Sum of the sizes of the layer's regular files.
    pub(crate) size: i64,
}

/// Decompresses `raw` (plain, gzip or zstd) and unpacks it into `dest`, an
/// existing empty directory, hashing the uncompressed stream on the way.
pub(crate) fn unpack_layer(raw: &mut dyn Read, dest: &Path) -> Result<UnpackedLayer, ImageError> {
    let (_, decompressed) = decompress(raw)?;
    let mut hashing = HashingReader::new(decompressed);
    let size = apply_tar(&mut hashing, dest)?;
    hashing.drain().map_err(bad_stream)?;
    Ok(UnpackedLayer {
        diff_id: hashing.digest(),
        size,
    })
}

fn apply_tar(stream: &mut dyn Read, dest: &Path) -> Result<i64, ImageError> {
    let mut archive = tar::Archive::new(stream);
    let mut dir_mtimes = Vec::new();
    let mut size = 0i64;
    for entry in archive.entries().map_err(bad_stream)? {
        let mut entry = entry.map_err(bad_stream)?;
        let path = entry.path().map_err(bad_stream)?.into_owned();
        let kind = entry.header().entry_type();
        if !is_supported(kind) {
            tracing::debug!(entry = %path.display(), ?kind, "skipping unsupported tar entry type");
            continue;
        }
        let rel = normalize(&path).ok_or_else(|| {
            ImageError::invalid(format!(
                "invalid layer: path {} escapes the layer root",
                path.display()
            ))
        })?;
        let Some(name) = rel.file_name().map(OsStr::as_bytes) else {
            continue;
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        create_parents(dest, parent, &path)?;
        if name.starts_with(WHITEOUT_PREFIX) {
            apply_whiteout(dest, parent, name, &path)?;
            continue;
        }
        let full = dest.join(&rel);
        let xattrs = pax_xattrs(&mut entry)?;
        let header = entry.header().clone();
        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&full) {
                    Ok(meta) if meta.is_dir() => {}
                    _ => {
                        remove_existing(&full)?;
                        fs::create_dir(&full).ctx(|| format!("creating {}", full.display()))?;
                    }
                }
                dir_mtimes.push((full.clone(), header.mtime().unwrap_or(0)));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_existing(&full)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&full)
                    .ctx(|| format!("creating {}", full.display()))?;
                size += copy_entry(&mut entry, &mut file, &full)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(bad_stream)?
                    .ok_or_else(|| {
                        ImageError::invalid(format!(
                            "invalid layer: symlink {} has no target",
                            path.display()
                        ))
                    })?
                    .into_owned();
                remove_existing(&full)?;
                std::os::unix::fs::symlink(&target, &full)
                    .ctx(|| format!("creating symlink {}", full.display()))?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(bad_stream)?
                    .map(|t| t.into_owned());
                link_inside(dest, &full, &path, target.as_deref())?;
                continue;
            }
            _ => {
                remove_existing(&full)?;
                make_node(&full, kind, &header)?;
            }
        }
        apply_metadata(&full, &header, &xattrs)?;
    }
    for (dir, mtime) in dir_mtimes.into_iter().rev() {
        set_mtime(&dir, mtime)?;
    }
    Ok(size)
}

/// Entry types that create something in the layer; the rest (PAX global
/// headers, volume labels, ...) are skipped.
fn is_supported(kind: EntryType) -> bool {
    matches!(
        kind,
        EntryType::Directory
            | EntryType::Regular
            | EntryType::Continuous
            | EntryType::GNUSparse
            | EntryType::Symlink
            | EntryType::Link
            | EntryType::Char
            | EntryType::Block
            | EntryType::Fifo
    )
}

/// Lexically normalizes an entry path to a path relative to the layer root:
/// drops `/`, `.` and empty components; `None` if a `..` component appears.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    Some(out)
}

/// Creates the directories of `parent` under `root`, refusing to go through
/// a symlink or a non-directory.
fn create_parents(root: &Path, parent: &Path, entry: &Path) -> Result<(), ImageError> {
    walk_dirs(root, parent, entry, true)
}

/// Checks that every component of `rel` under `root` is a real directory.
fn walk_dirs(root: &Path, rel: &Path, entry: &Path, create: bool) -> Result<(), ImageError> {
    let mut current = root.to_path_buf();
    for component in rel.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(ImageError::invalid(format!(
                    "invalid layer: {} traverses symlink {}",
                    entry.display(),
                    current.strip_prefix(root).unwrap_or(&current).display()
                )));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(ImageError::invalid(format!(
                    "invalid layer: parent of {} is not a directory",
                    entry.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                create_default_dir(&current)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ImageError::invalid(format!(
                    "invalid layer: {} refers to a missing directory",
                    entry.display()
                )));
            }
            Err(e) => return Err(e).ctx(|| format!("inspecting {}", current.display())),
        }
    }
    Ok(())
}

/// Creates a directory the archive implies but does not list: mode 0755
/// whatever the process umask.
fn create_default_dir(path: &Path) -> Result<(), ImageError> {
    fs::create_dir(path)
        .and_then(|()| fs::set_permissions(path, Permissions::from_mode(0o755)))
        .ctx(|| format!("creating {}", path.display()))
}

/// Removes whatever is at `path` (never following a symlink); absent is fine.
fn remove_existing(path: &Path) -> Result<(), ImageError> {
    let result = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    result.ctx(|| format!("replacing {}", path.display()))
}

fn apply_whiteout(root: &Path, parent: &Path, name: &[u8], entry: &Path) -> Result<(), ImageError> {
    let dir = root.join(parent);
    if name == OPAQUE_WHITEOUT {
        return set_xattr(&dir, OPAQUE_XATTR, b"y")
            .ctx(|| format!("marking {} opaque", dir.display()));
    }
    let hidden = &name[WHITEOUT_PREFIX.len()..];
    if hidden.starts_with(WHITEOUT_PREFIX) {
        tracing::debug!(entry = %entry.display(), "skipping whiteout metadata entry");
        return Ok(());
    }
    if hidden.is_empty() || hidden == b"." || hidden == b".." {
        return Err(ImageError::invalid(format!(
            "invalid layer: bad whiteout {}",
            entry.display()
        )));
    }
    let target = dir.join(OsStr::from_bytes(hidden));
    remove_existing(&target)?;
    mknod(&target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        .map_err(io::Error::from)
        .ctx(|| format!("creating whiteout {}", target.display()))
}

/// Creates the hard link `full` -> `target`, which must name an existing
/// non-directory already inside the layer, reached without symlinks.
fn link_inside(
    root: &Path,
    full: &Path,
    entry: &Path,
    target: Option<&Path>,
) -> Result<(), ImageError> {
    let escape = || {
        ImageError::invalid(format!(
            "invalid layer: hard link {} points outside the layer ({})",
            entry.display(),
            target.unwrap_or(Path::new("")).display()
        ))
    };
    let rel = target.and_then(normalize).ok_or_else(escape)?;
    if rel.file_name().is_none() {
        return Err(escape());
    }
    walk_dirs(root, rel.parent().unwrap_or(Path::new("")), entry, false)?;
    let target_full = root.join(&rel);
    match fs::symlink_metadata(&target_full) {
        Ok(meta) if !meta.is_dir() => {}
        _ => {
            return Err(ImageError::invalid(format!(
                "invalid layer: hard link {} has no target {} in the layer",
                entry.display(),
                rel.display()
            )))
        }
    }
    if target_full == full {
        return Ok(());
    }
    remove_existing(full)?;
    fs::hard_link(&target_full, full).ctx(|| format!("creating hard link {}", full.display()))
}

fn make_node(full: &Path, kind: EntryType, header: &Header) -> Result<(), ImageError> {
    let flag = match kind {
        EntryType::Char => SFlag::S_IFCHR,
        EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    let (major, minor) = if flag == SFlag::S_IFIFO {
        (0, 0)
    } else {
        (
            header.device_major().map_err(bad_stream)?.unwrap_or(0),
            header.device_minor().map_err(bad_stream)?.unwrap_or(0),
        )
    };
    mknod(
        full,
        flag,
        Mode::from_bits_truncate(0o600),
        makedev(u64::from(major), u64::from(minor)),
    )
    .map_err(io::Error::from)
    .ctx(|| format!("creating device node {}", full.display()))
}

/// Copies an entry's data to `file`; read failures are the archive's fault,
/// write failures the store's. Returns the number of bytes copied.
fn copy_entry(entry: &mut dyn Read, file: &mut fs::File, full: &Path) -> Result<i64, ImageError> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut total = 0i64;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad_stream(e)),
        };
        file.write_all(&buf[..n])
            .ctx(|| format!("writing {}", full.display()))?;
        total += n as i64;
    }
}

fn pax_xattrs<R: Read>(
    entry: &mut tar::Entry<'_, R>,
) -> Result<Vec<(String, Vec<u8>)>, ImageError> {
    let mut xattrs = Vec::new();
    if let Some(extensions) = entry.pax_extensions().map_err(bad_stream)? {
        for extension in extensions {
            let extension = extension.map_err(bad_stream)?;
            let Ok(key) = extension.key() else { continue };
            if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                xattrs.push((name.to_string(), extension.value_bytes().to_vec()));
            }
        }
    }
    Ok(xattrs)
}

/// Owner, mode, xattrs and (for non-directories) mtime. Ownership and xattrs
/// are best effort: an unprivileged store cannot set them.
fn apply_metadata(
    full: &Path,
    header: &Header,
    xattrs: &[(String, Vec<u8>)],
) -> Result<(), ImageError> {
    let uid = header.uid().map_err(bad_stream)?;
    let gid = header.gid().map_err(bad_stream)?;
    let (uid, gid) = (u32::try_from(uid), u32::try_from(gid));
    if let (Ok(uid), Ok(gid)) = (uid, gid) {
        if let Err(e) = std::os::unix::fs::lchown(full, Some(uid), Some(gid)) {
            tracing::debug!(path = %full.display(), error = %e, "cannot set owner");
        }
    }
    let kind = header.entry_type();
    if kind != EntryType::Symlink {
        let mode = header.mode().map_err(bad_stream)? & 0o7777;
        fs::set_permissions(full, Permissions::from_mode(mode))
            .ctx(|| format!("setting mode of {}", full.display()))?;
    }
    for (name, value) in xattrs {
        if let Err(e) = set_xattr(full, name, value) {
            tracing::warn!(path = %full.display(), xattr = %name, error = %e, "cannot set xattr");
        }
    }
    if kind != EntryType::Directory {
        set_mtime(full, header.mtime().unwrap_or(0))?;
    }
    Ok(())
}

fn set_mtime(path: &Path, mtime: u64) -> Result<(), ImageError> {
    let time = TimeSpec::new(i64::try_from(mtime).unwrap_or(i64::MAX), 0);
    utimensat(None, path, &time, &time, UtimensatFlags::NoFollowSymlink)
        .map_err(io::Error::from)
        .ctx(|| format!("setting mtime of {}", path.display()))
}

/// `lsetxattr(2)`: sets an extended attribute without following a symlink.
fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    let name = CString::new(name)?;
    // SAFETY: `path` and `name` are NUL-terminated strings that outlive the
    // call, and `value`'s pointer and length describe one live slice.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_digest;
    use crate::error::ImageErrorKind;
    use crate::layers::LayerStore;
    use crate::testutil::{gzip, zstd, TarBuilder};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    fn unpack(tar: &[u8]) -> (tempfile::TempDir, Result<UnpackedLayer, ImageError>) {
        let dir = tempfile::tempdir().unwrap();
        let result = unpack_layer(&mut &tar[..], dir.path());
        (dir, result)
    }

    /// Unpacks through the layer store and checks that a failure leaves no
    /// temp directory behind.
    fn unpack_hostile(tar: &[u8]) -> ImageError {
        let root = tempfile::tempdir().unwrap();
        let layers = LayerStore::open(root.path().join("layers")).unwrap();
        let err = layers
            .unpack(&mut &tar[..])
            .err()
            .expect("hostile layer accepted");
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
        let left = fs::read_dir(root.path().join("layers")).unwrap().count();
        assert_eq!(left, 0, "failed unpack left files behind");
        err
    }

    fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
        let path = CString::new(path.as_os_str().as_bytes()).unwrap();
        let name = CString::new(name).unwrap();
        let mut buf = vec![0u8; 256];
        // SAFETY: valid NUL-terminated strings and a writable buffer of the given length.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        (n >= 0).then(|| buf[..n as usize].to_vec())
    }

    fn is_whiteout(path: &Path) -> bool {
        let meta = fs::symlink_metadata(path).unwrap();
        meta.file_type().is_char_device() && meta.rdev() == 0
    }

    #[test]
    fn normal_layer_unpacks_files_dirs_links_with_modes_size_and_diff_id() {
        let tar = TarBuilder::new()
            .dir("./")
            .dir("./bin")
            .file_with_mode("./bin/tool", b"#!/bin/sh\n", 0o4755)
            .symlink("./bin/sh", "/bin/tool")
            .hardlink("./bin/tool2", "./bin/tool")
            .file("etc/hostname", b"box\n")
            .finish();
        let (dir, result) = unpack(&tar);
        let layer = result.unwrap();
        assert_eq!(layer.diff_id, sha256_digest(&tar));
        assert_eq!(layer.size, 14);
        let root = dir.path();
        assert_eq!(fs::read(root.join("bin/tool")).unwrap(), b"#!/bin/sh\n");
        let meta = fs::metadata(root.join("bin/tool")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o4755);
        assert_eq!(meta.mtime(), 1_700_000_000);
        assert_eq!(
            fs::metadata(root.join("bin")).unwrap().mtime(),
            1_700_000_000
        );
        assert_eq!(
            fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("/bin/tool")
        );
        assert_eq!(
            fs::metadata(root.join("bin/tool2")).unwrap().ino(),
            meta.ino()
        );
        assert_eq!(fs::read(root.join("etc/hostname")).unwrap(), b"box\n");
    }

    #[test]
    fn owners_xattrs_and_fifos_are_preserved() {
        let tar = TarBuilder::new()
            .owner(1234)
            .pax(&[
                ("SCHILY.xattr.user.berth", b"hello"),
                ("SCHILY.xattr.trusted.berth", b"root-only"),
            ])
            .file("owned", b"data")
            .entry("pipe", EntryType::Fifo, None, b"", 0o600)
            .finish();
        let (dir, result) = unpack(&tar);
        result.unwrap();
        let owned = dir.path().join("owned");
        let meta = fs::metadata(&owned).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1234, 1234));
        assert_eq!(
            get_xattr(&owned, "user.berth").as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            get_xattr(&owned, "trusted.berth").as_deref(),
            Some(&b"root-only"[..])
        );
        let pipe = fs::symlink_metadata(dir.path().join("pipe")).unwrap();
        assert!(pipe.file_type().is_fifo());
        assert_eq!(pipe.uid(), 1234);
    }

    #[test]
    fn implied_parent_directories_are_world_readable() {
        let (dir, result) = unpack(&TarBuilder::new().file("a/b/file", b"x").finish());
        result.unwrap();
        for implied in ["a", "a/b"] {
            let mode = fs::metadata(dir.path().join(implied)).unwrap().mode();
            assert_eq!(mode & 0o7777, 0o755, "{implied}");
        }
    }

    #[test]
    fn whiteouts_become_char_devices_and_opaque_dirs_get_the_xattr() {
        let tar = TarBuilder::new()
            .file(".wh.gone", b"")
            .file("etc/.wh.passwd", b"")
            .file("var/.wh..wh..opq", b"")
            .file("var/new", b"x")
            .finish();
        let (dir, result) = unpack(&tar);
        result.unwrap();
        let root = dir.path();
        assert!(is_whiteout(&root.join("gone")));
        assert!(is_whiteout(&root.join("etc/passwd")));
        assert_eq!(
            get_xattr(&root.join("var"), OPAQUE_XATTR).as_deref(),
            Some(&b"y"[..])
        );
        assert!(!root.join(".wh.gone").exists());
        assert!(!root.join("var/.wh..wh..opq").exists());
        assert!(root.join("var/new").exists());
    }

    #[test]
    fn parent_dir_component_is_rejected() {
        let tar = TarBuilder::new()
            .file("ok", b"1")
            .file("a/../../escape", b"x")
            .finish();
        let err = unpack_hostile(&tar);
        assert!(err.to_string().contains("escapes the layer root"), "{err}");
    }

    #[test]
    fn symlink_parent_escape_is_rejected_and_writes_nothing_outside() {
        let outside = tempfile::tempdir().unwrap();
        let sentinel = outside.path().join("sentinel");
        let tar = TarBuilder::new()
            .symlink("evil", outside.path().to_str().unwrap())
            .file("evil/sentinel", b"pwned")
            .finish();
        let err = unpack_hostile(&tar);
        assert!(err.to_string().contains("traverses symlink evil"), "{err}");
        assert!(!sentinel.exists());

        let tar = TarBuilder::new()
            .symlink("up", "../../../../../../")
            .dir("up/sub")
            .finish();
        unpack_hostile(&tar);
    }

    #[test]
    fn entry_replacing_a_symlink_does_not_follow_it() {
        let outside = tempfile::tempdir().unwrap();
        let sentinel = outside.path().join("sentinel");
        fs::write(&sentinel, b"original").unwrap();
        let tar = TarBuilder::new()
            .symlink("link", sentinel.to_str().unwrap())
            .file("link", b"new")
            .file("file", b"one")
            .file("file", b"two")
            .finish();
        let (dir, result) = unpack(&tar);
        result.unwrap();
        assert_eq!(fs::read(&sentinel).unwrap(), b"original");
        assert_eq!(fs::read(dir.path().join("link")).unwrap(), b"new");
        assert_eq!(fs::read(dir.path().join("file")).unwrap(), b"two");
    }

    #[test]
    fn hardlink_escape_is_rejected() {
        let err = unpack_hostile(
            &TarBuilder::new()
                .hardlink("passwd", "../../../../etc/passwd")
                .finish(),
        );
        assert!(
            err.to_string().contains("points outside the layer"),
            "{err}"
        );

        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        let tar = TarBuilder::new()
            .symlink("s", outside.path().to_str().unwrap())
            .hardlink("h", "s/secret")
            .finish();
        let err = unpack_hostile(&tar);
        assert!(err.to_string().contains("traverses symlink s"), "{err}");

        unpack_hostile(&TarBuilder::new().hardlink("h", "/etc/passwd").finish());
    }

    #[test]
    fn absolute_paths_are_written_inside_the_layer() {
        let name = format!("berth-abs-test-{}", std::process::id());
        let tar = TarBuilder::new()
            .file(&format!("/{name}/file"), b"inside")
            .finish();
        let (dir, result) = unpack(&tar);
        result.unwrap();
        assert_eq!(
            fs::read(dir.path().join(&name).join("file")).unwrap(),
            b"inside"
        );
        assert!(!Path::new("/").join(&name).exists());
    }

    #[test]
    fn gzip_and_zstd_layers_unpack_with_the_uncompressed_diff_id() {
        let tar = TarBuilder::new().file("hello", b"world").finish();
        for compressed in [gzip(&tar), zstd(&tar)] {
            let (dir, result) = unpack(&compressed);
            assert_eq!(result.unwrap().diff_id, sha256_digest(&tar));
            assert_eq!(fs::read(dir.path().join("hello")).unwrap(), b"world");
        }
    }

    #[test]
    fn truncated_layer_is_invalid_argument() {
        let tar = TarBuilder::new().file("hello", &[7u8; 4096]).finish();
        let gz = gzip(&tar);
        unpack_hostile(&gz[..gz.len() / 2]);
    }
}
