//! Host paths bound into the container: the spec's bind mounts and volumes
//! ([`BindMount`]) and the daemon's file binds (`/etc/hosts`, ...).
//!
//! Their sources are host paths, so each is cloned into a detached mount
//! tree (`open_tree(OPEN_TREE_CLONE)`) before the pivot, while the host's
//! tree is still in reach; a read-only bind mount is made read-only there,
//! its submounts with it when it is recursive. The trees are attached
//! (`move_mount`) after the pivot, so every destination resolves inside the
//! container: it is created where missing (following the image's symlinks,
//! which can only lead somewhere inside), then opened once, refusing
//! /proc's magic links (they lead wherever the init's own descriptors do,
//! host directories included), and the tree is attached on that
//! descriptor, never on a path looked up again. A bind mount's propagation
//! is set on the attached mount itself.
//!
//! [`bind_under_root`] makes the same binds in a container's root mounted
//! on the host side (for the daemon's copies into a container that is not
//! running), every destination resolved inside that root by descriptor.
//!
//! A new volume (`copy_up`) is filled from the image as Docker fills it:
//! the directory the image has at the destination is opened before the
//! bind covers it and, if the volume is still empty once attached, its
//! content is copied in with owners, modes and times (sockets and device
//! nodes left out), walking both sides by descriptor and never following a
//! link; the volume's own directory takes the image directory's owner,
//! mode and times. A read-only volume is filled before it is made
//! read-only.

use crate::failure::StartFailure;
use crate::mount_api::{
    mount_setattr, move_mount, open_tree, MountAttr, AT_EMPTY_PATH, AT_RECURSIVE,
    MOUNT_ATTR_RDONLY, MS_PRIVATE, MS_SHARED, MS_SLAVE, OPEN_TREE_CLONE,
};
use crate::spec::{BindMount, FileBind, Propagation};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags,
    FileStat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};
use std::ffi::{CStr, CString, OsStr};
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Symlinks followed before giving up with ELOOP, as the kernel does.
const MAX_SYMLINKS: usize = 40;
/// How often a lookup inside a root that the kernel could not vouch for
/// (`EAGAIN`) is tried again.
const RESOLVE_RETRIES: usize = 64;
/// How directories are opened to be read during a copy-up.
const READ_DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// A file bind's source, cloned before the pivot and waiting to be attached.
pub(crate) struct DetachedFile<'a> {
    tree: OwnedFd,
    destination: &'a str,
}

/// A bind mount's source, cloned (and made read-only, unless it is filled
/// first) before the pivot and waiting to be attached.
pub(crate) struct DetachedMount<'a> {
    tree: OwnedFd,
    mount: &'a BindMount,
    /// The source is a directory: the mountpoint is one, and a volume may
    /// be filled.
    directory: bool,
}

impl DetachedMount<'_> {
    /// Filled from the image once attached: a new volume, a directory.
    fn copies_up(&self) -> bool {
        self.mount.copy_up && self.directory
    }
}

/// Where a copy-up failed: the errno, and the path relative to the
/// destination.
#[derive(Debug)]
struct CopyError {
    path: PathBuf,
    errno: Errno,
}

/// Clones a file bind's source into a detached mount tree, reachable after
/// the host's tree is gone.
pub(crate) fn detach_file(bind: &FileBind) -> Result<DetachedFile<'_>, StartFailure> {
    let context = || format!("bind-mounting {}", bind.source.display());
    let tree = path_cstring(&bind.source)
        .and_then(|source| open_tree(libc::AT_FDCWD, &source, OPEN_TREE_CLONE))
        .map_err(|e| StartFailure::sys(context(), e))?;
    Ok(DetachedFile {
        tree,
        destination: &bind.destination,
    })
}

/// Attaches a detached file bind over its destination in the container,
/// creating an empty file (and its parent directories) there first if
/// needed. A destination that is a symlink is followed inside the
/// container, and a missing target is created where the link points.
pub(crate) fn attach_file(bind: DetachedFile<'_>) -> Result<(), StartFailure> {
    let destination = Path::new("/").join(bind.destination);
    let context = || format!("bind-mounting over {}", destination.display());
    ensure_mountpoint(&destination, false).map_err(|e| StartFailure::io(context(), &e))?;
    let tree = reclone(bind.tree, false);
    resolve(&destination)
        .and_then(|target| move_mount(&tree, target.as_fd()))
        .map_err(|e| StartFailure::sys(context(), e))
}

/// A fresh clone of a detached tree, made as it is attached: newer kernels
/// list a namespace's mounts in the order they were made, and a clone made
/// before the pivot would list before the pseudo-filesystems made after
/// it (Docker and the OCI spec list them in mount order). A kernel that
/// cannot clone a detached tree attaches the first clone.
fn reclone(tree: OwnedFd, recursive: bool) -> OwnedFd {
    let flags = OPEN_TREE_CLONE | AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    open_tree(tree.as_raw_fd(), c"", flags).unwrap_or(tree)
}

/// Clones a bind mount's source (with its submounts when recursive) into a
/// detached mount tree and, when read-only and not a volume to fill, makes
/// the tree read-only (its submounts too when recursive).
pub(crate) fn detach_mount(mount: &BindMount) -> Result<DetachedMount<'_>, StartFailure> {
    let lookup = format!("stat {}", mount.source.display());
    let recursive = if mount.recursive { AT_RECURSIVE } else { 0 };
    let tree = path_cstring(&mount.source)
        .and_then(|source| open_tree(libc::AT_FDCWD, &source, OPEN_TREE_CLONE | recursive))
        .map_err(|e| mount_failure(mount, &lookup, e))?;
    let stat = fstat(tree.as_raw_fd()).map_err(|e| mount_failure(mount, &lookup, e))?;
    let detached = DetachedMount {
        tree,
        mount,
        directory: file_type(&stat) == SFlag::S_IFDIR,
    };
    if mount.readonly && !detached.copies_up() {
        make_readonly(&detached.tree, mount.recursive)
            .map_err(|e| mount_failure(mount, "making it read-only", e))?;
    }
    Ok(detached)
}

/// Attaches a detached bind mount at its destination in the container: a
/// directory (or an empty file, for a source that is not a directory)
/// created there first where nothing is, symlinks followed inside the
/// container. A volume is filled from what the image had there, then made
/// read-only if it is; last, the mount's propagation is set.
pub(crate) fn attach_mount(detached: DetachedMount<'_>) -> Result<(), StartFailure> {
    let mount = detached.mount;
    let detached = DetachedMount {
        tree: reclone(detached.tree, mount.recursive),
        ..detached
    };
    let destination = Path::new("/").join(&mount.destination);
    let image = if detached.copies_up() {
        open_image_dir(&destination)
            .map_err(|e| mount_failure(mount, "opening the image's directory", e))?
    } else {
        None
    };
    ensure_mountpoint(&destination, detached.directory).map_err(|e| {
        StartFailure::io(
            format!("{}: creating the mountpoint", mount_context(mount)),
            &e,
        )
    })?;
    resolve(&destination)
        .and_then(|target| move_mount(&detached.tree, target.as_fd()))
        .map_err(|e| mount_failure(mount, "attaching it", e))?;
    if let Some(image) = image {
        copy_up(&image, &detached.tree).map_err(|e| {
            let path = destination.join(&e.path);
            let step = format!("copying {} from the image", path.display());
            mount_failure(mount, &step, e.errno)
        })?;
    }
    if mount.readonly && detached.copies_up() {
        make_readonly(&detached.tree, mount.recursive)
            .map_err(|e| mount_failure(mount, "making it read-only", e))?;
    }
    let (propagation, recursive) = propagation_type(mount.propagation);
    let attr = MountAttr {
        propagation,
        ..MountAttr::default()
    };
    mount_setattr(&detached.tree, recursive, &attr).map_err(|e| {
        let step = format!("making it {}", mount.propagation.as_str());
        mount_failure(mount, &step, e)
    })
}

/// Binds the file or directory `source` (an open descriptor) over `path`
/// in the container, following symlinks there but no magic link.
pub(crate) fn bind_fd(source: BorrowedFd<'_>, path: &Path) -> Result<(), Errno> {
    let tree = open_tree(source.as_raw_fd(), c"", OPEN_TREE_CLONE | AT_EMPTY_PATH)?;
    move_mount(&tree, resolve(path)?.as_fd())
}

/// Binds the host path `source` at `destination` in the directory `root`
/// (a container's root mounted in the caller's mount namespace, for work
/// on its files while it does not run), as a start would: the source's
/// submounts come along when `recursive`, and the bind (with them) is
/// read-only when `readonly`. The destination is resolved inside `root`
/// (`RESOLVE_IN_ROOT`, no magic links), so no symlink and no `..` can lead
/// the mount out of it; where nothing is, a directory (or an empty file,
/// for a source that is not a directory) is made there, with its missing
/// parents, through descriptors opened the same way. Returns where the
/// mount is in the caller's namespace, to unmount it by.
pub fn bind_under_root(
    root: BorrowedFd<'_>,
    source: &Path,
    destination: &str,
    readonly: bool,
    recursive: bool,
) -> io::Result<PathBuf> {
    let flags = OPEN_TREE_CLONE | if recursive { AT_RECURSIVE } else { 0 };
    let tree = open_tree(libc::AT_FDCWD, &path_cstring(source)?, flags)?;
    let directory = file_type(&fstat(tree.as_raw_fd())?) == SFlag::S_IFDIR;
    if readonly {
        make_readonly(&tree, recursive)?;
    }
    let mut links = 0;
    let destination = Path::new("/").join(destination);
    let target = mountpoint_in_root(root, &destination, directory, &mut links)?;
    move_mount(&tree, target.as_fd())?;
    fs::read_link(format!("/proc/thread-self/fd/{}", tree.as_raw_fd()))
}

/// An `O_PATH` descriptor of `path` inside `root`, made first where
/// nothing is: a directory (`directory`) or an empty file, and the missing
/// directories on the way (mode 0755). A dangling symlink is followed
/// (inside `root`) and what it names is made; `links` counts the links
/// followed so far.
fn mountpoint_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    directory: bool,
    links: &mut usize,
) -> Result<OwnedFd, Errno> {
    match open_in_root(root, path) {
        Err(Errno::ENOENT) => {}
        found => return found,
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Errno::ENOENT);
    };
    let dir = mountpoint_in_root(root, parent, true, links)?;
    let name = CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?;
    match readlinkat(Some(dir.as_raw_fd()), name.as_c_str()) {
        Ok(link) => {
            *links += 1;
            if *links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            return mountpoint_in_root(root, &parent.join(link), directory, links);
        }
        // Nothing there, or something that is no link (made meanwhile).
        Err(Errno::ENOENT | Errno::EINVAL) => {}
        Err(e) => return Err(e),
    }
    let made = if directory {
        mkdirat(
            Some(dir.as_raw_fd()),
            name.as_c_str(),
            Mode::from_bits_truncate(0o755),
        )
    } else {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        openat(
            Some(dir.as_raw_fd()),
            name.as_c_str(),
            flags,
            Mode::from_bits_truncate(0o644),
        )
        .map(|fd| {
            // SAFETY: openat just returned this descriptor and nothing else owns it.
            drop(unsafe { OwnedFd::from_raw_fd(fd) })
        })
    };
    match made {
        Ok(()) | Err(Errno::EEXIST) => open_in_root(root, path),
        Err(e) => Err(e),
    }
}

/// An `O_PATH` descriptor of `path` resolved inside `root`: `..` and
/// absolute symlinks stop at `root`, magic links are refused.
fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut tries = 0;
    loop {
        match openat2(root.as_raw_fd(), path, how) {
            // SAFETY: openat2 just returned this descriptor and nothing else owns it.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            // The kernel could not vouch for a `..` (a rename or a mount
            // somewhere meanwhile): look again.
            Err(Errno::EAGAIN) if tries < RESOLVE_RETRIES => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Docker's (runc's) wording of a failed bind mount: `error mounting
/// "<source>" to rootfs at "<destination>"`.
fn mount_context(mount: &BindMount) -> String {
    format!(
        "error mounting \"{}\" to rootfs at \"{}\"",
        mount.source.display(),
        Path::new("/").join(&mount.destination).display()
    )
}

fn mount_failure(mount: &BindMount, step: &str, errno: Errno) -> StartFailure {
    StartFailure::sys(format!("{}: {step}", mount_context(mount)), errno)
}

/// The mount_setattr(2) propagation type of a propagation mode, and
/// whether it applies to the submounts too.
fn propagation_type(propagation: Propagation) -> (u64, bool) {
    match propagation {
        Propagation::Rprivate => (MS_PRIVATE, true),
        Propagation::Private => (MS_PRIVATE, false),
        Propagation::Rshared => (MS_SHARED, true),
        Propagation::Shared => (MS_SHARED, false),
        Propagation::Rslave => (MS_SLAVE, true),
        Propagation::Slave => (MS_SLAVE, false),
    }
}

fn make_readonly(tree: &OwnedFd, recursive: bool) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        ..MountAttr::default()
    };
    mount_setattr(tree, recursive, &attr)
}

fn path_cstring(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// Makes sure something exists at `path`, following symlinks (only ever
/// called after the pivot, so they resolve inside the container); where
/// nothing is, creates a directory (`directory`) or an empty file there,
/// and the missing parent directories (mode 0755).
fn ensure_mountpoint(path: &Path, directory: bool) -> io::Result<()> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = path.parent().unwrap_or(Path::new("/")).join(target);
            }
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut dirs = fs::DirBuilder::new();
                dirs.recursive(true).mode(0o755);
                if directory {
                    return dirs.create(&path);
                }
                if let Some(parent) = path.parent() {
                    dirs.create(parent)?;
                }
                return fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map(drop);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Opens what `path` names, symlinks followed (inside the container after
/// the pivot) but never a magic link.
fn open_resolved(path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(libc::AT_FDCWD, path, how)?;
    // SAFETY: openat2 just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `O_PATH` descriptor of what `path` names, to attach a mount on.
fn resolve(path: &Path) -> Result<OwnedFd, Errno> {
    open_resolved(path, OFlag::O_PATH)
}

/// The directory the container's root has at `destination`, opened for
/// reading before a volume covers it; `None` when there is none.
fn open_image_dir(destination: &Path) -> Result<Option<OwnedFd>, Errno> {
    match open_resolved(destination, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(dir) => Ok(Some(dir)),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fills the volume `tree` (attached, or still detached) from the image's
/// directory `image` if the volume is empty; its own directory then takes
/// the image directory's owner, mode and times. A volume with anything in
/// it is left as it is.
fn copy_up(image: &OwnedFd, tree: &OwnedFd) -> Result<(), CopyError> {
    let at_root = |errno| CopyError {
        path: PathBuf::new(),
        errno,
    };
    let volume = open_at(tree, c".", READ_DIR).map_err(at_root)?;
    if !is_empty(&volume).map_err(at_root)? {
        return Ok(());
    }
    copy_contents(image, &volume, Path::new(""))?;
    let stat = fstat(image.as_raw_fd()).map_err(at_root)?;
    set_attributes(volume.as_fd(), &stat).map_err(at_root)
}

/// Whether the directory holds nothing but `.` and `..`.
fn is_empty(dir: &OwnedFd) -> Result<bool, Errno> {
    let mut entries = Dir::openat(Some(dir.as_raw_fd()), c".", READ_DIR, Mode::empty())?;
    for entry in entries.iter() {
        if !is_dot(entry?.file_name()) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn is_dot(name: &CStr) -> bool {
    matches!(name.to_bytes(), b"." | b"..")
}

/// Copies what the directory `from` holds into the directory `to`, depth
/// first; `at` is where `from` is, relative to the copy's top, for errors.
fn copy_contents(from: &OwnedFd, to: &OwnedFd, at: &Path) -> Result<(), CopyError> {
    let failed = |errno| CopyError {
        path: at.to_path_buf(),
        errno,
    };
    let mut entries =
        Dir::openat(Some(from.as_raw_fd()), c".", READ_DIR, Mode::empty()).map_err(failed)?;
    for entry in entries.iter() {
        let entry = entry.map_err(failed)?;
        let name = entry.file_name();
        if is_dot(name) {
            continue;
        }
        let path = at.join(OsStr::from_bytes(name.to_bytes()));
        copy_entry(from, to, name, &path)?;
    }
    Ok(())
}

/// Copies the entry `name` of `from` into `to`: a directory with its
/// content, a regular file's bytes, a symlink's target verbatim, a fifo;
/// each with its owner, mode and times. Sockets and device nodes are left
/// out.
fn copy_entry(from: &OwnedFd, to: &OwnedFd, name: &CStr, path: &Path) -> Result<(), CopyError> {
    let failed = |errno| CopyError {
        path: path.to_path_buf(),
        errno,
    };
    let (source, target) = (Some(from.as_raw_fd()), Some(to.as_raw_fd()));
    let stat = fstatat(source, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(failed)?;
    match file_type(&stat) {
        SFlag::S_IFDIR => {
            mkdirat(target, name, Mode::from_bits_truncate(0o700)).map_err(failed)?;
            let from_dir = open_at(from, name, READ_DIR).map_err(failed)?;
            let to_dir = open_at(to, name, READ_DIR).map_err(failed)?;
            copy_contents(&from_dir, &to_dir, path)?;
            set_attributes(to_dir.as_fd(), &stat).map_err(failed)
        }
        SFlag::S_IFREG => {
            let read = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
            let mut contents = fs::File::from(open_at(from, name, read).map_err(failed)?);
            let mut copy = fs::File::from(create_file_at(to, name).map_err(failed)?);
            io::copy(&mut contents, &mut copy).map_err(|e| failed(io_errno(&e)))?;
            set_attributes(copy.as_fd(), &stat).map_err(failed)
        }
        SFlag::S_IFLNK => {
            let link = readlinkat(source, name).map_err(failed)?;
            symlinkat(link.as_os_str(), target, name).map_err(failed)?;
            set_link_attributes(to.as_raw_fd(), name, &stat).map_err(failed)
        }
        SFlag::S_IFIFO => {
            mknodat(
                target,
                name,
                SFlag::S_IFIFO,
                Mode::from_bits_truncate(0o600),
                0,
            )
            .map_err(failed)?;
            set_link_attributes(to.as_raw_fd(), name, &stat).map_err(failed)?;
            fchmodat(
                target,
                name,
                permissions(&stat),
                FchmodatFlags::NoFollowSymlink,
            )
            .map_err(failed)
        }
        _ => Ok(()),
    }
}

/// Gives the open file `fd` the owner, mode and times of `stat` (the owner
/// first: a chown clears the set-id bits).
fn set_attributes(fd: BorrowedFd<'_>, stat: &FileStat) -> Result<(), Errno> {
    let fd = fd.as_raw_fd();
    fchown(fd, Some(owner(stat)), Some(group(stat)))?;
    fchmod(fd, permissions(stat))?;
    let (atime, mtime) = times(stat);
    futimens(fd, &atime, &mtime)
}

/// Gives the entry `name` of `dir` the owner and times of `stat`, without
/// following it if it is a symlink.
fn set_link_attributes(dir: RawFd, name: &CStr, stat: &FileStat) -> Result<(), Errno> {
    fchownat(
        Some(dir),
        name,
        Some(owner(stat)),
        Some(group(stat)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    let (atime, mtime) = times(stat);
    utimensat(
        Some(dir),
        name,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
}

fn owner(stat: &FileStat) -> Uid {
    Uid::from_raw(stat.st_uid)
}

fn group(stat: &FileStat) -> Gid {
    Gid::from_raw(stat.st_gid)
}

fn permissions(stat: &FileStat) -> Mode {
    Mode::from_bits_truncate(stat.st_mode & 0o7777)
}

fn times(stat: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(stat.st_atime, stat.st_atime_nsec),
        TimeSpec::new(stat.st_mtime, stat.st_mtime_nsec),
    )
}

fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT
}

fn io_errno(error: &io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

/// `openat(dir, name, flags)`, never creating anything.
fn open_at(dir: &OwnedFd, name: &CStr, flags: OFlag) -> Result<OwnedFd, Errno> {
    let fd = openat(Some(dir.as_raw_fd()), name, flags, Mode::empty())?;
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates the regular file `name` in `dir` for writing (mode 0600 until
/// its own is set); fails if anything is there already.
fn create_file_at(dir: &OwnedFd, name: &CStr) -> Result<OwnedFd, Errno> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(
        Some(dir.as_raw_fd()),
        name,
        flags,
        Mode::from_bits_truncate(0o600),
    )?;
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::mount::umount2;
    use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
    use std::os::unix::net::UnixListener;

    fn dir_fd(path: &Path) -> OwnedFd {
        fs::File::open(path).unwrap().into()
    }

    #[test]
    fn propagation_modes_map_to_their_type_and_recursion() {
        let cases = [
            (Propagation::Rprivate, 0x40000, true),
            (Propagation::Private, 0x40000, false),
            (Propagation::Rshared, 0x100000, true),
            (Propagation::Shared, 0x100000, false),
            (Propagation::Rslave, 0x80000, true),
            (Propagation::Slave, 0x80000, false),
        ];
        for (propagation, kind, recursive) in cases {
            assert_eq!(
                propagation_type(propagation),
                (kind, recursive),
                "{propagation:?}"
            );
        }
    }

    #[test]
    fn failures_name_source_and_destination_like_docker() {
        let mount = BindMount {
            source: "/src".into(),
            destination: "dst/sub".into(),
            readonly: false,
            recursive: true,
            propagation: Propagation::Rprivate,
            copy_up: false,
        };
        let failure = mount_failure(&mount, "stat /src", Errno::ENOENT);
        assert_eq!(
            failure.message,
            "error mounting \"/src\" to rootfs at \"/dst/sub\": stat /src: no such file or directory"
        );
    }

    #[test]
    fn mountpoints_are_created_as_directories_or_files_through_links() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path();
        ensure_mountpoint(&base.join("a/b/dir"), true).unwrap();
        assert!(base.join("a/b/dir").is_dir());
        assert_eq!(
            fs::metadata(base.join("a/b")).unwrap().permissions().mode() & 0o7777,
            0o755
        );
        ensure_mountpoint(&base.join("c/file"), false).unwrap();
        assert!(base.join("c/file").is_file());
        symlink("a/b/target", base.join("link")).unwrap();
        ensure_mountpoint(&base.join("link"), true).unwrap();
        assert!(base.join("a/b/target").is_dir());
        symlink("loop", base.join("loop")).unwrap();
        let error = ensure_mountpoint(&base.join("loop"), true).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn binds_under_a_root_land_inside_it_whatever_its_links_say() {
        let root = tempfile::tempdir().unwrap();
        let source = tempfile::tempdir().unwrap();
        fs::write(source.path().join("file"), "volume").unwrap();
        symlink("/", root.path().join("escape")).unwrap();
        symlink("../../../../../..", root.path().join("up")).unwrap();
        symlink("/made/here", root.path().join("dangling")).unwrap();
        let host = format!("/tmp/berth-bind-under-root-{}", std::process::id());
        let (top, data) = (root.path().to_path_buf(), source.path().to_path_buf());
        let inside = top.join(host.trim_start_matches('/'));
        let expected = inside.clone();
        let host_dir = host.clone();
        let seen = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            let private = nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE;
            nix::mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>).unwrap();
            let fd = dir_fd(&top);
            let rw = format!("/escape{host_dir}/rw");
            let ro = format!("/up{host_dir}/ro");
            let mounts = [
                bind_under_root(fd.as_fd(), &data, &rw, false, true).unwrap(),
                bind_under_root(fd.as_fd(), &data, &ro, true, true).unwrap(),
                bind_under_root(fd.as_fd(), &data.join("file"), "dangling", true, false).unwrap(),
            ];
            let read = fs::read_to_string(inside.join("rw/file")).unwrap();
            fs::write(inside.join("rw/new"), "new").unwrap();
            let refused = fs::write(inside.join("ro/new2"), "x").unwrap_err();
            let file = fs::read_to_string(top.join("made/here")).unwrap();
            let unmounted: Vec<_> = mounts
                .iter()
                .rev()
                .map(|path| umount2(path, nix::mount::MntFlags::empty()))
                .collect();
            (mounts, read, refused.raw_os_error(), file, unmounted)
        })
        .join()
        .unwrap();
        let (mounts, read, refused, file, unmounted) = seen;
        assert_eq!(mounts[0], expected.join("rw"));
        assert_eq!(mounts[1], expected.join("ro"));
        assert_eq!(mounts[2], root.path().join("made/here"));
        assert_eq!((read.as_str(), refused), ("volume", Some(libc::EROFS)));
        assert_eq!(file, "volume");
        assert!(unmounted.iter().all(Result::is_ok), "{unmounted:?}");
        assert!(!Path::new(&host).exists(), "{host} made on the host");
        assert_eq!(
            fs::read_to_string(source.path().join("new")).unwrap(),
            "new"
        );
        assert!(root.path().join("made/here").is_file());
        assert!(expected.join("ro").is_dir());
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mountinfo.contains(root.path().to_str().unwrap()));
    }

    #[test]
    fn magic_links_are_never_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let fd = dir_fd(dir.path());
        let magic = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        assert_eq!(resolve(&magic).unwrap_err(), Errno::ELOOP);
        assert!(resolve(dir.path()).is_ok());
        assert!(open_image_dir(&dir.path().join("missing"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn copy_up_copies_files_links_and_fifos_with_their_attributes() {
        let image = tempfile::tempdir().unwrap();
        let volume = tempfile::tempdir().unwrap();
        let src = image.path();
        fs::write(src.join("file"), "contents").unwrap();
        std::os::unix::fs::chown(src.join("file"), Some(1000), Some(2000)).unwrap();
        fs::set_permissions(src.join("file"), fs::Permissions::from_mode(0o4750)).unwrap();
        fs::create_dir(src.join("sub")).unwrap();
        fs::write(src.join("sub/deep"), "deep").unwrap();
        fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(0o711)).unwrap();
        symlink("/etc/../..", src.join("sub/up")).unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o640)).unwrap();
        std::os::unix::fs::lchown(src.join("sub/up"), Some(7), Some(8)).unwrap();
        let _socket = UnixListener::bind(src.join("socket")).unwrap();
        let old = TimeSpec::new(1_000_000_000, 5);
        for path in ["file", "sub", "fifo"] {
            utimensat(
                None,
                &src.join(path),
                &old,
                &old,
                UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
        fs::set_permissions(src, fs::Permissions::from_mode(0o750)).unwrap();

        copy_up(&dir_fd(src), &dir_fd(volume.path())).unwrap();

        let dst = volume.path();
        assert_eq!(fs::read_to_string(dst.join("file")).unwrap(), "contents");
        assert_eq!(fs::read_to_string(dst.join("sub/deep")).unwrap(), "deep");
        assert_eq!(
            fs::read_link(dst.join("sub/up")).unwrap(),
            Path::new("/etc/../..")
        );
        assert!(!dst.join("socket").exists());
        let meta = |path: &str| fs::symlink_metadata(dst.join(path)).unwrap();
        assert_eq!(meta("file").mode() & 0o7777, 0o4750);
        assert_eq!((meta("file").uid(), meta("file").gid()), (1000, 2000));
        assert_eq!((meta("sub/up").uid(), meta("sub/up").gid()), (7, 8));
        assert_eq!(meta("sub").mode() & 0o7777, 0o711);
        assert_eq!(meta("fifo").mode() & 0o7777, 0o640);
        assert!(meta("fifo").file_type().is_fifo());
        for path in ["file", "sub", "fifo"] {
            assert_eq!(
                (meta(path).mtime(), meta(path).mtime_nsec()),
                (1_000_000_000, 5)
            );
        }
        assert_eq!(meta("").mode() & 0o7777, 0o750);
    }

    #[test]
    fn copy_up_leaves_a_volume_with_anything_in_it_alone() {
        let image = tempfile::tempdir().unwrap();
        let volume = tempfile::tempdir().unwrap();
        fs::write(image.path().join("file"), "image").unwrap();
        fs::set_permissions(image.path(), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(volume.path().join("file"), "volume").unwrap();
        fs::set_permissions(volume.path(), fs::Permissions::from_mode(0o755)).unwrap();
        copy_up(&dir_fd(image.path()), &dir_fd(volume.path())).unwrap();
        let file = fs::read_to_string(volume.path().join("file")).unwrap();
        assert_eq!(file, "volume");
        let mode = fs::metadata(volume.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o755);
    }
}
