//! `docker save`: writes images as one tarball that is both a docker-archive
//! (`manifest.json`, `repositories`) and an OCI image layout (`oci-layout`,
//! `index.json`), like Docker 25+. Every file lives under `blobs/sha256/`;
//! layers are written uncompressed, so their digests are their diff ids and
//! any `docker load` accepts them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::compression::{decompress, Compression};
use crate::digest::{sha256_digest, HashingReader};
use crate::error::{ImageError, IoContext};
use crate::layers::LayerMeta;
use crate::reference::ImageRef;
use crate::store::ImageStore;

use super::oci::{
    blob_path, Descriptor, DockerManifestEntry, Index, Manifest, OciLayout, ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME, MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX, MEDIA_OCI_LAYER, MEDIA_OCI_MANIFEST,
};

/// One image to write, with the tags it is saved under.
struct SavedImage {
    id: String,
    tags: Vec<String>,
    config: Vec<u8>,
    layers: Vec<SavedLayer>,
}

/// A layer to write, its blob already open.
struct SavedLayer {
    meta: LayerMeta,
    blob: File,
}

impl ImageStore {
    /// Writes the images named by `references` as a docker-archive (and OCI
    /// layout) tarball. Names keep their tag in `RepoTags`; an image saved
    /// by id has none.
    pub fn save(&self, references: &[String], out: &mut dyn Write) -> Result<(), ImageError> {
        // Every blob is opened under the write gate, so a concurrent `rmi`
        // cannot take it away; the (maybe slow) writing happens without it.
        let mut images = {
            let _gate = self.lock_writes();
            self.images_to_save(references)?
        };
        let mut writer = ArchiveWriter {
            builder: tar::Builder::new(out),
            written: BTreeMap::new(),
        };
        writer.directory("blobs/")?;
        writer.directory("blobs/sha256/")?;
        let mut docker_manifest = Vec::new();
        let mut index = Index {
            schema_version: 2,
            media_type: MEDIA_OCI_INDEX.to_string(),
            manifests: Vec::new(),
        };
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for image in &mut images {
            let config = &image.config;
            writer.blob(&image.id, config)?;
            let mut layers = Vec::new();
            for layer in &mut image.layers {
                let size = self.write_layer(&mut writer, layer)?;
                layers.push(Descriptor {
                    media_type: MEDIA_OCI_LAYER.to_string(),
                    digest: layer.meta.diff_id.clone(),
                    size,
                    ..Descriptor::default()
                });
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: MEDIA_OCI_MANIFEST.to_string(),
                config: Descriptor {
                    media_type: MEDIA_OCI_CONFIG.to_string(),
                    digest: image.id.clone(),
                    size: config.len() as i64,
                    ..Descriptor::default()
                },
                layers,
            };
            let manifest_bytes = to_json(&manifest)?;
            let manifest_digest = sha256_digest(&manifest_bytes);
            writer.blob(&manifest_digest, &manifest_bytes)?;
            let descriptor = Descriptor {
                media_type: MEDIA_OCI_MANIFEST.to_string(),
                digest: manifest_digest,
                size: manifest_bytes.len() as i64,
                ..Descriptor::default()
            };
            if image.tags.is_empty() {
                index.manifests.push(descriptor.clone());
            }
            for tag in &image.tags {
                let parsed = ImageRef::parse(tag)?;
                let tag_name = parsed.tag().unwrap_or("latest").to_string();
                let mut tagged = descriptor.clone();
                tagged
                    .annotations
                    .insert(ANNOTATION_IMAGE_NAME.to_string(), parsed.full());
                tagged
                    .annotations
                    .insert(ANNOTATION_REF_NAME.to_string(), tag_name.clone());
                index.manifests.push(tagged);
                if let Some(top) = image.layers.last() {
                    repositories
                        .entry(parsed.familiar_name())
                        .or_default()
                        .insert(tag_name, hex_of(&top.meta.diff_id).to_string());
                }
            }
            docker_manifest.push(DockerManifestEntry {
                config: blob_path(&image.id),
                repo_tags: (!image.tags.is_empty()).then(|| image.tags.clone()),
                layers: image
                    .layers
                    .iter()
                    .map(|l| blob_path(&l.meta.diff_id))
                    .collect(),
            });
        }
        writer.file("index.json", &to_json(&index)?)?;
        writer.file("manifest.json", &to_json(&docker_manifest)?)?;
        let layout = OciLayout {
            image_layout_version: "1.0.0",
        };
        writer.file("oci-layout", &to_json(&layout)?)?;
        if !repositories.is_empty() {
            writer.file("repositories", &to_json(&repositories)?)?;
        }
        writer
            .builder
            .into_inner()
            .and_then(|out| out.flush())
            .ctx(|| "finishing archive".to_string())
    }

    /// Resolves every reference (all must exist), merging references to the
    /// same image, and reads each config and opens each layer blob. Caller
    /// holds the write gate.
    fn images_to_save(&self, references: &[String]) -> Result<Vec<SavedImage>, ImageError> {
        let state = self.read_state();
        let mut images: Vec<SavedImage> = Vec::new();
        for reference in references {
            let resolved = state.resolve(reference)?;
            let position = match images.iter().position(|i| i.id == resolved.id) {
                Some(position) => position,
                None => {
                    let layers = state.images[&resolved.id]
                        .layers
                        .iter()
                        .map(|chain| {
                            let meta = state.layers.get(chain).cloned().ok_or_else(|| {
                                ImageError::Internal(format!("layer {chain} is missing"))
                            })?;
                            let path = self.blobs.path(&meta.blob)?;
                            let blob =
                                File::open(path).ctx(|| format!("opening blob {}", meta.blob))?;
                            Ok(SavedLayer { meta, blob })
                        })
                        .collect::<Result<_, ImageError>>()?;
                    images.push(SavedImage {
                        id: resolved.id.clone(),
                        tags: Vec::new(),
                        config: self.blobs.read(&resolved.id)?,
                        layers,
                    });
                    images.len() - 1
                }
            };
            if let Some(name) = resolved.by_name.filter(|n| !n.contains('@')) {
                if !images[position].tags.contains(&name) {
                    images[position].tags.push(name);
                }
            }
        }
        Ok(images)
    }

    /// Writes a layer uncompressed as `blobs/sha256/<diff id>` (once per
    /// archive) and returns its size.
    fn write_layer(
        &self,
        writer: &mut ArchiveWriter<'_>,
        layer: &mut SavedLayer,
    ) -> Result<i64, ImageError> {
        let meta = &layer.meta;
        if let Some(size) = writer.written.get(&meta.diff_id) {
            return Ok(*size as i64);
        }
        let rewind = |file: &mut File| {
            file.seek(SeekFrom::Start(0))
                .ctx(|| format!("rewinding blob {}", meta.blob))
        };
        let compression = decompress(&mut layer.blob)?.0;
        rewind(&mut layer.blob)?;
        let mut scratch;
        let source = if compression == Compression::None && meta.blob == meta.diff_id {
            &mut layer.blob
        } else {
            let (_, plain) = decompress(&mut layer.blob)?;
            let mut hashing = HashingReader::new(plain);
            scratch = self.blobs.temp_file()?.into_file();
            io::copy(&mut hashing, &mut scratch)
                .ctx(|| format!("decompressing blob {}", meta.blob))?;
            if hashing.digest() != meta.diff_id {
                return Err(ImageError::Internal(format!(
                    "blob {} no longer matches layer {}",
                    meta.blob, meta.diff_id
                )));
            }
            rewind(&mut scratch)?;
            &mut scratch
        };
        let size = source
            .metadata()
            .ctx(|| format!("inspecting blob {}", meta.blob))?
            .len();
        writer.stream(&meta.diff_id, source, size)?;
        Ok(size as i64)
    }
}

/// A tar builder that writes each blob once.
struct ArchiveWriter<'a> {
    builder: tar::Builder<&'a mut dyn Write>,
    /// Digest -> size of the blobs already written.
    written: BTreeMap<String, u64>,
}

impl ArchiveWriter<'_> {
    fn directory(&mut self, path: &str) -> Result<(), ImageError> {
        let mut header = header(0, 0o755);
        header.set_entry_type(tar::EntryType::Directory);
        self.append(&mut header, path, io::empty())
    }

    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<(), ImageError> {
        self.append(&mut header(bytes.len() as u64, 0o644), path, bytes)
    }

    fn blob(&mut self, digest: &str, bytes: &[u8]) -> Result<(), ImageError> {
        self.stream(digest, &mut &bytes[..], bytes.len() as u64)
    }

    fn stream(&mut self, digest: &str, data: &mut dyn Read, size: u64) -> Result<(), ImageError> {
        if self.written.insert(digest.to_string(), size).is_some() {
            return Ok(());
        }
        self.append(&mut header(size, 0o644), &blob_path(digest), data)
    }

    fn append(
        &mut self,
        header: &mut tar::Header,
        path: &str,
        data: impl Read,
    ) -> Result<(), ImageError> {
        self.builder
            .append_data(header, path, data)
            .ctx(|| format!("writing {path} to archive"))
    }
}

fn header(size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(value).map_err(|e| ImageError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ImageErrorKind;
    use crate::testutil::{gzip, new_store, rootfs, unused, TarBuilder, TestImage};
    use crate::LoadedImage;
    use std::fs;

    fn save(store: &ImageStore, references: &[&str]) -> Vec<u8> {
        let references: Vec<String> = references.iter().map(|r| r.to_string()).collect();
        let mut out = Vec::new();
        store.save(&references, &mut out).unwrap();
        out
    }

    /// The archive's files by path.
    fn files(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut tar = tar::Archive::new(archive);
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            files.insert(path, data);
        }
        files
    }

    #[test]
    fn save_then_load_into_an_empty_store_round_trips_ids_tags_and_files() {
        let (_a, source) = new_store();
        let plain = source
            .import(&mut &rootfs("plain")[..], Some("busybox:latest"), &[], "")
            .unwrap();
        source.tag(&plain, "localhost:5000/busybox:2").unwrap();
        let compressed = source
            .import(&mut &gzip(&rootfs("gz"))[..], None, &[], "")
            .unwrap();
        let archive = save(
            &source,
            &["busybox", "localhost:5000/busybox:2", &compressed[7..19]],
        );

        let (_b, target) = new_store();
        let loaded = target.load(&mut &archive[..]).unwrap();
        assert_eq!(
            loaded,
            [
                LoadedImage::Tagged("busybox:latest".into()),
                LoadedImage::Tagged("localhost:5000/busybox:2".into()),
                LoadedImage::Untagged(compressed.clone()),
            ]
        );
        let original = source.get(&plain).unwrap();
        let copy = target.get("busybox").unwrap();
        assert_eq!(copy.id, original.id);
        assert_eq!(copy.config, original.config);
        assert_eq!(copy.size, original.size);
        assert_eq!(copy.repo_tags, original.repo_tags);
        assert_eq!(target.get(&compressed).unwrap().id, compressed);
        let layer = &target.layer_dirs(&compressed).unwrap()[0];
        assert_eq!(fs::read(layer.join("marker")).unwrap(), b"gz");
    }

    #[test]
    fn saved_archive_is_docker_archive_and_oci_layout() {
        let (_dir, store) = new_store();
        let id = store
            .import(&mut &rootfs("x")[..], Some("app:1"), &[], "")
            .unwrap();
        let archive = save(&store, &["app:1", &id]);
        let files = files(&archive);
        let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(manifest.as_array().unwrap().len(), 1);
        assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["app:1"]));
        let config_path = manifest[0]["Config"].as_str().unwrap();
        assert_eq!(sha256_digest(&files[config_path]), id);
        let layer_path = manifest[0]["Layers"][0].as_str().unwrap();
        assert_eq!(
            format!("blobs/sha256/{}", &sha256_digest(&files[layer_path])[7..]),
            layer_path
        );
        let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let annotations = &index["manifests"][0]["annotations"];
        assert_eq!(
            annotations["io.containerd.image.name"],
            "docker.io/library/app:1"
        );
        assert_eq!(annotations["org.opencontainers.image.ref.name"], "1");
        assert!(files.contains_key("oci-layout"));
        let repositories: serde_json::Value =
            serde_json::from_slice(&files["repositories"]).unwrap();
        assert!(repositories["app"]["1"].is_string());

        let mut oci_only = TarBuilder::new();
        for (path, data) in files.iter().filter(|(p, _)| *p != "manifest.json") {
            if !path.ends_with('/') {
                oci_only = oci_only.file(path, data);
            }
        }
        let (_other, target) = new_store();
        assert_eq!(
            target.load(&mut &oci_only.finish()[..]).unwrap(),
            [LoadedImage::Tagged("app:1".into())]
        );
        assert_eq!(target.get("app:1").unwrap().id, id);
    }

    #[test]
    fn layers_shared_by_saved_images_are_written_once() {
        let (_dir, store) = new_store();
        let base = TarBuilder::new().file("base", b"b").finish();
        let top = TarBuilder::new().file("top", b"t").finish();
        let small = TestImage::new(&[&base], &["small:1"]);
        let big = TestImage::new(&[&base, &top], &["big:1"]);
        store
            .load(&mut &crate::testutil::docker_archive(&[small, big])[..])
            .unwrap();
        let archive = save(&store, &["small:1", "big:1"]);
        let base_path = format!("blobs/sha256/{}", &sha256_digest(&base)[7..]);
        let mut tar = tar::Archive::new(&archive[..]);
        let copies = tar
            .entries()
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().unwrap().to_str() == Some(&base_path))
            .count();
        assert_eq!(copies, 1);

        let (_other, target) = new_store();
        target.load(&mut &archive[..]).unwrap();
        assert_eq!(
            target.layer_dirs("small:1").unwrap(),
            target.layer_dirs("big:1").unwrap()[..1]
        );
    }

    #[test]
    fn image_saved_by_id_has_no_repo_tags() {
        let (_dir, store) = new_store();
        let id = store
            .import(&mut &rootfs("x")[..], Some("app:1"), &[], "")
            .unwrap();
        let files = files(&save(&store, &[&id]));
        let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert!(manifest[0]["RepoTags"].is_null());
        assert!(!files.contains_key("repositories"));
    }

    #[test]
    fn saving_an_unknown_reference_is_not_found_and_writes_nothing() {
        let (_dir, store) = new_store();
        store
            .import(&mut &rootfs("x")[..], Some("app:1"), &[], "")
            .unwrap();
        let mut out = Vec::new();
        let err = store
            .save(&["app:1".to_string(), "nope".to_string()], &mut out)
            .unwrap_err();
        assert_eq!(err.kind(), ImageErrorKind::NotFound);
        assert_eq!(err.to_string(), "No such image: nope:latest");
        assert!(out.is_empty());
    }

    #[test]
    fn dangling_image_kept_for_a_container_can_still_be_saved() {
        let (_dir, store) = new_store();
        let id = store
            .import(&mut &rootfs("x")[..], Some("app:1"), &[], "")
            .unwrap();
        store
            .remove("app:1", true, &|_: &str| Some("c".into()))
            .unwrap();
        assert!(!save(&store, &[&id]).is_empty());
        store.remove(&id, false, &unused).unwrap();
    }
}
