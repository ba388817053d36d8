//! The store's side of `docker pull`: which layers of an image it already
//! has (so that they are not downloaded), scratch files for blobs being
//! downloaded, unpacking each downloaded blob on its own (so several can be
//! unpacked at once, while others still download), and adding the pulled
//! image from its config and those layers, with its tag and its repository
//! digest.
//!
//! The registry side (manifests, blob downloads, digests on the wire) is the
//! daemon's business; this module trusts nothing it is given: every layer
//! blob is hashed again while it is unpacked, and its diff id must match the
//! config's.

use std::fs::File;
use std::path::PathBuf;

use tempfile::NamedTempFile;

use crate::config::ImageConfig;
use crate::digest::{chain_id, sha256_digest, HashingReader};
use crate::error::{ImageError, IoContext};
use crate::layers::PendingLayer;
use crate::reference::tag_target;
use crate::store::ImageStore;

/// A downloaded layer blob (compressed or not, as the registry served it).
#[derive(Debug)]
pub struct PulledLayer {
    pub file: NamedTempFile,
    /// `sha256:<hex>` the registry named it by (its manifest descriptor).
    pub digest: String,
}

/// A pulled layer unpacked into a scratch directory of the store, its blob
/// verified; both vanish when it is dropped unless the image is added.
pub struct ExtractedLayer {
    file: NamedTempFile,
    blob: String,
    pending: PendingLayer,
}

impl ImageStore {
    /// For each layer of the image `config_bytes` describes, whether the
    /// store already has it unpacked (by chain id): those need no download.
    pub fn present_layers(&self, config_bytes: &[u8]) -> Result<Vec<bool>, ImageError> {
        let config = parse_config(config_bytes)?;
        let state = self.read_state();
        let mut parent: Option<String> = None;
        let mut present = Vec::new();
        for diff_id in &config.rootfs.diff_ids {
            let chain = chain_id(parent.as_deref(), diff_id);
            present.push(state.layers.contains_key(&chain));
            parent = Some(chain);
        }
        Ok(present)
    }

    /// A scratch file in the store's temp dir for a blob being downloaded;
    /// it disappears when dropped unless added with [`ImageStore::add_pulled`].
    pub fn download_file(&self) -> Result<NamedTempFile, ImageError> {
        self.blobs.temp_file()
    }

    /// Unpacks a downloaded blob into a scratch directory, hashing it again
    /// on the way: it must match the digest it was downloaded by. Needs no
    /// lock, so the layers of one pull can be unpacked at the same time.
    pub fn extract_pulled(&self, layer: PulledLayer) -> Result<ExtractedLayer, ImageError> {
        let path: PathBuf = layer.file.path().to_path_buf();
        let file = File::open(&path).ctx(|| format!("opening {}", path.display()))?;
        let mut hashing = HashingReader::new(file);
        let pending = self.layers.unpack(&mut hashing)?;
        hashing
            .drain()
            .ctx(|| format!("reading layer {}", layer.digest))?;
        let blob = hashing.digest();
        if blob != layer.digest {
            return Err(ImageError::invalid(format!(
                "layer blob has digest {blob}, expected {}",
                layer.digest
            )));
        }
        Ok(ExtractedLayer {
            file: layer.file,
            blob,
            pending,
        })
    }

    /// Adds a pulled image: `layers[i]` is layer `i` as
    /// [`ImageStore::extract_pulled`] made it, or `None` when
    /// [`ImageStore::present_layers`] said the store has it. Each diff id is
    /// checked against the config. Then `tag` (e.g. `host:5000/x:1`) points
    /// at the image, and `digest_ref` (`host:5000/x@sha256:...`, the
    /// manifest's digest) is recorded for RepoDigests. On failure nothing
    /// of the image is kept. Returns the image id.
    pub fn add_pulled(
        &self,
        config_bytes: &[u8],
        layers: Vec<Option<ExtractedLayer>>,
        tag: Option<&str>,
        digest_ref: Option<&str>,
    ) -> Result<String, ImageError> {
        let config = parse_config(config_bytes)?;
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != layers.len() {
            return Err(ImageError::invalid(format!(
                "the manifest lists {} layers but the image config {}",
                layers.len(),
                diff_ids.len()
            )));
        }
        let tag = tag.map(tag_target).transpose()?;
        let _gate = self.lock_writes();
        let id = sha256_digest(config_bytes);
        if !self.read_state().images.contains_key(&id) {
            self.add_pulled_layers(config_bytes, config, layers)?;
        }
        self.update_tags(|index| {
            if let Some(tag) = &tag {
                index.set(tag, &id);
            }
            if let Some(digest_ref) = digest_ref {
                index.set(digest_ref, &id);
            }
        })?;
        Ok(id)
    }

    fn add_pulled_layers(
        &self,
        config_bytes: &[u8],
        config: ImageConfig,
        layers: Vec<Option<ExtractedLayer>>,
    ) -> Result<(), ImageError> {
        self.add_layers_and_image(
            config_bytes,
            config,
            layers.into_iter(),
            |layer, index, diff_id, chain| {
                let layer = layer.ok_or_else(|| {
                    ImageError::invalid(format!(
                        "layer {index} ({diff_id}) was neither downloaded nor present"
                    ))
                })?;
                self.add_pulled_layer(layer, index, diff_id, chain)
            },
        )
    }

    fn add_pulled_layer(
        &self,
        layer: ExtractedLayer,
        index: usize,
        diff_id: &str,
        chain: &str,
    ) -> Result<(), ImageError> {
        let ExtractedLayer {
            file,
            blob,
            pending,
        } = layer;
        let actual = &pending.unpacked.diff_id;
        if actual != diff_id {
            return Err(ImageError::invalid(format!(
                "invalid diffID for layer {index}: expected {diff_id:?}, got {actual:?}"
            )));
        }
        self.blobs.adopt(file, &blob)?;
        self.add_layer(pending, chain, &blob)?;
        Ok(())
    }
}

fn parse_config(bytes: &[u8]) -> Result<ImageConfig, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImageError::invalid(format!("invalid image config: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{gzip, new_store, TarBuilder};
    use std::io::Write;

    fn layer_tar(files: &[(&str, &str)]) -> Vec<u8> {
        files
            .iter()
            .fold(TarBuilder::new(), |tar, (path, data)| {
                tar.file(path, data.as_bytes())
            })
            .finish()
    }

    fn download(store: &ImageStore, blob: &[u8]) -> PulledLayer {
        let mut file = store.download_file().unwrap();
        file.write_all(blob).unwrap();
        PulledLayer {
            file,
            digest: sha256_digest(blob),
        }
    }

    fn extracted(store: &ImageStore, blob: &[u8]) -> ExtractedLayer {
        store.extract_pulled(download(store, blob)).unwrap()
    }

    fn config_for(layers: &[&[u8]]) -> Vec<u8> {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha256_digest(l)).collect();
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap()
    }

    #[test]
    fn a_pulled_image_is_stored_tagged_and_its_layers_are_then_present() {
        let (_dir, store) = new_store();
        let base = layer_tar(&[("etc/base", "1")]);
        let top = layer_tar(&[("app/run", "2")]);
        let config = config_for(&[&base, &top]);
        assert_eq!(store.present_layers(&config).unwrap(), [false, false]);
        let layers = vec![
            Some(extracted(&store, &gzip(&base))),
            Some(extracted(&store, &top)),
        ];
        let digest_ref = format!("localhost:5000/app@sha256:{}", "a".repeat(64));
        let id = store
            .add_pulled(
                &config,
                layers,
                Some("localhost:5000/app:1"),
                Some(&digest_ref),
            )
            .unwrap();
        let record = store.get("localhost:5000/app:1").unwrap();
        assert_eq!(record.id, id);
        assert_eq!(record.repo_digests, [digest_ref]);
        assert_eq!(store.present_layers(&config).unwrap(), [true, true]);
        assert_eq!(store.layer_dirs(&id).unwrap().len(), 2);
    }

    #[test]
    fn present_layers_are_not_needed_again() {
        let (_dir, store) = new_store();
        let base = layer_tar(&[("etc/base", "1")]);
        let first = config_for(&[&base]);
        store
            .add_pulled(
                &first,
                vec![Some(extracted(&store, &base))],
                Some("one"),
                None,
            )
            .unwrap();
        let top = layer_tar(&[("app/run", "2")]);
        let second = config_for(&[&base, &top]);
        assert_eq!(store.present_layers(&second).unwrap(), [true, false]);
        store
            .add_pulled(
                &second,
                vec![None, Some(extracted(&store, &top))],
                Some("two"),
                None,
            )
            .unwrap();
        assert!(store.get("two").is_ok());
    }

    #[test]
    fn a_blob_that_is_not_what_it_claims_leaves_nothing() {
        let (_dir, store) = new_store();
        let base = layer_tar(&[("etc/base", "1")]);
        let config = config_for(&[&base]);
        let mut lying = download(&store, &base);
        lying.digest = format!("sha256:{}", "0".repeat(64));
        let e = store.extract_pulled(lying).err().unwrap();
        assert!(e.to_string().contains("expected sha256:000"), "{e}");
        assert_eq!(store.present_layers(&config).unwrap(), [false]);

        let other = layer_tar(&[("etc/other", "2")]);
        let e = store
            .add_pulled(
                &config,
                vec![Some(extracted(&store, &other))],
                Some("bad"),
                None,
            )
            .unwrap_err();
        assert!(e.to_string().contains("invalid diffID"), "{e}");
        assert_eq!(store.present_layers(&config).unwrap(), [false]);
    }
}
