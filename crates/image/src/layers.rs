//! Unpacked layers: `layers/<chain hex>/` holds one layer's files, unpacked
//! once and shared by every image whose layer chain includes it, and
//! `layers/<chain hex>.json` its metadata. A layer is unpacked into a
//! `.tmp-*` directory and renamed into place, so an interrupted unpack never
//! leaves a partial layer; stale temp directories are removed on open. A
//! remapped store unpacks every layer with its owners shifted by the store's
//! [`IdMaps`].

use std::collections::BTreeMap;
use std::fs::{self, Permissions};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use crate::digest::sha256_hex;
use crate::error::{ImageError, IoContext};
use crate::fsutil::{ensure_dir, sync_dir, write_atomic};
use crate::idmap::IdMaps;
use crate::unpack::{unpack_layer, UnpackedLayer};

const TEMP_PREFIX: &str = ".tmp-";

/// What the store remembers about one unpacked layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerMeta {
    pub(crate) chain_id: String,
    pub(crate) diff_id: String,
    /// Digest of the blob (as received, maybe compressed) it was unpacked from.
    pub(crate) blob: String,
    /// Unpacked size in bytes.
    pub(crate) size: i64,
}

/// A layer unpacked into a temp directory, not yet in the store. Dropping it
/// removes the directory.
pub(crate) struct PendingLayer {
    dir: TempDir,
    pub(crate) unpacked: UnpackedLayer,
}

pub(crate) struct LayerStore {
    dir: PathBuf,
    /// How layer owners are shifted as they are unpacked.
    id_maps: IdMaps,
}

impl LayerStore {
    pub(crate) fn open(dir: PathBuf, id_maps: IdMaps) -> Result<LayerStore, ImageError> {
        ensure_dir(&dir)?;
        for entry in fs::read_dir(&dir).ctx(|| format!("listing {}", dir.display()))? {
            let entry = entry.ctx(|| format!("listing {}", dir.display()))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                tracing::info!(path = %entry.path().display(), "removing interrupted layer");
                remove_path(&entry.path())?;
            }
        }
        Ok(LayerStore { dir, id_maps })
    }

    /// The unpacked directory of a layer.
    pub(crate) fn dir_of(&self, chain_id: &str) -> PathBuf {
        self.dir
            .join(chain_id.strip_prefix("sha256:").unwrap_or(chain_id))
    }

    fn meta_path(&self, chain_id: &str) -> PathBuf {
        self.dir_of(chain_id).with_extension("json")
    }

    /// Every complete layer (metadata and directory both present).
    pub(crate) fn load_all(&self) -> Result<BTreeMap<String, LayerMeta>, ImageError> {
        let mut layers = BTreeMap::new();
        for entry in fs::read_dir(&self.dir).ctx(|| format!("listing {}", self.dir.display()))? {
            let path = entry
                .ctx(|| format!("listing {}", self.dir.display()))?
                .path();
            let Some(hex) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let chain_id = format!("sha256:{hex}");
            if sha256_hex(&chain_id).is_none() || !self.dir_of(&chain_id).is_dir() {
                continue;
            }
            let bytes = fs::read(&path).ctx(|| format!("reading {}", path.display()))?;
            match serde_json::from_slice::<LayerMeta>(&bytes) {
                Ok(meta) if meta.chain_id == chain_id => {
                    layers.insert(chain_id, meta);
                }
                _ => tracing::warn!(path = %path.display(), "ignoring unreadable layer metadata"),
            }
        }
        Ok(layers)
    }

    /// Chain ids of layer directories on disk, complete or not.
    pub(crate) fn dirs_on_disk(&self) -> Result<Vec<String>, ImageError> {
        let mut chains = Vec::new();
        for entry in fs::read_dir(&self.dir).ctx(|| format!("listing {}", self.dir.display()))? {
            let name = entry
                .ctx(|| format!("listing {}", self.dir.display()))?
                .file_name();
            let chain_id = format!("sha256:{}", name.to_string_lossy());
            if sha256_hex(&chain_id).is_some() {
                chains.push(chain_id);
            }
        }
        Ok(chains)
    }

    /// Unpacks a (possibly compressed) layer stream into a temp directory,
    /// owners shifted by the store's id maps.
    pub(crate) fn unpack(&self, raw: &mut dyn Read) -> Result<PendingLayer, ImageError> {
        let dir = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(&self.dir)
            .ctx(|| format!("creating temp dir in {}", self.dir.display()))?;
        fs::set_permissions(dir.path(), Permissions::from_mode(0o755))
            .ctx(|| format!("setting mode of {}", dir.path().display()))?;
        let unpacked = unpack_layer(raw, dir.path(), &self.id_maps)?;
        Ok(PendingLayer { dir, unpacked })
    }

    /// Moves a pending layer into place as `chain_id`. If that layer exists
    /// already (same content), the pending copy is discarded.
    pub(crate) fn commit(
        &self,
        pending: PendingLayer,
        chain_id: &str,
        blob: &str,
    ) -> Result<LayerMeta, ImageError> {
        let meta = LayerMeta {
            chain_id: chain_id.to_string(),
            diff_id: pending.unpacked.diff_id.clone(),
            blob: blob.to_string(),
            size: pending.unpacked.size,
        };
        let target = self.dir_of(chain_id);
        if target.is_dir() {
            if let Some(existing) = self.read_meta(chain_id) {
                return Ok(existing);
            }
        }
        let bytes = serde_json::to_vec(&meta).map_err(|e| ImageError::Internal(e.to_string()))?;
        write_atomic(&self.meta_path(chain_id), &bytes)?;
        if target.is_dir() {
            return Ok(meta);
        }
        fs::rename(pending.dir.path(), &target)
            .ctx(|| format!("moving layer into {}", target.display()))?;
        sync_dir(&self.dir)?;
        Ok(meta)
    }

    fn read_meta(&self, chain_id: &str) -> Option<LayerMeta> {
        let bytes = fs::read(self.meta_path(chain_id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes a layer: first renamed aside (so it vanishes atomically), then
    /// its metadata, then its files.
    pub(crate) fn remove(&self, chain_id: &str) -> Result<(), ImageError> {
        let target = self.dir_of(chain_id);
        let doomed = self.dir.join(format!(
            "{TEMP_PREFIX}rm-{}",
            chain_id.strip_prefix("sha256:").unwrap_or(chain_id)
        ));
        match fs::rename(&target, &doomed) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(e).ctx(|| format!("removing layer {}", target.display()));
            }
            _ => {}
        }
        remove_path(&self.meta_path(chain_id))?;
        remove_path(&doomed)
    }
}

/// Removes a file or directory tree; absent is fine.
fn remove_path(path: &Path) -> Result<(), ImageError> {
    let result = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    result.ctx(|| format!("removing {}", path.display()))
}
