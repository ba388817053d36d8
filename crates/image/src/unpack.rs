//! Applies one layer tarball to an empty directory: the defence against
//! hostile archives.
//!
//! Entry paths are cleaned lexically as Docker cleans them (`a/../b` is
//! `b`, a leading `/` is dropped, `..` at the top of an absolute path stays
//! at the top); a relative path that climbs above the layer root fails the
//! layer. Everything is then done relative to directory descriptors: an
//! entry's parent is opened one component at a time from the layer root
//! with `O_NOFOLLOW | O_DIRECTORY`, so a symlink anywhere on the way fails
//! the layer rather than being followed, and the entry is created in that
//! directory with `*at` calls that never follow a final symlink either
//! (files with `O_CREAT | O_EXCL | O_NOFOLLOW`). Symlinks themselves are
//! created verbatim (their targets mean something only inside the
//! container). Hard links must point at a non-directory already in the
//! layer, reached the same way. OCI/AUFS whiteouts become overlayfs
//! whiteouts in their own directory of the layer: `.wh.name` a 0/0
//! character device, `.wh..wh..opq` the `trusted.overlay.opaque` xattr.
//! Character and block devices are created as Docker creates them, except in
//! a user namespace, where they are skipped, as Docker skips them.
//!
//! A store with [`IdMaps`] (dockerd's `--userns-remap`) shifts ownership into
//! the host's subordinate ids, as Docker does: every entry's uid and gid are
//! translated before anything of it is created (hard links keep their
//! target's owner), and an id outside every range fails the layer
//! (`Container ID 70000 cannot be mapped to a host ID`). The layer root and
//! the parent directories the archive implies are owned by the container's
//! root (the host ids of container id 0), so `/` of a container belongs to
//! its root. Whiteouts stay owned by the host's root: overlayfs looks only
//! at their type and device number. Remapped, an owner that cannot be set
//! fails the layer; otherwise ownership is best effort.
//!
//! The uncompressed stream and the file bytes written are metered against
//! the process's limits ([`ImageStore::set_unpack_limits`]): a layer that
//! unpacks to more than the size limit, or, past its first 256 MiB, to more
//! than the ratio limit times the compressed bytes read so far, fails as a
//! likely decompression bomb as soon as it crosses the line. The caller
//! owns the directory and removes it if this fails.
//!
//! The same machinery copies files into a container
//! (`PUT /containers/{id}/archive`, [`extract_archive`]) with Docker's rules
//! for copies instead of a layer's: an entry's parent is the destination
//! joined with the entry's directory, resolved inside the container's root
//! ([`ContainerRoot`]), so a symlink of the container is followed as in
//! the container but never out of it; missing parents are created; `.wh.`
//! names are plain names; a symlink whose target climbs out of the
//! destination is refused, as Docker refuses it; files belong to the
//! container's root unless the archive's owners are kept (`copyUIDGID`),
//! and a directory is not replaced by a file or the reverse when asked
//! (`noOverwriteDirNonDir`).

use std::cell::Cell;
use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, makedev, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use tar::{EntryType, Header};

use crate::compression::{bad_stream, decompress};
use crate::digest::HashingReader;
use crate::error::{ImageError, IoContext};
use crate::fsat::{fd_path, is_kind, stat_at, OPAQUE_XATTR};
use crate::idmap::IdMaps;
use crate::inroot::ContainerRoot;
use crate::store::ImageStore;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
const COPY_BUF: usize = 64 * 1024;
/// Longest entry path or symlink target (Linux's `PATH_MAX` less the NUL).
const PATH_MAX: usize = 4095;
/// Longest name of one path component (Linux's `NAME_MAX`).
const NAME_MAX: usize = 255;

/// Default of the largest a layer may unpack to: 64 GiB.
const DEFAULT_MAX_LAYER_SIZE: u64 = 64 << 30;
/// Default of how many times its compressed size a layer may expand to.
const DEFAULT_MAX_LAYER_RATIO: u64 = 64;
/// How much a layer may unpack to before the ratio limit applies: enough
/// for the long runs of zeros real images carry (a `lastlog` of a user
/// with a large uid), far short of filling a disk.
const RATIO_FREE_BYTES: u64 = 256 << 20;

static MAX_LAYER_SIZE: AtomicU64 = AtomicU64::new(DEFAULT_MAX_LAYER_SIZE);
static MAX_LAYER_RATIO: AtomicU64 = AtomicU64::new(DEFAULT_MAX_LAYER_RATIO);

impl ImageStore {
    /// Sets, for every layer unpacked in this process from now on, how far
    /// a layer may unpack (its uncompressed tar stream, or the file bytes it
    /// writes, whichever is more): at most `max_layer_size` bytes, and once
    /// past 256 MiB, at most `max_layer_ratio` times the compressed bytes
    /// read so far. 0 turns a limit off. The defaults are 64 GiB and 64.
    pub fn set_unpack_limits(max_layer_size: u64, max_layer_ratio: u64) {
        MAX_LAYER_SIZE.store(max_layer_size, Ordering::Relaxed);
        MAX_LAYER_RATIO.store(max_layer_ratio, Ordering::Relaxed);
    }
}

/// How far one layer may unpack; 0 is no limit.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_size: u64,
    max_ratio: u64,
    ratio_free: u64,
}

impl Limits {
    fn current() -> Limits {
        Limits {
            max_size: MAX_LAYER_SIZE.load(Ordering::Relaxed),
            max_ratio: MAX_LAYER_RATIO.load(Ordering::Relaxed),
            ratio_free: RATIO_FREE_BYTES,
        }
    }
}

/// What unpacking learned about a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnpackedLayer {
    /// `sha256:` of the uncompressed tar stream.
    pub(crate) diff_id: String,
    /// Sum of the sizes of the layer's regular files.
    pub(crate) size: i64,
}

/// Decompresses `raw` (plain, gzip or zstd) and unpacks it into `dest`, an
/// existing empty directory, hashing the uncompressed stream on the way;
/// owners are shifted by `maps`.
pub(crate) fn unpack_layer(
    raw: &mut dyn Read,
    dest: &Path,
    maps: &IdMaps,
) -> Result<UnpackedLayer, ImageError> {
    unpack_with_limits(raw, dest, maps, Limits::current())
}

fn unpack_with_limits(
    raw: &mut dyn Read,
    dest: &Path,
    maps: &IdMaps,
    limits: Limits,
) -> Result<UnpackedLayer, ImageError> {
    let meter = Meter::new(limits);
    let mut compressed = CountCompressed {
        inner: raw,
        meter: &meter,
    };
    let (_, decompressed) = decompress(&mut compressed)?;
    let mut hashing = HashingReader::new(CountUncompressed {
        inner: decompressed,
        meter: &meter,
    });
    let size = Layer::open(dest, &meter, maps)
        .and_then(|mut layer| layer.apply(&mut hashing))
        .and_then(|size| hashing.drain().map(|()| size).map_err(bad_stream))
        .map_err(|e| meter.explain(e, "layer"))?;
    Ok(UnpackedLayer {
        diff_id: hashing.digest(),
        size,
    })
}

/// Counts a layer's compressed bytes, its uncompressed stream and the file
/// bytes it writes, and trips when they pass the [`Limits`].
struct Meter {
    limits: Limits,
    compressed: Cell<u64>,
    stream: Cell<u64>,
    written: Cell<u64>,
    tripped: Cell<bool>,
}

impl Meter {
    fn new(limits: Limits) -> Meter {
        Meter {
            limits,
            compressed: Cell::new(0),
            stream: Cell::new(0),
            written: Cell::new(0),
            tripped: Cell::new(false),
        }
    }

    fn unpacked(&self) -> u64 {
        self.stream.get().max(self.written.get())
    }

    fn over_size(&self) -> bool {
        self.limits.max_size != 0 && self.unpacked() > self.limits.max_size
    }

    fn over_ratio(&self) -> bool {
        let unpacked = self.unpacked();
        self.limits.max_ratio != 0
            && unpacked > self.limits.ratio_free
            && unpacked > self.limits.max_ratio.saturating_mul(self.compressed.get())
    }

    /// Adds `n` to `counter`; fails once a limit is passed.
    fn add(&self, counter: &Cell<u64>, n: usize) -> io::Result<()> {
        counter.set(counter.get().saturating_add(n as u64));
        if self.over_size() || self.over_ratio() {
            self.tripped.set(true);
            return Err(io::Error::other("layer size limit reached"));
        }
        Ok(())
    }

    /// The error to report for `err`: the limit's, when one was passed
    /// (the tar reader may have wrapped or replaced the meter's error).
    fn explain(&self, err: ImageError, noun: &str) -> ImageError {
        if !self.tripped.get() {
            return err;
        }
        if self.over_size() {
            return ImageError::invalid(format!(
                "invalid {noun}: it unpacks to more than {}, the most a {noun} may",
                human(self.limits.max_size)
            ));
        }
        ImageError::invalid(format!(
            "invalid {noun}: it unpacks to more than {} times its compressed size \
             ({} from {}): refusing a likely decompression bomb",
            self.limits.max_ratio,
            human(self.unpacked()),
            human(self.compressed.get())
        ))
    }
}

/// `n` bytes in the largest binary unit that keeps it at least 1.
fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && n >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    let whole = n >> (10 * unit);
    if whole << (10 * unit) == n {
        format!("{whole} {}", UNITS[unit])
    } else {
        format!(
            "{:.1} {}",
            n as f64 / (1u64 << (10 * unit)) as f64,
            UNITS[unit]
        )
    }
}

/// The layer blob as received: counted for the ratio limit.
struct CountCompressed<'m, R> {
    inner: R,
    meter: &'m Meter,
}

impl<R: Read> Read for CountCompressed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter
            .compressed
            .set(self.meter.compressed.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// The uncompressed tar stream: counted, and cut off at the limits.
struct CountUncompressed<'m, R> {
    inner: R,
    meter: &'m Meter,
}

impl<R: Read> Read for CountUncompressed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter.add(&self.meter.stream, n)?;
        Ok(n)
    }
}

/// How to copy files into a container (`PUT /containers/{id}/archive`).
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Keep the archive's owners (`copyUIDGID`), shifted by `maps`;
    /// otherwise everything belongs to `owner`.
    pub keep_owners: bool,
    /// The container's user namespace maps (empty without one).
    pub maps: IdMaps,
    /// The host uid and gid of the container's root.
    pub owner: (u32, u32),
    /// Refuse to replace a directory with a non-directory, or the reverse
    /// (`noOverwriteDirNonDir`).
    pub no_overwrite_dir_non_dir: bool,
}

/// Unpacks a tar stream (plain, gzip or zstd) into the directory `dir`, a
/// path of the container whose root is `root`, by Docker's rules for
/// copies (see the module documentation). The stream is metered against
/// the same limits as layers.
pub fn extract_archive(
    root: &ContainerRoot,
    dir: &Path,
    archive: &mut dyn Read,
    options: &CopyOptions,
) -> Result<(), ImageError> {
    let meter = Meter::new(Limits::current());
    let mut compressed = CountCompressed {
        inner: archive,
        meter: &meter,
    };
    let (_, decompressed) = decompress(&mut compressed)?;
    let mut stream = CountUncompressed {
        inner: decompressed,
        meter: &meter,
    };
    let owner = (
        Uid::from_raw(options.owner.0),
        Gid::from_raw(options.owner.1),
    );
    let dest = root
        .open_dir(dir)
        .ctx(|| format!("opening {}", dir.display()))?;
    let rules = Rules {
        walk: Walk::InRoot {
            root,
            dir: dir.to_path_buf(),
        },
        owners: if options.keep_owners {
            Owners::Archive { strict: true }
        } else {
            Owners::Fixed(owner)
        },
        whiteouts: false,
        keep_dir_kinds: options.no_overwrite_dir_non_dir,
        confine_symlinks: true,
        noun: "archive",
        scope: "the destination directory",
    };
    let mut layer = Layer::new(dest, &meter, &options.maps, Some(owner), rules);
    layer
        .apply(&mut stream)
        .map(drop)
        .map_err(|e| meter.explain(e, "archive"))
}

/// Where the parents of entries are found.
enum Walk<'r> {
    /// A layer directory: one component at a time from its descriptor,
    /// never following a symlink (one on the way fails the layer).
    NoFollow,
    /// A directory of a container: its path (`dir`) joined with the
    /// entry's directory, resolved inside the container's root, whose
    /// symlinks are followed as the container would follow them.
    InRoot {
        root: &'r ContainerRoot,
        dir: PathBuf,
    },
}

/// Whom the entries belong to.
#[derive(Debug, Clone, Copy)]
enum Owners {
    /// The archive's ids: shifted by the maps, and an owner that cannot be
    /// set fails the entry, when `strict`; as they are, best effort,
    /// otherwise.
    Archive { strict: bool },
    /// This host owner, whatever the archive says.
    Fixed((Uid, Gid)),
}

/// What a tar stream is unpacked as: a layer, or a copy into a container.
struct Rules<'r> {
    walk: Walk<'r>,
    owners: Owners,
    /// `.wh.` names are whiteouts (layers), not files.
    whiteouts: bool,
    /// A directory is never replaced by a non-directory, nor the reverse.
    keep_dir_kinds: bool,
    /// A symlink's target must stay inside the destination.
    confine_symlinks: bool,
    /// What is unpacked, in messages: `layer` or `archive`.
    noun: &'static str,
    /// What entries must stay inside, in messages.
    scope: &'static str,
}

impl Rules<'_> {
    fn layer(maps: &IdMaps) -> Rules<'static> {
        Rules {
            walk: Walk::NoFollow,
            owners: Owners::Archive {
                strict: !maps.is_identity(),
            },
            whiteouts: true,
            keep_dir_kinds: false,
            confine_symlinks: false,
            noun: "layer",
            scope: "the layer root",
        }
    }
}

/// The directory being written: every operation is relative to its
/// descriptor, or to a directory opened as the [`Walk`] says.
struct Layer<'m> {
    root: OwnedFd,
    meter: &'m Meter,
    maps: &'m IdMaps,
    rules: Rules<'m>,
    /// The host owner of the container's root (for a layer, when
    /// remapped): it owns the layer root and the directories the archive
    /// implies.
    root_owner: Option<(Uid, Gid)>,
    /// The directory the last entry went into, reused by the next entry in
    /// it; dropped whenever a directory is removed.
    last_dir: Option<(PathBuf, OwnedFd)>,
    /// Directories and their mtimes, set once everything inside is written.
    dir_mtimes: Vec<(PathBuf, u64)>,
    /// Bytes of regular files written.
    size: i64,
}

impl<'m> Layer<'m> {
    fn new(
        root: OwnedFd,
        meter: &'m Meter,
        maps: &'m IdMaps,
        root_owner: Option<(Uid, Gid)>,
        rules: Rules<'m>,
    ) -> Layer<'m> {
        Layer {
            root,
            meter,
            maps,
            rules,
            root_owner,
            last_dir: None,
            dir_mtimes: Vec::new(),
            size: 0,
        }
    }

    fn open(dest: &Path, meter: &'m Meter, maps: &'m IdMaps) -> Result<Layer<'m>, ImageError> {
        let fd = openat(
            None,
            dest,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)
        .ctx(|| format!("opening {}", dest.display()))?;
        // SAFETY: `openat` just returned this descriptor, owned by no one else.
        let root = unsafe { OwnedFd::from_raw_fd(fd) };
        let root_owner = if maps.is_identity() {
            None
        } else {
            let (uid, gid) = maps.to_host_owner(0, 0)?;
            let owner = (Uid::from_raw(uid), Gid::from_raw(gid));
            chown_dir(&root, owner, dest)?;
            Some(owner)
        };
        Ok(Layer::new(
            root,
            meter,
            maps,
            root_owner,
            Rules::layer(maps),
        ))
    }

    fn apply(&mut self, stream: &mut dyn Read) -> Result<i64, ImageError> {
        let mut archive = tar::Archive::new(stream);
        for entry in archive.entries().map_err(bad_stream)? {
            let mut entry = entry.map_err(bad_stream)?;
            self.apply_entry(&mut entry)?;
        }
        self.set_dir_mtimes()?;
        Ok(self.size)
    }

    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ImageError> {
        let path = entry.path().map_err(bad_stream)?.into_owned();
        let kind = entry.header().entry_type();
        if !is_supported(kind) {
            tracing::debug!(entry = %path.display(), ?kind, "skipping unsupported tar entry type");
            return Ok(());
        }
        let rel = self.entry_path(&path)?;
        let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
            return Ok(());
        };
        let parent = self.open_dir(rel.parent().unwrap_or(Path::new("")), true, &path)?;
        if self.rules.whiteouts && name.as_bytes().starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(&parent, &name, &path);
        }
        if self.rules.keep_dir_kinds {
            self.check_dir_kind(&parent, &name, kind == EntryType::Directory, &rel)?;
        }
        let xattrs = pax_xattrs(entry)?;
        let header = entry.header().clone();
        let owner = self.owner(&header)?;
        match kind {
            EntryType::Directory => {
                match stat_at(&parent, &name).ctx(|| format!("inspecting {}", path.display()))? {
                    Some(st) if is_kind(&st, SFlag::S_IFDIR) => {}
                    existing => {
                        if existing.is_some() {
                            self.remove_at(&parent, &name, &path)?;
                        }
                        mkdirat(Some(parent.as_raw_fd()), name.as_os_str(), Mode::S_IRWXU)
                            .map_err(io::Error::from)
                            .ctx(|| format!("creating {}", path.display()))?;
                    }
                }
                self.dir_mtimes
                    .push((rel.clone(), header.mtime().unwrap_or(0)));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.remove_at(&parent, &name, &path)?;
                let fd = openat(
                    Some(parent.as_raw_fd()),
                    name.as_os_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::S_IRUSR | Mode::S_IWUSR,
                )
                .map_err(io::Error::from)
                .ctx(|| format!("creating {}", path.display()))?;
                // SAFETY: `openat` just returned this descriptor, owned by no one else.
                let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
                self.size += self.copy_entry(entry, &mut file, &path)?;
            }
            EntryType::Symlink => {
                let target = self.link_target(entry, &path)?;
                if self.rules.confine_symlinks {
                    self.confine_symlink(&rel, &target, &path)?;
                }
                self.remove_at(&parent, &name, &path)?;
                symlinkat(target.as_path(), Some(parent.as_raw_fd()), name.as_os_str())
                    .map_err(io::Error::from)
                    .ctx(|| format!("creating symlink {}", path.display()))?;
            }
            EntryType::Link => {
                let target = self.link_target(entry, &path)?;
                return self.hard_link(&parent, &name, &rel, &path, &target);
            }
            EntryType::Char | EntryType::Block if in_user_namespace() => {
                tracing::debug!(entry = %path.display(), "skipping device node in a user namespace");
                return Ok(());
            }
            _ => {
                self.remove_at(&parent, &name, &path)?;
                make_node(&parent, &name, kind, &header, &path)?;
            }
        }
        self.apply_metadata(&parent, &name, &header, owner, &xattrs, &path)
    }

    /// The host owner of an entry: its header's ids shifted by the maps
    /// (failing if one cannot be); unremapped, the ids as they are, `None`
    /// if they do not fit a `uid_t`.
    fn owner(&self, header: &Header) -> Result<Option<(Uid, Gid)>, ImageError> {
        let strict = match self.rules.owners {
            Owners::Fixed(owner) => return Ok(Some(owner)),
            Owners::Archive { strict } => strict,
        };
        let uid = header.uid().map_err(bad_stream)?;
        let gid = header.gid().map_err(bad_stream)?;
        let ids = if strict {
            Some(self.maps.to_host_owner(uid, gid)?)
        } else {
            u32::try_from(uid).ok().zip(u32::try_from(gid).ok())
        };
        Ok(ids.map(|(uid, gid)| (Uid::from_raw(uid), Gid::from_raw(gid))))
    }

    /// Whether an owner that cannot be set fails the entry.
    fn strict_owners(&self) -> bool {
        matches!(
            self.rules.owners,
            Owners::Fixed(_) | Owners::Archive { strict: true }
        )
    }

    /// An entry's path relative to the root, or why it cannot be one.
    fn entry_path(&self, path: &Path) -> Result<PathBuf, ImageError> {
        let rel = clean(path).ok_or_else(|| {
            ImageError::invalid(format!(
                "invalid {}: path {} escapes {}",
                self.rules.noun,
                path.display(),
                self.rules.scope
            ))
        })?;
        if too_long(&rel) {
            return Err(ImageError::invalid(format!(
                "invalid {}: path {} is too long",
                self.rules.noun,
                path.display()
            )));
        }
        Ok(rel)
    }

    /// The target of a symlink or hard link entry.
    fn link_target<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        path: &Path,
    ) -> Result<PathBuf, ImageError> {
        let noun = self.rules.noun;
        let target = entry
            .link_name()
            .map_err(bad_stream)?
            .filter(|t| !t.as_os_str().is_empty())
            .ok_or_else(|| {
                ImageError::invalid(format!(
                    "invalid {noun}: link {} has no target",
                    path.display()
                ))
            })?;
        if target.as_os_str().len() > PATH_MAX {
            return Err(ImageError::invalid(format!(
                "invalid {noun}: link {} has a target longer than {PATH_MAX} bytes",
                path.display()
            )));
        }
        Ok(target.into_owned())
    }

    /// Docker's check of a copied symlink: its target, read from the
    /// link's directory (an absolute one too, as Go's `filepath.Join`
    /// reads it), must not climb out of the destination.
    fn confine_symlink(&self, rel: &Path, target: &Path, entry: &Path) -> Result<(), ImageError> {
        let mut joined = rel.parent().unwrap_or(Path::new("")).as_os_str().to_owned();
        joined.push("/");
        joined.push(target.as_os_str());
        let joined = Path::new(OsStr::from_bytes(
            joined
                .as_bytes()
                .strip_prefix(b"/")
                .unwrap_or(joined.as_bytes()),
        ));
        if clean(joined).is_none() {
            return Err(ImageError::invalid(format!(
                "invalid symlink {:?} -> {:?}",
                entry.display().to_string(),
                target.display().to_string()
            )));
        }
        Ok(())
    }

    /// `noOverwriteDirNonDir`: what is at `name` in `dir` must be of the
    /// same kind (directory or not) as the entry replacing it.
    fn check_dir_kind(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        entry_is_dir: bool,
        rel: &Path,
    ) -> Result<(), ImageError> {
        let Some(st) = stat_at(dir, name).ctx(|| format!("inspecting {}", rel.display()))? else {
            return Ok(());
        };
        let path = match &self.rules.walk {
            Walk::InRoot { dir, .. } => dir.join(rel),
            Walk::NoFollow => rel.to_path_buf(),
        };
        match (is_kind(&st, SFlag::S_IFDIR), entry_is_dir) {
            (true, false) => Err(ImageError::invalid(format!(
                "cannot overwrite directory {:?} with non-directory {:?}",
                path.display().to_string(),
                rel.display().to_string()
            ))),
            (false, true) => Err(ImageError::invalid(format!(
                "cannot overwrite non-directory {:?} with directory {:?}",
                path.display().to_string(),
                rel.display().to_string()
            ))),
            _ => Ok(()),
        }
    }

    /// Owner, mode, xattrs and (for non-directories) mtime of `name` in
    /// `dir`, none of them through a final symlink. Xattrs are best effort,
    /// and so is the owner unless remapped: an unprivileged store cannot
    /// set them.
    fn apply_metadata(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        header: &Header,
        owner: Option<(Uid, Gid)>,
        xattrs: &[(String, Vec<u8>)],
        path: &Path,
    ) -> Result<(), ImageError> {
        if let Some((uid, gid)) = owner {
            if let Err(e) = fchownat(
                Some(dir.as_raw_fd()),
                name,
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                if self.strict_owners() {
                    return Err(io::Error::from(e))
                        .ctx(|| format!("setting owner of {}", path.display()));
                }
                tracing::debug!(path = %path.display(), error = %e, "cannot set owner");
            }
        }
        let kind = header.entry_type();
        if kind != EntryType::Symlink {
            let mode = header.mode().map_err(bad_stream)? & 0o7777;
            fchmodat(
                Some(dir.as_raw_fd()),
                name,
                Mode::from_bits_truncate(mode),
                FchmodatFlags::NoFollowSymlink,
            )
            .map_err(io::Error::from)
            .ctx(|| format!("setting mode of {}", path.display()))?;
        }
        for (xattr, value) in xattrs {
            if let Err(e) = lset_xattr(&fd_path(dir, name), xattr, value) {
                tracing::warn!(path = %path.display(), xattr = %xattr, error = %e, "cannot set xattr");
            }
        }
        if kind != EntryType::Directory {
            set_mtime(dir, name, header.mtime().unwrap_or(0), path)?;
        }
        Ok(())
    }

    /// Opens the directory `rel` (relative to the root) one component at a
    /// time without following symlinks, creating missing components (mode
    /// 0755, owned by the container's root when remapped) if `create`.
    /// `entry` names the tar entry in errors.
    fn open_dir(&mut self, rel: &Path, create: bool, entry: &Path) -> Result<OwnedFd, ImageError> {
        let dup = |fd: &OwnedFd| fd.try_clone().ctx(|| "duplicating a descriptor".into());
        if let Some((last, fd)) = &self.last_dir {
            if last == rel {
                return dup(fd);
            }
        }
        let dir = match &self.rules.walk {
            Walk::NoFollow => {
                let mut dir = dup(&self.root)?;
                let mut walked = PathBuf::new();
                for component in rel.components() {
                    walked.push(component);
                    dir = open_step(
                        &dir,
                        component.as_os_str(),
                        create,
                        self.root_owner,
                        entry,
                        &walked,
                    )?;
                }
                dir
            }
            Walk::InRoot { root, dir } => {
                let owner = self
                    .root_owner
                    .unwrap_or((Uid::from_raw(0), Gid::from_raw(0)));
                self.open_in_root(root, &dir.join(rel), create, owner, entry)?
            }
        };
        self.last_dir = Some((rel.to_path_buf(), dup(&dir)?));
        Ok(dir)
    }

    /// Opens (or, if `create`, makes) the container directory `path`
    /// inside the container's root, for the entry `entry`.
    fn open_in_root(
        &self,
        root: &ContainerRoot,
        path: &Path,
        create: bool,
        owner: (Uid, Gid),
        entry: &Path,
    ) -> Result<OwnedFd, ImageError> {
        let opened = match root.open_dir(path) {
            Err(e) if create && e.raw_os_error() == Some(libc::ENOENT) => {
                root.make_dirs(path, owner)
            }
            other => other,
        };
        opened.or_else(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => Err(ImageError::invalid(format!(
                "invalid {}: {} refers to a missing directory",
                self.rules.noun,
                entry.display()
            ))),
            Some(libc::ENOTDIR | libc::ELOOP) => Err(ImageError::invalid(format!(
                "invalid {}: parent of {} is not a directory",
                self.rules.noun,
                entry.display()
            ))),
            _ => Err(e).ctx(|| format!("opening {}", path.display())),
        })
    }

    /// Removes whatever is at `name` in `dir` (never following a symlink,
    /// a directory with everything in it); absent is fine.
    fn remove_at(&mut self, dir: &OwnedFd, name: &OsStr, entry: &Path) -> Result<(), ImageError> {
        let context = || format!("replacing {}", entry.display());
        match stat_at(dir, name).ctx(context)? {
            None => Ok(()),
            Some(st) if is_kind(&st, SFlag::S_IFDIR) => {
                self.last_dir = None;
                // std's remove_dir_all never follows a symlink inside the
                // tree; the /proc path names `name` in `dir` itself.
                fs::remove_dir_all(fd_path(dir, name)).ctx(context)
            }
            Some(_) => unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir)
                .map_err(io::Error::from)
                .ctx(context),
        }
    }

    /// A whiteout entry `.wh.name` (or `.wh..wh..opq`) in `dir`.
    fn whiteout(&mut self, dir: &OwnedFd, name: &OsStr, entry: &Path) -> Result<(), ImageError> {
        let name = name.as_bytes();
        if name == OPAQUE_WHITEOUT {
            return fset_xattr(dir, OPAQUE_XATTR, b"y")
                .ctx(|| format!("marking the directory of {} opaque", entry.display()));
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
        let hidden = OsStr::from_bytes(hidden);
        self.remove_at(dir, hidden, entry)?;
        mknodat(
            Some(dir.as_raw_fd()),
            hidden,
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )
        .map_err(io::Error::from)
        .ctx(|| format!("creating whiteout {}", entry.display()))
    }

    /// Creates the hard link `name` in `dir` (the entry `rel`) to `target`,
    /// which must name an existing non-directory already inside the layer,
    /// reached without symlinks. The link itself is never followed.
    fn hard_link(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        entry: &Path,
        target: &Path,
    ) -> Result<(), ImageError> {
        let noun = self.rules.noun;
        let escape = || {
            ImageError::invalid(format!(
                "invalid {noun}: hard link {} points outside {} ({})",
                entry.display(),
                self.rules.scope,
                target.display()
            ))
        };
        let target_rel = clean(target).ok_or_else(escape)?;
        let Some(target_name) = target_rel.file_name() else {
            return Err(escape());
        };
        if too_long(&target_rel) {
            return Err(ImageError::invalid(format!(
                "invalid {noun}: hard link {} has a target name that is too long",
                entry.display()
            )));
        }
        let target_dir =
            self.open_dir(target_rel.parent().unwrap_or(Path::new("")), false, entry)?;
        match stat_at(&target_dir, target_name)
            .ctx(|| format!("inspecting {}", target.display()))?
        {
            Some(st) if !is_kind(&st, SFlag::S_IFDIR) => {}
            _ => {
                return Err(ImageError::invalid(format!(
                    "invalid {noun}: hard link {} has no target {} in {}",
                    entry.display(),
                    target_rel.display(),
                    self.rules.scope
                )))
            }
        }
        if target_rel == rel {
            return Ok(());
        }
        self.remove_at(dir, name, entry)?;
        linkat(
            Some(target_dir.as_raw_fd()),
            target_name,
            Some(dir.as_raw_fd()),
            name,
            AtFlags::empty(),
        )
        .map_err(io::Error::from)
        .ctx(|| format!("creating hard link {}", entry.display()))
    }

    /// Copies an entry's data to `file`, metering it; read failures are the
    /// archive's fault, write failures the store's. Returns the bytes copied.
    fn copy_entry(
        &self,
        entry: &mut dyn Read,
        file: &mut File,
        path: &Path,
    ) -> Result<i64, ImageError> {
        let mut buf = vec![0u8; COPY_BUF];
        let mut total = 0i64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(bad_stream(e)),
            };
            self.meter.add(&self.meter.written, n).map_err(bad_stream)?;
            file.write_all(&buf[..n])
                .ctx(|| format!("writing {}", path.display()))?;
            total += n as i64;
        }
    }

    /// Sets the mtimes of the archive's directories, deepest last-listed
    /// first, now that nothing more is written into them. A directory that a
    /// later entry replaced or removed is skipped: the path is walked again
    /// without following symlinks, so a symlink put in its place cannot
    /// redirect the change outside the layer.
    fn set_dir_mtimes(&mut self) -> Result<(), ImageError> {
        for (rel, mtime) in std::mem::take(&mut self.dir_mtimes).into_iter().rev() {
            let Some(name) = rel.file_name() else {
                continue;
            };
            let dir = match self.open_dir(rel.parent().unwrap_or(Path::new("")), false, &rel) {
                Ok(dir) => dir,
                Err(ImageError::InvalidArgument(_)) => continue,
                Err(e) => return Err(e),
            };
            match stat_at(&dir, name).ctx(|| format!("inspecting {}", rel.display()))? {
                Some(st) if is_kind(&st, SFlag::S_IFDIR) => set_mtime(&dir, name, mtime, &rel)?,
                _ => continue,
            }
        }
        Ok(())
    }
}

/// One step of [`Layer::open_dir`]: opens the directory `name` in `dir`,
/// creating it if missing and `create`, owned by `owner` if given.
fn open_step(
    dir: &OwnedFd,
    name: &OsStr,
    create: bool,
    owner: Option<(Uid, Gid)>,
    entry: &Path,
    walked: &Path,
) -> Result<OwnedFd, ImageError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let (mut tried, mut created) = (false, false);
    loop {
        match openat(Some(dir.as_raw_fd()), name, flags, Mode::empty()) {
            Ok(fd) => {
                // SAFETY: `openat` just returned this descriptor, owned by no one else.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                if created {
                    // An implied directory: 0755 whatever the process umask.
                    fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(0o755))
                        .map_err(io::Error::from)
                        .ctx(|| format!("creating {}", walked.display()))?;
                    if let Some(owner) = owner {
                        chown_dir(&fd, owner, walked)?;
                    }
                }
                return Ok(fd);
            }
            Err(Errno::ENOENT) if create && !tried => {
                tried = true;
                match mkdirat(Some(dir.as_raw_fd()), name, Mode::S_IRWXU) {
                    Ok(()) => created = true,
                    Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(io::Error::from(e))
                            .ctx(|| format!("creating {}", walked.display()))
                    }
                }
            }
            Err(Errno::ENOENT) => {
                return Err(ImageError::invalid(format!(
                    "invalid layer: {} refers to a missing directory",
                    entry.display()
                )))
            }
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                let symlink = stat_at(dir, name)
                    .ok()
                    .flatten()
                    .is_some_and(|st| is_kind(&st, SFlag::S_IFLNK));
                return Err(ImageError::invalid(if symlink {
                    format!(
                        "invalid layer: {} traverses symlink {}",
                        entry.display(),
                        walked.display()
                    )
                } else {
                    format!(
                        "invalid layer: parent of {} is not a directory",
                        entry.display()
                    )
                }));
            }
            Err(e) => {
                return Err(io::Error::from(e)).ctx(|| format!("opening {}", walked.display()))
            }
        }
    }
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

/// Cleans a path lexically, as Go's `filepath.Clean` does, into a path
/// relative to the layer root: `/`, `.` and empty components go, and `..`
/// takes back the component before it (at the top of an absolute path it
/// stays at the top). `None` if a relative path climbs above the root.
fn clean(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    let mut absolute = false;
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::RootDir => absolute = true,
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() && !absolute {
                    return None;
                }
            }
        }
    }
    Some(out)
}

/// Whether a cleaned path is longer than Linux takes, in whole or in one
/// of its components.
fn too_long(rel: &Path) -> bool {
    rel.as_os_str().len() > PATH_MAX || rel.components().any(|c| c.as_os_str().len() > NAME_MAX)
}

/// Whether this process runs in a user namespace (its uid map is not the
/// whole range), where device nodes cannot be created.
fn in_user_namespace() -> bool {
    static IN_USERNS: OnceLock<bool> = OnceLock::new();
    *IN_USERNS.get_or_init(|| {
        fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
    })
}

fn make_node(
    dir: &OwnedFd,
    name: &OsStr,
    kind: EntryType,
    header: &Header,
    path: &Path,
) -> Result<(), ImageError> {
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
    mknodat(
        Some(dir.as_raw_fd()),
        name,
        flag,
        Mode::S_IRUSR | Mode::S_IWUSR,
        makedev(u64::from(major), u64::from(minor)),
    )
    .map_err(io::Error::from)
    .ctx(|| format!("creating device node {}", path.display()))
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

/// Makes `owner` own the open directory `dir` (`path` names it in errors).
fn chown_dir(dir: &OwnedFd, (uid, gid): (Uid, Gid), path: &Path) -> Result<(), ImageError> {
    fchown(dir.as_raw_fd(), Some(uid), Some(gid))
        .map_err(io::Error::from)
        .ctx(|| format!("setting owner of {}", path.display()))
}

fn set_mtime(dir: &OwnedFd, name: &OsStr, mtime: u64, path: &Path) -> Result<(), ImageError> {
    let time = TimeSpec::new(i64::try_from(mtime).unwrap_or(i64::MAX), 0);
    utimensat(
        Some(dir.as_raw_fd()),
        name,
        &time,
        &time,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
    .ctx(|| format!("setting mtime of {}", path.display()))
}

/// `lsetxattr(2)`: sets an extended attribute without following a symlink.
fn lset_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
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

/// `fsetxattr(2)`: sets an extended attribute of an open file.
fn fset_xattr(fd: &OwnedFd, name: &str, value: &[u8]) -> io::Result<()> {
    let name = CString::new(name)?;
    // SAFETY: `fd` is an open descriptor, `name` a NUL-terminated string
    // that outlives the call, and `value`'s pointer and length describe one
    // live slice.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
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
    use std::rc::Rc;
    use std::time::{Duration, SystemTime};

    fn unpack(tar: &[u8]) -> (tempfile::TempDir, Result<UnpackedLayer, ImageError>) {
        let dir = tempfile::tempdir().unwrap();
        let result = unpack_layer(&mut &tar[..], dir.path(), &IdMaps::default());
        (dir, result)
    }

    /// Unpacks through the layer store and checks that a failure leaves no
    /// temp directory behind.
    fn unpack_hostile(tar: &[u8]) -> ImageError {
        let root = tempfile::tempdir().unwrap();
        let layers = LayerStore::open(root.path().join("layers"), IdMaps::default()).unwrap();
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

    /// A directory beside the layer with one file, to prove nothing outside
    /// the layer changes: its listing, contents and mtimes are compared.
    struct Sentinel {
        dir: tempfile::TempDir,
    }

    impl Sentinel {
        fn new() -> Sentinel {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir(dir.path().join("etc")).unwrap();
            fs::write(dir.path().join("etc/passwd"), b"root:x:0:0\n").unwrap();
            let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
            for path in ["etc/passwd", "etc", ""] {
                let file = File::open(dir.path().join(path)).unwrap();
                file.set_modified(old).unwrap();
            }
            Sentinel { dir }
        }

        fn path(&self) -> &str {
            self.dir.path().to_str().unwrap()
        }

        fn assert_untouched(&self) {
            let root = self.dir.path();
            let mut names: Vec<_> = walk(root).into_iter().map(|(p, _)| p).collect();
            names.sort();
            assert_eq!(
                names,
                ["", "etc", "etc/passwd"],
                "files appeared outside the layer"
            );
            assert_eq!(fs::read(root.join("etc/passwd")).unwrap(), b"root:x:0:0\n");
            for (path, meta) in walk(root) {
                assert_eq!(meta.mtime(), 1_000_000, "{path} was modified");
                if !meta.is_dir() {
                    assert_eq!(meta.nlink(), 1, "{path} was linked into a layer");
                }
            }
        }
    }

    /// Every path below `root` (relative, `""` for itself) with its metadata.
    fn walk(root: &Path) -> Vec<(String, fs::Metadata)> {
        let mut out = vec![(String::new(), fs::symlink_metadata(root).unwrap())];
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    stack.push(path.clone());
                }
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, meta));
            }
        }
        out
    }

    #[test]
    fn dot_dot_inside_the_layer_is_cleaned_as_docker_does() {
        let tar = TarBuilder::new()
            .file("a/../b", b"b")
            .file("/../../c", b"c")
            .file("./d/./e/../f", b"f")
            .finish();
        let (dir, result) = unpack(&tar);
        result.unwrap();
        let root = dir.path();
        assert_eq!(fs::read(root.join("b")).unwrap(), b"b");
        assert_eq!(fs::read(root.join("c")).unwrap(), b"c");
        assert_eq!(fs::read(root.join("d/f")).unwrap(), b"f");
        assert!(!root.join("d/e").exists());
    }

    #[test]
    fn symlink_chains_and_relative_escapes_are_never_followed() {
        let sentinel = Sentinel::new();
        let chain = TarBuilder::new()
            .symlink("c", sentinel.path())
            .symlink("b", "c")
            .symlink("a", "b")
            .file("a/etc/passwd", b"pwned")
            .finish();
        let err = unpack_hostile(&chain);
        assert!(err.to_string().contains("traverses symlink a"), "{err}");
        let relative = TarBuilder::new()
            .dir("d")
            .symlink("d/up", "../../../../../../../../..")
            .file(&format!("d/up{}/etc/passwd", sentinel.path()), b"pwned")
            .finish();
        let err = unpack_hostile(&relative);
        assert!(err.to_string().contains("traverses symlink d/up"), "{err}");
        let deep = TarBuilder::new()
            .symlink("root", "/")
            .dir(&format!("root{}/etc/new", sentinel.path()))
            .finish();
        unpack_hostile(&deep);
        sentinel.assert_untouched();
    }

    #[test]
    fn whiteouts_cannot_remove_anything_outside_the_layer() {
        let sentinel = Sentinel::new();
        let err = unpack_hostile(&TarBuilder::new().file("../.wh.x", b"").finish());
        assert!(err.to_string().contains("escapes the layer root"), "{err}");
        unpack_hostile(&TarBuilder::new().file("a/../../.wh.passwd", b"").finish());
        let through_link = TarBuilder::new()
            .symlink("etc", &format!("{}/etc", sentinel.path()))
            .file("etc/.wh.passwd", b"")
            .finish();
        let err = unpack_hostile(&through_link);
        assert!(err.to_string().contains("traverses symlink etc"), "{err}");
        let opaque = TarBuilder::new()
            .symlink("etc", &format!("{}/etc", sentinel.path()))
            .file("etc/.wh..wh..opq", b"")
            .finish();
        unpack_hostile(&opaque);
        sentinel.assert_untouched();
        assert!(get_xattr(&sentinel.dir.path().join("etc"), OPAQUE_XATTR).is_none());
    }

    #[test]
    fn hard_link_to_a_symlink_links_the_symlink_not_its_target() {
        let sentinel = Sentinel::new();
        let target = format!("{}/etc/passwd", sentinel.path());
        let tar = TarBuilder::new()
            .symlink("s", &target)
            .hardlink("h", "s")
            .finish();
        let (dir, result) = unpack(&tar);
        result.unwrap();
        let link = fs::symlink_metadata(dir.path().join("h")).unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(
            link.ino(),
            fs::symlink_metadata(dir.path().join("s")).unwrap().ino()
        );
        sentinel.assert_untouched();
    }

    #[test]
    fn directory_mtimes_are_never_set_through_a_later_symlink() {
        let sentinel = Sentinel::new();
        let tar = TarBuilder::new()
            .dir("a")
            .dir("a/etc")
            .symlink("a", sentinel.path())
            .finish();
        let (dir, result) = unpack(&tar);
        result.unwrap();
        assert!(fs::symlink_metadata(dir.path().join("a"))
            .unwrap()
            .file_type()
            .is_symlink());
        sentinel.assert_untouched();
    }

    #[test]
    fn overlong_paths_and_link_targets_are_invalid() {
        let long_name = "n".repeat(NAME_MAX + 1);
        let err = unpack_hostile(&long_path_tar(&long_name, None));
        assert!(err.to_string().contains("is too long"), "{err}");
        let deep = "d/".repeat(PATH_MAX / 2 + 1) + "f";
        unpack_hostile(&long_path_tar(&deep, None));
        let err = unpack_hostile(&long_path_tar("l", Some(&"t".repeat(PATH_MAX + 1))));
        assert!(err.to_string().contains("longer than"), "{err}");
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = bare_header(EntryType::Link, 0o644);
        builder.append_link(&mut header, "h", &long_name).unwrap();
        let err = unpack_hostile(&builder.into_inner().unwrap());
        assert!(err.to_string().contains("too long"), "{err}");
    }

    /// A tar with one entry whose path (or symlink target) is longer than a
    /// plain header holds: GNU long-name records carry it.
    fn long_path_tar(path: &str, symlink_target: Option<&str>) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        match symlink_target {
            Some(target) => {
                let mut header = bare_header(EntryType::Symlink, 0o777);
                builder.append_link(&mut header, path, target).unwrap();
            }
            None => {
                let mut header = bare_header(EntryType::Regular, 0o644);
                builder.append_data(&mut header, path, &b""[..]).unwrap();
            }
        }
        builder.into_inner().unwrap()
    }

    /// A GNU header of `kind` owned by root, with no data.
    fn bare_header(kind: EntryType, mode: u32) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(0);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header
    }

    /// A tar with one device node.
    fn device_tar(path: &str, kind: EntryType, major: u32, minor: u32) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = bare_header(kind, 0o666);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        builder.append_data(&mut header, path, &b""[..]).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn device_nodes_are_created_as_root_outside_a_user_namespace() {
        assert!(!in_user_namespace(), "the unpack tests run as real root");
        let (dir, result) = unpack(&device_tar("dev/null", EntryType::Char, 1, 3));
        result.unwrap();
        let meta = fs::symlink_metadata(dir.path().join("dev/null")).unwrap();
        assert!(meta.file_type().is_char_device());
        assert_eq!(meta.rdev(), makedev(1, 3));
        assert_eq!(meta.mode() & 0o7777, 0o666);
        let (dir, result) = unpack(&device_tar("dev/loop9", EntryType::Block, 7, 9));
        result.unwrap();
        let meta = fs::symlink_metadata(dir.path().join("dev/loop9")).unwrap();
        assert!(meta.file_type().is_block_device());
        assert_eq!(meta.rdev(), makedev(7, 9));
    }

    /// A gzip stream of concatenated members, as `MultiGzDecoder` reads it:
    /// a tar header for one file of `file_size` bytes, then `members`
    /// copies of one member of 1 MiB of zeros. Counts what was read of it.
    struct GzipBomb {
        head: Vec<u8>,
        zeros: Vec<u8>,
        members: usize,
        pos: usize,
        read: Rc<Cell<u64>>,
    }

    impl GzipBomb {
        fn new(file_size: u64, members: usize) -> (GzipBomb, Rc<Cell<u64>>) {
            let mut header = bare_header(EntryType::Regular, 0o644);
            header.set_path("zeros").unwrap();
            header.set_size(file_size);
            header.set_cksum();
            let read = Rc::new(Cell::new(0));
            let bomb = GzipBomb {
                head: gzip(header.as_bytes()),
                zeros: gzip(&vec![0u8; 1 << 20]),
                members,
                pos: 0,
                read: read.clone(),
            };
            (bomb, read)
        }

        fn total(&self) -> usize {
            self.head.len() + self.zeros.len() * self.members
        }
    }

    impl Read for GzipBomb {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos >= self.total() {
                return Ok(0);
            }
            let (chunk, offset) = if self.pos < self.head.len() {
                (&self.head, self.pos)
            } else {
                (&self.zeros, (self.pos - self.head.len()) % self.zeros.len())
            };
            let n = buf.len().min(chunk.len() - offset);
            buf[..n].copy_from_slice(&chunk[offset..offset + n]);
            self.pos += n;
            self.read.set(self.read.get() + n as u64);
            Ok(n)
        }
    }

    /// Bytes of everything under `root`, as allocated on disk.
    fn disk_usage(root: &Path) -> u64 {
        walk(root).iter().map(|(_, meta)| meta.blocks() * 512).sum()
    }

    #[test]
    fn decompression_bomb_is_cut_off_by_the_ratio_limit_early() {
        // 4 GiB of zeros from about 4 MiB of gzip.
        let (mut bomb, read) = GzipBomb::new(4 << 30, 4096);
        let compressed = bomb.total() as u64;
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_size: 0,
            max_ratio: 64,
            ratio_free: 1 << 20,
        };
        let err =
            unpack_with_limits(&mut bomb, dir.path(), &IdMaps::default(), limits).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains("decompression bomb"), "{err}");
        assert!(err.to_string().contains("64 times"), "{err}");
        assert!(
            read.get() < compressed / 16,
            "read {} of {compressed} compressed bytes",
            read.get()
        );
        assert!(
            disk_usage(dir.path()) < 8 << 20,
            "wrote {} bytes",
            disk_usage(dir.path())
        );
    }

    #[test]
    fn layer_beyond_the_size_limit_is_refused() {
        let limits = Limits {
            max_size: 1 << 20,
            max_ratio: 0,
            ratio_free: 0,
        };
        let tar = TarBuilder::new().file("big", &vec![7u8; 2 << 20]).finish();
        let dir = tempfile::tempdir().unwrap();
        let err =
            unpack_with_limits(&mut &tar[..], dir.path(), &IdMaps::default(), limits).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains("more than 1 MiB"), "{err}");
        assert!(disk_usage(dir.path()) <= 1 << 20);

        let small = TarBuilder::new()
            .file("small", &vec![7u8; 1 << 19])
            .finish();
        let dir = tempfile::tempdir().unwrap();
        unpack_with_limits(&mut &small[..], dir.path(), &IdMaps::default(), limits).unwrap();
    }

    #[test]
    fn sparse_entry_cannot_expand_past_the_limits() {
        // A GNU sparse file of 4 GiB, all hole but its last 512 bytes: a
        // tiny stream whose written bytes are what the limits must see.
        let mut header = bare_header(EntryType::GNUSparse, 0o644);
        header.set_path("sparse").unwrap();
        header.set_size(512);
        let gnu = header.as_gnu_mut().unwrap();
        gnu.set_real_size(4 << 30);
        gnu.sparse[0].set_offset((4 << 30) - 512);
        gnu.sparse[0].set_length(512);
        header.set_cksum();
        let mut tar = header.as_bytes().to_vec();
        tar.extend_from_slice(&[1u8; 512]);
        tar.extend_from_slice(&[0u8; 1024]);
        let limits = Limits {
            max_size: 4 << 20,
            max_ratio: 0,
            ratio_free: 0,
        };
        let dir = tempfile::tempdir().unwrap();
        let err =
            unpack_with_limits(&mut &tar[..], dir.path(), &IdMaps::default(), limits).unwrap_err();
        assert!(err.to_string().contains("more than 4 MiB"), "{err}");
    }

    /// A container root with `/escape -> /`, `/up -> ../../..` and `/tmp`,
    /// in a directory whose other entries it must never touch.
    struct Container {
        outer: tempfile::TempDir,
        root: ContainerRoot,
    }

    impl Container {
        fn new() -> Container {
            let outer = tempfile::tempdir().unwrap();
            let root_path = outer.path().join("root");
            for dir in ["tmp", "etc", "data"] {
                fs::create_dir_all(root_path.join(dir)).unwrap();
            }
            fs::write(root_path.join("etc/passwd"), b"root:x:0:0\n").unwrap();
            std::os::unix::fs::symlink("/", root_path.join("escape")).unwrap();
            std::os::unix::fs::symlink("../../..", root_path.join("up")).unwrap();
            fs::create_dir(outer.path().join("tmp")).unwrap();
            let root = crate::inroot::root_at(&root_path);
            Container { outer, root }
        }

        fn path(&self, rel: &str) -> std::path::PathBuf {
            self.outer.path().join("root").join(rel)
        }

        fn copy(&self, dir: &str, tar: &[u8], options: &CopyOptions) -> Result<(), ImageError> {
            extract_archive(&self.root, Path::new(dir), &mut &tar[..], options)
        }

        /// Nothing but the root and the untouched `tmp` outside it.
        fn assert_outside_untouched(&self) {
            let mut names: Vec<_> = fs::read_dir(self.outer.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names, ["root", "tmp"]);
            assert_eq!(
                fs::read_dir(self.outer.path().join("tmp")).unwrap().count(),
                0
            );
        }
    }

    fn owned_by(uid: u32) -> CopyOptions {
        CopyOptions {
            owner: (uid, uid),
            no_overwrite_dir_non_dir: true,
            ..CopyOptions::default()
        }
    }

    #[test]
    fn copies_through_container_symlinks_land_inside_the_container() {
        let c = Container::new();
        let tar = TarBuilder::new().file("x", b"one").finish();
        c.copy("/escape/tmp", &tar, &owned_by(0)).unwrap();
        c.copy("/up/up/data", &tar, &owned_by(0)).unwrap();
        assert_eq!(fs::read(c.path("tmp/x")).unwrap(), b"one");
        assert_eq!(fs::read(c.path("data/x")).unwrap(), b"one");
        // An absolute symlink in the archive, then a file through it.
        let through = TarBuilder::new()
            .symlink("l", "/")
            .file("l/tmp/y", b"two")
            .finish();
        c.copy("/tmp", &through, &owned_by(0)).unwrap();
        assert_eq!(fs::read(c.path("tmp/y")).unwrap(), b"two");
        c.assert_outside_untouched();
    }

    #[test]
    fn copies_that_climb_out_of_the_destination_are_refused() {
        let c = Container::new();
        let cases = [
            (
                TarBuilder::new().file("../x", b"x").finish(),
                "escapes the destination directory",
            ),
            (
                TarBuilder::new().symlink("s", "../../../..").finish(),
                "invalid symlink",
            ),
            (
                TarBuilder::new().hardlink("h", "../etc/passwd").finish(),
                "points outside the destination directory",
            ),
        ];
        for (tar, message) in cases {
            let err = c.copy("/tmp", &tar, &owned_by(0)).unwrap_err();
            assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
            assert!(err.to_string().contains(message), "{err}");
        }
        assert_eq!(fs::read_dir(c.path("tmp")).unwrap().count(), 0);
        c.assert_outside_untouched();
    }

    #[test]
    fn copies_keep_directory_kinds_and_set_owners_as_asked() {
        let c = Container::new();
        fs::create_dir(c.path("tmp/d")).unwrap();
        fs::write(c.path("tmp/f"), b"f").unwrap();
        let file_over_dir = TarBuilder::new().file("d", b"x").finish();
        let err = c.copy("/tmp", &file_over_dir, &owned_by(0)).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot overwrite directory \"/tmp/d\" with non-directory \"d\""),
            "{err}"
        );
        let dir_over_file = TarBuilder::new().dir("f").finish();
        let err = c.copy("/tmp", &dir_over_file, &owned_by(0)).unwrap_err();
        assert!(
            err.to_string().contains("cannot overwrite non-directory"),
            "{err}"
        );
        let mut replace = owned_by(0);
        replace.no_overwrite_dir_non_dir = false;
        c.copy("/tmp", &file_over_dir, &replace).unwrap();
        assert!(c.path("tmp/d").is_file());

        let owned = TarBuilder::new()
            .owner(77)
            .file("sub/o", b"o")
            .file(".wh.kept", b"")
            .finish();
        c.copy("/tmp", &owned, &owned_by(1234)).unwrap();
        let meta = fs::metadata(c.path("tmp/sub/o")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1234, 1234));
        assert_eq!(fs::metadata(c.path("tmp/sub")).unwrap().uid(), 1234);
        assert!(c.path("tmp/.wh.kept").is_file());
        let keep = CopyOptions {
            keep_owners: true,
            ..owned_by(1234)
        };
        c.copy("/data", &owned, &keep).unwrap();
        let meta = fs::metadata(c.path("data/sub/o")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (77, 77));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(64 << 30), "64 GiB");
        assert_eq!(human(3 << 19), "1.5 MiB");
    }
}
