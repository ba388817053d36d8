//! `docker push` (`POST /images/{name}/push`): upload an image's layer
//! blobs (as they were received: gzip, zstd or plain tar) and config where
//! the registry lacks them, then its manifest, in Docker's progress stream.
//!
//! The image and the reference are checked before the reply starts, so an
//! unknown image is a plain 404; what fails afterwards (a refused login, a
//! registry error) ends the stream with an `errorDetail` line.

use super::progress::{Progress, Throttle};
use super::pull::{registry_error, short};
use super::{image_error, Engine};
use crate::engine::events::Event;
use berth_api::ApiError;
use berth_image::{BlobToPush, PushParts};
use berth_registry::{media_type, Credentials, Descriptor, Digest, PushedBlob, Reference};
use serde_json::json;
use std::sync::Arc;

/// A push whose image is found: what the stream then carries out.
pub struct PushPlan {
    reference: Reference,
    parts: PushParts,
    auth: Option<Credentials>,
}

fn digest(text: &str) -> Result<Digest, ApiError> {
    text.parse()
        .map_err(|_| ApiError::system(format!("invalid digest {text} in the image store")))
}

/// The manifest media type and each layer's media type: Docker schema 2
/// unless a layer is zstd, which only OCI manifests can name.
fn media_types(layers: &[BlobToPush]) -> (&'static str, Vec<&'static str>) {
    let oci = layers.iter().any(|l| l.compression == "zstd");
    let types = layers
        .iter()
        .map(|l| match (oci, l.compression) {
            (true, "zstd") => media_type::OCI_LAYER_ZSTD,
            (true, "gzip") => media_type::OCI_LAYER_GZIP,
            (true, _) => media_type::OCI_LAYER,
            (false, "gzip") => media_type::DOCKER_LAYER_GZIP,
            (false, _) => "application/vnd.docker.image.rootfs.diff.tar",
        })
        .collect();
    if oci {
        (media_type::OCI_MANIFEST, types)
    } else {
        (media_type::DOCKER_MANIFEST, types)
    }
}

impl Engine {
    /// Finds what `name` (and `tag`, `latest` when empty) names.
    pub fn plan_push(
        &self,
        name: &str,
        tag: &str,
        auth: Option<Credentials>,
    ) -> Result<PushPlan, ApiError> {
        let reference: Reference = name.parse().map_err(registry_error)?;
        let reference = reference
            .with_tag(if tag.is_empty() { "latest" } else { tag })
            .map_err(registry_error)?;
        let familiar = reference.familiar();
        let parts = self
            .images
            .push_parts(&familiar)
            .map_err(|e| match e.kind() {
                berth_image::ImageErrorKind::NotFound => ApiError::not_found(format!(
                    "An image does not exist locally with the tag: {}",
                    reference.familiar_name()
                )),
                _ => image_error(e),
            })?;
        Ok(PushPlan {
            reference,
            parts,
            auth,
        })
    }

    /// Carries out a push, writing its progress.
    pub async fn run_push(self: &Arc<Self>, plan: PushPlan, progress: Progress) {
        if let Err(e) = self.push_blobs(&plan, &progress).await {
            tracing::warn!(reference = %plan.reference, error = %e.message, "push failed");
            progress.error(&e.message).await;
        }
    }

    async fn push_blobs(&self, plan: &PushPlan, progress: &Progress) -> Result<(), ApiError> {
        let reference = &plan.reference;
        let auth = plan.auth.as_ref();
        progress
            .status(
                None,
                &format!(
                    "The push refers to repository [{}]",
                    reference.familiar_name()
                ),
            )
            .await;
        let (manifest_type, layer_types) = media_types(&plan.parts.layers);
        let mut descriptors = Vec::new();
        for (layer, kind) in plan.parts.layers.iter().zip(&layer_types) {
            let desc = Descriptor::new(kind, digest(&layer.digest)?, layer.size);
            progress.status(Some(&short(&desc)), "Preparing").await;
            descriptors.push(desc);
        }
        for (layer, desc) in plan.parts.layers.iter().zip(&descriptors) {
            let id = short(desc);
            let file = tokio::fs::File::open(&layer.path)
                .await
                .map_err(|e| ApiError::system(format!("opening layer {}: {e}", layer.digest)))?;
            let mut throttle = Throttle::new();
            let total = layer.size;
            let pushed = self
                .registry
                .push_blob(
                    reference,
                    desc,
                    file,
                    |current| {
                        if throttle.due() || current == total {
                            progress.bytes_now(&id, "Pushing", current, total);
                        }
                    },
                    None,
                    auth,
                )
                .await
                .map_err(registry_error)?;
            let status = match pushed {
                PushedBlob::Exists => "Layer already exists",
                PushedBlob::Mounted | PushedBlob::Uploaded => "Pushed",
            };
            progress.status(Some(&id), status).await;
        }
        let config = &plan.parts.config;
        let config_desc = Descriptor::new(
            if manifest_type == media_type::OCI_MANIFEST {
                media_type::OCI_CONFIG
            } else {
                media_type::DOCKER_CONFIG
            },
            Digest::sha256(config),
            config.len() as u64,
        );
        self.registry
            .push_blob(
                reference,
                &config_desc,
                config.as_slice(),
                |_| {},
                None,
                auth,
            )
            .await
            .map_err(registry_error)?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": config_desc,
            "layers": descriptors,
        }))
        .expect("manifests serialize");
        let pushed = self
            .registry
            .put_manifest(reference, manifest_type, &manifest, auth)
            .await
            .map_err(registry_error)?;
        let tag = reference.tag().unwrap_or("latest");
        progress
            .status(
                None,
                &format!("{tag}: digest: {pushed} size: {}", manifest.len()),
            )
            .await;
        progress
            .aux(json!({"Tag": tag, "Digest": pushed.to_string(), "Size": manifest.len()}))
            .await;
        let familiar = reference.familiar();
        self.events
            .publish(Event::new("image", "push", familiar.clone()).with("name", familiar));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(compression: &'static str) -> BlobToPush {
        BlobToPush {
            path: "/nonexistent".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 1,
            compression,
        }
    }

    #[test]
    fn zstd_layers_need_an_oci_manifest() {
        let (kind, layers) = media_types(&[blob("gzip"), blob("tar")]);
        assert_eq!(kind, media_type::DOCKER_MANIFEST);
        assert_eq!(layers[0], media_type::DOCKER_LAYER_GZIP);
        let (kind, layers) = media_types(&[blob("gzip"), blob("zstd")]);
        assert_eq!(kind, media_type::OCI_MANIFEST);
        assert_eq!(
            layers,
            [media_type::OCI_LAYER_GZIP, media_type::OCI_LAYER_ZSTD]
        );
    }
}
