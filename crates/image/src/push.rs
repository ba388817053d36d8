//! The store's side of `docker push`: an image's config and the layer blobs
//! it was unpacked from (as received: gzip, zstd or plain tar), which is
//! what a registry manifest names.

use std::io::Read;
use std::path::PathBuf;

use crate::error::{ImageError, IoContext};
use crate::store::ImageStore;

/// A stored layer blob, ready to upload.
#[derive(Debug, Clone)]
pub struct BlobToPush {
    pub path: PathBuf,
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
    /// `gzip`, `zstd` or `tar`, from the blob's first bytes.
    pub compression: &'static str,
}

/// What a push of one image uploads.
#[derive(Debug, Clone)]
pub struct PushParts {
    pub id: String,
    pub config: Vec<u8>,
    /// Base layer first.
    pub layers: Vec<BlobToPush>,
}

impl ImageStore {
    /// The config bytes and layer blobs of the image `reference` names.
    pub fn push_parts(&self, reference: &str) -> Result<PushParts, ImageError> {
        let (id, blobs): (String, Vec<String>) = {
            let state = self.read_state();
            let id = state.resolve(reference)?.id;
            let entry = state
                .images
                .get(&id)
                .ok_or_else(|| ImageError::NotFound(format!("No such image: {reference}")))?;
            let blobs = entry
                .layers
                .iter()
                .map(|chain| {
                    state
                        .layers
                        .get(chain)
                        .map(|meta| meta.blob.clone())
                        .ok_or_else(|| ImageError::Internal(format!("layer {chain} is missing")))
                })
                .collect::<Result<_, _>>()?;
            (id, blobs)
        };
        let config = self.blobs.read(&id)?;
        let layers = blobs
            .into_iter()
            .map(|digest| {
                let path = self.blobs.path(&digest)?;
                let size = std::fs::metadata(&path)
                    .ctx(|| format!("reading blob {digest}"))?
                    .len();
                Ok(BlobToPush {
                    compression: sniff(&path)?,
                    path,
                    digest,
                    size,
                })
            })
            .collect::<Result<_, ImageError>>()?;
        Ok(PushParts { id, config, layers })
    }
}

/// The compression of a blob from its magic number.
fn sniff(path: &std::path::Path) -> Result<&'static str, ImageError> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let n = file
        .read(&mut magic)
        .ctx(|| format!("reading {}", path.display()))?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => "gzip",
        [0x28, 0xb5, 0x2f, 0xfd] => "zstd",
        _ => "tar",
    })
}

#[cfg(test)]
mod tests {
    use crate::digest::sha256_digest;
    use crate::testutil::{gzip, new_store, TarBuilder};
    use crate::PulledLayer;
    use std::io::Write;

    #[test]
    fn push_parts_are_the_config_and_the_blobs_as_received() {
        let (_dir, store) = new_store();
        let tar = TarBuilder::new().file("etc/x", b"1").finish();
        let blob = gzip(&tar);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&tar)]},
        }))
        .unwrap();
        let mut file = store.download_file().unwrap();
        file.write_all(&blob).unwrap();
        let layer = PulledLayer {
            file,
            digest: sha256_digest(&blob),
        };
        store
            .add_pulled(
                &config,
                vec![Some(store.extract_pulled(layer).unwrap())],
                Some("app:1"),
                None,
            )
            .unwrap();
        let parts = store.push_parts("app:1").unwrap();
        assert_eq!(parts.config, config);
        assert_eq!(parts.layers.len(), 1);
        assert_eq!(parts.layers[0].digest, sha256_digest(&blob));
        assert_eq!(parts.layers[0].size, blob.len() as u64);
        assert_eq!(parts.layers[0].compression, "gzip");
        assert!(store.push_parts("nope:1").is_err());
    }
}
