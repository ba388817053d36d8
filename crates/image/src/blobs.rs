//! The content store: `blobs/sha256/<hex>`, immutable files named by the
//! sha256 of their bytes (image configs and layer blobs as received).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::digest::{sha256_digest, sha256_hex};
use crate::error::{ImageError, IoContext};
use crate::fsutil::{ensure_dir, write_atomic};

pub(crate) struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Opens the store in `dir`; `tmp` is a scratch directory on the same
    /// filesystem for blobs being received.
    pub(crate) fn open(dir: PathBuf, tmp: PathBuf) -> Result<BlobStore, ImageError> {
        ensure_dir(&dir)?;
        ensure_dir(&tmp)?;
        Ok(BlobStore { dir, tmp })
    }

    pub(crate) fn path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        let hex = sha256_hex(digest)
            .ok_or_else(|| ImageError::invalid(format!("invalid digest {digest:?}")))?;
        Ok(self.dir.join(hex))
    }

    pub(crate) fn read(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.path(digest)?;
        fs::read(&path).ctx(|| format!("reading blob {digest}"))
    }

    /// Stores `bytes` and returns their digest.
    pub(crate) fn put_bytes(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let digest = sha256_digest(bytes);
        let path = self.path(&digest)?;
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// A scratch file for a blob being streamed in; see [`BlobStore::adopt`].
    pub(crate) fn temp_file(&self) -> Result<NamedTempFile, ImageError> {
        tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&self.tmp)
            .ctx(|| format!("creating temp file in {}", self.tmp.display()))
    }

    /// Moves a fully written scratch file into the store as `digest`.
    pub(crate) fn adopt(&self, mut file: NamedTempFile, digest: &str) -> Result<(), ImageError> {
        let path = self.path(digest)?;
        if path.exists() {
            return Ok(());
        }
        file.flush()
            .and_then(|()| file.as_file().sync_all())
            .ctx(|| format!("writing blob {digest}"))?;
        file.persist(&path)
            .map_err(|e| e.error)
            .ctx(|| format!("storing blob {digest}"))?;
        Ok(())
    }

    /// Stores a copy of `source`, whose content is known to hash to `digest`
    /// (a hard link when possible: it is on the same filesystem).
    pub(crate) fn put_file(&self, source: &Path, digest: &str) -> Result<(), ImageError> {
        let path = self.path(digest)?;
        if path.exists() {
            return Ok(());
        }
        if fs::hard_link(source, &path).is_ok() {
            return Ok(());
        }
        let mut tmp = self.temp_file()?;
        let mut input = fs::File::open(source).ctx(|| format!("opening {}", source.display()))?;
        io::copy(&mut input, &mut tmp).ctx(|| format!("copying blob {digest}"))?;
        self.adopt(tmp, digest)
    }

    pub(crate) fn remove(&self, digest: &str) -> Result<(), ImageError> {
        let path = self.path(digest)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(e).ctx(|| format!("removing blob {digest}"))
            }
            _ => Ok(()),
        }
    }

    /// Every stored digest.
    pub(crate) fn list(&self) -> Result<Vec<String>, ImageError> {
        let mut digests = Vec::new();
        for entry in fs::read_dir(&self.dir).ctx(|| format!("listing {}", self.dir.display()))? {
            let entry = entry.ctx(|| format!("listing {}", self.dir.display()))?;
            let digest = format!("sha256:{}", entry.file_name().to_string_lossy());
            if sha256_hex(&digest).is_some() {
                digests.push(digest);
            }
        }
        Ok(digests)
    }
}
