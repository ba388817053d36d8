//! Error kinds and their HTTP status codes.
//!
//! Status codes come from the kind of an error, never from its text, as in
//! moby's errdefs.

use serde::{Deserialize, Serialize};

/// What went wrong, in the terms that decide the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: a malformed body, a bad parameter.
    InvalidParameter,
    /// 401: a registry refused the credentials.
    Unauthorized,
    /// 403: the operation is not allowed on this object.
    Forbidden,
    /// 404: no such container, image, path.
    NotFound,
    /// 409: a name in use, an image in use, a container running.
    Conflict,
    /// 304: already started, already stopped.
    NotModified,
    /// 500: everything else.
    System,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidParameter => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::System => 500,
        }
    }
}

/// An error as the API reports it: a kind and a user-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn not_modified() -> Self {
        Self::new(ErrorKind::NotModified, "")
    }
    pub fn system(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::System, message)
    }
    pub fn no_such_container(name: &str) -> Self {
        Self::not_found(format!("No such container: {name}"))
    }
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

/// Docker's error body: `{"message": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorResponse {
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_docker_status_codes() {
        assert_eq!(ApiError::no_such_container("web").status(), 404);
        assert_eq!(
            ApiError::no_such_container("web").message,
            "No such container: web"
        );
        assert_eq!(ApiError::conflict("x").status(), 409);
        assert_eq!(ApiError::invalid("x").status(), 400);
        assert_eq!(ApiError::not_modified().status(), 304);
    }
}
