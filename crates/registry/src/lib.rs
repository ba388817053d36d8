//! berth-registry: the OCI distribution (Docker registry v2) client behind
//! `docker pull`, `docker push` and `docker login` in `berthd`.
//!
//! It owns the wire: image references and Docker's normalization of them,
//! TLS and insecure-registry rules, the Basic and Bearer token auth flows,
//! manifest and list resolution for a platform, verified blob downloads,
//! and blob and manifest uploads. It owns no storage and no progress
//! format: blobs stream into any `AsyncWrite` the daemon gives (a scratch
//! file of its content store), uploads read any `AsyncRead`, and progress
//! is a byte count passed to a callback. Errors ([`Error`]) carry kinds the
//! daemon maps to statuses, worded as Docker words them.
//!
//! ```no_run
//! # async fn pull() -> Result<(), berth_registry::Error> {
//! use berth_registry::{Client, ClientConfig, Platform, Reference};
//! let client = Client::new(ClientConfig::default())?;
//! let reference: Reference = "localhost:5000/app:1".parse()?;
//! let resolved = client.resolve(&reference, &Platform::default(), None).await?;
//! let mut config = Vec::new();
//! client.fetch_blob(&reference, &resolved.config, &mut config, |_| {}, None).await?;
//! # Ok(()) }
//! ```

mod auth;
mod client;
mod config;
mod digest;
mod error;
mod manifest;
mod platform;
mod pull;
mod push;
mod reference;
mod transport;

pub use auth::Credentials;
pub use client::Client;
pub use config::ClientConfig;
pub use digest::Digest;
pub use error::Error;
pub use manifest::{media_type, Compression, Descriptor, ImageIndex, ImageManifest};
pub use platform::Platform;
pub use pull::Resolved;
pub use push::PushedBlob;
pub use reference::{Reference, DOCKER_HUB_DOMAIN, DOCKER_HUB_REGISTRY};
