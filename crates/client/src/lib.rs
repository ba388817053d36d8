//! berth-client: async client for the Docker Engine API over a Unix socket.
//!
//! One [`Client`] per daemon socket; every request opens its own connection
//! (hyper's HTTP/1 client over a `tokio::net::UnixStream`) and goes to the
//! versioned `/v1.45/...` path. Replies are the typed structures of
//! `berth-api`; daemon errors come back as [`ClientError::Api`] with the HTTP
//! status and Docker's `{"message": ...}` text. Streams (logs, save, load,
//! attach) are handed back as `tokio` readers so callers can copy them without
//! buffering, and [`demux`] splits Docker's multiplexed stdout/stderr framing.
//!
//! This crate owns the wire protocol only: no terminal handling, no output
//! formatting — that is the CLI's job.
//!
//! Hijacked connections (attach, exec start) are [`AttachConnection`]s;
//! event and stats streams are [`JsonStream`]s of typed values, and so are
//! the progress replies of pull and push ([`ProgressStream`]), which carry
//! registry credentials ([`AuthConfig`]) in `X-Registry-Auth`.

mod attach;
mod body;
mod client;
mod containers;
pub mod demux;
mod disk_usage;
mod error;
mod events;
mod exec;
mod files;
mod image_history;
mod images;
mod networks;
mod query;
mod registry;
mod stats;
mod system;
mod volumes;

pub use attach::{AttachConnection, AttachOptions};
pub use body::{ByteStream, JsonError, JsonMessage, JsonMessages, JsonStream};
pub use client::{Client, DEFAULT_HOST};
pub use containers::{ListContainersOptions, LogsOptions, PendingWait, TopResponse, WaitCondition};
pub use disk_usage::{BuildCacheRecord, ContainerUsage, DiskUsage, VolumeUsage, VolumeUsageData};
pub use error::ClientError;
pub use events::{Event, EventActor, EventStream, EventsOptions};
pub use exec::{ExecConfig, ExecInspect, ExecProcessConfig, ExecStartConfig};
pub use files::{CommitOptions, CopyToOptions};
pub use image_history::{HistoryItem, ImagePruneReport};
pub use images::{ImportOptions, ImportSource};
pub use registry::{AuthConfig, AuthResponse, ProgressStream};
pub use stats::{
    BlkioEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, NetworkStats,
    PidsStats, StatsStream,
};
pub use system::Ping;

/// Result of a client call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
