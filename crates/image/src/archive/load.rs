//! `docker load`: reads a docker-archive (`manifest.json`) or an OCI image
//! layout (`index.json`, possibly through nested indexes) from a tar
//! stream, verifies every digest the format names and every layer's diff id,
//! and adds the images and their tags to the store. When an archive is both
//! (Docker 25+), `manifest.json` wins.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::config::{host_architecture, ImageConfig};
use crate::digest::{sha256_digest, sha256_hex, short_id, HashingReader};
use crate::error::{ImageError, IoContext};
use crate::reference::tag_target;
use crate::store::ImageStore;

use super::oci::{
    blob_path, Descriptor, DockerManifestEntry, Index, Manifest, MediaTypeProbe,
    ANNOTATION_IMAGE_NAME, ANNOTATION_REFERENCE_TYPE, ANNOTATION_REF_NAME, MEDIA_DOCKER_LIST,
    MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST,
};
use super::spool::Spool;

/// Largest JSON document (manifest, index, config) read into memory.
const JSON_LIMIT: u64 = 32 << 20;
/// How deep OCI indexes may nest.
const MAX_INDEX_DEPTH: usize = 8;

/// One loaded image, as `docker load` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadedImage {
    /// `Loaded image: busybox:latest`
    Tagged(String),
    /// `Loaded image ID: sha256:...`
    Untagged(String),
}

/// An image found in the archive, before it is verified.
struct ArchiveImage {
    config: String,
    config_digest: Option<String>,
    layers: Vec<ArchiveLayer>,
    tags: Vec<String>,
}

struct ArchiveLayer {
    path: String,
    digest: Option<String>,
}

impl ImageStore {
    /// Loads every image of a docker-archive or OCI layout tar stream.
    /// The stream is spooled to a temp dir under the store, removed afterwards.
    pub fn load(&self, tar: &mut dyn Read) -> Result<Vec<LoadedImage>, ImageError> {
        let spool = Spool::extract(tar, &self.tmp_dir)?;
        let images = if spool.exists("manifest.json") {
            docker_archive_images(&spool)?
        } else if spool.exists("index.json") {
            oci_layout_images(&spool)?
        } else {
            return Err(ImageError::invalid(
                "invalid archive: no manifest.json or index.json found",
            ));
        };
        let _gate = self.lock_writes();
        let mut loaded = Vec::new();
        for image in images {
            loaded.extend(self.load_archive_image(&spool, image)?);
        }
        Ok(loaded)
    }

    fn load_archive_image(
        &self,
        spool: &Spool,
        image: ArchiveImage,
    ) -> Result<Vec<LoadedImage>, ImageError> {
        let config_bytes = spool.read(&image.config, JSON_LIMIT)?;
        let id = sha256_digest(&config_bytes);
        if let Some(named) = &image.config_digest {
            if *named != id {
                return Err(ImageError::invalid(format!(
                    "invalid archive: {} has digest {id}, expected {named}",
                    image.config
                )));
            }
        }
        let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
            ImageError::invalid(format!("invalid image config {}: {e}", image.config))
        })?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != image.layers.len() {
            return Err(ImageError::invalid(format!(
                "invalid archive: image {} has {} layers but its config lists {} diff ids",
                short_id(&id),
                image.layers.len(),
                diff_ids.len()
            )));
        }
        if !self.read_state().images.contains_key(&id) {
            self.load_layers(spool, &image.layers, &config_bytes, config)?;
        }
        let tags = image.tags;
        self.update_tags(|index| {
            for tag in &tags {
                index.set(tag, &id);
            }
        })?;
        if tags.is_empty() {
            return Ok(vec![LoadedImage::Untagged(id)]);
        }
        Ok(tags.into_iter().map(LoadedImage::Tagged).collect())
    }

    /// Unpacks the layers the store lacks and records the image; on failure
    /// removes the layers it added.
    fn load_layers(
        &self,
        spool: &Spool,
        layers: &[ArchiveLayer],
        config_bytes: &[u8],
        config: ImageConfig,
    ) -> Result<(), ImageError> {
        self.add_layers_and_image(
            config_bytes,
            config,
            layers.iter(),
            |layer, index, diff_id, chain| self.load_layer(spool, layer, index, diff_id, chain),
        )
    }

    fn load_layer(
        &self,
        spool: &Spool,
        layer: &ArchiveLayer,
        index: usize,
        diff_id: &str,
        chain: &str,
    ) -> Result<(), ImageError> {
        let path = spool.resolve(&layer.path)?;
        let file = File::open(&path).ctx(|| format!("opening {}", layer.path))?;
        let mut hashing = HashingReader::new(file);
        let pending = self.layers.unpack(&mut hashing)?;
        hashing.drain().ctx(|| format!("reading {}", layer.path))?;
        let blob = hashing.digest();
        if let Some(named) = &layer.digest {
            if *named != blob {
                return Err(ImageError::invalid(format!(
                    "invalid archive: layer {} has digest {blob}, expected {named}",
                    layer.path
                )));
            }
        }
        let actual = &pending.unpacked.diff_id;
        if actual != diff_id {
            return Err(ImageError::invalid(format!(
                "invalid diffID for layer {index}: expected {diff_id:?}, got {actual:?}"
            )));
        }
        self.blobs.put_file(&path, &blob)?;
        self.add_layer(pending, chain, &blob)?;
        Ok(())
    }
}

/// The images listed in docker-archive's `manifest.json`.
fn docker_archive_images(spool: &Spool) -> Result<Vec<ArchiveImage>, ImageError> {
    let entries: Vec<DockerManifestEntry> = spool.read_json("manifest.json", JSON_LIMIT)?;
    entries
        .into_iter()
        .map(|entry| {
            let tags = entry
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| tag_target(t))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ArchiveImage {
                config_digest: digest_in_path(&entry.config),
                config: entry.config,
                layers: entry
                    .layers
                    .into_iter()
                    .map(|path| ArchiveLayer {
                        digest: digest_in_path(&path),
                        path,
                    })
                    .collect(),
                tags,
            })
        })
        .collect()
}

/// The digest an archive path names: `blobs/sha256/<hex>` or `<hex>.json`
/// (the config of older `docker save` output).
fn digest_in_path(path: &str) -> Option<String> {
    let path = Path::new(path);
    let name = path.file_name()?.to_str()?;
    let in_blobs = path.parent().and_then(|p| p.file_name()) == Some("sha256".as_ref());
    let hex = if in_blobs {
        name
    } else {
        name.strip_suffix(".json")?
    };
    let digest = format!("sha256:{hex}");
    sha256_hex(&digest).is_some().then_some(digest)
}

/// The images of an OCI layout: each descriptor of `index.json`, followed
/// through nested indexes to one manifest for this host's platform.
fn oci_layout_images(spool: &Spool) -> Result<Vec<ArchiveImage>, ImageError> {
    let index: Index = spool.read_json("index.json", JSON_LIMIT)?;
    let mut images: Vec<(String, ArchiveImage)> = Vec::new();
    for descriptor in &index.manifests {
        let Some((manifest_digest, manifest)) = find_manifest(spool, descriptor, 0)? else {
            tracing::debug!(digest = %descriptor.digest, "no runnable manifest for this platform");
            continue;
        };
        let name = image_name(descriptor);
        if let Some((_, image)) = images.iter_mut().find(|(d, _)| *d == manifest_digest) {
            image.tags.extend(name);
            continue;
        }
        let image = ArchiveImage {
            config: blob_path(&manifest.config.digest),
            config_digest: Some(checked_digest(&manifest.config.digest)?),
            layers: manifest
                .layers
                .iter()
                .map(|layer| {
                    Ok(ArchiveLayer {
                        path: blob_path(&layer.digest),
                        digest: Some(checked_digest(&layer.digest)?),
                    })
                })
                .collect::<Result<_, ImageError>>()?,
            tags: name.into_iter().collect(),
        };
        images.push((manifest_digest, image));
    }
    Ok(images.into_iter().map(|(_, image)| image).collect())
}

/// Follows `descriptor` to an image manifest, choosing this host's platform
/// in an index. `None` if there is nothing runnable.
fn find_manifest(
    spool: &Spool,
    descriptor: &Descriptor,
    depth: usize,
) -> Result<Option<(String, Manifest)>, ImageError> {
    if depth > MAX_INDEX_DEPTH {
        return Err(ImageError::invalid(
            "invalid archive: indexes nest too deeply",
        ));
    }
    let bytes = read_blob(spool, &descriptor.digest)?;
    let probe: MediaTypeProbe = serde_json::from_slice(&bytes)
        .map_err(|e| ImageError::invalid(format!("invalid archive: {}: {e}", descriptor.digest)))?;
    let media_type = if descriptor.media_type.is_empty() {
        probe.media_type.as_str()
    } else {
        descriptor.media_type.as_str()
    };
    let is_index = matches!(media_type, MEDIA_OCI_INDEX | MEDIA_DOCKER_LIST)
        || (media_type.is_empty() && probe.manifests.is_some());
    if is_index {
        let index: Index = parse_blob(&bytes, &descriptor.digest)?;
        let Some(child) = choose_platform(spool, &index.manifests) else {
            return Ok(None);
        };
        return find_manifest(spool, child, depth + 1);
    }
    if !media_type.is_empty() && !matches!(media_type, MEDIA_OCI_MANIFEST | MEDIA_DOCKER_MANIFEST) {
        return Ok(None);
    }
    Ok(Some((
        descriptor.digest.clone(),
        parse_blob(&bytes, &descriptor.digest)?,
    )))
}

/// The child of an index to load: present in the archive, not an
/// attestation, this host's platform if there is one, else the first.
fn choose_platform<'a>(spool: &Spool, children: &'a [Descriptor]) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = children
        .iter()
        .filter(|d| !d.annotations.contains_key(ANNOTATION_REFERENCE_TYPE))
        .filter(|d| spool.exists(&blob_path(&d.digest)))
        .collect();
    candidates
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == host_architecture())
        })
        .or_else(|| candidates.first())
        .copied()
}

/// The image name an index entry carries: `io.containerd.image.name`, or a
/// `org.opencontainers.image.ref.name` that is a whole name (not just a tag).
fn image_name(descriptor: &Descriptor) -> Option<String> {
    let annotations = &descriptor.annotations;
    let name = annotations.get(ANNOTATION_IMAGE_NAME).or_else(|| {
        annotations
            .get(ANNOTATION_REF_NAME)
            .filter(|r| r.contains([':', '/']))
    })?;
    match tag_target(name) {
        Ok(tag) => Some(tag),
        Err(e) => {
            tracing::warn!(name = %name, error = %e, "ignoring unusable image name in archive");
            None
        }
    }
}

fn checked_digest(digest: &str) -> Result<String, ImageError> {
    sha256_hex(digest)
        .map(|_| digest.to_string())
        .ok_or_else(|| {
            ImageError::invalid(format!("invalid archive: unsupported digest {digest:?}"))
        })
}

/// Reads a JSON blob and checks it hashes to `digest`.
fn read_blob(spool: &Spool, digest: &str) -> Result<Vec<u8>, ImageError> {
    let digest = checked_digest(digest)?;
    let bytes = spool.read(&blob_path(&digest), JSON_LIMIT)?;
    let actual = sha256_digest(&bytes);
    if actual != digest {
        return Err(ImageError::invalid(format!(
            "invalid archive: blob {digest} has digest {actual}"
        )));
    }
    Ok(bytes)
}

fn parse_blob<T: serde::de::DeserializeOwned>(bytes: &[u8], digest: &str) -> Result<T, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImageError::invalid(format!("invalid archive: {digest}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ImageErrorKind;
    use crate::testutil::{
        docker_archive, entries, gzip, new_store, oci_archive, zstd, TarBuilder, TestImage,
    };
    use serde_json::json;
    use std::fs;

    fn layer(marker: &str) -> Vec<u8> {
        TarBuilder::new()
            .dir("etc")
            .file("etc/marker", marker.as_bytes())
            .finish()
    }

    fn tagged(name: &str) -> LoadedImage {
        LoadedImage::Tagged(name.to_string())
    }

    #[test]
    fn docker_archive_loads_tagged_and_untagged_images() {
        let (dir, store) = new_store();
        let (l1, l2) = (layer("1"), layer("2"));
        let tagged_image = TestImage::new(&[&l1, &l2], &["busybox:latest", "busybox:1.36"]);
        let untagged_image = TestImage::new(&[&l1], &[]);
        let (id, bare_id) = (tagged_image.id(), untagged_image.id());
        let archive = docker_archive(&[tagged_image, untagged_image]);
        let loaded = store.load(&mut &archive[..]).unwrap();
        assert_eq!(
            loaded,
            [
                tagged("busybox:latest"),
                tagged("busybox:1.36"),
                LoadedImage::Untagged(bare_id.clone())
            ]
        );
        let image = store.get("busybox").unwrap();
        assert_eq!(image.id, id);
        assert_eq!(image.repo_tags, ["busybox:1.36", "busybox:latest"]);
        assert_eq!(image.created_unix, 1_704_164_645);
        assert!(image
            .config
            .extra
            .contains_key("moby.buildkit.buildinfo.v1"));
        let layers = store.layer_dirs(&id).unwrap();
        assert_eq!(fs::read(layers[1].join("etc/marker")).unwrap(), b"2");
        assert_eq!(store.layer_dirs(&bare_id).unwrap(), layers[..1]);
        let stored = fs::read(dir.path().join("image/blobs/sha256").join(&id[7..])).unwrap();
        assert_eq!(sha256_digest(&stored), id);
        assert!(entries(&dir.path().join("image/tmp")).is_empty());
    }

    #[test]
    fn oci_layout_without_manifest_json_loads_compressed_layers_and_names() {
        let (_dir, store) = new_store();
        let (l1, l2) = (layer("gz"), layer("zst"));
        let named = TestImage {
            config: crate::testutil::image_config(&[&l1, &l2], "sh"),
            blobs: vec![gzip(&l1), zstd(&l2)],
            tags: vec![],
        };
        let tag_only = TestImage::new(&[&l1], &[]);
        let full_ref = TestImage::new(&[&l2], &[]);
        let ids = [named.id(), tag_only.id(), full_ref.id()];
        let archive = oci_archive(
            &[
                (
                    named,
                    json!({"io.containerd.image.name": "docker.io/library/app:1",
                           "org.opencontainers.image.ref.name": "1"}),
                ),
                (
                    tag_only,
                    json!({"org.opencontainers.image.ref.name": "latest"}),
                ),
                (
                    full_ref,
                    json!({"org.opencontainers.image.ref.name": "localhost:5000/x:2"}),
                ),
            ],
            false,
            false,
        );
        let loaded = store.load(&mut &archive[..]).unwrap();
        assert_eq!(
            loaded,
            [
                tagged("app:1"),
                LoadedImage::Untagged(ids[1].clone()),
                tagged("localhost:5000/x:2")
            ]
        );
        let layers = store.layer_dirs("app:1").unwrap();
        assert_eq!(fs::read(layers[0].join("etc/marker")).unwrap(), b"gz");
        assert_eq!(fs::read(layers[1].join("etc/marker")).unwrap(), b"zst");
        assert_eq!(store.get("localhost:5000/x:2").unwrap().id, ids[2]);
    }

    #[test]
    fn oci_layout_nested_index_picks_the_manifest_present_for_this_platform() {
        let (_dir, store) = new_store();
        let l1 = layer("nested");
        let image = TestImage::new(&[&l1], &[]);
        let id = image.id();
        let archive = oci_archive(
            &[(image, json!({"io.containerd.image.name": "multi:arch"}))],
            true,
            false,
        );
        assert_eq!(
            store.load(&mut &archive[..]).unwrap(),
            [tagged("multi:arch")]
        );
        assert_eq!(store.get("multi:arch").unwrap().id, id);
    }

    #[test]
    fn archive_with_both_formats_prefers_manifest_json() {
        let (_dir, store) = new_store();
        let l1 = layer("both");
        let image = TestImage::new(&[&l1], &["from-manifest:1"]);
        let archive = oci_archive(
            &[(image, json!({"io.containerd.image.name": "from-index:1"}))],
            false,
            true,
        );
        assert_eq!(
            store.load(&mut &archive[..]).unwrap(),
            [tagged("from-manifest:1")]
        );
        assert!(store.get("from-index:1").is_err());
    }

    #[test]
    fn corrupted_diff_id_is_rejected_and_nothing_is_stored() {
        let (dir, store) = new_store();
        let good = layer("good");
        let mut image = TestImage::new(&[&good, &good], &["corrupt:1"]);
        image.blobs[1] = layer("tampered");
        let err = store.load(&mut &docker_archive(&[image])[..]).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument);
        assert!(
            err.to_string().starts_with("invalid diffID for layer 1"),
            "{err}"
        );
        let root = dir.path().join("image");
        for sub in ["layers", "blobs/sha256", "images", "tmp"] {
            assert!(entries(&root.join(sub)).is_empty(), "{sub}");
        }
        assert!(store.get("corrupt:1").is_err());
    }

    #[test]
    fn blob_digest_mismatch_is_rejected() {
        let (_dir, store) = new_store();
        let l1 = layer("x");
        let image = TestImage::new(&[&l1], &[]);
        let mut archive = oci_archive(&[(image, json!({}))], false, false);
        let pos = archive
            .windows(b"etc/marker".len())
            .rposition(|w| w == b"etc/marker")
            .unwrap();
        archive[pos + 512] ^= 0xff;
        let err = store.load(&mut &archive[..]).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument, "{err}");
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn loaded_tags_replace_existing_tags_of_that_name() {
        let (_dir, store) = new_store();
        let old = store
            .import(&mut &layer("old")[..], Some("app:1"), &[], "")
            .unwrap();
        let l1 = layer("new");
        let image = TestImage::new(&[&l1], &["app:1"]);
        let new = image.id();
        store.load(&mut &docker_archive(&[image])[..]).unwrap();
        assert_eq!(store.get("app:1").unwrap().id, new);
        assert!(store.get(&old).unwrap().repo_tags.is_empty());
    }

    #[test]
    fn old_docker_save_with_symlinked_layers_loads() {
        let (_dir, store) = new_store();
        let l1 = layer("shared");
        let image = TestImage::new(&[&l1], &["old:1"]);
        let config_name = format!("{}.json", &image.id()[7..]);
        let manifest = json!([{"Config": config_name, "RepoTags": ["old:1"],
                               "Layers": ["b/layer.tar"]}]);
        let archive = TarBuilder::new()
            .file("a/layer.tar", &l1)
            .symlink("b/layer.tar", "../a/layer.tar")
            .file(&config_name, &image.config)
            .file("manifest.json", &serde_json::to_vec(&manifest).unwrap())
            .finish();
        assert_eq!(store.load(&mut &archive[..]).unwrap(), [tagged("old:1")]);
    }

    #[test]
    fn archive_without_manifest_or_index_is_invalid() {
        let (dir, store) = new_store();
        let archive = TarBuilder::new().file("repositories", b"{}").finish();
        let err = store.load(&mut &archive[..]).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument);
        assert!(entries(&dir.path().join("image/tmp")).is_empty());
    }

    #[test]
    fn layer_count_must_match_diff_ids() {
        let (_dir, store) = new_store();
        let l1 = layer("1");
        let mut image = TestImage::new(&[&l1], &["x:1"]);
        image.blobs.push(l1.clone());
        let err = store.load(&mut &docker_archive(&[image])[..]).unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::InvalidArgument);
    }
}
