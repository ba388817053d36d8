//! Manifests, image indexes and descriptors (OCI image spec and Docker's
//! schema 2), their media types, and the choice of a platform from a list.
//!
//! Only what a pull needs is read (config, layers, list entries); the raw
//! bytes stay with the caller because the digest is over them, not over any
//! re-serialization. The structs also serialize, so that a push (or a test)
//! can build a manifest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Error;
use crate::platform::{Matcher, Platform};

/// Media types the client reads or writes.
pub mod media_type {
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_LAYER_NONDISTRIBUTABLE: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar";
    pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    pub const OCI_LAYER_NONDISTRIBUTABLE_ZSTD: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
}

use media_type::*;

/// The `Accept` header of a manifest request: both image formats, both
/// list formats.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Manifests larger than this are refused (Docker's limit too).
pub(crate) const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// A pointer to content: its type, digest and size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
        }
    }

    /// How a layer blob of this descriptor is compressed; `None` when the
    /// media type is not a layer type this client knows.
    pub fn compression(&self) -> Option<Compression> {
        match self.media_type.as_str() {
            OCI_LAYER | OCI_LAYER_NONDISTRIBUTABLE => Some(Compression::None),
            DOCKER_LAYER_GZIP
            | DOCKER_FOREIGN_LAYER_GZIP
            | OCI_LAYER_GZIP
            | OCI_LAYER_NONDISTRIBUTABLE_GZIP => Some(Compression::Gzip),
            OCI_LAYER_ZSTD | OCI_LAYER_NONDISTRIBUTABLE_ZSTD => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// What Docker calls this blob when its digest does not verify.
    pub(crate) fn verification_name(&self) -> &'static str {
        match self.media_type.as_str() {
            DOCKER_CONFIG | OCI_CONFIG => "image config",
            DOCKER_MANIFEST | OCI_MANIFEST | DOCKER_MANIFEST_LIST | OCI_INDEX => "manifest",
            _ => "filesystem layer",
        }
    }
}

/// The compression of a layer blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// An image manifest (OCI or Docker schema 2; they share a shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A list of per-platform manifests (OCI index or Docker manifest list).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed manifest of either kind.
#[derive(Debug)]
pub(crate) enum Parsed {
    Image(Box<ImageManifest>),
    Index(ImageIndex),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    media_type: Option<String>,
    schema_version: Option<u32>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
}

/// Reads manifest bytes, typed by the body's own `mediaType`, else by the
/// reply's `Content-Type`, else by its shape (as containerd does).
/// Returns the media type used and the parsed manifest.
pub(crate) fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<(String, Parsed), Error> {
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| Error::InvalidResponse(format!("invalid manifest: {e}")))?;
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| is_manifest_type(c));
    let media_type = match (probe.media_type, header) {
        (Some(m), _) if !m.is_empty() => m,
        (_, Some(h)) => h,
        _ if probe.manifests.is_some() => OCI_INDEX.to_string(),
        _ if probe.config.is_some() => OCI_MANIFEST.to_string(),
        _ if probe.schema_version == Some(1) => {
            "application/vnd.docker.distribution.manifest.v1+json".to_string()
        }
        _ => return Err(Error::UnsupportedMediaType(String::new())),
    };
    let invalid = |e: serde_json::Error| Error::InvalidResponse(format!("invalid manifest: {e}"));
    let parsed = match media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            Parsed::Image(Box::new(serde_json::from_slice(bytes).map_err(invalid)?))
        }
        DOCKER_MANIFEST_LIST | OCI_INDEX => {
            Parsed::Index(serde_json::from_slice(bytes).map_err(invalid)?)
        }
        other => return Err(Error::UnsupportedMediaType(other.to_string())),
    };
    Ok((media_type, parsed))
}

fn is_manifest_type(media_type: &str) -> bool {
    matches!(
        media_type,
        DOCKER_MANIFEST | DOCKER_MANIFEST_LIST | OCI_MANIFEST | OCI_INDEX
    )
}

/// The entry of `index` to pull for `wanted`: the best-ranked platform,
/// first in the list on ties; entries without a platform come last.
/// Docker's error when none fits.
pub(crate) fn select_platform<'a>(
    index: &'a ImageIndex,
    wanted: &Platform,
) -> Result<&'a Descriptor, Error> {
    let matcher = Matcher::new(wanted);
    index
        .manifests
        .iter()
        .filter(|d| is_manifest_type(&d.media_type))
        .filter_map(|d| match &d.platform {
            Some(p) => matcher.rank(p).map(|rank| (rank, d)),
            None => Some((usize::MAX, d)),
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, d)| d)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no matching manifest for {} in the manifest list entries",
                wanted.normalized()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(platform: &str, fill: u8) -> Descriptor {
        let mut d = Descriptor::new(OCI_MANIFEST, Digest::sha256(&[fill]), 10);
        d.platform = Some(platform.parse().unwrap());
        d
    }

    fn index(entries: Vec<Descriptor>) -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: entries,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn picks_the_wanted_platform_over_others() {
        let idx = index(vec![
            entry("linux/arm64", 1),
            entry("linux/386", 2),
            entry("linux/amd64", 3),
        ]);
        let d = select_platform(&idx, &"linux/amd64".parse().unwrap()).unwrap();
        assert_eq!(d.digest, Digest::sha256(&[3]));
    }

    #[test]
    fn falls_back_to_a_compatible_platform() {
        let idx = index(vec![entry("linux/arm64", 1), entry("linux/386", 2)]);
        let d = select_platform(&idx, &"linux/amd64".parse().unwrap()).unwrap();
        assert_eq!(d.digest, Digest::sha256(&[2]));
    }

    #[test]
    fn no_match_is_dockers_error() {
        let idx = index(vec![entry("linux/arm64", 1)]);
        let e = select_platform(&idx, &"linux/amd64".parse().unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no matching manifest for linux/amd64 in the manifest list entries"
        );
    }

    #[test]
    fn attestations_never_match() {
        let idx = index(vec![entry("unknown/unknown", 1), entry("linux/amd64", 2)]);
        let d = select_platform(&idx, &"linux/amd64".parse().unwrap()).unwrap();
        assert_eq!(d.digest, Digest::sha256(&[2]));
    }

    #[test]
    fn type_comes_from_body_then_header_then_shape() {
        let body = br#"{"schemaVersion":2,"manifests":[]}"#;
        let (mt, p) = parse(body, None).unwrap();
        assert_eq!(mt, OCI_INDEX);
        assert!(matches!(p, Parsed::Index(_)));
        let (mt, _) = parse(
            body,
            Some("application/vnd.docker.distribution.manifest.list.v2+json"),
        )
        .unwrap();
        assert_eq!(mt, DOCKER_MANIFEST_LIST);
    }

    #[test]
    fn schema1_and_unknown_types_are_unsupported() {
        let body = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        assert!(matches!(
            parse(body, Some("application/json")),
            Err(Error::UnsupportedMediaType(_))
        ));
        let body = br#"{"schemaVersion":2,"mediaType":"application/x-custom"}"#;
        let e = parse(body, None).unwrap_err();
        assert_eq!(e.to_string(), "unsupported media type application/x-custom");
    }

    #[test]
    fn layer_compression_by_media_type() {
        let d = |mt: &str| Descriptor::new(mt, Digest::sha256(b""), 0).compression();
        assert_eq!(d(OCI_LAYER_ZSTD), Some(Compression::Zstd));
        assert_eq!(d(DOCKER_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(d(OCI_LAYER), Some(Compression::None));
        assert_eq!(d(OCI_CONFIG), None);
    }
}
