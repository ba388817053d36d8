//! Test helpers: build small (and deliberately hostile) tar archives in
//! memory. Paths and link targets are written into the header verbatim, so
//! `..` and absolute names can be produced.

use std::io::Write;

use serde_json::{json, Value};
use tar::{EntryType, Header};

use crate::config::host_architecture;
use crate::digest::sha256_digest;
use crate::store::ImageStore;

pub(crate) struct TarBuilder {
    builder: tar::Builder<Vec<u8>>,
    owner: u64,
}

impl TarBuilder {
    pub(crate) fn new() -> TarBuilder {
        TarBuilder {
            builder: tar::Builder::new(Vec::new()),
            owner: 0,
        }
    }

    /// Entries added from now on belong to `uid`:`uid`.
    pub(crate) fn owner(mut self, uid: u64) -> TarBuilder {
        self.owner = uid;
        self
    }

    /// A PAX extended header applying `records` to the next entry.
    pub(crate) fn pax(self, records: &[(&str, &[u8])]) -> TarBuilder {
        let mut data = Vec::new();
        for (key, value) in records {
            let body = key.len() + value.len() + 3;
            let mut len = body + 1;
            while len != body + len.to_string().len() {
                len = body + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {key}=").as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        self.entry("PaxHeader", EntryType::XHeader, None, &data, 0o644)
    }

    pub(crate) fn file(self, path: &str, data: &[u8]) -> TarBuilder {
        self.entry(path, EntryType::Regular, None, data, 0o644)
    }

    pub(crate) fn file_with_mode(self, path: &str, data: &[u8], mode: u32) -> TarBuilder {
        self.entry(path, EntryType::Regular, None, data, mode)
    }

    pub(crate) fn dir(self, path: &str) -> TarBuilder {
        self.entry(path, EntryType::Directory, None, b"", 0o755)
    }

    pub(crate) fn symlink(self, path: &str, target: &str) -> TarBuilder {
        self.entry(path, EntryType::Symlink, Some(target), b"", 0o777)
    }

    pub(crate) fn hardlink(self, path: &str, target: &str) -> TarBuilder {
        self.entry(path, EntryType::Link, Some(target), b"", 0o644)
    }

    pub(crate) fn entry(
        mut self,
        path: &str,
        kind: EntryType,
        link: Option<&str>,
        data: &[u8],
        mode: u32,
    ) -> TarBuilder {
        let mut header = Header::new_gnu();
        let old = header.as_old_mut();
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(self.owner);
        header.set_gid(self.owner);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// A store in a fresh temp dir (kept alive by the returned guard).
pub(crate) fn new_store() -> (tempfile::TempDir, ImageStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path().join("image")).unwrap();
    (dir, store)
}

/// A tiny root filesystem whose `marker` file tells layers apart.
pub(crate) fn rootfs(marker: &str) -> Vec<u8> {
    TarBuilder::new()
        .dir("bin")
        .file_with_mode("bin/sh", b"#!fake shell\n", 0o755)
        .file("marker", marker.as_bytes())
        .finish()
}

/// An image config for uncompressed `layers`, with an unknown field to
/// prove it survives.
pub(crate) fn image_config(layers: &[&[u8]], cmd: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256_digest(l)).collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05.000000006Z",
        "config": {"Cmd": [cmd], "Healthcheck": {"Test": ["NONE"]}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "test"}],
        "moby.buildkit.buildinfo.v1": "e30=",
    }))
    .unwrap()
}

/// One image of a test archive: its config, its layer blobs as stored in
/// the archive (maybe compressed), and its tags.
pub(crate) struct TestImage {
    pub(crate) config: Vec<u8>,
    pub(crate) blobs: Vec<Vec<u8>>,
    pub(crate) tags: Vec<&'static str>,
}

impl TestImage {
    /// An image of uncompressed layers.
    pub(crate) fn new(layers: &[&[u8]], tags: &[&'static str]) -> TestImage {
        TestImage {
            config: image_config(layers, "sh"),
            blobs: layers.iter().map(|l| l.to_vec()).collect(),
            tags: tags.to_vec(),
        }
    }

    pub(crate) fn id(&self) -> String {
        sha256_digest(&self.config)
    }
}

/// A docker-archive in the pre-25 layout: `<id>.json`, `<dir>/layer.tar`,
/// `manifest.json`.
pub(crate) fn docker_archive(images: &[TestImage]) -> Vec<u8> {
    let mut tar = TarBuilder::new();
    let mut manifest = Vec::new();
    for image in images {
        let config_name = format!("{}.json", hex_of(&image.id()));
        tar = tar.file(&config_name, &image.config);
        let mut layers = Vec::new();
        for blob in &image.blobs {
            let name = format!("{}/layer.tar", hex_of(&sha256_digest(blob)));
            tar = tar.file(&name, blob);
            layers.push(name);
        }
        manifest.push(json!({"Config": config_name, "RepoTags": image.tags, "Layers": layers}));
    }
    tar.file("manifest.json", &serde_json::to_vec(&manifest).unwrap())
        .finish()
}

/// An OCI layout archive. Each image is listed in `index.json` with
/// `annotations`; with `nested` it sits behind a multi-platform index whose
/// other entries are absent from the archive. With `docker_manifest`, a
/// `manifest.json` is added too (as Docker 25+ writes).
pub(crate) fn oci_archive(
    images: &[(TestImage, Value)],
    nested: bool,
    docker_manifest: bool,
) -> Vec<u8> {
    let mut tar = TarBuilder::new().file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let mut index = Vec::new();
    let mut manifest_json = Vec::new();
    for (image, annotations) in images {
        tar = tar.file(&blob_path(&image.id()), &image.config);
        let mut layers = Vec::new();
        for blob in &image.blobs {
            tar = tar.file(&blob_path(&sha256_digest(blob)), blob);
            layers.push(json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha256_digest(blob),
                "size": blob.len(),
            }));
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": image.id(), "size": image.config.len()},
            "layers": layers,
        }))
        .unwrap();
        let manifest_digest = sha256_digest(&manifest);
        tar = tar.file(&blob_path(&manifest_digest), &manifest);
        let mut top = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": annotations,
        });
        if nested {
            let absent = sha256_digest(b"another platform");
            let child_index = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [
                    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": absent,
                     "size": 1, "platform": {"architecture": "s390x", "os": "linux"}},
                    {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                     "digest": manifest_digest, "size": manifest.len(),
                     "platform": {"architecture": host_architecture(), "os": "linux"}},
                ],
            }))
            .unwrap();
            let index_digest = sha256_digest(&child_index);
            tar = tar.file(&blob_path(&index_digest), &child_index);
            top["mediaType"] = json!("application/vnd.oci.image.index.v1+json");
            top["digest"] = json!(index_digest);
            top["size"] = json!(child_index.len());
        }
        index.push(top);
        manifest_json.push(json!({
            "Config": blob_path(&image.id()),
            "RepoTags": image.tags,
            "Layers": image.blobs.iter().map(|b| blob_path(&sha256_digest(b))).collect::<Vec<_>>(),
        }));
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index});
    tar = tar.file("index.json", &serde_json::to_vec(&index).unwrap());
    if docker_manifest {
        tar = tar.file(
            "manifest.json",
            &serde_json::to_vec(&manifest_json).unwrap(),
        );
    }
    tar.finish()
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", hex_of(digest))
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap()
}

/// Names of the entries in `dir` (empty if it does not exist).
pub(crate) fn entries(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(read) => read
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Never in use: the `in_use` callback for `remove` when no container exists.
pub(crate) fn unused(_: &str) -> Option<String> {
    None
}
