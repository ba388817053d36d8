//! The image store: ties the content store, the layer store and the tag
//! index together, resolves references, and lists, tags and deletes images.
//!
//! Layout under the root: `blobs/sha256/<hex>` (configs and layer blobs),
//! `layers/<chain>/` + `layers/<chain>.json` (unpacked layers),
//! `images/<id hex>.json` (an image's layer chain ids), `repositories.json`
//! (tags), `tmp/` (scratch for uploads and archives).
//!
//! Mutations (import, load, tag, remove) are serialized by one write gate and
//! publish their result into the in-memory [`State`] under a short write
//! lock; reads only take the read lock, so `list` never waits for an unpack.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use crate::blobs::BlobStore;
use crate::config::ImageConfig;
use crate::digest::{chain_id, is_lower_hex, sha256_hex};
use crate::error::{ImageError, IoContext};
use crate::fsutil::{ensure_dir, write_atomic};
use crate::idmap::IdMaps;
use crate::layers::{LayerMeta, LayerStore, PendingLayer};
use crate::reference::{tag_target, ImageRef};
use crate::tags::{is_digest_ref, TagIndex};

/// An image as the daemon sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config bytes.
    pub id: String,
    /// Familiar tags, e.g. `busybox:latest`.
    pub repo_tags: Vec<String>,
    /// Familiar digest references, e.g. `busybox@sha256:...`.
    pub repo_digests: Vec<String>,
    pub config: ImageConfig,
    /// Sum of the unpacked layer sizes in bytes.
    pub size: i64,
    /// `config.created` as Unix seconds, 0 if absent.
    pub created_unix: i64,
}

/// A content-addressed image store rooted at `<data-root>/image`.
pub struct ImageStore {
    pub(crate) blobs: BlobStore,
    pub(crate) layers: LayerStore,
    pub(crate) tmp_dir: PathBuf,
    images_dir: PathBuf,
    repositories: PathBuf,
    write_gate: Mutex<()>,
    state: RwLock<State>,
}

/// What the store holds, in memory.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) images: BTreeMap<String, ImageEntry>,
    pub(crate) layers: BTreeMap<String, LayerMeta>,
    pub(crate) tags: TagIndex,
}

#[derive(Debug, Clone)]
pub(crate) struct ImageEntry {
    pub(crate) config: ImageConfig,
    /// Chain ids, bottom layer first.
    pub(crate) layers: Vec<String>,
}

/// `images/<hex>.json`.
#[derive(Serialize, Deserialize)]
struct ImageMeta {
    layers: Vec<String>,
}

/// How a reference matched an image.
pub(crate) struct Resolved {
    pub(crate) id: String,
    /// The familiar reference, when matched by name rather than by id.
    pub(crate) by_name: Option<String>,
}

impl ImageStore {
    /// Opens (creating if needed) the store at `root`, loads its metadata and
    /// removes leftovers of interrupted operations. Layers keep the owners
    /// their archives give.
    pub fn open(root: impl Into<PathBuf>) -> Result<ImageStore, ImageError> {
        ImageStore::open_with_id_maps(root, IdMaps::default())
    }

    /// Opens the store at `root` as [`ImageStore::open`] does, for a daemon
    /// that remaps user namespaces (`--userns-remap`): every layer it
    /// unpacks from now on has its owners shifted by `id_maps`, and its root
    /// directory owned by the container's root. Fails if the maps give
    /// container id 0 no host id. A remapped store needs a root of its own:
    /// layers already on disk are not shifted.
    pub fn open_with_id_maps(
        root: impl Into<PathBuf>,
        id_maps: IdMaps,
    ) -> Result<ImageStore, ImageError> {
        if !id_maps.is_identity() {
            id_maps.to_host_owner(0, 0)?;
        }
        let root = root.into();
        let tmp_dir = root.join("tmp");
        if tmp_dir.exists() {
            fs::remove_dir_all(&tmp_dir).ctx(|| format!("cleaning {}", tmp_dir.display()))?;
        }
        let images_dir = root.join("images");
        ensure_dir(&images_dir)?;
        let store = ImageStore {
            blobs: BlobStore::open(root.join("blobs").join("sha256"), tmp_dir.clone())?,
            layers: LayerStore::open(root.join("layers"), id_maps)?,
            tmp_dir,
            images_dir,
            repositories: root.join("repositories.json"),
            write_gate: Mutex::new(()),
            state: RwLock::new(State::default()),
        };
        store.load_state()?;
        Ok(store)
    }

    /// All images, newest first.
    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let state = self.read_state();
        let mut records: Vec<ImageRecord> = state
            .images
            .iter()
            .map(|(id, entry)| state.record(id, entry))
            .collect();
        records.sort_by(|a, b| {
            b.created_unix
                .cmp(&a.created_unix)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(records)
    }

    /// Resolves a name, `name:tag`, `name@digest`, full id, bare hex id or
    /// unique id prefix to an image.
    pub fn get(&self, reference: &str) -> Result<ImageRecord, ImageError> {
        let state = self.read_state();
        let resolved = state.resolve(reference)?;
        let entry = &state.images[&resolved.id];
        Ok(state.record(&resolved.id, entry))
    }

    /// Unpacked layer directories of the image, bottom layer first.
    pub fn layer_dirs(&self, id: &str) -> Result<Vec<PathBuf>, ImageError> {
        let state = self.read_state();
        let resolved = state.resolve(id)?;
        Ok(state.images[&resolved.id]
            .layers
            .iter()
            .map(|chain| self.layers.dir_of(chain))
            .collect())
    }

    /// `docker tag SOURCE TARGET`; TARGET without a tag means `:latest`.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let key = tag_target(target)?;
        let _gate = self.lock_writes();
        let id = self.read_state().resolve(source)?.id;
        self.update_tags(|tags| tags.set(&key, &id))
    }

    pub(crate) fn lock_writes(&self) -> MutexGuard<'_, ()> {
        self.write_gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` to a copy of the tag index, persists it, then
    /// publishes it. Caller holds the write gate.
    pub(crate) fn update_tags(&self, change: impl FnOnce(&mut TagIndex)) -> Result<(), ImageError> {
        let mut tags = self.read_state().tags.clone();
        change(&mut tags);
        tags.save(&self.repositories)?;
        self.write_state().tags = tags;
        Ok(())
    }

    /// Moves an unpacked layer into the store. Caller holds the write gate.
    pub(crate) fn add_layer(
        &self,
        pending: PendingLayer,
        chain_id: &str,
        blob: &str,
    ) -> Result<LayerMeta, ImageError> {
        let meta = self.layers.commit(pending, chain_id, blob)?;
        self.write_state()
            .layers
            .insert(chain_id.to_string(), meta.clone());
        Ok(meta)
    }

    /// Walks an image's layers in order, calling `add(layer, index, diff_id,
    /// chain_id)` for each one the store lacks (it must unpack and add it),
    /// then records the image; on any failure removes the layers it added.
    /// Caller holds the write gate.
    pub(crate) fn add_layers_and_image<L>(
        &self,
        config_bytes: &[u8],
        config: ImageConfig,
        layers: impl Iterator<Item = L>,
        mut add: impl FnMut(L, usize, &str, &str) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        let mut chains = Vec::new();
        let mut added = Vec::new();
        let mut parent: Option<String> = None;
        let mut result = Ok(());
        for (index, (layer, diff_id)) in layers.zip(&config.rootfs.diff_ids).enumerate() {
            if sha256_hex(diff_id).is_none() {
                result = Err(ImageError::invalid(format!("invalid diff id {diff_id:?}")));
                break;
            }
            let chain = chain_id(parent.as_deref(), diff_id);
            if !self.read_state().layers.contains_key(&chain) {
                if let Err(e) = add(layer, index, diff_id, &chain) {
                    result = Err(e);
                    break;
                }
                added.push(chain.clone());
            }
            chains.push(chain.clone());
            parent = Some(chain);
        }
        let result = result.and_then(|()| self.add_image(config_bytes, config, chains).map(drop));
        if result.is_err() {
            self.collect_layers(&added)?;
        }
        result
    }

    /// Stores an image's config bytes and its layer chain, returning its id.
    /// The layers must already be in the store. Caller holds the write gate.
    pub(crate) fn add_image(
        &self,
        config_bytes: &[u8],
        config: ImageConfig,
        layers: Vec<String>,
    ) -> Result<String, ImageError> {
        let id = self.blobs.put_bytes(config_bytes)?;
        let meta = serde_json::to_vec(&ImageMeta {
            layers: layers.clone(),
        })
        .map_err(|e| ImageError::Internal(e.to_string()))?;
        write_atomic(&self.image_meta_path(&id), &meta)?;
        self.write_state()
            .images
            .insert(id.clone(), ImageEntry { config, layers });
        tracing::info!(image = %id, "stored image");
        Ok(id)
    }

    /// Deletes an image's metadata and config, then every one of its layers
    /// (and their blobs) that no other image uses. Returns the removed chain
    /// ids, top first. Caller holds the write gate and has removed the tags.
    pub(crate) fn delete_image(&self, id: &str) -> Result<Vec<String>, ImageError> {
        let path = self.image_meta_path(id);
        fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
        let entry = self.write_state().images.remove(id);
        self.blobs.remove(id)?;
        tracing::info!(image = %id, "deleted image");
        let candidates: Vec<String> = entry
            .map(|e| e.layers.into_iter().rev().collect())
            .unwrap_or_default();
        self.collect_layers(&candidates)
    }

    /// Removes those of `candidates` that no image uses, and blobs that only
    /// they used. Caller holds the write gate.
    pub(crate) fn collect_layers(&self, candidates: &[String]) -> Result<Vec<String>, ImageError> {
        let mut state = self.write_state();
        let used: BTreeSet<&String> = state.images.values().flat_map(|e| &e.layers).collect();
        let doomed: Vec<String> = candidates
            .iter()
            .filter(|chain| !used.contains(chain) && state.layers.contains_key(*chain))
            .cloned()
            .collect();
        let mut removed = Vec::new();
        for chain in doomed {
            self.layers.remove(&chain)?;
            if let Some(meta) = state.layers.remove(&chain) {
                let blob_used = state.layers.values().any(|l| l.blob == meta.blob);
                if !blob_used && !state.images.contains_key(&meta.blob) {
                    self.blobs.remove(&meta.blob)?;
                }
            }
            tracing::info!(layer = %chain, "deleted layer");
            removed.push(chain);
        }
        Ok(removed)
    }

    fn image_meta_path(&self, id: &str) -> PathBuf {
        let hex = id.strip_prefix("sha256:").unwrap_or(id);
        self.images_dir.join(format!("{hex}.json"))
    }

    /// Loads images, layers and tags from disk, then removes layers and blobs
    /// that no image references (left by interrupted operations).
    fn load_state(&self) -> Result<(), ImageError> {
        let mut state = State {
            layers: self.layers.load_all()?,
            tags: TagIndex::load(&self.repositories)?,
            ..State::default()
        };
        let mut complete = true;
        for dirent in fs::read_dir(&self.images_dir)
            .ctx(|| format!("listing {}", self.images_dir.display()))?
        {
            let path = dirent
                .ctx(|| format!("listing {}", self.images_dir.display()))?
                .path();
            let Some(hex) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let id = format!("sha256:{hex}");
            match self.load_image(&id) {
                Ok(entry) => {
                    state.images.insert(id, entry);
                }
                Err(e) => {
                    complete = false;
                    tracing::warn!(image = %id, error = %e, "skipping unreadable image");
                }
            }
        }
        let before = state.tags.len();
        state.tags.retain(|id| state.images.contains_key(id));
        if state.tags.len() != before {
            tracing::warn!("dropping tags of missing images");
            state.tags.save(&self.repositories)?;
        }
        *self.write_state() = state;
        if complete {
            self.remove_unreferenced()?;
        }
        Ok(())
    }

    fn load_image(&self, id: &str) -> Result<ImageEntry, ImageError> {
        if sha256_hex(id).is_none() {
            return Err(ImageError::Internal(format!("bad image id {id}")));
        }
        let meta_bytes = fs::read(self.image_meta_path(id)).ctx(|| format!("reading {id}"))?;
        let meta: ImageMeta = serde_json::from_slice(&meta_bytes)
            .map_err(|e| ImageError::Internal(format!("corrupt metadata of {id}: {e}")))?;
        let config = serde_json::from_slice(&self.blobs.read(id)?)
            .map_err(|e| ImageError::Internal(format!("corrupt config of {id}: {e}")))?;
        Ok(ImageEntry {
            config,
            layers: meta.layers,
        })
    }

    fn remove_unreferenced(&self) -> Result<(), ImageError> {
        let mut candidates: BTreeSet<String> = self.read_state().layers.keys().cloned().collect();
        let on_disk = self.layers.dirs_on_disk()?;
        {
            let state = self.read_state();
            let used: BTreeSet<&String> = state.images.values().flat_map(|e| &e.layers).collect();
            for chain in on_disk {
                if !used.contains(&chain) && !state.layers.contains_key(&chain) {
                    tracing::info!(layer = %chain, "removing incomplete layer");
                    self.layers.remove(&chain)?;
                }
            }
            candidates.retain(|chain| !used.contains(chain));
        }
        self.collect_layers(&candidates.into_iter().collect::<Vec<_>>())?;
        let state = self.read_state();
        for blob in self.blobs.list()? {
            let used =
                state.images.contains_key(&blob) || state.layers.values().any(|l| l.blob == blob);
            if !used {
                tracing::info!(blob = %blob, "removing unreferenced blob");
                self.blobs.remove(&blob)?;
            }
        }
        Ok(())
    }
}

impl State {
    /// Resolves a reference the way Docker does: a full id, then a name, then
    /// a unique id prefix.
    pub(crate) fn resolve(&self, reference: &str) -> Result<Resolved, ImageError> {
        if let Some(id) = full_id(reference) {
            if self.images.contains_key(&id) {
                return Ok(Resolved { id, by_name: None });
            }
            return Err(ImageError::NotFound(reference.to_string()));
        }
        let named = ImageRef::parse(reference)
            .ok()
            .map(|r| r.with_default_tag().familiar());
        if let Some(key) = &named {
            if let Some(id) = self
                .tags
                .get(key)
                .filter(|id| self.images.contains_key(*id))
            {
                return Ok(Resolved {
                    id: id.to_string(),
                    by_name: Some(key.clone()),
                });
            }
        }
        if let Some(prefix) = id_prefix(reference) {
            let mut matches = self
                .images
                .keys()
                .filter(|id| id["sha256:".len()..].starts_with(prefix));
            if let (Some(id), None) = (matches.next(), matches.next()) {
                return Ok(Resolved {
                    id: id.clone(),
                    by_name: None,
                });
            }
        }
        Err(ImageError::NotFound(
            named.unwrap_or_else(|| reference.to_string()),
        ))
    }

    pub(crate) fn record(&self, id: &str, entry: &ImageEntry) -> ImageRecord {
        let (repo_digests, repo_tags) = self
            .tags
            .refs_of(id)
            .into_iter()
            .partition(|r| is_digest_ref(r));
        let size = entry
            .layers
            .iter()
            .filter_map(|chain| self.layers.get(chain))
            .map(|layer| layer.size)
            .sum();
        let created_unix = entry
            .config
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0);
        ImageRecord {
            id: id.to_string(),
            repo_tags,
            repo_digests,
            config: entry.config.clone(),
            size,
            created_unix,
        }
    }
}

/// `sha256:<64 hex>` or a bare 64-hex id, as a full id.
fn full_id(reference: &str) -> Option<String> {
    if sha256_hex(reference).is_some() {
        return Some(reference.to_string());
    }
    (reference.len() == 64 && is_lower_hex(reference)).then(|| format!("sha256:{reference}"))
}

/// The hex of an id prefix (`abc`, `sha256:abc`), if `reference` is one.
fn id_prefix(reference: &str) -> Option<&str> {
    let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
    (!hex.is_empty() && hex.len() <= 64 && is_lower_hex(hex)).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ImageErrorKind;
    use crate::testutil::{entries, new_store, rootfs};

    fn import(store: &ImageStore, marker: &str, tag: Option<&str>) -> String {
        store
            .import(&mut &rootfs(marker)[..], tag, &[], "")
            .unwrap()
    }

    #[test]
    fn get_resolves_name_full_id_bare_id_and_id_prefixes() {
        let (_dir, store) = new_store();
        let id = import(&store, "a", Some("busybox"));
        let hex = &id[7..];
        for reference in [
            "busybox",
            "busybox:latest",
            "library/busybox",
            "docker.io/library/busybox:latest",
            "index.docker.io/library/busybox",
            id.as_str(),
            hex,
            &hex[..12],
            &hex[..1],
            &format!("sha256:{}", &hex[..5]),
        ] {
            assert_eq!(store.get(reference).unwrap().id, id, "{reference}");
        }
        assert_eq!(store.get("busybox").unwrap().repo_tags, ["busybox:latest"]);
    }

    #[test]
    fn unknown_references_are_not_found_with_docker_wording() {
        let (_dir, store) = new_store();
        let err = store.get("nope").unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::NotFound);
        assert_eq!(err.to_string(), "No such image: nope:latest");
        assert_eq!(
            store
                .get("docker.io/library/busybox")
                .unwrap_err()
                .to_string(),
            "No such image: busybox:latest"
        );
        let id = format!("sha256:{}", "0".repeat(64));
        assert_eq!(
            store.get(&id).unwrap_err().to_string(),
            format!("No such image: {id}")
        );
        assert_eq!(
            store.layer_dirs("nope:1").unwrap_err().to_string(),
            "No such image: nope:1"
        );
    }

    #[test]
    fn ambiguous_id_prefix_is_not_found() {
        let (_dir, store) = new_store();
        let ids: Vec<String> = (0..17)
            .map(|i| import(&store, &i.to_string(), None))
            .collect();
        let first = ids
            .iter()
            .map(|id| &id[7..8])
            .find(|c| ids.iter().filter(|id| &id[7..8] == *c).count() > 1)
            .expect("17 ids share a first hex digit");
        assert_eq!(
            store.get(first).unwrap_err().kind(),
            ImageErrorKind::NotFound
        );
        assert_eq!(store.list().unwrap().len(), 17);
    }

    #[test]
    fn tag_adds_names_and_validates_the_target() {
        let (_dir, store) = new_store();
        let id = import(&store, "a", None);
        store.tag(&id[7..19], "localhost:5000/team/app").unwrap();
        store.tag("localhost:5000/team/app", "app:v2").unwrap();
        assert_eq!(
            store.get(&id).unwrap().repo_tags,
            ["app:v2", "localhost:5000/team/app:latest"]
        );
        assert_eq!(store.get("app:v2").unwrap().id, id);

        let err = store.tag(&id, "Bad").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid reference format: repository name (library/Bad) must be lowercase"
        );
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument);
        for bad in ["a:b:c", "app:-x", "app@sha256:zz", "UPPER/x:1:2"] {
            assert_eq!(
                store.tag(&id, bad).unwrap_err().kind(),
                ImageErrorKind::InvalidArgument,
                "{bad}"
            );
        }
        assert_eq!(
            store.tag("nope", "x").unwrap_err().to_string(),
            "No such image: nope:latest"
        );
    }

    #[test]
    fn retagging_moves_the_name_to_the_new_image() {
        let (_dir, store) = new_store();
        let old = import(&store, "old", Some("app"));
        let new = import(&store, "new", Some("app"));
        assert_eq!(store.get("app").unwrap().id, new);
        assert!(store.get(&old).unwrap().repo_tags.is_empty());
    }

    #[test]
    fn reopened_store_has_the_same_images_tags_and_layers() {
        let (dir, store) = new_store();
        let id = import(&store, "a", Some("keep:1"));
        let layers = store.layer_dirs(&id).unwrap();
        let record = store.get(&id).unwrap();
        drop(store);
        let store = ImageStore::open(dir.path().join("image")).unwrap();
        assert_eq!(store.get("keep:1").unwrap(), record);
        assert_eq!(store.layer_dirs(&id).unwrap(), layers);
    }

    #[test]
    fn open_removes_interrupted_layers_unreferenced_layers_and_blobs() {
        let (dir, store) = new_store();
        let id = import(&store, "a", None);
        drop(store);
        let root = dir.path().join("image");
        fs::create_dir_all(root.join("layers/.tmp-interrupted/etc")).unwrap();
        let orphan = "ab".repeat(32);
        fs::create_dir(root.join("layers").join(&orphan)).unwrap();
        fs::write(root.join("blobs/sha256").join("cd".repeat(32)), b"stray").unwrap();
        fs::create_dir_all(root.join("tmp/archive-old")).unwrap();

        let store = ImageStore::open(&root).unwrap();
        assert_eq!(store.get(&id).unwrap().id, id);
        let layers = entries(&root.join("layers"));
        assert_eq!(layers.len(), 2, "{layers:?}");
        assert!(!layers.contains(&orphan));
        assert_eq!(entries(&root.join("blobs/sha256")).len(), 2);
        assert!(entries(&root.join("tmp")).is_empty());
    }

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ImageStore>();
    }
}
