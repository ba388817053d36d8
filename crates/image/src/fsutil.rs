//! Small filesystem helpers: atomic writes and bounded reads of metadata files.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;

use crate::error::{ImageError, IoContext};

/// Writes `bytes` to `path` atomically: a temp file in the same directory,
/// fsync, rename over `path`, then fsync the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let dir = path
        .parent()
        .ok_or_else(|| ImageError::Internal(format!("{} has no parent", path.display())))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .ctx(|| format!("creating temp file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .ctx(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .ctx(|| format!("renaming into {}", path.display()))?;
    sync_dir(dir)
}

/// fsyncs a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("syncing {}", dir.display()))
}

/// Reads a file of at most `limit` bytes: archive metadata comes from
/// untrusted input and is held in memory.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ImageError> {
    let file = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .ctx(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(ImageError::invalid(format!(
            "{} is larger than {limit} bytes",
            path.file_name().unwrap_or_default().to_string_lossy()
        )));
    }
    Ok(bytes)
}

/// Creates `dir` and its parents if missing.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), ImageError> {
    fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))
}
