//! The pull side of the protocol: resolving a reference to a platform's
//! manifest, and streaming blobs into a sink with their size and digest
//! checked on the way.
//!
//! Everything fetched is verified against the digest it was asked by
//! (manifests by digest, list entries, blobs); a tag's manifest is
//! identified by the sha256 of its exact bytes. Failures read as Docker's
//! (`manifest for busybox:nope not found: manifest unknown: manifest
//! unknown`, `pull access denied for ...`).

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use http::{Method, StatusCode};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::auth::Credentials;
use crate::client::{pull_scope, Client, Failure, Target};
use crate::digest::Digest;
use crate::error::{Error, RegistryError};
use crate::manifest::{self, Descriptor, Parsed, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::transport::Reply;

/// What a reference resolves to for one platform.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The digest the reference names: the list's when it is a
    /// multi-platform image (what Docker records as the RepoDigest),
    /// else the manifest's.
    pub digest: Digest,
    /// The digest of the platform's image manifest.
    pub manifest_digest: Digest,
    /// The image manifest's media type.
    pub media_type: String,
    /// The image manifest's exact bytes.
    pub manifest: Vec<u8>,
    /// The platform of the chosen list entry (`None` for a single manifest).
    pub platform: Option<Platform>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layer blobs, base first.
    pub layers: Vec<Descriptor>,
}

/// A manifest as the registry sent it.
struct Fetched {
    bytes: Vec<u8>,
    content_type: Option<String>,
}

impl Client {
    /// Resolves `reference` to the manifest for `platform`: fetches what
    /// the tag or digest names; when that is a list (OCI index or Docker
    /// manifest list), picks the platform as containerd's default matcher
    /// does and fetches that manifest. Docker Hub mirrors are tried first.
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
        auth: Option<&Credentials>,
    ) -> Result<Resolved, Error> {
        let span = tracing::info_span!("registry.resolve", reference = %reference, %platform);
        async {
            let sources = self.pull_sources(reference.registry());
            let last = sources.len() - 1;
            for (i, (host, mirror)) in sources.iter().enumerate() {
                let target = Target {
                    host,
                    scopes: vec![pull_scope(reference.repository())],
                    creds: if *mirror { None } else { auth },
                };
                match self.resolve_at(&target, reference, platform).await {
                    Err(e) if i < last => {
                        tracing::warn!(mirror = %host, error = %e, "mirror failed; trying the next source");
                    }
                    result => return result,
                }
            }
            unreachable!("the registry itself is the last source")
        }
        .instrument(span)
        .await
    }

    async fn resolve_at(
        &self,
        target: &Target<'_>,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<Resolved, Error> {
        let top = self
            .fetch_manifest(target, reference, &reference.manifest_reference())
            .await?;
        let digest = match reference.digest() {
            Some(want) => verify_manifest(&top.bytes, want)?,
            None => Digest::sha256(&top.bytes),
        };
        let (media_type, parsed) = manifest::parse(&top.bytes, top.content_type.as_deref())?;
        let index = match parsed {
            Parsed::Image(m) => {
                tracing::info!(%digest, %media_type, "resolved");
                return Ok(Resolved {
                    manifest_digest: digest.clone(),
                    digest,
                    media_type,
                    manifest: top.bytes,
                    platform: None,
                    config: m.config,
                    layers: m.layers,
                });
            }
            Parsed::Index(index) => index,
        };
        let entry = manifest::select_platform(&index, platform)?;
        let child = self
            .fetch_manifest(target, reference, entry.digest.as_str())
            .await?;
        let manifest_digest = verify_manifest(&child.bytes, &entry.digest)?;
        let (child_type, parsed) = manifest::parse(&child.bytes, child.content_type.as_deref())?;
        let Parsed::Image(m) = parsed else {
            return Err(Error::UnsupportedMediaType(child_type));
        };
        tracing::info!(%digest, %manifest_digest, platform = ?entry.platform, "resolved from list");
        Ok(Resolved {
            digest,
            manifest_digest,
            media_type: child_type,
            manifest: child.bytes,
            platform: entry.platform.clone(),
            config: m.config,
            layers: m.layers,
        })
    }

    async fn fetch_manifest(
        &self,
        target: &Target<'_>,
        reference: &Reference,
        tag_or_digest: &str,
    ) -> Result<Fetched, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
        let path = format!("/v2/{}/manifests/{tag_or_digest}", reference.repository());
        let reply = self
            .request(target, Method::GET, &path, headers, Bytes::new())
            .await?;
        if reply.status != StatusCode::OK {
            return Err(pull_error(Failure::read(reply).await, reference));
        }
        let content_type = reply.header(CONTENT_TYPE.as_str()).map(str::to_string);
        let bytes = reply.bytes(MAX_MANIFEST_BYTES).await?;
        Ok(Fetched {
            bytes,
            content_type,
        })
    }

    /// Streams the blob `desc` names into `sink`, checking its size and
    /// digest as it goes; `progress` is told the bytes written so far. On
    /// any error the sink holds a partial or wrong blob: discard it. A
    /// Docker Hub mirror is used when it has the blob.
    pub async fn fetch_blob<W>(
        &self,
        reference: &Reference,
        desc: &Descriptor,
        mut sink: W,
        mut progress: impl FnMut(u64),
        auth: Option<&Credentials>,
    ) -> Result<(), Error>
    where
        W: AsyncWrite + Unpin,
    {
        let span = tracing::info_span!("registry.fetch_blob", reference = %reference, digest = %desc.digest, size = desc.size);
        async {
            let reply = self.open_blob(reference, &desc.digest, auth).await?;
            copy_verified(reply, desc, &mut sink, &mut progress).await?;
            sink.flush()
                .await
                .map_err(|e| Error::io(format!("writing blob {}", desc.digest), e))?;
            tracing::debug!("blob fetched and verified");
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// The reply carrying a blob's body, from the first source that has it.
    async fn open_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        auth: Option<&Credentials>,
    ) -> Result<Reply, Error> {
        let path = format!("/v2/{}/blobs/{digest}", reference.repository());
        let sources = self.pull_sources(reference.registry());
        let last = sources.len() - 1;
        for (i, (host, mirror)) in sources.iter().enumerate() {
            let target = Target {
                host,
                scopes: vec![pull_scope(reference.repository())],
                creds: if *mirror { None } else { auth },
            };
            let result = match self
                .request(&target, Method::GET, &path, HeaderMap::new(), Bytes::new())
                .await
            {
                Ok(reply) if reply.status == StatusCode::OK => Ok(reply),
                Ok(reply) => Err(blob_error(Failure::read(reply).await, reference, digest)),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if i < last => {
                    tracing::warn!(mirror = %host, error = %e, "mirror failed; trying the next source");
                }
                result => return result,
            }
        }
        unreachable!("the registry itself is the last source")
    }
}

/// Copies a blob body into `sink`, refusing more than `desc.size` bytes,
/// then checks that exactly that many came and that they hash to the
/// descriptor's digest.
async fn copy_verified<W: AsyncWrite + Unpin>(
    mut reply: Reply,
    desc: &Descriptor,
    sink: &mut W,
    progress: &mut impl FnMut(u64),
) -> Result<(), Error> {
    let mut verifier = desc.digest.verifier();
    let mut received: u64 = 0;
    while let Some(chunk) = reply.chunk().await? {
        received += chunk.len() as u64;
        if received > desc.size {
            return Err(Error::SizeMismatch {
                digest: desc.digest.clone(),
                expected: desc.size,
                received,
            });
        }
        verifier.update(&chunk);
        sink.write_all(&chunk)
            .await
            .map_err(|e| Error::io(format!("writing blob {}", desc.digest), e))?;
        progress(received);
    }
    if received != desc.size {
        return Err(Error::SizeMismatch {
            digest: desc.digest.clone(),
            expected: desc.size,
            received,
        });
    }
    let actual = verifier.finish();
    if actual != desc.digest {
        return Err(Error::DigestMismatch {
            what: desc.verification_name(),
            expected: desc.digest.clone(),
            actual,
        });
    }
    Ok(())
}

/// The digest of manifest bytes, which must be `want`.
fn verify_manifest(bytes: &[u8], want: &Digest) -> Result<Digest, Error> {
    let mut verifier = want.verifier();
    verifier.update(bytes);
    let actual = verifier.finish();
    if &actual != want {
        return Err(Error::DigestMismatch {
            what: "manifest",
            expected: want.clone(),
            actual,
        });
    }
    Ok(actual)
}

/// Docker's reading of a failed manifest fetch (`translatePullError`).
fn pull_error(failure: Failure, reference: &Reference) -> Error {
    let error = failure.error.clone().or_else(|| {
        (failure.status == StatusCode::NOT_FOUND).then(|| RegistryError {
            code: "MANIFEST_UNKNOWN".into(),
            message: "manifest unknown".into(),
        })
    });
    let Some(e) = error else {
        return failure.into_error();
    };
    match e.code.as_str() {
        "MANIFEST_UNKNOWN" => Error::NotFound(format!(
            "manifest for {} not found: {}",
            reference.familiar(),
            e.docker_text()
        )),
        "NAME_UNKNOWN" => Error::NotFound(format!(
            "repository {} not found: {}",
            reference.familiar_name(),
            e.docker_text()
        )),
        "DENIED" => Error::NotFound(format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': {}",
            reference.familiar_name(),
            e.docker_text()
        )),
        _ => Failure {
            status: failure.status,
            error: Some(e),
        }
        .into_error(),
    }
}

/// A failed blob fetch: 404 is not found, the rest as any failure.
fn blob_error(failure: Failure, reference: &Reference, digest: &Digest) -> Error {
    if failure.status != StatusCode::NOT_FOUND {
        return pull_error(failure, reference);
    }
    let text = failure
        .error
        .map(|e| e.docker_text())
        .unwrap_or_else(|| "blob unknown: blob unknown to registry".into());
    Error::NotFound(format!(
        "blob {digest} of {} not found: {text}",
        reference.familiar_name()
    ))
}
