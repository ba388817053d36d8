//! The crate's one error type. Each variant is a kind the daemon maps to an
//! HTTP status (see [`ImageErrorKind`]); messages use Docker's wording because
//! they reach users verbatim.

use std::io;

/// What went wrong, coarsely: enough for the daemon to pick a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageErrorKind {
    /// 404: the image or reference does not exist.
    NotFound,
    /// 409: the operation conflicts with the store's state (tags, containers).
    Conflict,
    /// 400: the caller's input (reference, change, archive) is invalid.
    InvalidArgument,
    /// 500: the store itself failed (disk, corrupt metadata).
    Internal,
}

/// Errors from the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The reference (normalized `name:tag`, or an id as given) names no image.
    #[error("No such image: {0}")]
    NotFound(String),
    /// A Docker-worded conflict message, e.g. `conflict: unable to delete ...`.
    #[error("{0}")]
    Conflict(String),
    /// A Docker-worded message about invalid input, e.g. `invalid reference format`.
    #[error("{0}")]
    InvalidArgument(String),
    /// A filesystem operation on the store failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The store's own metadata is unreadable or inconsistent.
    #[error("{0}")]
    Internal(String),
}

impl ImageError {
    /// The kind of error, for mapping to a status code.
    pub fn kind(&self) -> ImageErrorKind {
        match self {
            ImageError::NotFound(_) => ImageErrorKind::NotFound,
            ImageError::Conflict(_) => ImageErrorKind::Conflict,
            ImageError::InvalidArgument(_) => ImageErrorKind::InvalidArgument,
            ImageError::Io { .. } | ImageError::Internal(_) => ImageErrorKind::Internal,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> ImageError {
        ImageError::InvalidArgument(message.into())
    }
}

/// Attaches a description of the failed operation to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, ImageError>;
}

impl<T> IoContext<T> for Result<T, io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, ImageError> {
        self.map_err(|source| ImageError::Io {
            context: context(),
            source,
        })
    }
}
