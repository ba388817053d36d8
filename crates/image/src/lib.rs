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
//!
//! It also reads and writes containers' filesystems, which are as hostile
//! as layers: paths resolved inside a container's root ([`ContainerRoot`]),
//! tars of a path or of the whole root ([`archive_path`], [`export_root`]),
//! copies into a container ([`extract_archive`]), `docker diff`
//! ([`container_changes`]) and `docker commit` ([`ImageStore::commit`]).

mod archive;
mod blobs;
mod changes;
mod commit;
mod compression;
mod config;
mod digest;
mod error;
mod fsat;
mod fsdiff;
mod fsutil;
mod history;
mod idmap;
mod import;
mod inroot;
mod layers;
mod lower;
mod pull;
mod push;
mod reference;
mod remove;
mod store;
mod tags;
mod treetar;
mod unpack;

#[cfg(test)]
mod testutil;

pub use archive::LoadedImage;
pub use changes::apply_changes;
pub use commit::Commit;
pub use config::{History, ImageConfig, RootFs, RunConfig};
pub use error::{ImageError, ImageErrorKind};
pub use fsdiff::{container_changes, Change, ChangeKind};
pub use history::HistoryItem;
pub use idmap::{IdMaps, IdRange};
pub use inroot::{clean_path, ContainerRoot, PathInfo};
pub use pull::{ExtractedLayer, PulledLayer};
pub use push::{BlobToPush, PushParts};
pub use reference::{normalize_reference, tag_target};
pub use remove::Removed;
pub use store::{ImageRecord, ImageStore};
pub use treetar::{archive_path, export_root};
pub use unpack::{extract_archive, CopyOptions};
