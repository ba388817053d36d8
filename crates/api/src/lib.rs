//! berth-api: the Docker Engine API as Rust types.
//!
//! Shared by `berthd` (which serves it), `berth-client` and the `berth` CLI
//! (which speak it). Field names follow Docker's JSON exactly; fields Berth
//! does not act on yet are carried through `extra` maps so that what a client
//! sends comes back on inspect, as Docker does. Nothing here does I/O.

pub mod container;
pub mod error;
pub mod files;
pub mod filters;
pub mod image;
pub mod network;
pub mod progress;
pub mod strslice;
pub mod system;
pub mod time;
pub mod volume;

pub use error::{ApiError, ErrorKind, ErrorResponse};
pub use filters::Filters;

/// Lowest API version served (`/v1.24/...`).
pub const MIN_API_VERSION: &str = "1.24";
/// Highest API version served, and the one bare paths get.
pub const API_VERSION: &str = "1.45";

/// Docker's boolean query values: `1`, `true`, `True`, `yes` are true.
pub fn parse_bool(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes"
    )
}
