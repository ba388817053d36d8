//! The JSON documents of image archives: OCI index, manifest and
//! descriptors, and docker-archive's `manifest.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(super) const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(super) const MEDIA_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub(super) const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(super) const MEDIA_DOCKER_MANIFEST: &str =
    "application/vnd.docker.distribution.manifest.v2+json";
pub(super) const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(super) const MEDIA_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// containerd's (and Docker's) annotation holding the full image name.
pub(super) const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI annotation holding a tag, or sometimes a whole name.
pub(super) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// BuildKit's marker for attestation manifests (not runnable images).
pub(super) const ANNOTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Platform {
    #[serde(default)]
    pub(super) architecture: String,
    #[serde(default)]
    pub(super) os: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub(super) media_type: String,
    pub(super) digest: String,
    #[serde(default)]
    pub(super) size: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) platform: Option<Platform>,
}

/// An OCI image index (or Docker manifest list).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Index {
    #[serde(rename = "schemaVersion", default)]
    pub(super) schema_version: u32,
    #[serde(rename = "mediaType", default)]
    pub(super) media_type: String,
    #[serde(default)]
    pub(super) manifests: Vec<Descriptor>,
}

/// An OCI image manifest (or Docker schema 2 manifest).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Manifest {
    #[serde(rename = "schemaVersion", default)]
    pub(super) schema_version: u32,
    #[serde(rename = "mediaType", default)]
    pub(super) media_type: String,
    pub(super) config: Descriptor,
    #[serde(default)]
    pub(super) layers: Vec<Descriptor>,
}

/// Just enough of a blob to tell an index from a manifest when the
/// descriptor pointing at it has no media type.
#[derive(Deserialize)]
pub(super) struct MediaTypeProbe {
    #[serde(rename = "mediaType", default)]
    pub(super) media_type: String,
    #[serde(default)]
    pub(super) manifests: Option<serde_json::Value>,
}

/// One entry of docker-archive's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DockerManifestEntry {
    #[serde(rename = "Config")]
    pub(super) config: String,
    #[serde(rename = "RepoTags", default)]
    pub(super) repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub(super) layers: Vec<String>,
}

/// `oci-layout`.
#[derive(Serialize)]
pub(super) struct OciLayout {
    #[serde(rename = "imageLayoutVersion")]
    pub(super) image_layout_version: &'static str,
}

/// The archive path of a blob: `blobs/sha256/<hex>`.
pub(super) fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}
