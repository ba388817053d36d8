//! berth-image: the content-addressed image store behind `berthd`.
//!
//! It owns everything about images on disk: the blob store
//! (`blobs/sha256/`), layers unpacked once per chain id (`layers/`), the tag
//! index (`repositories.json`), and the operations the Docker API needs on
//! them: resolve, list, tag, remove, `import`, and `load`/`save` of
//! docker-archive and OCI layout tarballs. It is plain blocking code (the
//! daemon calls it from `spawn_blocking`); [`ImageStore`] is `Send + Sync`.
//! It knows nothing of HTTP: errors carry a kind ([`ImageErrorKind`]) the
//! daemon maps to a status, and Docker's wording for their messages.
//! Registries are the daemon's business; [`ImageStore::add_pulled`] takes
//! what a pull downloaded. A daemon with `--userns-remap` opens the store
//! with [`IdMaps`] ([`ImageStore::open_with_id_maps`]), and layers are
//! unpacked owned by the container's subordinate ids.

mod archive;
mod blobs;
mod changes;
mod compression;
mod config;
mod digest;
mod error;
mod fsutil;
mod history;
mod idmap;
mod import;
mod layers;
mod pull;
mod push;
mod reference;
mod remove;
mod store;
mod tags;
mod unpack;

#[cfg(test)]
mod testutil;

pub use archive::LoadedImage;
pub use config::{History, ImageConfig, RootFs, RunConfig};
pub use error::{ImageError, ImageErrorKind};
pub use history::HistoryItem;
pub use idmap::{IdMaps, IdRange};
pub use pull::{ExtractedLayer, PulledLayer};
pub use push::{BlobToPush, PushParts};
pub use reference::normalize_reference;
pub use remove::Removed;
pub use store::{ImageRecord, ImageStore};
