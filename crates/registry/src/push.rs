//! The push side of the protocol: blob existence checks, cross-repository
//! mounts, uploads and manifest puts.
//!
//! An upload starts with `POST /v2/<name>/blobs/uploads/` (202 and a
//! `Location`, relative or absolute, to continue at). A blob up to the
//! client's chunk size then goes in one `PUT <location>?digest=` with the
//! body streamed from the source; a larger one in `PATCH` chunks with
//! `Content-Range`, each answering with the next `Location`, closed by an
//! empty `PUT ?digest=`. A mount (`POST ...?mount=<digest>&from=<repo>`)
//! answers 201 when the registry linked the blob, or 202 with an upload
//! session to fall back on. The source is hashed and counted as it is read:
//! a source that does not match its descriptor aborts the upload.

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::auth::Credentials;
use crate::client::{pull_scope, push_scope, resolve_location, Client, Failure, Target};
use crate::digest::{Digest, Verifier};
use crate::error::Error;
use crate::manifest::{Descriptor, MAX_MANIFEST_BYTES};
use crate::reference::Reference;
use crate::transport::{channel_body, Reply};

/// How a blob got into the repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushedBlob {
    /// It was there already; nothing was sent.
    Exists,
    /// The registry linked it from another repository.
    Mounted,
    /// It was uploaded.
    Uploaded,
}

/// The answer to starting an upload.
enum Started {
    Mounted,
    Session(String),
}

const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl Client {
    /// Whether the repository of `reference` has the blob (`HEAD`).
    pub async fn blob_exists(
        &self,
        reference: &Reference,
        digest: &Digest,
        auth: Option<&Credentials>,
    ) -> Result<bool, Error> {
        let target = push_target(reference, auth, None);
        let path = format!("/v2/{}/blobs/{digest}", reference.repository());
        let reply = self
            .request(&target, Method::HEAD, &path, HeaderMap::new(), Bytes::new())
            .await?;
        match reply.status {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(Failure::read(reply).await.into_error()),
        }
    }

    /// Asks the registry to link blob `digest` from repository `from` (a
    /// path on the same registry, `team/base`) into `reference`'s. `false`
    /// when it would not (the upload session it opened instead is
    /// cancelled).
    pub async fn mount_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        from: &str,
        auth: Option<&Credentials>,
    ) -> Result<bool, Error> {
        let target = push_target(reference, auth, Some(from));
        match self
            .start_upload(&target, reference, Some((digest, from)))
            .await?
        {
            Started::Mounted => Ok(true),
            Started::Session(url) => {
                self.cancel_upload(&target, &url).await;
                Ok(false)
            }
        }
    }

    /// Uploads a blob read from `source`, which must hold exactly the
    /// descriptor's bytes; `progress` is told the bytes read so far.
    pub async fn upload_blob<R>(
        &self,
        reference: &Reference,
        desc: &Descriptor,
        source: R,
        progress: impl FnMut(u64),
        auth: Option<&Credentials>,
    ) -> Result<(), Error>
    where
        R: AsyncRead + Unpin,
    {
        let target = push_target(reference, auth, None);
        let span = tracing::info_span!("registry.upload_blob", reference = %reference, digest = %desc.digest, size = desc.size);
        async {
            let Started::Session(url) = self.start_upload(&target, reference, None).await? else {
                unreachable!("a plain upload never mounts")
            };
            self.send_blob(&target, &url, desc, source, progress).await
        }
        .instrument(span)
        .await
    }

    /// What `docker push` does for each blob: nothing when the repository
    /// has it; a mount from `mount_from` when given and the registry
    /// agrees; else an upload (in the session the refused mount opened).
    pub async fn push_blob<R>(
        &self,
        reference: &Reference,
        desc: &Descriptor,
        source: R,
        progress: impl FnMut(u64),
        mount_from: Option<&str>,
        auth: Option<&Credentials>,
    ) -> Result<PushedBlob, Error>
    where
        R: AsyncRead + Unpin,
    {
        let span = tracing::info_span!("registry.push_blob", reference = %reference, digest = %desc.digest, size = desc.size);
        async {
            if self.blob_exists(reference, &desc.digest, auth).await? {
                tracing::debug!("blob exists; skipped");
                return Ok(PushedBlob::Exists);
            }
            let target = push_target(reference, auth, mount_from);
            let mount = mount_from.map(|from| (&desc.digest, from));
            match self.start_upload(&target, reference, mount).await? {
                Started::Mounted => {
                    tracing::debug!(from = ?mount_from, "blob mounted");
                    Ok(PushedBlob::Mounted)
                }
                Started::Session(url) => {
                    self.send_blob(&target, &url, desc, source, progress)
                        .await?;
                    Ok(PushedBlob::Uploaded)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Stores a manifest under the reference's tag (or digest, which must
    /// be the manifest's) with `media_type` as its `Content-Type`. Returns
    /// the manifest's digest.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        manifest: &[u8],
        auth: Option<&Credentials>,
    ) -> Result<Digest, Error> {
        let span = tracing::info_span!("registry.put_manifest", reference = %reference, media_type);
        async {
            if manifest.len() > MAX_MANIFEST_BYTES {
                return Err(Error::InvalidConfig(format!(
                    "manifest is larger than {MAX_MANIFEST_BYTES} bytes"
                )));
            }
            let digest = Digest::sha256(manifest);
            if let Some(want) = reference.digest().filter(|d| **d != digest) {
                return Err(Error::DigestMismatch {
                    what: "manifest",
                    expected: want.clone(),
                    actual: digest,
                });
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_str(media_type)
                    .map_err(|_| Error::UnsupportedMediaType(media_type.to_string()))?,
            );
            let target = push_target(reference, auth, None);
            let path = format!(
                "/v2/{}/manifests/{}",
                reference.repository(),
                reference.manifest_reference()
            );
            let reply = self
                .request(
                    &target,
                    Method::PUT,
                    &path,
                    headers,
                    Bytes::copy_from_slice(manifest),
                )
                .await?;
            if reply.status != StatusCode::CREATED {
                return Err(Failure::read(reply).await.into_error());
            }
            if let Some(theirs) = reply
                .header("docker-content-digest")
                .filter(|d| *d != digest.as_str())
            {
                tracing::warn!(ours = %digest, theirs, "registry reports another manifest digest");
            }
            tracing::info!(%digest, "manifest pushed");
            Ok(digest)
        }
        .instrument(span)
        .await
    }

    async fn start_upload(
        &self,
        target: &Target<'_>,
        reference: &Reference,
        mount: Option<(&Digest, &str)>,
    ) -> Result<Started, Error> {
        let mut path = format!("/v2/{}/blobs/uploads/", reference.repository());
        if let Some((digest, from)) = mount {
            path = format!("{path}?{}", mount_query(digest, from));
        }
        let reply = self
            .request(target, Method::POST, &path, HeaderMap::new(), Bytes::new())
            .await?;
        match reply.status {
            StatusCode::CREATED if mount.is_some() => Ok(Started::Mounted),
            StatusCode::ACCEPTED => next_location(&reply).map(Started::Session),
            _ => Err(Failure::read(reply).await.into_error()),
        }
    }

    async fn cancel_upload(&self, target: &Target<'_>, url: &str) {
        let result = self
            .request(target, Method::DELETE, url, HeaderMap::new(), Bytes::new())
            .await;
        if let Err(error) = result {
            tracing::debug!(%error, "cancelling an upload session failed");
        }
    }

    async fn send_blob<R: AsyncRead + Unpin>(
        &self,
        target: &Target<'_>,
        session: &str,
        desc: &Descriptor,
        source: R,
        progress: impl FnMut(u64),
    ) -> Result<(), Error> {
        let reply = if desc.size <= self.chunk_size {
            self.put_monolithic(target, session, desc, source, progress)
                .await?
        } else {
            self.put_chunked(target, session, desc, source, progress)
                .await?
        };
        if reply.status != StatusCode::CREATED {
            return Err(Failure::read(reply).await.into_error());
        }
        tracing::debug!(digest = %desc.digest, "blob uploaded");
        Ok(())
    }

    /// One `PUT ?digest=` with the body streamed from `source` while it is
    /// hashed; a source that does not match aborts the request.
    async fn put_monolithic<R: AsyncRead + Unpin>(
        &self,
        target: &Target<'_>,
        session: &str,
        desc: &Descriptor,
        source: R,
        progress: impl FnMut(u64),
    ) -> Result<Reply, Error> {
        let (tx, body) = channel_body();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, OCTET_STREAM);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(desc.size));
        let url = with_digest(session, &desc.digest);
        let send = self.request_streaming(target, Method::PUT, &url, headers, body);
        let (sent, pumped) = tokio::join!(send, pump(source, tx, desc, progress));
        pumped?;
        sent
    }

    /// `PATCH` chunks of the client's chunk size with `Content-Range`, then
    /// an empty `PUT ?digest=`.
    async fn put_chunked<R: AsyncRead + Unpin>(
        &self,
        target: &Target<'_>,
        session: &str,
        desc: &Descriptor,
        mut source: R,
        mut progress: impl FnMut(u64),
    ) -> Result<Reply, Error> {
        let mut url = session.to_string();
        let mut reader = SourceCheck::new(desc);
        loop {
            let chunk = reader.read_chunk(&mut source, self.chunk_size).await?;
            if chunk.is_empty() {
                break;
            }
            let start = reader.read - chunk.len() as u64;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, OCTET_STREAM);
            headers.insert(CONTENT_LENGTH, HeaderValue::from(chunk.len()));
            let range = format!("{start}-{}", reader.read - 1);
            headers.insert(
                "content-range",
                HeaderValue::from_str(&range).expect("digits and a dash"),
            );
            let reply = self
                .request(target, Method::PATCH, &url, headers, chunk)
                .await?;
            if reply.status != StatusCode::ACCEPTED {
                return Err(Failure::read(reply).await.into_error());
            }
            url = next_location(&reply)?;
            progress(reader.read);
        }
        reader.finish()?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
        self.request(
            target,
            Method::PUT,
            &with_digest(&url, &desc.digest),
            headers,
            Bytes::new(),
        )
        .await
    }
}

/// The rights a push needs: pull and push on the target repository, and
/// pull on the one a blob is mounted from.
fn push_target<'a>(
    reference: &'a Reference,
    auth: Option<&'a Credentials>,
    mount_from: Option<&str>,
) -> Target<'a> {
    let mut scopes = vec![push_scope(reference.repository())];
    scopes.extend(mount_from.map(pull_scope));
    Target {
        host: reference.registry(),
        scopes,
        creds: auth,
    }
}

/// The absolute URL an upload continues at.
fn next_location(reply: &Reply) -> Result<String, Error> {
    let location = reply.header(LOCATION.as_str()).ok_or_else(|| {
        Error::InvalidResponse(format!(
            "registry answered {} without a Location header",
            reply.url()
        ))
    })?;
    Ok(resolve_location(reply.url(), location))
}

/// `mount=<digest>&from=<repository>`.
fn mount_query(digest: &Digest, from: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("mount", digest.as_str())
        .append_pair("from", from)
        .finish()
}

/// An upload URL with the `digest` query parameter added.
fn with_digest(url: &str, digest: &Digest) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("digest", digest.as_str())
        .finish();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// Feeds `source` into a request body, checking it against `desc`; on a
/// mismatch the body is aborted (so the registry stores nothing) and the
/// error returned. A closed body (the request failed) ends it quietly: the
/// request's own error tells why.
async fn pump<R: AsyncRead + Unpin>(
    mut source: R,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    desc: &Descriptor,
    mut progress: impl FnMut(u64),
) -> Result<(), Error> {
    const PIECE: u64 = 256 << 10;
    let mut check = SourceCheck::new(desc);
    loop {
        let piece = match check.read_chunk(&mut source, PIECE).await {
            Ok(piece) => piece,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                return Err(e);
            }
        };
        if piece.is_empty() {
            break;
        }
        if tx.send(Ok(piece)).await.is_err() {
            return Ok(());
        }
        progress(check.read);
    }
    if let Err(e) = check.finish() {
        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        return Err(e);
    }
    Ok(())
}

/// Reads a blob's source, counting and hashing it against its descriptor.
struct SourceCheck<'a> {
    desc: &'a Descriptor,
    verifier: Verifier,
    read: u64,
}

impl<'a> SourceCheck<'a> {
    fn new(desc: &'a Descriptor) -> SourceCheck<'a> {
        SourceCheck {
            desc,
            verifier: desc.digest.verifier(),
            read: 0,
        }
    }

    /// Up to `max` bytes (fewer only at the end); empty at the end. More
    /// than the descriptor's size is an error.
    async fn read_chunk<R: AsyncRead + Unpin>(
        &mut self,
        source: &mut R,
        max: u64,
    ) -> Result<Bytes, Error> {
        let want = usize::try_from(max).unwrap_or(usize::MAX).max(1);
        let mut buf = BytesMut::zeroed(want);
        let mut filled = 0;
        while filled < want {
            let n = source
                .read(&mut buf[filled..])
                .await
                .map_err(|e| Error::io(format!("reading blob {}", self.desc.digest), e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        self.read += filled as u64;
        if self.read > self.desc.size {
            return Err(Error::SizeMismatch {
                digest: self.desc.digest.clone(),
                expected: self.desc.size,
                received: self.read,
            });
        }
        self.verifier.update(&buf);
        Ok(buf.freeze())
    }

    /// Checks the whole source was the descriptor's size and digest.
    fn finish(self) -> Result<(), Error> {
        if self.read != self.desc.size {
            return Err(Error::SizeMismatch {
                digest: self.desc.digest.clone(),
                expected: self.desc.size,
                received: self.read,
            });
        }
        let actual = self.verifier.finish();
        if actual != self.desc.digest {
            return Err(Error::DigestMismatch {
                what: self.desc.verification_name(),
                expected: self.desc.digest.clone(),
                actual,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_query_appends_to_existing_query() {
        let d = Digest::sha256(b"x");
        assert_eq!(
            with_digest("http://r/v2/a/blobs/uploads/u?_state=s", &d),
            format!(
                "http://r/v2/a/blobs/uploads/u?_state=s&digest=sha256%3A{}",
                d.encoded()
            )
        );
        assert!(with_digest("http://r/u", &d).starts_with("http://r/u?digest="));
    }

    #[tokio::test]
    async fn source_check_catches_short_long_and_wrong_sources() {
        let desc = Descriptor::new("application/octet-stream", Digest::sha256(b"hello"), 5);
        let mut ok = SourceCheck::new(&desc);
        assert_eq!(ok.read_chunk(&mut &b"hello"[..], 3).await.unwrap().len(), 3);
        assert_eq!(ok.read_chunk(&mut &b"lo"[..], 3).await.unwrap().len(), 2);
        ok.finish().unwrap();

        let mut long = SourceCheck::new(&desc);
        assert!(matches!(
            long.read_chunk(&mut &b"hello!"[..], 10).await,
            Err(Error::SizeMismatch { received: 6, .. })
        ));

        let mut short = SourceCheck::new(&desc);
        short.read_chunk(&mut &b"hell"[..], 10).await.unwrap();
        assert!(matches!(
            short.finish(),
            Err(Error::SizeMismatch { received: 4, .. })
        ));

        let mut wrong = SourceCheck::new(&desc);
        wrong.read_chunk(&mut &b"HELLO"[..], 10).await.unwrap();
        assert!(matches!(wrong.finish(), Err(Error::DigestMismatch { .. })));
    }
}
