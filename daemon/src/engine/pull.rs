//! `docker pull` (`POST /images/create?fromImage=`): resolve the reference
//! at the registry, download the layers the store lacks (three at a time,
//! as dockerd), unpack each as soon as it is down (while the others still
//! download: unpacking is most of a pull's CPU), hand them to the image
//! store, and report it all in Docker's progress stream.
//!
//! Resolving happens before the reply starts, so a missing tag, bad
//! credentials or an unreachable registry are plain HTTP errors; what fails
//! afterwards ends the stream with an `errorDetail` line. Downloads go to
//! scratch files of the store that vanish unless the image is added, so an
//! interrupted pull leaves nothing behind and can simply be retried.

use super::progress::{Progress, Throttle};
use super::{blocking, image_error, Engine};
use crate::engine::events::Event;
use berth_api::{ApiError, ErrorKind};
use berth_image::{ExtractedLayer, PulledLayer};
use berth_registry::{Credentials, Descriptor, Platform, Reference, Resolved};
use futures_util::stream::{self, StreamExt};
use std::sync::Arc;

/// How many layers download at once (dockerd's `max-concurrent-downloads`).
const PARALLEL_DOWNLOADS: usize = 3;

/// A pull whose manifest is resolved: what the stream then carries out.
pub struct PullPlan {
    reference: Reference,
    resolved: Resolved,
    auth: Option<Credentials>,
}

/// A registry error as the API reports it for a pull or a push. Refused
/// credentials are a 500, as dockerd answers: on a 401 the docker CLI would
/// start an interactive login prompt (and wait forever without a terminal).
/// Only `POST /auth` answers 401.
pub fn registry_error(e: berth_registry::Error) -> ApiError {
    use berth_registry::Error as E;
    let kind = match &e {
        E::InvalidReference(_) => ErrorKind::InvalidParameter,
        E::NotFound(_) => ErrorKind::NotFound,
        _ => ErrorKind::System,
    };
    ApiError::new(kind, e.to_string())
}

/// The reference `fromImage` and `tag` name together (`tag` may also be a
/// digest, as docker sends `fromImage=busybox&tag=sha256:...`).
fn pull_reference(from_image: &str, tag: &str) -> Result<Reference, ApiError> {
    let reference: Reference = from_image.parse().map_err(registry_error)?;
    let reference = match tag {
        "" if reference.tag().is_none() && reference.digest().is_none() => {
            reference.with_tag("latest")
        }
        "" => Ok(reference),
        digest if digest.starts_with("sha256:") => format!("{}@{digest}", reference.name()).parse(),
        tag => reference.with_tag(tag),
    };
    reference.map_err(registry_error)
}

/// Layer ids in progress lines: the first 12 hex digits of the blob digest.
pub(super) fn short(descriptor: &Descriptor) -> String {
    descriptor.digest.encoded().chars().take(12).collect()
}

impl Engine {
    /// Resolves what `fromImage`/`tag` name for `platform` (the host's by
    /// default), with the credentials of `X-Registry-Auth` if any.
    pub async fn resolve_pull(
        &self,
        from_image: &str,
        tag: &str,
        platform: Option<&str>,
        auth: Option<Credentials>,
    ) -> Result<PullPlan, ApiError> {
        let reference = pull_reference(from_image, tag)?;
        let platform = match platform.filter(|p| !p.is_empty()) {
            Some(text) => text.parse::<Platform>().map_err(ApiError::invalid)?,
            None => Platform::host(),
        };
        let resolved = self
            .registry
            .resolve(&reference, &platform, auth.as_ref())
            .await
            .map_err(registry_error)?;
        Ok(PullPlan {
            reference,
            resolved,
            auth,
        })
    }

    /// Carries out a resolved pull, writing its progress; errors end the
    /// stream with an `errorDetail` line.
    pub async fn run_pull(self: &Arc<Self>, plan: PullPlan, progress: Progress) {
        if let Err(e) = self.pull_layers(&plan, &progress).await {
            tracing::warn!(reference = %plan.reference, error = %e.message, "pull failed");
            progress.error(&e.message).await;
        }
    }

    async fn pull_layers(
        self: &Arc<Self>,
        plan: &PullPlan,
        progress: &Progress,
    ) -> Result<(), ApiError> {
        let reference = &plan.reference;
        let resolved = &plan.resolved;
        let label = reference
            .tag()
            .map(str::to_string)
            .unwrap_or_else(|| resolved.digest.to_string());
        progress
            .status(
                Some(&label),
                &format!("Pulling from {}", reference.repository()),
            )
            .await;
        let mut config = Vec::new();
        self.registry
            .fetch_blob(
                reference,
                &resolved.config,
                &mut config,
                |_| {},
                plan.auth.as_ref(),
            )
            .await
            .map_err(registry_error)?;
        let familiar = reference.familiar();
        let had = self.images.get(&familiar).ok().map(|image| image.id);
        let present = self.images.present_layers(&config).map_err(image_error)?;
        if present.len() != resolved.layers.len() {
            return Err(ApiError::system(format!(
                "the manifest of {familiar} lists {} layers but its config {}",
                resolved.layers.len(),
                present.len()
            )));
        }
        for (layer, here) in resolved.layers.iter().zip(&present) {
            let status = if *here {
                "Already exists"
            } else {
                "Pulling fs layer"
            };
            progress.status(Some(&short(layer)), status).await;
        }
        let wanted: Vec<(usize, Descriptor)> = resolved
            .layers
            .iter()
            .cloned()
            .enumerate()
            .filter(|(i, _)| !present[*i])
            .collect();
        let downloads: Vec<Result<(usize, ExtractedLayer), ApiError>> = stream::iter(wanted)
            .map(|(index, layer)| async move {
                self.download_layer(plan, &layer, progress)
                    .await
                    .map(|pulled| (index, pulled))
            })
            .buffer_unordered(PARALLEL_DOWNLOADS)
            .collect()
            .await;
        let mut layers: Vec<Option<ExtractedLayer>> =
            resolved.layers.iter().map(|_| None).collect();
        for download in downloads {
            let (index, pulled) = download?;
            layers[index] = Some(pulled);
        }
        let fetched: Vec<String> = resolved
            .layers
            .iter()
            .zip(&present)
            .filter(|(_, here)| !**here)
            .map(|(layer, _)| short(layer))
            .collect();
        let images = self.images.clone();
        let tag = reference.tag().map(|_| familiar.clone());
        let digest_ref = format!("{}@{}", reference.familiar_name(), resolved.digest);
        let id = blocking(move || {
            images
                .add_pulled(&config, layers, tag.as_deref(), Some(&digest_ref))
                .map_err(image_error)
        })
        .await?;
        for id in &fetched {
            progress.status(Some(id), "Pull complete").await;
        }
        progress
            .status(None, &format!("Digest: {}", resolved.digest))
            .await;
        let status = if had.as_deref() == Some(id.as_str()) {
            format!("Status: Image is up to date for {familiar}")
        } else {
            format!("Status: Downloaded newer image for {familiar}")
        };
        progress.status(None, &status).await;
        self.events
            .publish(Event::new("image", "pull", familiar.clone()).with("name", familiar));
        Ok(())
    }

    /// One layer into a scratch file of the store, with byte counts, then
    /// unpacked into a scratch directory.
    async fn download_layer(
        &self,
        plan: &PullPlan,
        layer: &Descriptor,
        progress: &Progress,
    ) -> Result<ExtractedLayer, ApiError> {
        let id = short(layer);
        let file = self.images.download_file().map_err(image_error)?;
        let sink = file
            .as_file()
            .try_clone()
            .map_err(|e| ApiError::system(format!("opening a download file: {e}")))?;
        let mut sink = tokio::fs::File::from_std(sink);
        let mut throttle = Throttle::new();
        let total = layer.size;
        self.registry
            .fetch_blob(
                &plan.reference,
                layer,
                &mut sink,
                |current| {
                    if throttle.due() || current == total {
                        progress.bytes_now(&id, "Downloading", current, total);
                    }
                },
                plan.auth.as_ref(),
            )
            .await
            .map_err(registry_error)?;
        progress.status(Some(&id), "Verifying Checksum").await;
        progress.status(Some(&id), "Download complete").await;
        progress.status(Some(&id), "Extracting").await;
        let pulled = PulledLayer {
            file,
            digest: layer.digest.to_string(),
        };
        let images = self.images.clone();
        blocking(move || images.extract_pulled(pulled).map_err(image_error)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_image_and_tag_make_one_reference() {
        let r = pull_reference("busybox", "").unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        let r = pull_reference("localhost:5000/app", "1.2").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/app:1.2");
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = pull_reference("localhost:5000/app", &digest).unwrap();
        assert_eq!(r.familiar(), format!("localhost:5000/app@{digest}"));
        let r = pull_reference("busybox:1.36", "").unwrap();
        assert_eq!(r.familiar(), "busybox:1.36");
        assert_eq!(
            pull_reference("Busybox", "").unwrap_err().kind,
            ErrorKind::InvalidParameter
        );
    }
}
