//! Test images built in memory: tar layers (plain, gzip, zstd), a config
//! whose diff ids match, and an OCI or Docker schema 2 manifest; pushed
//! with the client under test.

use std::collections::BTreeMap;
use std::io::Write;

use berth_registry::media_type::*;
use berth_registry::{
    Client, Compression, Credentials, Descriptor, Digest, ImageIndex, ImageManifest, Platform,
    PushedBlob, Reference,
};

/// Content and its descriptor.
#[derive(Clone)]
pub struct Blob {
    pub desc: Descriptor,
    pub bytes: Vec<u8>,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            desc: Descriptor::new(media_type, Digest::sha256(&bytes), bytes.len() as u64),
            bytes,
        }
    }
}

pub struct TestImage {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Blob,
}

/// A tar archive holding `files`.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, *content).unwrap();
    }
    builder.into_inner().unwrap()
}

pub fn compress(tar: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(tar).unwrap();
            enc.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(tar, 3).unwrap(),
    }
}

/// An image for `platform` with one layer per `(compression, tar)`;
/// `oci` picks OCI media types, else Docker schema 2 (gzip layers only).
pub fn image(platform: &str, layers: &[(Compression, Vec<u8>)], oci: bool) -> TestImage {
    let p: Platform = platform.parse().unwrap();
    let layer_blobs: Vec<Blob> = layers
        .iter()
        .map(|(c, tar)| {
            let media_type = match (oci, c) {
                (true, Compression::None) => OCI_LAYER,
                (true, Compression::Gzip) => OCI_LAYER_GZIP,
                (true, Compression::Zstd) => OCI_LAYER_ZSTD,
                (false, Compression::Gzip) => DOCKER_LAYER_GZIP,
                (false, other) => panic!("schema 2 has no {other:?} layers"),
            };
            Blob::new(media_type, compress(tar, *c))
        })
        .collect();
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|(_, tar)| Digest::sha256(tar).to_string())
        .collect();
    let mut config_json = serde_json::json!({
        "architecture": p.architecture,
        "os": p.os,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {"Cmd": ["/bin/sh"]},
    });
    if let Some(v) = &p.variant {
        config_json["variant"] = serde_json::json!(v);
    }
    let config = Blob::new(
        if oci { OCI_CONFIG } else { DOCKER_CONFIG },
        serde_json::to_vec(&config_json).unwrap(),
    );
    let manifest_type = if oci { OCI_MANIFEST } else { DOCKER_MANIFEST };
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(manifest_type.to_string()),
        config: config.desc.clone(),
        layers: layer_blobs.iter().map(|b| b.desc.clone()).collect(),
        annotations: BTreeMap::new(),
    };
    TestImage {
        config,
        layers: layer_blobs,
        manifest: Blob::new(manifest_type, serde_json::to_vec_pretty(&manifest).unwrap()),
    }
}

/// A one-layer gzip image with a file holding `marker`.
pub fn simple_image(platform: &str, marker: &str) -> TestImage {
    let tar = tar_of(&[("marker.txt", marker.as_bytes())]);
    image(platform, &[(Compression::Gzip, tar)], false)
}

/// An OCI index (or Docker list) of `entries`, each with its platform.
pub fn index(entries: &[(&TestImage, &str)], oci: bool) -> Blob {
    let manifests = entries
        .iter()
        .map(|(img, platform)| {
            let mut d = img.manifest.desc.clone();
            d.platform = Some(platform.parse().unwrap());
            d
        })
        .collect();
    let media_type = if oci { OCI_INDEX } else { DOCKER_MANIFEST_LIST };
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_type.to_string()),
        manifests,
        annotations: BTreeMap::new(),
    };
    Blob::new(media_type, serde_json::to_vec(&index).unwrap())
}

/// Pushes the blobs of `image` (layers then config); how each went.
pub async fn push_blobs(
    client: &Client,
    reference: &Reference,
    image: &TestImage,
    auth: Option<&Credentials>,
) -> Vec<PushedBlob> {
    let mut outcomes = Vec::new();
    for blob in image.layers.iter().chain([&image.config]) {
        let outcome = client
            .push_blob(reference, &blob.desc, &blob.bytes[..], |_| {}, None, auth)
            .await
            .expect("push blob");
        outcomes.push(outcome);
    }
    outcomes
}

/// Pushes the blobs and the manifest of `image` under `reference`;
/// returns how each blob went and the manifest digest.
pub async fn push(
    client: &Client,
    reference: &Reference,
    image: &TestImage,
    auth: Option<&Credentials>,
) -> (Vec<PushedBlob>, Digest) {
    let outcomes = push_blobs(client, reference, image, auth).await;
    let digest = client
        .put_manifest(
            reference,
            &image.manifest.desc.media_type,
            &image.manifest.bytes,
            auth,
        )
        .await
        .expect("put manifest");
    (outcomes, digest)
}

/// Pushes the blobs of `image` and its manifest by digest, untagged, as
/// the entries of a list are.
pub async fn push_by_digest(client: &Client, reference: &Reference, image: &TestImage) {
    push_blobs(client, reference, image, None).await;
    let by_digest = reference.with_digest(image.manifest.desc.digest.clone());
    client
        .put_manifest(
            &by_digest,
            &image.manifest.desc.media_type,
            &image.manifest.bytes,
            None,
        )
        .await
        .expect("put manifest by digest");
}

/// Downloads a blob into memory.
pub async fn fetch(
    client: &Client,
    reference: &Reference,
    desc: &Descriptor,
    auth: Option<&Credentials>,
) -> Result<Vec<u8>, berth_registry::Error> {
    let mut out = Vec::new();
    client
        .fetch_blob(reference, desc, &mut out, |_| {}, auth)
        .await
        .map(|()| out)
}
